// The opt-in features (heartbeat, pageSignals, ready, stats, debug, messages(), json()) off the
// happy path, from an adversarial review through their seam with the client. Fake transport, fake
// clock, fake window. Each test in 'regressions' failed before its fix; 'probed and found correct'
// keeps what the review tried that held.
import { EventEmitter as NodeEmitter } from 'node:events';
import type { Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import {
  acks,
  debug,
  heartbeat,
  json,
  messages,
  pageSignals,
  ready,
  stats,
  SteadySocket,
  SteadySocketError,
  type SteadySocketOptions,
} from '../../src/index';
import { useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';
import { FakeWindow } from '../support/fake-window';

type Options = SteadySocketOptions<unknown, unknown>;


/**
 * A ws-shaped double (EventEmitter API, terminate()), so the client drives it as it drives ws
 * and hands it ws's options: `reject()` plays a non-101 handshake answer through finishRequest.
 */
class FakeWs extends NodeEmitter {
  static made: FakeWs[] = [];
  readyState = 0;
  protocol = '';
  bufferedAmount = 0;
  binaryType = 'nodebuffer';
  constructor(
    readonly url: string,
    readonly protocols: unknown,
    readonly options: { finishRequest(request: unknown, ws: unknown): void },
  ) {
    super();
    FakeWs.made.push(this);
  }
  send(): void {}
  close(): void {}
  terminate(): void {}
  ping(): void {}
  reject(status: number, retryAfter: string): void {
    let onResponse: (response: unknown) => void = () => {};
    this.options.finishRequest({ on: (_event: string, listener: (response: unknown) => void) => (onResponse = listener), end() {} }, this);
    this.readyState = 2; // ws is CLOSING once it has the response
    onResponse({ statusCode: status, headers: { 'retry-after': retryAfter } });
    this.emit('error', new Error(`Unexpected server response: ${status}`));
    this.readyState = 3;
    this.emit('close', 1006, Buffer.from(''));
  }
}

describe('features: adversarial review (fake transport, fake clock, fake window)', () => {
  const kit = useFakeClock();
  const reported = useReportedErrors();
  let clock: InstalledClock;
  beforeEach(() => {
    clock = kit.clock;
    FakeWs.made = [];
  });

  /** A client, tracked; its first attempt not started yet (what the constructor throws, it throws). */
  function create(options: Options = {}, url = 'wss://example.org/feed') {
    return kit.track(new SteadySocket<unknown, unknown>(url, { WebSocket: FakeWebSocket as never, ...options }));
  }

  async function open(options?: Options, url?: string) {
    const socket = create(options, url);
    await Promise.resolve(); // the first attempt
    return socket;
  }

  const live = () => FakeWebSocket.instances.filter((w) => w.live).length;

  /** Lets promise callbacks run, a bounded number of turns. */
  async function turns(n = 20): Promise<void> {
    for (let i = 0; i < n; i++) await Promise.resolve();
  }

  /** The outcome of `promise` if it settles within a bounded number of turns, else undefined. */
  async function settles(promise: Promise<unknown>, n = 30): Promise<{ ok: boolean; value: unknown } | undefined> {
    let outcome: { ok: boolean; value: unknown } | undefined;
    promise.then(
      (value) => (outcome = { ok: true, value }),
      (value) => (outcome = { ok: false, value }),
    );
    for (let i = 0; i < n && !outcome; i++) await Promise.resolve();
    return outcome;
  }

  const throwingSink = () => {
    throw new Error('log sink is down');
  };
  const appPing = { ping: () => 'ping', isPong: (m: unknown) => m === 'pong' };

  describe('regressions', () => {
    describe('debug(): a sink that throws', () => {
      it('does not stop the heartbeat: nothing escapes the timer and a dead connection is dropped', async () => {
        const socket = await open({ use: [debug(throwingSink), heartbeat({ interval: 1000, timeout: 500, ...appPing })] });
        socket.on('error', () => {});
        FakeWebSocket.last.serverOpen();
        const escaped: unknown[] = [];
        const step = (ms: number) => {
          try {
            clock.tick(ms);
          } catch (error) {
            escaped.push(error);
          }
        };
        step(1000); // quiet: ping
        expect(FakeWebSocket.last.sent).to.deep.equal(['ping']);
        clock.setSystemTime(clock.now + 200); // the pong timeout runs 200 ms late: grace, with a debug line
        step(500);
        step(5000); // no pong, ever
        expect(socket.state, 'the dead connection was dropped').to.not.equal('open');
        expect(FakeWebSocket.instances.length, 'and the client reconnected').to.be.greaterThan(1);
        expect(escaped, 'exceptions thrown out of a timer callback').to.deep.equal([]);
      });

      it('does not make pageSignals ignore online: a waiting client is woken', async () => {
        const page = new FakeWindow();
        const socket = await open({ minDelay: 60_000, jitter: 0, use: [debug(throwingSink), pageSignals(page)] });
        FakeWebSocket.last.fail();
        expect(socket.state).to.equal('waiting');
        try {
          page.dispatch('online');
        } catch {
          // a browser would report the listener's exception; what matters is what the client did
        }
        expect(socket.state).to.equal('connecting');
      });

      it('does not make the constructor throw (warning about another client\'s option name)', () => {
        expect(() => create({ use: [debug(throwingSink)], maxReconnectAttempts: 5 } as never)).to.not.throw();
      });
    });

    it('debug(): names the URL each attempt tries (url provider), not the previous one', async () => {
      const lines: string[] = [];
      let n = 0;
      const socket = new SteadySocket<unknown, unknown>(() => `wss://host${++n}.example/`, {
        WebSocket: FakeWebSocket as never,
        minDelay: 10,
        jitter: 0,
        use: [debug((line) => lines.push(line))],
      });
      kit.track(socket);
      await Promise.resolve(); // the first attempt
      FakeWebSocket.last.fail();
      clock.tick(10);
      expect(FakeWebSocket.last.url).to.equal('wss://host2.example/');
      const connecting = lines.filter((line) => line.includes('connecting to'));
      expect(connecting, 'one line per attempt, with the URL it tries').to.deep.equal(['[steadysocket] connecting to wss://host1.example/', '[steadysocket] connecting to wss://host2.example/']);
    });

    it('heartbeat: a timeout above 2^31-1 ms is waited out in full', async () => {
      const socket = await open({ connectTimeout: Infinity, use: [heartbeat({ interval: 1000, timeout: 2 ** 32, ...appPing })] });
      socket.on('error', () => {});
      FakeWebSocket.last.serverOpen();
      clock.tick(1000);
      expect(FakeWebSocket.last.sent).to.deep.equal(['ping']);
      clock.tick(2 ** 31 + 10); // half the timeout
      expect(socket.state, 'declared dead after half its timeout').to.equal('open');
    });

    it('messages(): two pending next() calls settle in order', async () => {
      const socket = await open();
      FakeWebSocket.last.serverOpen();
      const iterator = messages(socket);
      const first = iterator.next();
      const second = iterator.next();
      FakeWebSocket.last.serverMessage('one');
      FakeWebSocket.last.serverMessage('two');
      expect(await settles(first), 'the first next()').to.deep.equal({ ok: true, value: { value: 'one', done: false } });
      expect(await settles(second), 'the second next()').to.deep.equal({ ok: true, value: { value: 'two', done: false } });
    });

    it('ready(): a second ready step does not run on a connection that already closed', async () => {
      let releaseFirst!: () => void;
      let second: { next: Promise<unknown>; signal: AbortSignal } | undefined;
      const socket = await open({
        connectTimeout: Infinity,
        minDelay: 60_000,
        jitter: 0,
        use: [
          ready(() => new Promise<void>((resolve) => (releaseFirst = resolve))),
          ready((context) => {
            second = { next: context.next(), signal: context.signal };
            return second.next.then(() => {});
          }),
        ],
      });
      socket.on('error', () => {});
      FakeWebSocket.last.serverOpen();
      await turns();
      FakeWebSocket.last.serverClose(1006); // the connection drops while the first step runs
      expect(socket.state).to.equal('waiting');
      releaseFirst(); // the first step (of the dead connection) finishes
      await turns();
      if (second) {
        expect(second.signal.aborted, 'the signal of a step on a closed connection').to.equal(true);
        const outcome = await settles(second.next);
        expect(outcome, 'next() on a closed connection settles').to.not.equal(undefined);
        expect((outcome!.value as SteadySocketError).code).to.equal('CONNECTION_CLOSED');
      }
    });

    it('constructor: a feature that throws leaves no page listeners of the features before it', async () => {
      const page = new FakeWindow();
      const counters = stats();
      await open({ use: [counters] });
      expect(() => create({ use: [pageSignals(page), counters] })).to.throw(SteadySocketError).with.property('code', 'INVALID_OPTION');
      expect(page.count, 'listeners of a client that was never made').to.equal(0);
    });

    it('pageSignals: pageshow while navigator.onLine is false waits at most maxDelay, as offline does', async () => {
      const page = new FakeWindow();
      const socket = await open({ minDelay: 10, maxDelay: 20_000, jitter: 0, use: [pageSignals(page)] });
      FakeWebSocket.last.serverOpen();
      page.dispatch('pagehide', { persisted: true });
      expect(socket.state).to.equal('waiting');
      page.navigator.onLine = false; // maybe wrongly: the online event may never come
      page.dispatch('pageshow', { persisted: true });
      clock.tick(20_000);
      expect(FakeWebSocket.instances, 'a fallback attempt within maxDelay').to.have.length(2);
    });

    it('pageSignals: an offline event while waiting keeps a 1-hour Retry-After', async () => {
      const page = new FakeWindow();
      const socket = new SteadySocket<unknown, unknown>('wss://example.org/feed', {
        WebSocket: FakeWs as never,
        minDelay: 10,
        maxDelay: 1000,
        jitter: 0,
        use: [pageSignals(page)],
      });
      kit.track(socket);
      socket.on('error', () => {});
      const delays: number[] = [];
      socket.on('reconnecting', (info) => delays.push(info.delay));
      await Promise.resolve(); // the first attempt
      FakeWs.made[0].reject(503, '3600');
      expect(delays).to.deep.equal([3_600_000]);
      page.navigator.onLine = false;
      page.dispatch('offline');
      clock.tick(1000);
      expect(FakeWs.made, 'attempts before the hour the server asked for').to.have.length(1);
    });

    it('pageSignals: pagehide with maxRetries 0 holds for pageshow (the page\'s own close is not a failure)', async () => {
      const page = new FakeWindow();
      const socket = await open({ maxRetries: 0, use: [pageSignals(page)] });
      const errors: string[] = [];
      socket.on('error', (error) => errors.push(error.code));
      FakeWebSocket.last.serverOpen();
      clock.tick(10_000); // stable
      page.dispatch('pagehide', { persisted: true });
      expect(errors).to.deep.equal([]);
      expect(socket.state).to.equal('waiting');
      page.dispatch('pageshow', { persisted: true });
      expect(socket.state).to.equal('connecting');
    });
  });

  describe('probed and found correct', () => {
    it('ready(): throw, reject, never settling, close() and reconnect() inside, send(), resolving after the drop', async () => {
      const outcomes: Record<string, { state: string; errors: string[]; sent: unknown[][]; live: number }> = {};
      for (const kind of ['throw', 'reject', 'never', 'close', 'reconnect', 'send', 'late']) {
        FakeWebSocket.reset();
        let finishLate!: () => void;
        const socket = await open({
          connectTimeout: 1000,
          minDelay: 60_000,
          jitter: 0,
          use: [
            ready((context) => {
              if (kind === 'throw') throw new Error('nope');
              if (kind === 'reject') return Promise.reject(new Error('nope'));
              if (kind === 'never') return new Promise<void>(() => {});
              if (kind === 'close') return void socket.close();
              if (kind === 'reconnect') return void (FakeWebSocket.instances.length === 1 && socket.reconnect());
              if (kind === 'send') return context.send('hello');
              return new Promise<void>((resolve) => (finishLate = resolve));
            }),
          ],
        });
        const errors: string[] = [];
        socket.on('error', (error) => errors.push(error.code));
        socket.send('queued');
        FakeWebSocket.last.serverOpen();
        await turns();
        if (kind === 'late') {
          FakeWebSocket.last.serverClose(1006);
          finishLate();
          await turns();
        }
        clock.tick(5); // a closing handshake completes
        if (kind === 'reconnect') FakeWebSocket.last.serverOpen();
        await turns();
        clock.tick(1000); // connectTimeout of whatever still connects
        await turns();
        outcomes[kind] = { state: socket.state, errors, sent: FakeWebSocket.instances.map((w) => w.sent), live: live() };
        void socket.close();
        clock.runAll();
        expect(clock.countTimers(), `${kind}: timers after close`).to.equal(0);
      }
      expect(outcomes).to.deep.equal({
        throw: { state: 'waiting', errors: ['READY_FAILED'], sent: [[]], live: 0 },
        reject: { state: 'waiting', errors: ['READY_FAILED'], sent: [[]], live: 0 },
        never: { state: 'waiting', errors: ['CONNECT_TIMEOUT'], sent: [[]], live: 0 },
        close: { state: 'closed', errors: [], sent: [[]], live: 0 },
        reconnect: { state: 'open', errors: [], sent: [[], ['queued']], live: 1 },
        send: { state: 'open', errors: [], sent: [['hello', 'queued']], live: 1 },
        late: { state: 'waiting', errors: ['CONNECT_FAILED'], sent: [[]], live: 0 },
      });
    });

    it('stats(): exact counters across a reconnect with acks (re-sent message counted again, acks counted in)', async () => {
      const counters = stats();
      const socket = await open({ minDelay: 10, jitter: 0, codec: json(), use: [counters, acks<any, any>({ id: (m) => m.id, ack: (m) => m.ack })] }) as SteadySocket<any, any>;
      const a = JSON.stringify({ id: 1, t: 'a' });
      const b = JSON.stringify({ id: 2, t: 'b' });
      socket.send({ id: 1, t: 'a' });
      socket.send({ id: 2, t: 'b' });
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverMessage('{"ack":1}');
      FakeWebSocket.last.serverMessage('{"x":"é"}');
      clock.tick(100);
      FakeWebSocket.last.serverClose(1006);
      clock.tick(10);
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverMessage('{"ack":2}');
      clock.tick(50);
      expect(FakeWebSocket.instances.map((w) => w.sent)).to.deep.equal([[a, b], [b]]);
      expect(counters.snapshot()).to.deep.equal({
        attempts: 2,
        reconnects: 1,
        messagesIn: 3,
        messagesOut: 3,
        bytesIn: 9 + 10 + 9,
        bytesOut: a.length + 2 * b.length,
        rtt: undefined,
        connectedTime: 150,
        queued: 0,
      });
    });

    it('json(): circular, BigInt, undefined, functions, symbols and a throwing toJSON give ENCODE_FAILED; bad input gives DECODE_FAILED', async () => {
      const socket = await open({ codec: json() });
      const errors: string[] = [];
      socket.on('error', (error) => errors.push(error.code));
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const bad: unknown[] = [circular, 10n, undefined, () => 1, Symbol('x'), { toJSON: () => { throw new Error('x'); } }];
      const code = (fn: () => unknown) => {
        try {
          fn();
          return 'no throw';
        } catch (error) {
          return (error as SteadySocketError).code;
        }
      };
      expect(bad.map((value) => code(() => socket.send(value)))).to.deep.equal(bad.map(() => 'ENCODE_FAILED'));
      FakeWebSocket.last.serverOpen();
      expect(bad.map((value) => code(() => socket.send(value)))).to.deep.equal(bad.map(() => 'ENCODE_FAILED'));
      expect(bad.map((value) => code(() => socket.deliver(value)))).to.deep.equal(bad.map(() => 'ENCODE_FAILED'));
      FakeWebSocket.last.serverMessage('{bad');
      FakeWebSocket.last.serverMessage(new Uint8Array([0xff, 0xfe]));
      FakeWebSocket.last.serverMessage({ size: 1, arrayBuffer: async () => new ArrayBuffer(1) });
      expect(errors).to.deep.equal(['DECODE_FAILED', 'DECODE_FAILED', 'DECODE_FAILED']);
      expect(socket.state).to.equal('open');
    });

    it('debug(): no line carries URL userinfo, query values or header values', async () => {
      const lines: string[] = [];
      const socket = new SteadySocket<unknown, unknown>(() => 'wss://alice:s3cr3tpw@example.org/feed?token=TOKENVALUE&BARETOKEN', {
        WebSocket: FakeWebSocket as never,
        minDelay: 10,
        jitter: 0,
        connectTimeout: 500,
        headers: { authorization: 'Bearer HEADERSECRET' },
        use: [debug((line) => lines.push(line)), ready(() => {})],
      });
      kit.track(socket);
      socket.on('error', () => {});
      await Promise.resolve(); // the first attempt
      FakeWebSocket.last.fail();
      clock.tick(10);
      FakeWebSocket.last.serverOpen();
      await turns();
      clock.tick(600);
      expect(lines.some((line) => line.startsWith('[steadysocket] open wss://***:***@example.org/feed?token=***&***'))).to.equal(true);
      const all = lines.join('\n');
      for (const secret of ['s3cr3tpw', 'alice', 'TOKENVALUE', 'BARETOKEN', 'HEADERSECRET']) expect(all).to.not.include(secret);
    });

    it('messages(): break and throw stop listening, iterators are independent, close ends a pending next(), an iterator made after close is done', async () => {
      const socket = await open();
      FakeWebSocket.last.serverOpen();
      const a = messages(socket);
      const b = messages(socket);
      FakeWebSocket.last.serverMessage('1');
      const seen: unknown[] = [];
      for await (const message of a) {
        seen.push(`a${message}`);
        break;
      }
      const loop = (async () => {
        try {
          for await (const message of b) {
            seen.push(`b${message}`);
            if (message === '3') throw new Error('stop');
          }
        } catch {
          // the loop's own exception
        }
      })();
      FakeWebSocket.last.serverMessage('2');
      FakeWebSocket.last.serverMessage('3');
      await loop;
      expect(seen).to.deep.equal(['a1', 'b1', 'b2', 'b3']);
      expect(socket.listenerCount('message') + socket.listenerCount('state')).to.equal(0);
      const pending = messages(socket).next();
      const done = socket.close();
      clock.tick(10);
      await done;
      expect(await settles(pending)).to.deep.equal({ ok: true, value: { value: undefined, done: true } });
      expect(await messages(socket).next()).to.deep.equal({ value: undefined, done: true });
    });

    it('pageSignals(): one feature on two clients, rapid pagehide/pageshow/offline/online/visible: one live socket each, listeners removed on close', async () => {
      const page = new FakeWindow();
      const feature = pageSignals(page);
      const first = await open({ minDelay: 10, jitter: 0, use: [feature] });
      const second = await open({ minDelay: 10, jitter: 0, use: [feature] });
      expect(page.count).to.equal(10);
      for (const ws of FakeWebSocket.instances) ws.serverOpen();
      for (let i = 0; i < 5; i++) {
        page.dispatch('pagehide', { persisted: true });
        page.dispatch('pageshow', { persisted: true });
      }
      page.dispatch('pagehide', { persisted: true });
      page.navigator.onLine = false;
      page.dispatch('offline');
      page.dispatch('visibilitychange');
      page.navigator.onLine = true;
      page.dispatch('online');
      page.dispatch('pageshow', { persisted: true });
      expect([first.state, second.state]).to.deep.equal(['connecting', 'connecting']);
      expect(live()).to.equal(2);
      const closing = first.close();
      clock.tick(10);
      await closing;
      expect(page.count).to.equal(5);
      const closing2 = second.close();
      clock.tick(10);
      await closing2;
      expect(page.count).to.equal(0);
    });

    it('heartbeat(): wakes from sleep with a probe, ignores a detached socket\'s pong, leaves no timer after close', async () => {
      const socket = await open({ minDelay: 10, jitter: 0, use: [heartbeat({ interval: 1000, timeout: 500, ...appPing })] });
      socket.on('error', () => {});
      const first = FakeWebSocket.last;
      first.serverOpen();
      first.serverMessage('hello');
      clock.setSystemTime(clock.now + 3_600_000); // the machine sleeps an hour
      clock.tick(1000);
      expect(first.sent, 'traffic before the sleep proves nothing').to.deep.equal(['ping']);
      first.serverMessage('pong');
      socket.reconnect();
      clock.tick(5);
      const second = FakeWebSocket.last;
      second.serverOpen();
      first.readyState = FakeWebSocket.OPEN;
      first.onmessage?.({ data: 'pong' }); // detached: nothing reaches the client
      clock.tick(1000);
      expect(second.sent).to.deep.equal(['ping']);
      clock.tick(500);
      expect(socket.state, 'no pong on the current connection').to.equal('waiting');
      const done = socket.close();
      clock.tick(10);
      await done;
      expect(clock.countTimers()).to.equal(0);
    });

    it('public methods called from feature-driven events (HEARTBEAT_TIMEOUT error, page-hidden close, Infinity wait) leave one socket and, after close, no timer or page listener', async () => {
      for (const variant of ['close/error', 'reconnect/error', 'close/close', 'reconnect/close', 'send/reconnecting', 'close/reconnecting']) {
        FakeWebSocket.reset();
        const page = new FakeWindow();
        const socket = await open({ minDelay: 10, jitter: 0, use: [pageSignals(page), heartbeat({ interval: 100, timeout: 50, ...appPing })] });
        const [how, event] = variant.split('/');
        socket.once(event as 'error', () => {
          if (how === 'close') void socket.close();
          else if (how === 'reconnect') socket.reconnect();
          else socket.send('from-listener');
        });
        FakeWebSocket.last.serverOpen();
        if (event === 'error') clock.tick(150);
        else page.dispatch('pagehide', { persisted: true });
        clock.tick(20);
        page.dispatch('pageshow', { persisted: true });
        clock.tick(20);
        if (FakeWebSocket.last.readyState === FakeWebSocket.CONNECTING) FakeWebSocket.last.serverOpen();
        expect(live(), variant).to.be.at.most(1);
        expect(socket.state, variant).to.equal(how === 'close' ? 'closed' : 'open');
        if (how === 'send') expect(FakeWebSocket.last.sent, variant).to.deep.equal(['from-listener']);
        void socket.close();
        clock.runAll();
        expect(clock.countTimers(), variant).to.equal(0);
        expect(page.count, variant).to.equal(0);
      }
    });
  });
});
