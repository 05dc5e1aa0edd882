// Pieces shared by the real-server properties (test/integration/chaos-server.test.ts and
// chaos-features.test.ts): bounded waits, the process's timers and TCP sockets as Node reports
// them, and the trap for exceptions that reach the process.
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

/** The process's open TCP sockets (Node's undocumented but long-standing handle list). */
export function tcpSockets(): Socket[] {
  return (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().filter((handle): handle is Socket => handle instanceof Socket);
}

/** Settles pending microtasks, nextTicks and immediates (a listener's exception is rethrown on a microtask). */
export async function quiesce(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
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

/** Runs `body` with mocha's own process listeners taken off and `escaped` counting instead; puts them back after. */
export async function trapProcessErrors<T>(body: () => Promise<T>): Promise<T> {
  const savedUncaught = process.listeners('uncaughtException');
  const savedUnhandled = process.listeners('unhandledRejection');
  process.removeAllListeners('uncaughtException');
  process.removeAllListeners('unhandledRejection');
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);
  try {
    return await body();
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
    for (const listener of savedUncaught) process.on('uncaughtException', listener);
    for (const listener of savedUnhandled) process.on('unhandledRejection', listener);
  }
}
