// Review of guide sections 2–8 (states, backoff, close policy, outbox, ready, backpressure,
// heartbeats) against the client, off the happy path. Fake transport, fake window, fake clock.
import { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import fc from 'fast-check';
import { json, pageSignals, ready, SteadySocket, SteadySocketError, type SteadySocketOptions } from '../../src/index';
import { useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';
import { FakeWindow } from '../support/fake-window';

type Options = SteadySocketOptions<unknown, unknown>;

describe('guide sections 2–8, reviewed (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  useReportedErrors(); // a listener that throws is reported, not thrown at the test
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));

  async function make(options: Options = {}) {
    const socket = kit.track(new SteadySocket<unknown, unknown>('ws://example.test/', { WebSocket: FakeWebSocket as never, ...options }));
    await Promise.resolve(); // the first attempt
    return socket;
  }

  async function rejection(promise: Promise<unknown>): Promise<SteadySocketError> {
    try {
      await promise;
    } catch (error) {
      return error as SteadySocketError;
    }
    throw new Error('it resolved');
  }

  describe('section 4: a shouldReconnect that fails ends the client', () => {
    for (const [name, hook] of [
      ['throws', () => { throw new Error('hook bug'); }],
      ['returns a promise', async () => true],
    ] as const) {
      it(`(it ${name}) with CLOSED whose cause is that INVALID_OPTION, not a claim about the close code`, async () => {
        const socket = await make({ shouldReconnect: hook as never });
        const errors: SteadySocketError[] = [];
        socket.on('error', (e) => errors.push(e));
        FakeWebSocket.last.serverOpen();
        const pending = socket.deliver('x', { signal: new AbortController().signal });
        FakeWebSocket.last.serverCloseFrame();
        const queued = socket.deliver('y');
        FakeWebSocket.last.serverClose(1001); // a code the default reconnects after
        expect(errors.map((e) => e.code)).to.deep.equal(['INVALID_OPTION']);
        expect(socket.state).to.equal('closed');
        await pending;
        const error = await rejection(queued);
        expect(error.code).to.equal('CLOSED');
        // Guide §1 "Closing": when the client closed by itself, CLOSED's cause is the error that ended it.
        expect((error.cause as SteadySocketError).code).to.equal('INVALID_OPTION');
        expect(() => socket.send('z')).to.throw(SteadySocketError).with.property('cause', errors[0]);
      });
    }
  });

  describe('section 3: stableAfter and the page entering the back/forward cache', () => {
    const g = globalThis as unknown as Record<string, unknown>;
    let page: FakeWindow;
    beforeEach(() => {
      page = new FakeWindow();
    });

    it('a connection that stayed open for stableAfter ms resets the count, also when the page hid it: a later failure is attempt 1', async () => {
      const socket = await make({ minDelay: 100, maxDelay: 100, jitter: 0, maxRetries: 2, stableAfter: 1000, use: [pageSignals(page as never)] });
      const attempts: number[] = [];
      socket.on('close', (info) => attempts.push(info.attempt));
      // Two failures in a row: the count is at 2 (maxRetries 2).
      FakeWebSocket.last.fail();
      clock.tick(100);
      FakeWebSocket.last.fail();
      clock.tick(100);
      FakeWebSocket.last.serverOpen();
      expect(attempts).to.deep.equal([1, 2]);
      clock.tick(60 * 60 * 1000); // stable for an hour
      page.dispatch('pagehide', { persisted: true });
      expect(socket.state).to.equal('waiting');
      page.navigator.onLine = false;
      page.dispatch('pageshow', { persisted: true }); // shown again while offline: the fallback attempt at maxDelay
      clock.tick(100);
      expect(socket.state).to.equal('connecting');
      FakeWebSocket.last.fail();
      // The hour-long connection reset the count: this is failure 1, and the client retries.
      expect(attempts).to.deep.equal([1, 2, 0, 1]);
      expect(socket.state).to.equal('waiting');
    });
  });
  describe('section 7: backpressure and flushed()', () => {
    it('a flushed() waiting on the socket\'s buffer ends when the server started closing and never finishes: the socket is dropped closeTimeout ms later', async () => {
      const socket = await make({ closeTimeout: 3000, minDelay: 100, maxDelay: 100, jitter: 0 });
      FakeWebSocket.last.serverOpen();
      const ws = FakeWebSocket.last;
      ws.bufferedAmount = 100; // written, not yet on the network: flushed() waits
      let done = false;
      void socket.flushed().then(() => (done = true));
      ws.serverCloseFrame(); // CLOSING, and its close event never comes
      ws.close = () => {}; // nor does it answer our close
      // Guide §1: a socket that left OPEN is dropped closeTimeout ms after the client notices;
      // the drain poll is what notices here (nothing is sent, no heartbeat).
      await clock.tickAsync(3000 + 10 + 10);
      expect(socket.state, 'the stuck socket was dropped').to.equal('waiting');
      expect(done, 'flushed() resolved: the connection ended with the outbox empty').to.equal(true);
    });

    it('polls bufferedAmount only while something waits for the drain: once the backlog is written and no flushed() waits, no timer is left', async () => {
      const socket = await make({ highWaterMark: 10 });
      FakeWebSocket.last.serverOpen();
      const ws = FakeWebSocket.last;
      ws.bufferedAmount = 50; // above the mark
      socket.send('a');
      socket.send('b');
      expect(socket.queued).to.deep.equal(['a', 'b']);
      ws.bufferedAmount = 5; // below the mark, never 0 (a slow link, a half-open one)
      await clock.tickAsync(10);
      expect(ws.sent).to.deep.equal(['a', 'b']);
      expect(socket.queued).to.deep.equal([]);
      await clock.tickAsync(100);
      expect(clock.countTimers(), 'no drain poll left running').to.equal(0);
      // And a flushed() that waits now is polled for, and resolves once the socket drained.
      let done = false;
      void socket.flushed().then(() => (done = true));
      await clock.tickAsync(30);
      expect(done).to.equal(false);
      ws.bufferedAmount = 0;
      await clock.tickAsync(10);
      expect(done).to.equal(true);
      await clock.tickAsync(30);
      expect(clock.countTimers()).to.equal(0);
    });
  });
  describe('section 3: any legal number, with the page offline', () => {
    it('maxDelay: Infinity still gives an offline client a finite fallback attempt (navigator.onLine can be wrong)', async () => {
      const page = new FakeWindow();
      page.navigator.onLine = false; // maybe wrongly: the online event may never come
      const socket = await make({ minDelay: 10, maxDelay: Infinity, jitter: 0, use: [pageSignals(page as never)] });
      const delays: number[] = [];
      socket.on('reconnecting', (info) => delays.push(info.delay));
      socket.on('error', () => {});
      FakeWebSocket.last.fail();
      // Guide §3: "minDelay/maxDelay/factor give a finite wait for any failure count ..., at most
      // 2^31-1 ms"; offline, "at most maxDelay ms" (the fallback attempt).
      expect(delays).to.have.length(1);
      expect(delays[0]).to.be.at.most(2 ** 31 - 1);
      clock.tick(2 ** 31 - 1);
      expect(FakeWebSocket.instances, 'the fallback attempt came').to.have.length(2);
      // The same for an offline event while waiting, and for a page shown again while offline.
      FakeWebSocket.last.fail();
      page.dispatch('offline');
      clock.tick(2 ** 31 - 1);
      expect(FakeWebSocket.instances).to.have.length(3);
      FakeWebSocket.last.fail();
      page.dispatch('pagehide', { persisted: true });
      page.dispatch('pageshow', { persisted: true });
      clock.tick(2 ** 31 - 1);
      expect(FakeWebSocket.instances).to.have.length(4);
      expect(delays.every((d) => d <= 2 ** 31 - 1), `delays ${delays}`).to.equal(true);
    });
  });
  describe('section 2: a failed attempt reports error, then close', () => {
    it('with 1006, or with the server\'s own code when the server closed during the ready step (1008 then stops the client)', async () => {
      const trace: string[] = [];
      const watch = (socket: SteadySocket<unknown, unknown>) => {
        socket.on('error', (e) => trace.push(`error ${e.code}`));
        socket.on('close', (info) => trace.push(`close ${info.code} ${info.error?.code} ${info.error?.closeCode}`));
      };
      const plain = await make({ minDelay: 100, maxDelay: 100, jitter: 0 });
      watch(plain);
      FakeWebSocket.last.fail();
      expect(trace).to.deep.equal(['error CONNECT_FAILED', 'close 1006 CONNECT_FAILED 1006']);
      await plain.close();
      trace.length = 0;
      const stepped = await make({ use: [ready(() => new Promise<void>(() => {}))] });
      watch(stepped);
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1008, 'go away'); // refused during the step
      expect(trace).to.deep.equal(['error CONNECT_FAILED', 'close 1008 CONNECT_FAILED 1008']);
      expect(stepped.state, 'the server\'s 1008 stops, as the table says').to.equal('closed');
    });
  });
  describe('section 7: the drain poll, property-based', () => {
    type Step =
      | { kind: 'send' }
      | { kind: 'flushed' }
      | { kind: 'buffer'; n: number }
      | { kind: 'closeFrame' }
      | { kind: 'serverClose'; code: number }
      | { kind: 'serverOpen' }
      | { kind: 'tick'; ms: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 5, arbitrary: fc.constant({ kind: 'send' as const }) },
      { weight: 3, arbitrary: fc.constant({ kind: 'flushed' as const }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('buffer' as const), n: fc.constantFrom(0, 5, 50) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'closeFrame' as const }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('serverClose' as const), code: fc.constantFrom(1000, 1001, 1006) }) },
      { weight: 4, arbitrary: fc.constant({ kind: 'serverOpen' as const }) },
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 1500 }) }) },
    );

    it('for random buffers, sends, flushed() calls and graceful or stuck server closes: every message written once in order, every flushed() settles, and no poll runs with nothing waiting', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 10, maxLength: 40 }), async (steps) => {
          FakeWebSocket.reset();
          const socket = await make({ highWaterMark: 10, closeTimeout: 1000, minDelay: 50, maxDelay: 50, jitter: 0, connectTimeout: 5000 });
          const internal = socket as unknown as { _drainTimer?: unknown };
          let next = 0;
          const flushes: { settled: boolean }[] = [];
          for (const s of steps) {
            const ws = FakeWebSocket.last;
            switch (s.kind) {
              case 'send':
                socket.send(`m${next++}`);
                break;
              case 'flushed': {
                const record = { settled: false };
                flushes.push(record);
                socket.flushed().then(
                  () => (record.settled = true),
                  () => (record.settled = true),
                );
                break;
              }
              case 'buffer':
                if (ws.readyState === FakeWebSocket.OPEN) ws.bufferedAmount = s.n;
                break;
              case 'closeFrame':
                ws.serverCloseFrame();
                ws.close = () => {}; // and it never finishes closing
                break;
              case 'serverClose':
                ws.serverClose(s.code);
                break;
              case 'serverOpen':
                ws.serverOpen();
                break;
              case 'tick':
                await clock.tickAsync(s.ms);
                // §7: "while something waits for the drain the client polls": after a poll period
                // with nothing queued and no flushed() waiting, no poll is left.
                if (s.ms >= 20 && socket.queued.length === 0 && flushes.every((f) => f.settled)) {
                  expect(internal._drainTimer, 'a drain poll with nothing waiting').to.equal(undefined);
                }
                break;
            }
          }
          // Let everything end: the socket drains, a new connection opens, the backlog goes out.
          for (let i = 0; i < 5; i++) {
            const ws = FakeWebSocket.last;
            ws.bufferedAmount = 0;
            ws.serverOpen();
            await clock.tickAsync(1100);
          }
          expect(socket.state).to.equal('open');
          expect(socket.queued).to.deep.equal([]);
          expect(flushes.every((f) => f.settled), 'every flushed() settled').to.equal(true);
          // Guide §5: in order, exactly once (a graceful close loses what the socket did not send,
          // which the fake socket never does: it counts what was handed to an OPEN socket).
          const written = FakeWebSocket.instances.flatMap((w) => w.sent as string[]);
          expect(written).to.deep.equal(Array.from({ length: next }, (_, i) => `m${i}`));
          expect(FakeWebSocket.instances.flatMap((w) => w.lost), 'nothing handed to a socket that left OPEN').to.deep.equal([]);
          const closing = socket.close();
          await clock.tickAsync(1100); // closeTimeout, should the close not finish
          await closing;
          expect(clock.countTimers(), 'no timer after close()').to.equal(0);
        }),
        { numRuns: 200 },
      );
    });
  });
  describe('section 5: deliver() validates before it withdraws', () => {
    it('throws INVALID_MESSAGE or ENCODE_FAILED at once also with an already aborted signal (open or not), and queues nothing', async () => {
      const aborted = AbortSignal.abort();
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const raw = await make();
      const coded = await make({ codec: json() });
      for (const open of [false, true]) {
        if (open) for (const w of FakeWebSocket.instances) w.serverOpen();
        // Guide §5: "Input errors (INVALID_MESSAGE, an ENCODE_FAILED found at once, ...) are thrown
        // synchronously, as from send(), and nothing is queued."
        expect(() => raw.deliver({ not: 'sendable' }, { signal: aborted }), `raw, open ${open}`).to.throw(SteadySocketError).with.property('code', 'INVALID_MESSAGE');
        expect(() => coded.deliver(cyclic, { signal: aborted }), `json, open ${open}`).to.throw(SteadySocketError).with.property('code', 'ENCODE_FAILED');
        // A good message with an aborted signal is withdrawn, not sent.
        expect((await rejection(raw.deliver('fine', { signal: aborted }))).code).to.equal('MESSAGE_WITHDRAWN');
        expect(raw.queued).to.deep.equal([]);
        expect(coded.queued).to.deep.equal([]);
      }
      expect(FakeWebSocket.instances.flatMap((w) => w.sent)).to.deep.equal([]);
    });
  });
});
