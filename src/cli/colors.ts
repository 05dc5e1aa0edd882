import picocolors from 'picocolors';

export type Colors = ReturnType<typeof picocolors.createColors>;

/**
 * Colours for one output stream: on only when it is a terminal, `NO_COLOR` is unset or empty
 * (no-color.org) and `--no-color` was not given. `FORCE_COLOR` (non-empty, not `0`) turns
 * them on anyway, except against an explicit `--no-color`.
 */
export function colorsFor(stream: { isTTY?: boolean }, flag: boolean, env: NodeJS.ProcessEnv): Colors {
  return picocolors.createColors(useColor(stream, flag, env));
}

export function useColor(stream: { isTTY?: boolean }, flag: boolean, env: NodeJS.ProcessEnv): boolean {
  if (!flag) return false;
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}
