// Review of guide section 15 ("All options", "Features and what they cost") and of README.md's
// promises against the client, off the happy path: every default checked by what it does, every
// option's INVALID_OPTION with values just outside its range, legal extremes that must neither
// spin nor throw. Fake transport, fake clock.
import { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import {
  acks,
  debug,
  heartbeat,
  json,
  pageSignals,
  persist,
  ready,
  requests,
  SteadySocket,
  SteadySocketError,
  stats,
  ttl,
  type CloseInfo,
  type Feature,
  type ReconnectingInfo,
  type StoredMessage,
  type SteadySocketOptions,
} from '../../src/index';
import { FakeWindow } from '../support/fake-window';
import { useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';

type Options = SteadySocketOptions<unknown, unknown>;

/** What `run` throws (undefined when it does not). */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** A FakeWebSocket whose closing handshake never finishes (a server that never ends TCP). */
class StuckClosingWebSocket extends FakeWebSocket {
  override close(code?: number, reason?: string): void {
    this.closeCalls.push({ code, reason });
    if (this.readyState < FakeWebSocket.CLOSING) this.readyState = FakeWebSocket.CLOSING;
  }
}

describe('guide section 15 and README, reviewed (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const reported = useReportedErrors();
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));

  function create(options: Options = {}, url = 'ws://example.test/'): SteadySocket<unknown, unknown> {
    const socket = kit.track(new SteadySocket<unknown, unknown>(url, { WebSocket: FakeWebSocket as never, ...options }));
    socket.on('error', () => {});
    return socket;
  }
  async function open(options: Options = {}): Promise<SteadySocket<unknown, unknown>> {
    const socket = create(options);
    await Promise.resolve(); // the first attempt
    return socket;
  }
  /** Ms until the earliest armed timer fires (Infinity when none). */
  function nextTimerIn(): number {
    const next = clock.next === undefined ? undefined : (clock as unknown as { timers?: Record<string, { callAt: number }> }).timers;
    if (!next) return Infinity;
    const at = Math.min(...Object.values(next).map((t) => t.callAt));
    return at - clock.now;
  }

  describe('the options table: each default, checked by behaviour', () => {
    it("binaryType 'arraybuffer': the socket is set to it before it opens", async () => {
      await open();
      expect(FakeWebSocket.last.binaryType).to.equal('arraybuffer');
    });

    it('minDelay 1000, factor 2, maxDelay 30000, jitter 1: the waits are drawn from [0, 1000], [0, 2000], ... capped at 30000', async () => {
      const random = Math.random;
      const draws = [0, 0.5, 0, 0, 0, 0, 0, 0.999];
      let i = 0;
      Math.random = () => draws[i++ % draws.length];
      try {
        const socket = await open();
        const delays: number[] = [];
        socket.on('reconnecting', (info) => delays.push(info.delay));
        for (let n = 0; n < 8; n++) {
          FakeWebSocket.last.fail();
          clock.tick(delays[delays.length - 1]);
        }
        // random 0: the whole cap; 0.5: half of it (full jitter); 0.999: almost nothing.
        expect(delays).to.deep.equal([1000, 1000, 4000, 8000, 16000, 30000, 30000, Math.round(30000 * 0.001)]);
      } finally {
        Math.random = random;
      }
    });

    it('maxRetries Infinity: a client still retries after 200 failures in a row', async () => {
      const socket = await open({ minDelay: 1, maxDelay: 1 });
      let last: ReconnectingInfo | undefined;
      socket.on('reconnecting', (info) => (last = info));
      for (let n = 0; n < 200; n++) {
        FakeWebSocket.last.fail();
        clock.tick(1);
      }
      expect(last?.attempt).to.equal(200);
      expect(socket.state).to.equal('connecting');
    });

    it('stableAfter 5000: open 4999 ms counts the drop as the next failure; open 5000 ms starts again at 1', async () => {
      const socket = await open({ minDelay: 1, maxDelay: 1 });
      const attempts: number[] = [];
      socket.on('close', (info) => attempts.push(info.attempt));
      FakeWebSocket.last.fail(); // 1
      clock.tick(1);
      FakeWebSocket.last.serverOpen();
      clock.tick(4999);
      FakeWebSocket.last.serverClose(1006); // 2: not stable yet
      clock.tick(1);
      FakeWebSocket.last.serverOpen();
      clock.tick(5000);
      FakeWebSocket.last.serverClose(1006); // stable: 1
      expect(attempts).to.deep.equal([1, 2, 1]);
    });

    it('connectTimeout 10000: an attempt that never opens is abandoned at 10000 ms, not before', async () => {
      const socket = await open();
      const errors: string[] = [];
      socket.on('error', (e) => errors.push(e.code));
      clock.tick(9999);
      expect(socket.state).to.equal('connecting');
      expect(FakeWebSocket.instances).to.have.length(1);
      clock.tick(1);
      expect(errors).to.include('CONNECT_TIMEOUT');
      expect(socket.state).to.equal('waiting');
    });

    it('closeTimeout 3000: close() drops a socket whose closing handshake never finishes at 3000 ms', async () => {
      const socket = kit.track(new SteadySocket<unknown, unknown>('ws://example.test/', { WebSocket: StuckClosingWebSocket as never }));
      await Promise.resolve();
      FakeWebSocket.last.serverOpen();
      let settled = false;
      void socket.close().then(() => (settled = true));
      clock.tick(2999);
      await Promise.resolve();
      expect(socket.state).to.equal('closing');
      expect(settled).to.equal(false);
      clock.tick(1);
      await Promise.resolve();
      await Promise.resolve();
      expect(socket.state).to.equal('closed');
      expect(settled).to.equal(true);
    });

    it('closeTimeout 3000: a socket the server started closing (close frame, no close event) is dropped at 3000 ms and the client reconnects', async () => {
      const socket = await open();
      FakeWebSocket.last.serverOpen();
      const closes: CloseInfo[] = [];
      socket.on('close', (info) => closes.push(info));
      FakeWebSocket.last.serverCloseFrame();
      socket.send('after the close frame'); // notices the socket left OPEN
      clock.tick(2999);
      expect(closes).to.have.length(0);
      clock.tick(1);
      expect(closes.map((c) => c.code)).to.deep.equal([1006]);
      expect(socket.state).to.equal('waiting');
      expect(socket.queued).to.deep.equal(['after the close frame']);
    });

    it('closeTimeout 3000: reconnect() drops a socket whose closing handshake never finishes at 3000 ms and starts the next attempt then', async () => {
      const socket = kit.track(new SteadySocket<unknown, unknown>('ws://example.test/', { WebSocket: StuckClosingWebSocket as never }));
      await Promise.resolve();
      FakeWebSocket.last.serverOpen();
      socket.send('kept');
      socket.reconnect();
      expect(socket.state).to.equal('closing');
      clock.tick(2999);
      expect(FakeWebSocket.instances).to.have.length(1);
      clock.tick(1);
      expect(FakeWebSocket.instances).to.have.length(2);
      expect(socket.state).to.equal('connecting');
      FakeWebSocket.last.serverOpen();
      expect(FakeWebSocket.last.sent).to.deep.equal([]);
      socket.send('next');
      expect(FakeWebSocket.last.sent).to.deep.equal(['next']);
      expect(FakeWebSocket.instances[0].sent, 'written on the first connection before reconnect()').to.deep.equal(['kept']);
    });

    it("maxMessages 10000 with overflow 'error': the 10,001st queued message throws QUEUE_OVERFLOW, the first 10,000 go out in order", async () => {
      const socket = await open();
      for (let n = 0; n < 10_000; n++) socket.send(`m${n}`);
      const error = thrown(() => socket.send('one too many'));
      expect((error as SteadySocketError).code).to.equal('QUEUE_OVERFLOW');
      expect(socket.queued).to.have.length(10_000);
      FakeWebSocket.last.serverOpen();
      expect(FakeWebSocket.last.sent).to.have.length(10_000);
      expect(FakeWebSocket.last.sent[9_999]).to.equal('m9999');
    });

    it('maxBytes 16 MiB: exactly 16 MiB queues, one byte more throws QUEUE_OVERFLOW', async () => {
      const socket = await open();
      socket.send(new Uint8Array(16 * 1024 * 1024));
      expect((thrown(() => socket.send(new Uint8Array(1))) as SteadySocketError).code).to.equal('QUEUE_OVERFLOW');
      socket.clearOutbox();
      expect((thrown(() => socket.send(new Uint8Array(16 * 1024 * 1024 + 1))) as SteadySocketError).code).to.equal('QUEUE_OVERFLOW');
    });

    it('highWaterMark 1 MiB: a socket holding exactly 1 MiB is written to at once; one holding a byte more makes new messages wait', async () => {
      const socket = await open();
      const fake = FakeWebSocket.last;
      fake.serverOpen();
      fake.bufferedAmount = 1024 * 1024;
      socket.send('a');
      expect(fake.sent).to.deep.equal(['a']);
      fake.bufferedAmount = 1024 * 1024 + 1;
      socket.send('b');
      expect(fake.sent).to.deep.equal(['a']);
      expect(socket.queued).to.deep.equal(['b']);
      fake.bufferedAmount = 0;
      clock.tick(10); // the drain poll
      expect(fake.sent).to.deep.equal(['a', 'b']);
    });

    it('shouldReconnect defaults to the close-code table: 1012 retries, 1008 stops', async () => {
      const socket = await open();
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1012);
      expect(socket.state).to.equal('waiting');
      clock.tick(1000);
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1008);
      expect(socket.state).to.equal('closed');
    });
  });

  describe('"Options are validated in the constructor ... throw INVALID_OPTION at once"', () => {
    /** The code of what the constructor throws for `options` (a TypeError is not INVALID_OPTION). */
    function codeFor(options: Record<string, unknown>): string {
      const error = thrown(() => create(options as Options));
      if (error === undefined) return 'no error';
      return error instanceof SteadySocketError ? error.code : `${(error as Error).name}: ${(error as Error).message}`;
    }

    const JUST_OUTSIDE: Record<string, unknown[]> = {
      minDelay: [-Number.MIN_VALUE, -1, NaN, -Infinity, '1000', null, true],
      maxDelay: [NaN, -Infinity, '30000', null],
      factor: [1 - Number.EPSILON, 0, -0, NaN, -Infinity, '2'],
      jitter: [1 + Number.EPSILON, -Number.MIN_VALUE, NaN, Infinity, '1'],
      maxRetries: [-Number.MIN_VALUE, NaN, -Infinity, '3'],
      stableAfter: [-Number.MIN_VALUE, NaN, '5000'],
      connectTimeout: [1 - Number.EPSILON, 0, -0, NaN, '10000'],
      closeTimeout: [-Number.MIN_VALUE, NaN, '3000'],
      maxMessages: [-Number.MIN_VALUE, NaN, '10000'],
      maxBytes: [-Number.MIN_VALUE, NaN, '1'],
      highWaterMark: [-Number.MIN_VALUE, NaN, '1'],
      maxPayload: [-1, NaN, '1'],
      maxRedirects: [-1, NaN, '10'],
      overflow: ['Error', 'drop_oldest', 'drop', '', null, 0],
      binaryType: ['Blob', 'buffer', '', null],
      shouldReconnect: [true, {}, 'never'],
      WebSocket: [{}, 'ws'],
    };
    for (const [name, values] of Object.entries(JUST_OUTSIDE)) {
      it(`${name}: ${values.map((v) => (Object.is(v, -0) ? '-0' : typeof v === 'string' ? JSON.stringify(v) : String(v))).join(', ')} each throw INVALID_OPTION naming it`, () => {
        for (const value of values) {
          const error = thrown(() => create({ [name]: value } as Options));
          expect((error as SteadySocketError | undefined)?.code, `${name}: ${String(value)}`).to.equal('INVALID_OPTION');
          expect((error as Error).message, `${name}: ${String(value)}`).to.include(name);
        }
      });
    }

    it('maxDelay below minDelay throws, by any amount; a minDelay above 30000 given alone raises the cap instead', () => {
      expect(codeFor({ minDelay: 100, maxDelay: 100 - 1e-9 })).to.equal('INVALID_OPTION');
      expect(codeFor({ minDelay: Infinity, maxDelay: 2 ** 31 })).to.equal('INVALID_OPTION');
      expect(codeFor({ minDelay: 100, maxDelay: 100 })).to.equal('no error');
      expect(codeFor({ minDelay: 60_000 })).to.equal('no error');
      expect(codeFor({ minDelay: Infinity })).to.equal('no error');
    });

    it('the least legal value, -0 and Infinity are accepted where the range allows them', () => {
      const legal: Record<string, unknown[]> = {
        minDelay: [0, -0, 0.5, Infinity],
        factor: [1, Infinity],
        jitter: [0, -0, 1],
        maxRetries: [0, -0, 2.5, Infinity],
        stableAfter: [0, -0, Infinity],
        connectTimeout: [1, 1.5, 2 ** 31, Infinity],
        closeTimeout: [0, -0, 0.5, Infinity],
        maxMessages: [0, -0, 1.5, Infinity],
        maxBytes: [0, Infinity],
        highWaterMark: [0, Infinity],
        maxPayload: [0, Infinity],
        maxRedirects: [0, Infinity],
      };
      for (const [name, values] of Object.entries(legal)) for (const value of values) expect(codeFor({ [name]: value }), `${name}: ${String(value)}`).to.equal('no error');
    });

    it('use: a feature not in a list, a list with a feature function, null, or one feature twice each throw INVALID_OPTION; options given third too', () => {
      const step = ready(() => undefined);
      for (const use of [step, new Set([step]), [ready], [null], [step, step], 'heartbeat']) expect(codeFor({ use }), String(use)).to.equal('INVALID_OPTION');
      const error = thrown(() => new (SteadySocket as unknown as new (...args: unknown[]) => unknown)('ws://example.test/', undefined, { WebSocket: FakeWebSocket }));
      expect((error as SteadySocketError).code).to.equal('INVALID_OPTION');
      expect(FakeWebSocket.instances, 'nothing connected').to.have.length(0);
    });

    it('a bigint where a number belongs is INVALID_OPTION, not a TypeError (minDelay included, which sizes the default maxDelay)', () => {
      for (const name of ['minDelay', 'maxDelay', 'factor', 'jitter', 'maxRetries', 'stableAfter', 'connectTimeout', 'closeTimeout', 'maxMessages', 'maxBytes', 'highWaterMark']) {
        expect(codeFor({ [name]: 10n }), name).to.equal('INVALID_OPTION');
      }
    });

    it('a reused options object whose use list changed is validated again: a feature listed twice, or a feature function not called, throws', () => {
      const step = ready(async () => undefined);
      const options = { use: [step] as unknown[] };
      create(options as Options);
      options.use.push(step);
      expect(codeFor(options), 'one feature twice').to.equal('INVALID_OPTION');
      options.use.length = 1;
      options.use.push(pageSignals);
      expect(codeFor(options), 'a feature function, not called').to.equal('INVALID_OPTION');
    });

    it('a reused options object whose codecs changed is validated again: a non-codec entry throws', () => {
      const codecs: Record<string, unknown> = { 'a.v1': json() };
      const options = { codecs };
      create(options as Options);
      codecs['b.v1'] = 'not a codec';
      expect(codeFor(options)).to.equal('INVALID_OPTION');
    });
  });

  describe('"a feature checks its own arguments when it is made"', () => {
    it('heartbeat(): a ping or isPong that is no function throws INVALID_OPTION when made (it failed every ping, and the connection, later)', () => {
      const isPong = (m: unknown) => m === 'pong';
      const bad: Record<string, unknown>[] = [
        { ping: 'ping', isPong },
        { ping: () => 'ping', isPong: 'pong' },
        { ping: 'ping', isPong: 'pong' },
        { ping: { type: 'ping' }, isPong: { type: 'pong' } },
      ];
      for (const extra of bad) {
        const error = thrown(() => heartbeat({ interval: 1000, timeout: 500, ...extra } as never));
        expect((error as SteadySocketError | undefined)?.code, JSON.stringify(extra)).to.equal('INVALID_OPTION');
      }
      expect(thrown(() => heartbeat({ interval: 1000, timeout: 500, ping: () => 'ping', isPong })), 'both functions').to.equal(undefined);
      expect(thrown(() => heartbeat({ interval: 1000, timeout: 500 })), 'neither').to.equal(undefined);
    });
  });

  describe('"Two features made by two calls ... each runs"; "Order in use is the order the features are called in; any combination works"', () => {
    it('two ready() steps both run, in the order given, on every open: the second only once the first resolved', async () => {
      for (const order of [['A', 'B'], ['B', 'A']]) {
        FakeWebSocket.reset();
        const ran: string[] = [];
        const release: Record<string, () => void> = {};
        const step = (name: string) =>
          ready(() => {
            ran.push(name);
            return new Promise<void>((resolve) => (release[name] = resolve));
          });
        const socket = await open({ use: order.map(step), minDelay: 10, maxDelay: 10 });
        for (let connection = 1; connection <= 2; connection++) {
          FakeWebSocket.last.serverOpen();
          await Promise.resolve();
          expect(ran, `connection ${connection}: only the first step so far`).to.deep.equal([...Array(connection - 1).fill(order).flat(), order[0]]);
          release[order[0]]();
          for (let i = 0; i < 5; i++) await Promise.resolve();
          expect(socket.state, 'not open before the second step').to.equal('connecting');
          release[order[1]]();
          for (let i = 0; i < 5; i++) await Promise.resolve();
          expect(socket.state).to.equal('open');
          if (connection === 1) {
            FakeWebSocket.last.serverClose(1006);
            clock.tick(10);
          }
        }
        expect(ran).to.deep.equal([...order, ...order]);
        void socket.close();
      }
    });

    it('the hooks of two debug() features run in the order given (each logs each line, the first first)', async () => {
      const lines: string[] = [];
      const socket = await open({ use: [debug((l) => lines.push(`1 ${l}`)), debug((l) => lines.push(`2 ${l}`))] });
      FakeWebSocket.last.serverOpen();
      const opened = lines.filter((l) => l.includes('state connecting -> open'));
      expect(opened).to.deep.equal(['1 [steadysocket] state connecting -> open', '2 [steadysocket] state connecting -> open']);
      void socket.close();
    });

    type Msg = { mid?: number; id?: number; request?: unknown; re?: number; result?: unknown; ack?: number; type?: string; text?: string };

    /** A server over the fake socket: answers requests, acknowledges messages with `mid`, answers pings; a tick later. */
    function serve(fake: FakeWebSocket, seen: Msg[]): void {
      const send = fake.send.bind(fake);
      fake.send = (data: unknown) => {
        send(data);
        if (fake.readyState !== FakeWebSocket.OPEN) return;
        const message = JSON.parse(data as string) as Msg;
        seen.push(message);
        const answer =
          message.type === 'ping' ? { type: 'pong' } : message.request !== undefined ? { re: message.id, result: `did ${String(message.request)}` } : message.mid !== undefined ? { ack: message.mid } : undefined;
        if (answer) setTimeout(() => fake.serverMessage(JSON.stringify(answer)), 1);
      };
    }

    // Deterministic shuffles: every feature first and last at least once.
    const NAMES = ['heartbeat', 'pageSignals', 'ready', 'ttl', 'stats', 'debug', 'acks', 'requests', 'persist'] as const;
    function orders(): (typeof NAMES)[number][][] {
      const out = [[...NAMES], [...NAMES].reverse()];
      let seed = 7;
      const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
      for (let n = 0; n < 8; n++) {
        const order = [...NAMES];
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [order[i], order[j]] = [order[j], order[i]];
        }
        out.push(order);
      }
      return out;
    }

    for (const order of orders()) {
      it(`all nine features together, in the order ${order.join(', ')}: delivers, acknowledges, replies, survives a drop and closes cleanly`, async () => {
        const stored: StoredMessage[][] = [];
        const store = {
          contents: [] as StoredMessage[],
          load: async () => store.contents.slice(),
          save: async (messages: readonly StoredMessage[]) => void stored.push((store.contents = messages.slice())),
          clear: async () => void (store.contents = []),
        };
        const rpc = requests<Msg, Msg>();
        const counters = stats();
        const lines: string[] = [];
        const hellos: number[] = [];
        const made: Record<(typeof NAMES)[number], Feature<Msg, Msg>> = {
          heartbeat: heartbeat<Msg, Msg>({ interval: 1000, timeout: 500, ping: () => ({ type: 'ping' }), isPong: (m) => m.type === 'pong' }),
          pageSignals: pageSignals(new FakeWindow()),
          ready: ready<Msg, Msg>(({ send }) => {
            hellos.push(Date.now());
            send({ type: 'hello' });
          }),
          ttl: ttl(60_000),
          stats: counters,
          debug: debug((line) => lines.push(line)),
          acks: acks<Msg, Msg>({ id: (m) => m.mid, ack: (m) => m.ack }),
          requests: rpc,
          persist: persist(store),
        };
        const socket = kit.track(
          new SteadySocket<Msg, Msg>('ws://example.test/', { WebSocket: FakeWebSocket as never, codec: json<Msg, Msg>(), minDelay: 10, maxDelay: 10, use: order.map((name) => made[name]) }),
        );
        const errors: string[] = [];
        const messages: Msg[] = [];
        socket.on('error', (e) => errors.push(e.code));
        socket.on('message', (m) => messages.push(m));
        await clock.tickAsync(0); // the first attempt, the store loads
        const seen: Msg[] = [];
        const first = socket.deliver({ mid: 1, text: 'queued before open' });
        const answer = rpc.request('sum');
        serve(FakeWebSocket.last, seen);
        FakeWebSocket.last.serverOpen();
        await clock.tickAsync(5);
        expect(socket.state).to.equal('open');
        await first; // acknowledged
        expect(await answer).to.equal('did sum');
        FakeWebSocket.last.serverMessage(JSON.stringify({ text: 'push' }));
        expect(messages, 'acks, replies and pongs are no message events').to.deep.equal([{ text: 'push' }]);
        await clock.tickAsync(2600); // a quiet interval: a heartbeat ping, and its pong keeps the connection
        expect(seen.some((m) => m.type === 'ping'), 'a heartbeat ping went out').to.equal(true);
        expect(socket.state).to.equal('open');
        // The connection drops with a message written and not acknowledged: it goes again on the next one.
        const fake = FakeWebSocket.last;
        fake.send = FakeWebSocket.prototype.send.bind(fake); // this server stops answering
        const second = socket.deliver({ mid: 2, text: 'unacknowledged' });
        fake.serverClose(1006);
        await clock.tickAsync(10);
        serve(FakeWebSocket.last, seen);
        FakeWebSocket.last.serverOpen();
        await clock.tickAsync(5);
        await second;
        expect(seen.filter((m) => m.type === 'hello'), 'a hello per connection').to.have.length(2);
        expect(FakeWebSocket.last.sent.map((t) => JSON.parse(t as string) as Msg).map((m) => m.type ?? m.mid)).to.deep.equal(['hello', 2]);
        expect(counters.snapshot().reconnects).to.equal(1);
        expect(errors).to.deep.equal([]);
        await clock.tickAsync(0);
        expect(store.contents, 'nothing left stored once everything was acknowledged').to.deep.equal([]);
        const done = socket.close();
        await clock.tickAsync(10);
        await done;
        expect(socket.state).to.equal('closed');
        expect(reported, 'no listener or hook threw').to.deep.equal([]);
        expect(lines.some((l) => l.includes('state open -> closing')), 'debug logged').to.equal(true);
      });
    }
  });

  describe('legal extremes: no spin, no throw, nothing early', () => {
    it('connectTimeout 2^31 (a timer would fire it after ~1 ms): still connecting at 2^31 - 1 ms, abandoned at 2^31', async () => {
      const socket = await open({ connectTimeout: 2 ** 31 });
      const errors: string[] = [];
      socket.on('error', (e) => errors.push(e.code));
      clock.tick(1000);
      expect(socket.state).to.equal('connecting');
      clock.tick(2 ** 31 - 1 - 1000);
      expect(socket.state).to.equal('connecting');
      expect(errors).to.deep.equal([]);
      clock.tick(1);
      expect(errors).to.deep.equal(['CONNECT_TIMEOUT']);
    });

    it('closeTimeout 2^31: close() waits for a closing handshake that never finishes until 2^31 ms, not ~1 ms', async () => {
      const socket = kit.track(new SteadySocket<unknown, unknown>('ws://example.test/', { WebSocket: StuckClosingWebSocket as never, closeTimeout: 2 ** 31 }));
      await Promise.resolve();
      FakeWebSocket.last.serverOpen();
      void socket.close();
      clock.tick(2 ** 31 - 1);
      expect(socket.state).to.equal('closing');
      clock.tick(1);
      expect(socket.state).to.equal('closed');
    });

    it('closeTimeout 0 (and -0): close() drops a socket that never finishes closing at the next timer turn', async () => {
      for (const closeTimeout of [0, -0]) {
        FakeWebSocket.reset();
        const socket = kit.track(new SteadySocket<unknown, unknown>('ws://example.test/', { WebSocket: StuckClosingWebSocket as never, closeTimeout }));
        await Promise.resolve();
        FakeWebSocket.last.serverOpen();
        void socket.close();
        expect(socket.state).to.equal('closing');
        clock.tick(0);
        expect(socket.state, String(closeTimeout)).to.equal('closed');
      }
    });

    it('minDelay 2^31 (no maxDelay): the first wait is at most 2^31 - 1 ms and no attempt starts within a second', async () => {
      const socket = await open({ minDelay: 2 ** 31, jitter: 0 });
      const delays: number[] = [];
      socket.on('reconnecting', (info) => delays.push(info.delay));
      FakeWebSocket.last.fail();
      expect(delays).to.deep.equal([2 ** 31 - 1]);
      clock.tick(1000);
      expect(FakeWebSocket.instances).to.have.length(1);
      clock.tick(2 ** 31 - 1 - 1000);
      expect(FakeWebSocket.instances).to.have.length(2);
    });

    it('factor Infinity: the waits jump to maxDelay, finite; with minDelay 0 every wait is 0, never NaN', async () => {
      for (const [minDelay, expected] of [
        [1, [1, 500, 500]],
        [0, [0, 0, 0]],
      ] as const) {
        FakeWebSocket.reset();
        const socket = await open({ minDelay, maxDelay: 500, factor: Infinity, jitter: 0 });
        const delays: number[] = [];
        socket.on('reconnecting', (info) => delays.push(info.delay));
        for (let n = 0; n < 3; n++) {
          FakeWebSocket.last.fail();
          clock.tick(delays[delays.length - 1]);
        }
        expect(delays, `minDelay ${minDelay}`).to.deep.equal(expected);
        void socket.close();
      }
    });

    it('jitter -0 waits exactly the cap; jitter 0.5 waits between half the cap and the cap', async () => {
      const random = Math.random;
      try {
        for (const [jitter, draw, expected] of [
          [-0, 0.999, 100],
          [0.5, 0.999, 50],
          [0.5, 0, 100],
        ] as const) {
          Math.random = () => draw;
          FakeWebSocket.reset();
          const socket = await open({ minDelay: 100, maxDelay: 100, jitter });
          let delay: number | undefined;
          socket.on('reconnecting', (info) => (delay = info.delay));
          FakeWebSocket.last.fail();
          expect(delay, `jitter ${jitter}, random ${draw}`).to.equal(expected);
          void socket.close();
        }
      } finally {
        Math.random = random;
      }
    });

    it('maxRetries 2.5 retries after failures 1 and 2 and gives up at failure 3; -0 never retries', async () => {
      for (const [maxRetries, retries] of [
        [2.5, 2],
        [-0, 0],
      ] as const) {
        FakeWebSocket.reset();
        const socket = await open({ maxRetries, minDelay: 1, maxDelay: 1 });
        const errors: string[] = [];
        socket.on('error', (e) => errors.push(e.code));
        for (let n = 0; n < 5 && socket.state !== 'closed'; n++) {
          FakeWebSocket.last.fail();
          clock.tick(1);
        }
        expect(FakeWebSocket.instances, `maxRetries ${maxRetries}`).to.have.length(retries + 1);
        expect(errors.filter((c) => c === 'RETRIES_EXHAUSTED')).to.have.length(1);
        expect(socket.state).to.equal('closed');
      }
    });

    it('stableAfter Infinity: the failure count never resets, however long a connection stayed open (30 days)', async () => {
      const socket = await open({ stableAfter: Infinity, minDelay: 1, maxDelay: 1 });
      const attempts: number[] = [];
      socket.on('close', (info) => attempts.push(info.attempt));
      for (let n = 0; n < 3; n++) {
        FakeWebSocket.last.serverOpen();
        clock.tick(30 * 86_400_000);
        FakeWebSocket.last.serverClose(1006);
        clock.tick(1);
      }
      expect(attempts).to.deep.equal([1, 2, 3]);
    });

    it("maxMessages 0: nothing can wait ('error' throws QUEUE_OVERFLOW, 'drop-newest' reports a drop), but an open socket is still written to at once", async () => {
      const socket = await open({ maxMessages: 0 });
      expect((thrown(() => socket.send('x')) as SteadySocketError).code).to.equal('QUEUE_OVERFLOW');
      FakeWebSocket.reset();
      const dropping = await open({ maxMessages: 0, overflow: 'drop-newest' });
      const drops: string[] = [];
      dropping.on('drop', (d) => drops.push(`${String(d.data)}:${d.reason}`));
      dropping.send('y');
      expect(drops).to.deep.equal(['y:overflow']);
      FakeWebSocket.last.serverOpen();
      dropping.send('z');
      expect(FakeWebSocket.last.sent).to.deep.equal(['z']);
    });

    it('maxMessages 1.5 holds one message; highWaterMark 0 queues behind a single buffered byte', async () => {
      const socket = await open({ maxMessages: 1.5, highWaterMark: 0 });
      socket.send('a');
      expect((thrown(() => socket.send('b')) as SteadySocketError).code).to.equal('QUEUE_OVERFLOW');
      const fake = FakeWebSocket.last;
      fake.serverOpen();
      expect(fake.sent).to.deep.equal(['a']);
      fake.bufferedAmount = 1;
      socket.send('c');
      expect(fake.sent).to.deep.equal(['a']);
      fake.bufferedAmount = 0;
      clock.tick(10);
      expect(fake.sent).to.deep.equal(['a', 'c']);
    });
  });

  describe('README: events and listeners, off the happy path', () => {
    it('"error ... never thrown at you asynchronously, and listening is optional": a client with no error listener fails, times out and gives up without a throw or a report', async () => {
      const socket = kit.track(new SteadySocket<unknown, unknown>('ws://example.test/', { WebSocket: FakeWebSocket as never, minDelay: 1, maxDelay: 1, connectTimeout: 50, maxRetries: 3 }));
      await Promise.resolve();
      FakeWebSocket.last.fail(); // CONNECT_FAILED
      clock.tick(1);
      clock.tick(50); // CONNECT_TIMEOUT
      clock.tick(1);
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(4000); // failure 3, retried (the close-code table)
      clock.tick(1);
      FakeWebSocket.last.fail(); // failure 4: RETRIES_EXHAUSTED
      clock.runAll();
      expect(socket.state).to.equal('closed');
      expect(FakeWebSocket.instances).to.have.length(4);
      expect(reported).to.deep.equal([]);
    });

    it('"A listener that throws cannot stop the client: the other listeners still run": a throwing reconnecting listener, the wait still runs; a throwing drop listener, the send still queues', async () => {
      const socket = await open({ minDelay: 100, maxDelay: 100, jitter: 0, maxMessages: 1, overflow: 'drop-oldest' });
      const after: string[] = [];
      socket.on('reconnecting', () => {
        throw new Error('listener bug 1');
      });
      socket.on('reconnecting', (info) => after.push(`reconnecting ${info.delay}`));
      socket.on('drop', () => {
        throw new Error('listener bug 2');
      });
      socket.on('drop', (d) => after.push(`drop ${String(d.data)}`));
      socket.send('a');
      socket.send('b'); // evicts a: both drop listeners run, send() returns
      expect(socket.queued).to.deep.equal(['b']);
      FakeWebSocket.last.fail();
      expect(after).to.deep.equal(['drop a', 'reconnecting 100']);
      clock.tick(99);
      expect(FakeWebSocket.instances).to.have.length(1);
      clock.tick(1);
      expect(FakeWebSocket.instances).to.have.length(2);
      FakeWebSocket.last.serverOpen();
      expect(FakeWebSocket.last.sent).to.deep.equal(['b']);
      expect(reported.map((e) => (e as Error).message)).to.deep.equal(['listener bug 2', 'listener bug 1']);
    });

    it('"Any method may be called from any listener": close() from a drop listener while send() evicts (drop-oldest), reconnect() from a reconnecting listener', async () => {
      const socket = await open({ maxMessages: 1, overflow: 'drop-oldest' });
      const drops: string[] = [];
      socket.on('drop', (d) => {
        drops.push(`${String(d.data)}:${d.reason}`);
        if (d.reason === 'overflow') void socket.close();
      });
      socket.send('a');
      expect(thrown(() => socket.send('b')), 'send() itself does not throw').to.equal(undefined);
      expect(socket.state).to.equal('closing');
      expect((thrown(() => socket.send('c')) as SteadySocketError).code).to.equal('CLOSED');
      clock.runAll();
      expect(socket.state).to.equal('closed');
      expect(drops, 'a evicted, then b dropped by the close its drop listener made, c refused').to.deep.equal(['a:overflow', 'b:closed']);

      FakeWebSocket.reset();
      const again = await open({ minDelay: 60_000, maxDelay: 60_000 });
      let reconnected = 0;
      again.on('reconnecting', () => {
        if (reconnected++ === 0) again.reconnect();
      });
      FakeWebSocket.last.fail();
      expect(FakeWebSocket.instances, 'the next attempt started at once, not after 60 s').to.have.length(2);
      expect(again.state).to.equal('connecting');
    });

    it('"queued: the queued messages, oldest first (a copy)": changing the array changes nothing queued', async () => {
      const socket = await open();
      socket.send('a');
      socket.send('b');
      const copy = socket.queued;
      copy.length = 0;
      copy.push('z');
      expect(socket.queued).to.deep.equal(['a', 'b']);
      FakeWebSocket.last.serverOpen();
      expect(FakeWebSocket.last.sent).to.deep.equal(['a', 'b']);
    });
  });

  describe('README: "reconnecting ... with pageSignals(), while the browser is offline the attempt starts on online (or after maxDelay)"', () => {
    for (const maxDelay of [Infinity, 2 ** 31, 250]) {
      it(`maxDelay ${maxDelay}: offline, the fallback attempt waits ${maxDelay === 250 ? '250 ms' : '2^31 - 1 ms (no ~1 ms spin)'}; online starts the attempt at once`, async () => {
        const page = new FakeWindow();
        page.navigator.onLine = false;
        const socket = await open({ minDelay: 10, maxDelay, use: [pageSignals(page)] });
        const waits: ReconnectingInfo[] = [];
        socket.on('reconnecting', (info) => waits.push(info));
        FakeWebSocket.last.fail();
        const expected = maxDelay === 250 ? 250 : 2 ** 31 - 1;
        expect(waits.map((w) => [w.offline, w.delay])).to.deep.equal([[true, expected]]);
        clock.tick(Math.min(expected - 1, 100_000));
        expect(FakeWebSocket.instances, 'no attempt before the fallback').to.have.length(1);
        page.navigator.onLine = true;
        page.dispatch('online');
        expect(FakeWebSocket.instances, 'online: at once').to.have.length(2);
        expect(socket.state).to.equal('connecting');
      });
    }
  });
});
