// Off the happy path (issue 14): throwing listeners, calls from inside listeners, extreme timing
// values. Fake transport and fake clock; the real-server versions live in test/integration and
// test/fault.
import FakeTimers, { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import fc from 'fast-check';
import { heartbeat, json, ping, ready, requests, stats, SteadySocket, SteadySocketError, ttl, type SteadySocketOptions } from '../../src/index';
import { FakeWebSocket } from '../support/fake-websocket';

type Options = SteadySocketOptions<unknown, unknown>;
type EventName = 'open' | 'message' | 'close' | 'error' | 'state' | 'reconnecting' | 'drop';
const EVENTS: EventName[] = ['open', 'message', 'close', 'error', 'state', 'reconnecting', 'drop'];

describe('SteadySocket off the happy path (fake transport, fake clock)', () => {
  let clock: InstalledClock;
  const sockets: SteadySocket<unknown, unknown>[] = [];
  const global = globalThis as { reportError?: (error: unknown) => void };
  let reported: unknown[];

  beforeEach(() => {
    FakeWebSocket.reset();
    clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'queueMicrotask'] });
    reported = [];
    global.reportError = (error) => reported.push(error);
  });

  afterEach(() => {
    for (const s of sockets.splice(0)) if (s.state !== 'closed') void s.close();
    clock.runAll();
    clock.uninstall();
    delete global.reportError;
  });

  async function open(options: Options = {}) {
    const socket = new SteadySocket<unknown, unknown>('ws://example.test/', { WebSocket: FakeWebSocket as never, ...options });
    sockets.push(socket);
    await Promise.resolve(); // the first attempt
    return socket;
  }

  const live = () => FakeWebSocket.instances.filter((w) => w.live).length;

  /** Runs `promise` to its end while the fake clock is stepped; fails if it never settles. */
  async function settled(promise: Promise<unknown>): Promise<{ ok: boolean; value: unknown }> {
    let outcome: { ok: boolean; value: unknown } | undefined;
    promise.then(
      (value) => (outcome = { ok: true, value }),
      (value) => (outcome = { ok: false, value }),
    );
    for (let i = 0; i < 20 && !outcome; i++) await Promise.resolve();
    expect(outcome, 'the promise settled').to.not.equal(undefined);
    return outcome!;
  }

  describe('a listener that throws', () => {
    /**
     * One run through every event: a dropped message, open, a message, a server drop, a wait, a
     * connect timeout, another wait, a new connection. Returns what the client did.
     */
    async function journey(thrower?: { event: EventName; nth: number }) {
      FakeWebSocket.reset();
      const socket = await open({ minDelay: 100, maxDelay: 100, jitter: 0, connectTimeout: 500, maxMessages: 1, overflow: 'drop-oldest' });
      const trace: string[] = [];
      const counts = new Map<EventName, number>();
      if (thrower) {
        socket.on(thrower.event, () => {
          const n = (counts.get(thrower.event) ?? 0) + 1;
          counts.set(thrower.event, n);
          if (n === thrower.nth) throw new Error(`listener bug in ${thrower.event} #${n}`);
        });
      }
      // The listener after the thrower still hears everything.
      for (const event of EVENTS) socket.on(event, ((...args: unknown[]) => trace.push(`${event}:${summary(args[0])}`)) as never);
      socket.send('a');
      socket.send('b'); // evicts a
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverMessage('m1');
      FakeWebSocket.last.serverClose(1006);
      clock.tick(100); // retry
      clock.tick(500); // connect timeout
      clock.tick(100); // retry
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverMessage('m2');
      socket.send('c');
      const sent = FakeWebSocket.instances.map((w) => w.sent);
      return { trace, state: socket.state, sent, sockets: FakeWebSocket.instances.length, live: live() };
    }

    it('never changes what the client does next, and the other listeners still hear every event (any event, any moment)', async () => {
      const baseline = await journey();
      expect(baseline.state).to.equal('open');
      expect(baseline.sent).to.deep.equal([['b'], [], ['c']]);
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...EVENTS), fc.integer({ min: 1, max: 4 }), async (event, nth) => {
          reported = [];
          const run = await journey({ event, nth });
          expect(run).to.deep.equal(baseline);
          const emitted = baseline.trace.filter((line) => line.startsWith(`${event}:`)).length;
          expect(reported.length, 'reported exceptions').to.equal(nth <= emitted ? 1 : 0);
        }),
        { numRuns: 60 },
      );
    });

    it('close listener throws once: the client still reconnects', async () => {
      const socket = await open({ minDelay: 100, jitter: 0 });
      socket.once('close', () => {
        throw new Error('bug');
      });
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1006);
      expect(socket.state).to.equal('waiting');
      clock.tick(100);
      FakeWebSocket.last.serverOpen();
      expect(socket.state).to.equal('open');
      expect(reported).to.have.length(1);
    });

    it('message listener throws once: later messages are still delivered', async () => {
      const socket = await open();
      const got: unknown[] = [];
      socket.once('message', () => {
        throw new Error('bug');
      });
      socket.on('message', (m) => got.push(m));
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverMessage('one');
      FakeWebSocket.last.serverMessage('two');
      expect(got).to.deep.equal(['one', 'two']);
    });

    it('state listener throws on waiting: the retry is still armed', async () => {
      const socket = await open({ minDelay: 100, jitter: 0 });
      socket.on('state', (state) => {
        if (state === 'waiting') throw new Error('bug');
      });
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1011);
      expect(clock.countTimers()).to.equal(1);
      clock.tick(100);
      expect(socket.state).to.equal('connecting');
      expect(FakeWebSocket.instances).to.have.length(2);
    });

    it('error listener throws on CONNECT_TIMEOUT: the attempt is still abandoned and retried', async () => {
      const socket = await open({ connectTimeout: 500, minDelay: 100, jitter: 0 });
      socket.on('error', (error) => {
        if (error.code === 'CONNECT_TIMEOUT') throw new Error('bug');
      });
      clock.tick(500);
      expect(socket.state).to.equal('waiting');
      clock.tick(100);
      expect(socket.state).to.equal('connecting');
      expect(live()).to.equal(1);
    });

    it('open listener throws while a ready step is set: no unhandled rejection, the outbox flushes', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const socket = await open({ use: [ready(async () => {})] });
        socket.on('open', () => {
          throw new Error('bug');
        });
        socket.send('queued');
        FakeWebSocket.last.serverOpen();
        for (let i = 0; i < 5; i++) await Promise.resolve();
        expect(socket.state).to.equal('open');
        expect(FakeWebSocket.last.sent).to.deep.equal(['queued']);
        await new Promise((resolve) => globalThis.setImmediate(resolve));
        expect(unhandled).to.deep.equal([]);
        expect(reported).to.have.length(1);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });
  });

  describe('calls from inside listeners', () => {
    it('reconnect() inside a close listener after a failed attempt opens one socket, and close() leaves none', async () => {
      const socket = await open({ minDelay: 100 });
      socket.once('close', () => socket.reconnect());
      FakeWebSocket.last.fail();
      expect(socket.state).to.equal('connecting');
      expect(FakeWebSocket.instances).to.have.length(2);
      expect(live()).to.equal(1);
      const done = socket.close();
      clock.tick(10);
      await done;
      expect(live()).to.equal(0);
      expect(clock.countTimers()).to.equal(0);
    });

    it('reconnect() inside a close listener of an open connection reconnects at once, not after a backoff', async () => {
      const socket = await open({ minDelay: 10_000 });
      FakeWebSocket.last.serverOpen();
      socket.once('close', () => socket.reconnect());
      FakeWebSocket.last.serverClose(1006);
      expect(socket.state).to.equal('connecting');
      expect(FakeWebSocket.instances).to.have.length(2);
      expect(live()).to.equal(1);
    });

    it('reconnect() while waiting keeps the ttl expiry: a deliver() with ttl 300 rejects by 300 ms', async () => {
      const socket = await open({ use: [ttl(300)], minDelay: 5000, jitter: 0 });
      FakeWebSocket.last.fail(); // waiting
      const pending = socket.deliver('x');
      socket.reconnect();
      clock.tick(300);
      const outcome = await settled(pending);
      expect(outcome.ok).to.equal(false);
      expect((outcome.value as SteadySocketError).code).to.equal('MESSAGE_EXPIRED');
    });

    it('close() inside a drop listener settles every deliver() and leaves no message and no timer', async () => {
      const socket = await open({ maxMessages: 1, overflow: 'drop-oldest', use: [ttl(60_000)], minDelay: 100 });
      FakeWebSocket.last.fail(); // waiting: no socket to close, so close() finishes at once
      const first = socket.deliver('first');
      socket.once('drop', () => void socket.close());
      const second = socket.deliver('second'); // evicts first; the listener closes
      const [a, b] = [await settled(first), await settled(second)];
      expect((a.value as SteadySocketError).code).to.equal('QUEUE_OVERFLOW');
      expect((b.value as SteadySocketError).code).to.equal('CLOSED');
      expect(socket.state).to.equal('closed');
      expect(socket.queued).to.deep.equal([]);
      // ttl()'s look after the failed attempt's close is a promise job (the fake clock does not see
      // it): once it has run, nothing is armed.
      await Promise.resolve();
      expect(clock.countTimers()).to.equal(0);
    });

    it('send() inside a drop listener while close() drops the outbox is refused: no endless drop/send loop', async () => {
      const socket = await open();
      for (let i = 0; i < 3; i++) socket.send(`m${i}`);
      let drops = 0;
      socket.on('drop', () => {
        drops++;
        if (drops < 10_000) socket.send('again');
      });
      const done = socket.close();
      clock.tick(10); // the closing handshake of the connecting socket
      await done;
      expect(drops).to.equal(3);
      expect(reported).to.have.length(3);
      expect((reported[0] as SteadySocketError).code).to.equal('CLOSED');
    });

    it('a deliver() failed by a fatal close carries why the client closed as its cause', async () => {
      const socket = await open();
      socket.on('error', () => {});
      const pending = socket.deliver('x');
      FakeWebSocket.last.serverClose(1002); // before open: CONNECT_FAILED, and 1002 stops
      const outcome = await settled(pending);
      const error = outcome.value as SteadySocketError;
      expect(error.code).to.equal('CLOSED');
      expect((error.cause as SteadySocketError).code).to.equal('CONNECT_FAILED');
      expect((error.cause as SteadySocketError).closeCode).to.equal(1002);
    });

    /** The CLOSED errors of everything asked of a client after it ended: each must carry `cause`. */
    async function closedCauses(socket: SteadySocket<unknown, unknown>, rpc: ReturnType<typeof requests>) {
      const thrown = (call: () => unknown) => {
        try {
          call();
        } catch (error) {
          return error as SteadySocketError;
        }
        throw new Error('expected a throw');
      };
      const rejected = async (promise: Promise<unknown>) => (await settled(promise)).value as SteadySocketError;
      return {
        send: thrown(() => socket.send('late')),
        deliver: thrown(() => socket.deliver('late')),
        reconnect: thrown(() => socket.reconnect()),
        request: await rejected(rpc.request('late')),
        ping: await rejected(ping(socket)),
      };
    }

    for (const [how, code, options] of [
      ['a close code the table stops on (1008)', 1008, {}],
      ['a close shouldReconnect says not to reconnect after (4000)', 4000, { shouldReconnect: (info: { code: number }) => info.code !== 4000 }],
    ] as const) {
      it(`after ${how}, what was pending and everything asked later fail with CLOSED whose cause names the close`, async () => {
        // Before: no error existed for such a stop, so each CLOSED had no cause, and nothing said why the client ended.
        const rpc = requests();
        const socket = await open({ ...options, codec: json(), use: [rpc] });
        const errors: string[] = [];
        socket.on('error', (error) => errors.push(error.code));
        FakeWebSocket.last.serverOpen();
        FakeWebSocket.last.serverCloseFrame(); // the socket left OPEN: what is sent now waits
        const pending = [socket.deliver('x'), socket.flushed(), rpc.request('y')];
        FakeWebSocket.last.serverClose(code, 'banned');
        expect(socket.state).to.equal('closed');
        const failures = [...(await Promise.all(pending.map(async (p) => (await settled(p)).value as SteadySocketError))), ...Object.values(await closedCauses(socket, rpc))];
        for (const error of failures) {
          expect(error.code, error.message).to.equal('CLOSED');
          const cause = error.cause as SteadySocketError;
          expect(cause?.code, `${error.message}: its cause`).to.equal('CONNECTION_CLOSED');
          expect(cause.closeCode).to.equal(code);
          expect(cause.message).to.include(String(code));
        }
        expect(errors, 'a stop on a close code is no error event').to.deep.equal([]);
      });
    }

    it('after a stop on 1008, a throwing state listener and a send() from inside it: the send throws CLOSED with the stop as cause; a close listener that calls reconnect() keeps the client going', async () => {
      const inside: SteadySocketError[] = [];
      const stopped = await open();
      stopped.on('state', (state) => {
        if (state !== 'closed') return;
        try {
          stopped.send('from the listener');
        } catch (error) {
          inside.push(error as SteadySocketError);
        }
        throw new Error('a listener that throws');
      });
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1008);
      expect(stopped.state).to.equal('closed');
      expect(inside.map((e) => [e.code, (e.cause as SteadySocketError)?.code, (e.cause as SteadySocketError)?.closeCode])).to.deep.equal([['CLOSED', 'CONNECTION_CLOSED', 1008]]);
      expect(reported.length, 'the throw was reported, not lost').to.be.greaterThan(0);

      const kept = await open({ minDelay: 10, jitter: 0 });
      kept.on('close', () => kept.reconnect()); // its decision stands over the policy's stop
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1008);
      expect(kept.state, 'reconnecting, not closed').to.equal('connecting');
      expect(() => kept.send('still live')).to.not.throw();
    });

    it('after retries ran out, everything asked later fails with CLOSED whose cause is RETRIES_EXHAUSTED; after close(), with no cause', async () => {
      const rpc = requests();
      const ended = await open({ maxRetries: 0, codec: json(), use: [rpc] });
      ended.on('error', () => {});
      FakeWebSocket.last.serverClose(1006); // the first attempt fails, and no retry is allowed
      expect(ended.state).to.equal('closed');
      for (const [what, error] of Object.entries(await closedCauses(ended, rpc))) {
        expect(error.code, what).to.equal('CLOSED');
        expect((error.cause as SteadySocketError)?.code, what).to.equal('RETRIES_EXHAUSTED');
      }
      const rpc2 = requests();
      const closed = await open({ codec: json(), use: [rpc2] });
      FakeWebSocket.last.serverOpen();
      void closed.close();
      for (const [what, error] of Object.entries(await closedCauses(closed, rpc2))) {
        expect(error.code, what).to.equal('CLOSED');
        expect(error.cause, `${what}: the application closed it`).to.equal(undefined);
      }
    });
  });

  describe('protocols: null', () => {
    it('offers no subprotocol for protocols: null and for a protocols function that returns null, as partysocket does', async () => {
      // Before: a function returning null ended the client with INVALID_PROTOCOL.
      for (const protocols of [null, () => null, async () => null]) {
        FakeWebSocket.reset();
        const socket = await open({ protocols: protocols as never });
        const errors: string[] = [];
        socket.on('error', (error) => errors.push(error.code));
        await clock.tickAsync(0);
        FakeWebSocket.last.serverOpen();
        expect(socket.state, String(protocols)).to.equal('open');
        expect(FakeWebSocket.last.protocols ?? [], String(protocols)).to.deep.equal([]);
        expect(errors).to.deep.equal([]);
      }
    });

    it('names the kind of value, never the value, when a protocols function returns what is no protocol list', async () => {
      const socket = new SteadySocket<unknown, unknown>('ws://example.test/', { WebSocket: FakeWebSocket as never, protocols: (() => ({ secret: 'zqProtocolSecret' })) as never });
      sockets.push(socket);
      const errors: SteadySocketError[] = [];
      socket.on('error', (error) => errors.push(error));
      await clock.tickAsync(0); // the first attempt calls the function
      expect(socket.state, 'bad input from a function ends the client').to.equal('closed');
      expect(errors.map((e) => e.code)).to.deep.equal(['INVALID_PROTOCOL']);
      expect(errors[0].message).to.match(/protocols must be a string, an array of strings or null \(none\), not object\./);
      expect(errors[0].message).to.not.include('zqProtocolSecret');
    });
  });

  describe('a socket that left OPEN before its close event', () => {
    it('queues what is sent after the server\'s close frame and sends it on the next connection, in order', async () => {
      const counters = stats();
      const socket = await open({ minDelay: 10, jitter: 0, use: [counters] });
      FakeWebSocket.last.serverOpen();
      socket.send('before');
      FakeWebSocket.last.serverCloseFrame();
      socket.send('after-1');
      const delivered = socket.deliver('after-2');
      expect(FakeWebSocket.last.sent).to.deep.equal(['before']);
      expect(FakeWebSocket.last.lost).to.deep.equal([]);
      expect(socket.queued).to.deep.equal(['after-1', 'after-2']);
      expect(counters.snapshot().messagesOut).to.equal(1);
      FakeWebSocket.last.serverClose(1001);
      clock.tick(10);
      FakeWebSocket.last.serverOpen();
      expect(FakeWebSocket.last.sent).to.deep.equal(['after-1', 'after-2']);
      return delivered;
    });

    it('the ready step\'s send() throws CONNECTION_CLOSED instead of writing into a socket that left OPEN', async () => {
      let sendAfterCloseFrame: (() => void) | undefined;
      const socket = await open({
        use: [ready((context) => {
          sendAfterCloseFrame = () => context.send('hello');
          return new Promise<void>(() => {}); // the step waits for a reply that never comes
        })],
      });
      socket.on('error', () => {});
      FakeWebSocket.last.serverOpen();
      await Promise.resolve();
      FakeWebSocket.last.serverCloseFrame();
      expect(sendAfterCloseFrame).to.throw(SteadySocketError).with.property('code', 'CONNECTION_CLOSED');
      expect(FakeWebSocket.last.lost).to.deep.equal([]);
    });

    it('with connectTimeout Infinity, drops a socket the server started closing during the ready step closeTimeout ms after the step, and reconnects', async () => {
      // Browsers keep such a socket CLOSING until the server ends TCP; nothing else bounds the attempt.
      let pass: (() => void) | undefined;
      const socket = await open({
        connectTimeout: Infinity,
        closeTimeout: 500,
        minDelay: 10,
        jitter: 0,
        use: [ready(() => new Promise<void>((resolve) => (pass = resolve)))],
      });
      const errors: string[] = [];
      socket.on('error', (error) => errors.push(error.code));
      socket.send('queued');
      FakeWebSocket.last.serverOpen();
      await Promise.resolve();
      FakeWebSocket.last.serverCloseFrame();
      clock.tick(60_000); // the step still runs: nothing is armed yet, nothing times out
      pass!();
      await clock.tickAsync(499);
      expect(socket.state, 'within closeTimeout of the step ending').to.equal('connecting');
      expect(FakeWebSocket.instances).to.have.length(1);
      await clock.tickAsync(1);
      expect(socket.state).to.equal('waiting');
      expect(errors).to.deep.equal(['CONNECT_FAILED']);
      expect(FakeWebSocket.instances[0].lost, 'nothing written into the closing socket').to.deep.equal([]);
      await clock.tickAsync(10);
      FakeWebSocket.last.serverOpen();
      pass!();
      await clock.tickAsync(0);
      expect(socket.state).to.equal('open');
      expect(FakeWebSocket.last.sent).to.deep.equal(['queued']);
    });

    it('property: a close frame at any moment of the ready step, with listeners that throw or call back and any closeTimeout: bounded, one socket, the queue intact', async () => {
      // The paths added for a server closing during the ready step (the watchdog armed when the
      // step ends; the step's signal aborted on close()/reconnect()), off the happy path.
      const reaction = fc.constantFrom('none', 'throw', 'reconnect', 'close', 'send');
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(0, 1, 1000, 2 ** 31 + 5, Infinity),
          fc.integer({ min: 0, max: 3 }), // close frame: before the step ends (0-2: at 0, 10, 40 ms), or none (3)
          fc.integer({ min: 1, max: 60 }), // the step's length
          fc.record({ error: reaction, state: reaction, close: reaction }),
          async (closeTimeout, frameAt, stepMs, on) => {
            FakeWebSocket.reset();
            const signals: AbortSignal[] = [];
            const socket = await open({
              connectTimeout: Infinity,
              closeTimeout,
              minDelay: 10,
              maxDelay: 10,
              jitter: 0,
              use: [ready((ctx) => (signals.push(ctx.signal), new Promise<void>((resolve) => setTimeout(resolve, stepMs))))],
            });
            let reactions = 0;
            for (const event of ['error', 'state', 'close'] as const) {
              socket.on(event, () => {
                if (reactions++ > 20) return; // a listener that calls back once per event, not forever
                const what = on[event];
                if (what === 'throw') throw new Error(`from ${event}`);
                if (socket.state === 'closed') return;
                try {
                  if (what === 'reconnect') socket.reconnect();
                  else if (what === 'close') void socket.close();
                  else if (what === 'send') socket.send(`from ${event}`);
                } catch (error) {
                  expect((error as SteadySocketError).code, 'only CLOSED may be thrown (after close())').to.equal('CLOSED');
                }
              });
            }
            socket.send('queued');
            FakeWebSocket.last.serverOpen();
            await clock.tickAsync(0);
            if (frameAt < 3) {
              await clock.tickAsync([0, 10, 40][frameAt] % stepMs);
              FakeWebSocket.last.serverCloseFrame();
            }
            const stepEnds = stepMs + 1;
            await clock.tickAsync(stepEnds);
            for (let t = 0; t < 5; t++) {
              expect(FakeWebSocket.instances.filter((w) => w.live).length, 'at most one socket').to.be.at.most(1);
              // The watchdog: a finite closeTimeout bounds how long a closing socket stays connecting.
              if (closeTimeout <= 1000) await clock.tickAsync(closeTimeout + 1);
              else await clock.tickAsync(1000);
            }
            const closing = FakeWebSocket.instances.filter((w) => w.readyState === FakeWebSocket.CLOSING && w.live);
            if (closeTimeout <= 1000 && socket.state === 'connecting') {
              expect(closing, 'no attempt stays connecting on a closing socket past closeTimeout').to.deep.equal([]);
            }
            // Nothing written into a socket that was not OPEN, and the queued message is written once or still queued.
            for (const w of FakeWebSocket.instances) expect(w.lost, 'written into a socket not OPEN').to.deep.equal([]);
            const written = FakeWebSocket.instances.flatMap((w) => w.sent).filter((m) => m === 'queued').length;
            expect(written + socket.queued.filter((m) => m === 'queued').length, 'the queued message, once').to.be.at.most(1);
            if (socket.state !== 'closed') expect(written + socket.queued.filter((m) => m === 'queued').length).to.equal(1);
            // Every step of a connection the client let go of saw its signal aborted.
            for (const [i, signal] of signals.entries()) {
              const w = FakeWebSocket.instances[i];
              if (w && !w.live && socket.state !== 'open') expect(signal.aborted, `step ${i} aborted`).to.equal(true);
            }
            // The end: close() settles (a closing fake socket ends when the server finishes), nothing left.
            const done = socket.close();
            for (const w of FakeWebSocket.instances) if (w.readyState !== FakeWebSocket.CLOSED) w.serverClose(1000);
            await clock.tickAsync(10);
            await done;
            expect(socket.state).to.equal('closed');
            expect(clock.countTimers(), 'no timer left').to.equal(0);
            expect(reported.length, 'every listener exception reported').to.be.at.least(Object.values(on).includes('throw') ? 1 : 0);
          },
        ),
        { numRuns: 300, seed: 20261130 },
      );
    });

    it('drops a socket that stays CLOSING for closeTimeout and reconnects', async () => {
      const socket = await open({ closeTimeout: 1000, minDelay: 10, jitter: 0 });
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverCloseFrame();
      socket.send('held');
      clock.tick(999);
      expect(socket.state).to.equal('open');
      clock.tick(1);
      expect(socket.state).to.equal('waiting');
      clock.tick(10);
      FakeWebSocket.last.serverOpen();
      expect(FakeWebSocket.last.sent).to.deep.equal(['held']);
    });
  });

  describe('extreme but legal timing values', () => {
    /** Ms until the earliest armed timer is due (Infinity when none): fake-timers' own record. */
    function nextTimerIn(): number {
      const timers = Object.values((clock as unknown as { timers?: Record<string, { callAt: number }> }).timers ?? {});
      return timers.length ? Math.min(...timers.map((t) => t.callAt)) - clock.now : Infinity;
    }

    it('connectTimeout: Infinity never times out', async () => {
      const socket = await open({ connectTimeout: Infinity });
      expect(clock.countTimers()).to.equal(0);
      clock.tick(10 * 365 * 86_400_000);
      expect(socket.state).to.equal('connecting');
      expect(FakeWebSocket.instances).to.have.length(1);
    });

    it('a 30-day ttl arms one timer that does not fire early or spin', async () => {
      const socket = await open({ use: [ttl(30 * 86_400_000)], connectTimeout: Infinity });
      const pending = socket.deliver('x');
      expect(clock.countTimers()).to.equal(1);
      expect(nextTimerIn(), 'the expiry timer is not armed with an overflowed delay').to.be.above(86_400_000);
      clock.tick(30 * 86_400_000);
      const outcome = await settled(pending);
      expect((outcome.value as SteadySocketError).code).to.equal('MESSAGE_EXPIRED');
    });

    it('ttl(): a flush judges each message as it writes it: one that expires while the flush stalls is dropped, not written', async () => {
      const socket = await open({ use: [ttl(15)], connectTimeout: Infinity });
      const pending = ['a', 'b', 'c'].map((m) => socket.deliver(m)); // queued at 0: they expire at 15
      clock.tick(10);
      const fake = FakeWebSocket.last;
      // The first write stalls the flush for 10 ms (a busy machine; a large frame): the clock
      // moves, no timer runs.
      const send = fake.send.bind(fake);
      fake.send = (data) => {
        send(data);
        if (fake.sent.length === 1) clock.setSystemTime(Date.now() + 10);
      };
      fake.serverOpen(); // flushes at 10
      expect(fake.sent, 'written: only what was live when it was written').to.deep.equal(['a']);
      const outcomes = await Promise.all(pending.map((p) => settled(p)));
      expect(outcomes.map((o) => (o.ok ? 'written' : (o.value as SteadySocketError).code))).to.deep.equal(['written', 'MESSAGE_EXPIRED', 'MESSAGE_EXPIRED']);
    });

    it('a heartbeat or closeTimeout of Infinity arms no timer', async () => {
      const socket = await open({ use: [heartbeat({ interval: Infinity, timeout: Infinity })], closeTimeout: Infinity });
      FakeWebSocket.last.serverOpen();
      expect(clock.countTimers()).to.equal(0);
      FakeWebSocket.last.serverCloseFrame();
      socket.send('x');
      expect(clock.countTimers()).to.equal(0);
      expect(socket.state).to.equal('open');
    });

    it('for any timing option of a second or more, up to Infinity: no timer fires early (no 1 ms spin), no NaN delay', async () => {
      // Small values make timers run often because they were asked to; the defect is large
      // values turning into ~1 ms timers.
      const value = fc.oneof(
        fc.constantFrom(1000, 2 ** 31 - 1, 2 ** 31, 2 ** 53, Number.MAX_VALUE, Infinity),
        fc.double({ min: 1000, max: 1e12, noNaN: true }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.record({ minDelay: value, extra: value, connectTimeout: value, ttl: value, interval: value, timeout: value, closeTimeout: value }),
          async (v) => {
            FakeWebSocket.reset();
            const options: Options = {
              minDelay: v.minDelay,
              maxDelay: v.minDelay + v.extra,
              jitter: 0,
              connectTimeout: v.connectTimeout,
              closeTimeout: v.closeTimeout,
              use: [ttl(v.ttl), heartbeat({ interval: v.interval, timeout: v.timeout })],
            };
            const socket = await open(options);
            const delays: number[] = [];
            socket.on('reconnecting', (info) => delays.push(info.delay));
            socket.on('error', () => {});
            socket.send('x');
            FakeWebSocket.last.serverOpen();
            FakeWebSocket.last.serverCloseFrame();
            socket.send('y');
            FakeWebSocket.last.serverClose(1006);
            for (const delay of delays) expect(Number.isFinite(delay) && delay >= 0, `delay ${delay}`).to.equal(true);
            // Nothing was asked to run within a second (an overflowed delay fires after ~1 ms).
            expect(nextTimerIn()).to.be.at.least(1000);
            void socket.close();
            clock.runAll();
          },
        ),
        { numRuns: 150 },
      );
    });
  });
});

function summary(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  const v = value as { code?: unknown; reason?: unknown; data?: unknown; attempt?: unknown };
  if (typeof v.code === 'string') return v.code;
  if (typeof v.code === 'number') return `${v.code}`;
  if ('data' in v) return `${String(v.data)}:${String(v.reason)}`;
  return typeof v.attempt === 'number' ? `attempt ${v.attempt}` : 'object';
}
