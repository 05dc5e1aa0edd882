// Shared by the model-based property tests (test/unit/*-model.test.ts): a seeded PRNG for
// Math.random (backoff jitter), and fast-check's run options with the MODEL_SEED / MODEL_RUNS
// overrides for a longer search.
import FakeTimers, { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import type { Parameters } from 'fast-check';

/** A small deterministic PRNG (mulberry32): the same scenario seed gives the same jitter. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 300 runs from `seed` (MODEL_SEED and MODEL_RUNS override both), stopped without failing after `timeLimit` ms. */
export function modelRuns(seed: number, timeLimit: number): Parameters<unknown> {
  return {
    seed: Number(process.env.MODEL_SEED ?? seed),
    numRuns: Number(process.env.MODEL_RUNS ?? 300),
    interruptAfterTimeLimit: timeLimit,
    markInterruptAsFailure: false,
  };
}

/**
 * Timers armed by a test's own doubles (a transport's closing handshake, a store's latency, a
 * server's pong), told apart from the client's: "no timer left after close()" counts the client's.
 */
export const foreignTimers = new Set<unknown>();
let foreignDepth = 0;

/** Runs `fn` as a double: the timers it arms are foreign. */
export function foreign<T>(fn: () => T): T {
  foreignDepth++;
  try {
    return fn();
  } finally {
    foreignDepth--;
  }
}

/** Wraps the (fake) global setTimeout so that timers armed inside foreign() are counted apart; returns the undo. */
export function tagForeignTimers(): () => void {
  const g = globalThis as { setTimeout: (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => unknown };
  const original = g.setTimeout;
  foreignTimers.clear();
  g.setTimeout = (fn, ms, ...args) => {
    if (!foreignDepth) return original(fn, ms, ...args);
    const id = original(() => {
      foreignTimers.delete(id);
      fn(...args);
    }, ms);
    foreignTimers.add(id);
    return id;
  };
  return () => (g.setTimeout = original);
}

/** One scenario's surroundings: the fake clock, the seeded Math.random and a reportError that collects. */
export interface ModelRun {
  clock: InstalledClock;
  /** What listeners threw (reported, as the client reports them). */
  reported: unknown[];
  /** The timers the client has armed (the doubles' own not counted). */
  clientTimers(): number;
  /** Puts everything back. */
  end(): void;
}

/** The scenario whose surroundings are installed, if any. */
let current: ModelRun | undefined;

/**
 * Installs a scenario's surroundings; `now` starts the fake clock (a real epoch where `now + delay`
 * must not read as 0). A scenario left installed (fast-check abandoned it at its time limit, so its
 * `finally` never ran) is ended first, so it cannot break the tests after it.
 */
export function startModelRun(seed: number, now = 0): ModelRun {
  current?.end();
  const global = globalThis as { reportError?: (error: unknown) => void };
  // The runtime's own reportError (browsers have one) comes back at the end, not a hole.
  const hadReportError = Object.prototype.hasOwnProperty.call(global, 'reportError');
  const realReportError = global.reportError;
  const realRandom = Math.random;
  const clock = FakeTimers.install({ now, toFake: ['setTimeout', 'clearTimeout', 'Date', 'queueMicrotask'] });
  const untag = tagForeignTimers();
  const reported: unknown[] = [];
  global.reportError = (error) => reported.push(error);
  Math.random = mulberry32(seed);
  const run: ModelRun = {
    clock,
    reported,
    clientTimers: () => clock.countTimers() - foreignTimers.size,
    end() {
      if (current !== run) return;
      current = undefined;
      Math.random = realRandom;
      if (hadReportError) global.reportError = realReportError;
      else delete global.reportError;
      untag();
      clock.uninstall();
    },
  };
  current = run;
  return run;
}

/**
 * Keeps the run in progress, for a property run with fast-check's `interruptAfterTimeLimit`: when
 * the time is up, fast-check races the run in progress with a timer and moves on without it. In
 * the real-server properties its client then ran on into the next property (reconnecting,
 * writing, arming heartbeat and acks timers there: the "timer(s) left" failures of a busy
 * machine); in the models a run would go on beside the next test's clock. `settled()` waits for
 * it to finish by itself (it closes its client and ends its server run), whatever it found.
 */
export class InFlightRun {
  private current: Promise<unknown> = Promise.resolve();

  /** Runs `promise` as the run in progress. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.current = promise;
    return promise;
  }

  /** Resolves once the last run tracked has ended, however it ended. */
  settled(): Promise<void> {
    return this.current.then(
      () => {},
      () => {},
    );
  }
}
