// Pieces shared by the real-server properties (test/integration/chaos-server.test.ts and
// chaos-features.test.ts): bounded waits, the process's timers and TCP sockets as Node reports
// them, and the trap for exceptions that reach the process.
import { createHook } from 'node:async_hooks';
import { Socket } from 'node:net';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`'s outcome, or 'pending' after `ms` (the bound's timer is cleared either way). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<{ kind: 'resolved'; value: T } | { kind: 'rejected'; error: unknown } | { kind: 'pending' }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ kind: 'pending' }>((resolve) => (timer = setTimeout(() => resolve({ kind: 'pending' }), ms)));
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ kind: 'resolved' as const, value }),
        (error: unknown) => ({ kind: 'rejected' as const, error }),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** How many active resources of `kind` ('Timeout', …) the process has. */
export function count(kind: string): number {
  return process.getActiveResourcesInfo().filter((type) => type === kind).length;
}

/** The timers alive while `trapProcessErrors` runs a property, by async id, with where each was made (see `leftTimers`). */
const liveTimers = new Map<number, { timer: { _idleTimeout?: number; _onTimeout?: unknown; _destroyed?: boolean }; madeAt: string }>();
/** The frames of a timer's making that say whose it is (not this hook's, not Node's own). */
function madeAt(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 16;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  return stack
    .split('\n')
    .slice(1)
    .filter((line) => !line.includes('node:') && !line.includes('chaos-run.ts'))
    .slice(0, 4)
    .map((line) => line.trim().replace(/^at /, '').replace(`${process.cwd()}/`, ''))
    .join(' < ');
}
const timerHook = createHook({
  init(id, type, _trigger, resource) {
    if (type === 'Timeout') liveTimers.set(id, { timer: resource as never, madeAt: madeAt() });
  },
  destroy(id) {
    liveTimers.delete(id);
  },
});

/**
 * What the timers alive now (and not in `before`, the ids alive at a baseline) would run: their
 * delay, the start of their callback's source and the first frames that made them. Makes a
 * "timer(s) left" failure say which, also when the callback is a promise's resolve.
 */
export function leftTimers(before: ReadonlySet<number> = new Set()): string {
  const left = [...liveTimers].filter(([id, { timer }]) => !before.has(id) && !timer._destroyed);
  return left.map(([, { timer, madeAt }]) => `${timer._idleTimeout} ms: ${String(timer._onTimeout).replace(/\s+/g, ' ').slice(0, 160)}; made at ${madeAt || '(no frame outside Node)'}`).join('\n    ');
}

/** The ids of the timers alive now: a baseline for `leftTimers`. */
export function timerIds(): Set<number> {
  return new Set(liveTimers.keys());
}

/** The process's open TCP sockets (Node's undocumented but long-standing handle list). */
export function tcpSockets(): Socket[] {
  return (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().filter((handle): handle is Socket => handle instanceof Socket);
}

/** Settles pending microtasks, nextTicks and immediates (a listener's exception is rethrown on a microtask). */
export async function quiesce(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

export { InFlightRun } from './model';

/**
 * The scenario in CHAOS_REPLAY, when set: a counterexample as fast-check prints it (JavaScript:
 * `__proto__:null`, `Number.POSITIVE_INFINITY`), e.g.
 *   CHAOS_REPLAY='[{...}]' npm test -- test/integration/chaos-server.test.ts
 * The property then runs that scenario once instead of searching. Only for a developer's shell.
 */
export function replayScenario<S>(): S | undefined {
  const text = process.env.CHAOS_REPLAY;
  if (!text) return undefined;
  const value = new Function(`return (${text});`)() as unknown;
  return (Array.isArray(value) ? value[0] : value) as S;
}

/** Thrown by a listener on purpose: the only exception allowed to reach uncaughtException. */
export class HookError extends Error {}

/**
 * Process-wide: what reached uncaughtException / unhandledRejection during the current run
 * (reset it at the start of each run). Installed by `trapProcessErrors` for a whole property.
 */
export const escaped = { hookErrors: 0, others: [] as unknown[] };
const onUncaught = (error: unknown) => {
  if (error instanceof HookError) escaped.hookErrors++;
  else escaped.others.push(error);
};
const onUnhandled = (reason: unknown) => escaped.others.push(new Error(`unhandled rejection: ${String((reason as Error)?.stack ?? reason)}`));

/**
 * Runs `body` with mocha's own process listeners taken off and `escaped` counting instead; puts them
 * back after. Timers made meanwhile are tracked for `leftTimers`.
 */
export async function trapProcessErrors<T>(body: () => Promise<T>): Promise<T> {
  const savedUncaught = process.listeners('uncaughtException');
  const savedUnhandled = process.listeners('unhandledRejection');
  process.removeAllListeners('uncaughtException');
  process.removeAllListeners('unhandledRejection');
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);
  timerHook.enable();
  try {
    return await body();
  } finally {
    timerHook.disable();
    liveTimers.clear();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
    for (const listener of savedUncaught) process.on('uncaughtException', listener);
    for (const listener of savedUnhandled) process.on('unhandledRejection', listener);
  }
}
