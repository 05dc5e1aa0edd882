// An attempt that fails before it has a socket (a URL, protocols or headers provider that throws,
// rejects or answers nonsense; a constructor that refuses the URL), met by a listener that starts
// another attempt at once: reconnect() from `close`, `error` or a `state` listener. Every such
// attempt is told on a timer of its own, never inside the call that started it: the loop a
// listener makes runs one attempt per turn of the event loop, as with a real socket's close.
// Before, a provider that threw at once recursed until the stack overflowed (about 700 attempts,
// with the client left `connecting` and nothing armed), and one that rejected kept the
// microtask queue busy for good (no timer, no I/O, ever again). Fake transport, fake clock.
import { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import fc from 'fast-check';
import { SteadySocket, SteadySocketError, type SteadySocketOptions } from '../../src/index';
import { useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';

type Options = SteadySocketOptions<unknown, unknown>;

/** Settles every promise job (native promises are not faked): enough for a rejecting provider to be asked again. */
async function jobs(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe('an attempt that fails without a socket, retried at once by a listener (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const reported = useReportedErrors();
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));

  /** At most this many listener-started attempts per test: the bug's loops end too. */
  const LIMIT = 2000;

  const failures: Record<string, () => Options> = {
    'a URL function that throws': () => ({}),
    'a URL function that rejects': () => ({}),
    'a protocols function that throws': () => ({ protocols: () => { throw new Error('no token'); } }),
    'a headers function that rejects': () => ({ headers: () => Promise.reject(new Error('no token')) }),
  };

  function client(kind: string, asked: { n: number }): SteadySocket<unknown, unknown> {
    const url =
      kind === 'a URL function that throws'
        ? () => {
            asked.n++;
            throw new Error('no route');
          }
        : kind === 'a URL function that rejects'
          ? () => {
              asked.n++;
              return Promise.reject(new Error('no route'));
            }
          : () => {
              asked.n++;
              return 'ws://example.test/';
            };
    return kit.track(new SteadySocket<unknown, unknown>(url, { WebSocket: FakeWebSocket as never, minDelay: 1000, ...failures[kind]!() }));
  }

  const starters: Record<string, (socket: SteadySocket<unknown, unknown>, again: () => boolean) => void> = {
    'reconnect() in a close listener': (socket, again) => socket.on('close', () => again() && socket.reconnect()),
    'reconnect() in an error listener': (socket, again) => socket.on('error', () => again() && socket.reconnect()),
    "reconnect() in a listener of state 'waiting'": (socket, again) => socket.on('state', (state) => state === 'waiting' && again() && socket.reconnect()),
  };

  for (const kind of Object.keys(failures)) {
    for (const [how, start] of Object.entries(starters)) {
      it(`${kind}, ${how}: one attempt per timer, no recursion, no busy microtask queue`, async () => {
        const asked = { n: 0 };
        const socket = client(kind, asked);
        const errors: unknown[] = [];
        socket.on('error', (error) => errors.push(error));
        let started = 0;
        start(socket, () => ++started <= LIMIT);
        await jobs(); // the first attempt, and everything a loop of promise jobs would do
        expect(asked.n, 'attempts before any timer ran').to.equal(1);
        for (let step = 2; step <= 6; step++) {
          clock.next(); // the timer that tells the failed attempt's end: the listener starts the next one
          await jobs();
          expect(asked.n, `attempts after ${step - 1} timer(s)`).to.equal(step);
        }
        expect(reported, 'nothing thrown out of a listener (a RangeError of an overflowed stack)').to.deep.equal([]);
        expect(errors.every((error) => error instanceof SteadySocketError && error.code === 'CONNECT_FAILED')).to.equal(true);
        expect(socket.state).to.equal('connecting');
        await socket.close();
        expect(socket.state).to.equal('closed');
        expect(clock.countTimers(), 'timers left after close()').to.equal(0);
      });
    }
  }

  it('without a listener that retries, the failed attempt still waits its backoff (minDelay 1000, jitter 0)', async () => {
    const asked = { n: 0 };
    const socket = kit.track(
      new SteadySocket<unknown, unknown>(
        () => {
          asked.n++;
          throw new Error('no route');
        },
        { WebSocket: FakeWebSocket as never, minDelay: 1000, jitter: 0 },
      ),
    );
    const delays: number[] = [];
    socket.on('error', () => {});
    socket.on('reconnecting', (info) => delays.push(info.delay));
    await jobs();
    clock.tick(0);
    expect(delays).to.deep.equal([1000]);
    clock.tick(999);
    expect(asked.n).to.equal(1);
    clock.tick(1);
    expect(asked.n).to.equal(2);
  });

  describe('an answer the client refuses ends it: error, then the attempt\'s close, then closed', () => {
    const refusals: Record<string, Options & { url?: () => unknown }> = {
      'a URL function answering a number': { url: () => 42 },
      'a URL function answering an ftp: URL, asynchronously': { url: () => Promise.resolve('ftp://example.test/') },
      'a protocols function answering an invalid token': { protocols: () => ['a b'] },
      'a WebSocket constructor that refuses the URL (SecurityError)': {
        WebSocket: class {
          constructor() {
            throw Object.assign(new Error('The operation is insecure.'), { name: 'SecurityError' });
          }
        } as never,
      },
    };
    for (const [kind, { url, ...options }] of Object.entries(refusals)) {
      it(`${kind}`, async () => {
        const socket = kit.track(new SteadySocket<unknown, unknown>((url ?? 'ws://example.test/') as never, { WebSocket: FakeWebSocket as never, ...options }));
        const seen: string[] = [];
        let closeInfo: { code: number; wasClean: boolean; attempt: number; error?: SteadySocketError } | undefined;
        socket.on('error', (error) => seen.push(`error ${error.code}`));
        socket.on('close', (info) => {
          closeInfo = info;
          seen.push(`close ${info.code}`);
        });
        socket.on('state', (state) => seen.push(state));
        await jobs();
        clock.tick(0);
        await jobs();
        expect(seen).to.have.length(3);
        expect(seen[0]).to.match(/^error (INVALID_URL|INVALID_PROTOCOL|CONNECT_FAILED)$/);
        expect(seen.slice(1)).to.deep.equal(['close 1006', 'closed']);
        expect(closeInfo!.wasClean).to.equal(false);
        expect(closeInfo!.attempt).to.equal(1);
        expect(closeInfo!.error!.code).to.equal(seen[0]!.slice('error '.length));
        await socket.close();
        expect(clock.countTimers()).to.equal(0);
      });
    }

    it('reconnect() in that close listener asks the provider again (on the next timer), as after any close', async () => {
      let asked = 0;
      const socket = kit.track(
        new SteadySocket<unknown, unknown>((() => (++asked < 3 ? 42 : 'ws://example.test/')) as never, { WebSocket: FakeWebSocket as never }),
      );
      socket.on('error', () => {});
      socket.on('close', () => socket.reconnect());
      await jobs();
      for (let i = 0; i < 4 && socket.state !== 'open'; i++) {
        clock.next();
        await jobs();
        if (FakeWebSocket.instances.length) FakeWebSocket.last.serverOpen();
      }
      expect(asked).to.equal(3);
      expect(socket.state).to.equal('open');
    });

    it('close() in its error listener: no close event of the attempt after it, closed once', async () => {
      const socket = kit.track(new SteadySocket<unknown, unknown>((() => 42) as never, { WebSocket: FakeWebSocket as never }));
      const seen: string[] = [];
      socket.on('error', () => {
        seen.push('error');
        void socket.close();
      });
      socket.on('close', () => seen.push('close'));
      socket.on('state', (state) => seen.push(state));
      await jobs();
      clock.tick(0);
      await jobs();
      expect(seen).to.deep.equal(['error', 'closed']);
    });
  });
  describe('property: any provider outcome, any listener action, any legal timing', () => {
    class ListenerBug extends Error {}
    type Outcome = 'ok' | 'throw' | 'reject' | 'nonsense' | 'refuse' | 'hang';
    type Action = 'none' | 'throw' | 'reconnect' | 'close' | 'reconnect+throw';
    const EVENTS = ['error', 'close', 'state', 'reconnecting'] as const;
    const RUNS = Number(process.env.MODEL_RUNS ?? 150);

    it('one socket at most, no exception but the listeners\' own, attempts only on a timer or a call, and close() leaves nothing', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.constantFrom<Outcome>('ok', 'throw', 'reject', 'nonsense', 'refuse', 'hang'), { minLength: 1, maxLength: 6 }),
          fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
          fc.record({
            error: fc.constantFrom<Action>('none', 'throw', 'reconnect', 'close', 'reconnect+throw'),
            close: fc.constantFrom<Action>('none', 'throw', 'reconnect', 'close', 'reconnect+throw'),
            state: fc.constantFrom<Action>('none', 'throw', 'reconnect', 'close', 'reconnect+throw'),
            reconnecting: fc.constantFrom<Action>('none', 'throw', 'reconnect', 'close', 'reconnect+throw'),
          }),
          fc.oneof(fc.integer({ min: 1, max: 30 }), fc.constant(3000)),
          fc.record({
            minDelay: fc.constantFrom(0, 1, 1000),
            maxDelay: fc.constantFrom(1000, 30_000, 2 ** 31, Infinity),
            connectTimeout: fc.constantFrom(1, 10_000, 2 ** 31 - 1, 2 ** 31, Infinity),
            jitter: fc.constantFrom(0, 1),
            maxRetries: fc.constantFrom(0, 3, Infinity),
          }),
          async (outcomes, opens, actions, budget, timing) => {
            // A run that failed (shrinking) may have left its client's timers: start from none.
            clock.reset();
            FakeWebSocket.reset();
            reported.length = 0;
            let attempt = 0;
            let refuse = false;
            const Socket = class extends FakeWebSocket {
              constructor(url: string, protocols?: string | string[]) {
                if (refuse) throw Object.assign(new Error('refused'), { name: 'SecurityError' });
                super(url, protocols);
              }
            };
            const url = () => {
              const outcome = outcomes[attempt++ % outcomes.length]!;
              refuse = outcome === 'refuse';
              if (outcome === 'throw') throw new Error('no route');
              if (outcome === 'reject') return Promise.reject(new Error('no route'));
              if (outcome === 'nonsense') return 42;
              if (outcome === 'hang') return new Promise<string>(() => {});
              return 'ws://example.test/';
            };
            const socket = new SteadySocket<unknown, unknown>(url as never, { WebSocket: Socket as never, ...timing });
            let calls = 0; // reconnect() calls the listeners made
            let left = budget; // listener actions left: every loop a listener makes ends
            for (const event of EVENTS) {
              socket.on(event, () => {
                const action = actions[event];
                if (action === 'none' || left <= 0) return;
                left--;
                if (action === 'close') return void socket.close();
                if (action.startsWith('reconnect') && socket.state !== 'closed' && socket.state !== 'closing') {
                  calls++;
                  try {
                    socket.reconnect();
                  } catch (error) {
                    // CLOSED: close() was called by another listener first
                    expect((error as SteadySocketError).code).to.equal('CLOSED');
                  }
                }
                if (action.endsWith('throw')) throw new ListenerBug(event);
              });
            }
            const live = () => FakeWebSocket.instances.filter((w) => w.live).length;
            await jobs(5); // the first attempt
            for (let step = 0; step < 40 && socket.state !== 'closed'; step++) {
              const before = attempt;
              const callsBefore = calls;
              const pending = FakeWebSocket.instances.find((w) => w.live && w.readyState === FakeWebSocket.CONNECTING);
              if (pending) {
                if (opens[step % opens.length]) pending.serverOpen();
                else pending.fail();
              } else if (FakeWebSocket.instances.some((w) => w.live && w.readyState === FakeWebSocket.OPEN)) {
                FakeWebSocket.last.serverClose(1006);
              } else clock.next();
              await jobs(5);
              expect(live(), 'live sockets').to.be.at.most(1);
              // One attempt per timer or event, and one more a listener may start at once: never a
              // chain of them inside one step (the loop a listener makes runs a turn per attempt).
              expect(attempt - before, 'attempts in one step').to.be.at.most(Math.min(2, 1 + calls - callsBefore));
            }
            const done = socket.close();
            for (let i = 0; i < 10; i++) {
              clock.tick(10);
              await jobs(5);
            }
            await done;
            expect(socket.state).to.equal('closed');
            expect(live(), 'live sockets after close()').to.equal(0);
            expect(clock.countTimers(), 'timers after close()').to.equal(0);
            const strangers = reported.filter((error) => !(error instanceof ListenerBug));
            expect(strangers.map(String), 'exceptions other than the listeners\' own').to.deep.equal([]);
          },
        ),
        { numRuns: RUNS, seed: process.env.MODEL_SEED ? Number(process.env.MODEL_SEED) : undefined },
      );
    });
  });
});
