// The harness of the fake-transport tests: a fake clock installed before each test, and after it
// every client made in the test closed, the clock run out and uninstalled.
import FakeTimers, { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { SteadySocket, type SteadySocketOptions } from './under-test';
import { FakeWebSocket } from './fake-websocket';

/** What the client's timers and clock use; native promises stay real. */
const FAKED = ['setTimeout', 'clearTimeout', 'Date', 'queueMicrotask'] as const;

interface Closable {
  readonly state: string;
  close(): unknown;
}

/**
 * Registers the hooks (call it inside a `describe`). `clock` is the current test's; `track` a
 * client to be closed after the test (before the clock runs out, so nothing of it is left).
 */
export function useFakeClock(): { readonly clock: InstalledClock; track<T extends Closable>(socket: T): T; turns(n?: number): Promise<void> } {
  const tracked: Closable[] = [];
  let clock: InstalledClock | undefined;
  beforeEach(() => {
    FakeWebSocket.reset();
    clock = FakeTimers.install({ toFake: [...FAKED] });
  });
  afterEach(() => {
    for (const socket of tracked.splice(0)) if (socket.state !== 'closed') void socket.close();
    try {
      clock!.runAll(); // throws if timers keep arming timers: the test fails, the next still starts clean
    } finally {
      clock!.uninstall();
    }
  });
  return {
    get clock() {
      return clock!;
    },
    track(socket) {
      tracked.push(socket);
      return socket;
    },
    /** Lets promise jobs run, `n` rounds of them (the clock stays where it is). */
    async turns(n = 5) {
      for (let i = 0; i < n; i++) await clock!.tickAsync(0);
    },
  };
}

/** Collects what `reportError` reports (a throwing listener) during each test. */
export function useReportedErrors(): unknown[] {
  const reported: unknown[] = [];
  const global = globalThis as { reportError?: (error: unknown) => void };
  beforeEach(() => {
    reported.length = 0;
    global.reportError = (error) => reported.push(error);
  });
  afterEach(() => delete global.reportError);
  return reported;
}

/**
 * `await open(options)` for a suite: a client of ws://example.test/ over the fake transport with
 * `defaults` under `options`, its `error` events swallowed, tracked by `kit`, its first attempt
 * started (a promise job the constructor queued, which no fake clock holds: one await runs it).
 * `open.create(options)` is the same client before that job: what the constructor throws, it throws.
 */
export function fakeOpener<In, Out>(kit: ReturnType<typeof useFakeClock>, defaults: SteadySocketOptions<In, Out>) {
  const create = (options: SteadySocketOptions<In, Out> = {}): SteadySocket<In, Out> => {
    const socket = kit.track(new SteadySocket<In, Out>('ws://example.test/', { WebSocket: FakeWebSocket as never, ...defaults, ...options }));
    socket.on('error', () => {});
    return socket;
  };
  const open = async (options?: SteadySocketOptions<In, Out>): Promise<SteadySocket<In, Out>> => {
    const socket = create(options);
    await Promise.resolve();
    return socket;
  };
  return Object.assign(open, { create });
}
