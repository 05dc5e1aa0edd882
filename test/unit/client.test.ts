import FakeTimers, { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { debug, heartbeat, json, messages, ready, stats, SteadySocket, SteadySocketError, ttl, type SteadySocketOptions, type State } from '../../src/index';
import { FakeWebSocket } from '../support/fake-websocket';
import { rejection } from '../support/rejection';


type Options = SteadySocketOptions<unknown, unknown>;

describe('SteadySocket state machine (fake transport, fake clock)', () => {
  let clock: InstalledClock;
  const sockets: SteadySocket<unknown, unknown>[] = [];

  beforeEach(() => {
    FakeWebSocket.reset();
    clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'queueMicrotask'] });
  });

  afterEach(() => {
    for (const s of sockets.splice(0)) if (s.state !== 'closed') void s.close();
    clock.runAll();
    clock.uninstall();
  });

  function open(options: Options = {}, url: Parameters<typeof makeSocket>[0] = 'ws://example.test/') {
    return makeSocket(url, options);
  }

  async function makeSocket(url: ConstructorParameters<typeof SteadySocket>[0], options: Options) {
    const socket = new SteadySocket<unknown, unknown>(url, {
      WebSocket: FakeWebSocket as never,
      ...options,
    });
    sockets.push(socket);
    await Promise.resolve(); // the first attempt starts on a promise job, which the fake clock does not hold
    return socket;
  }

  function record(socket: SteadySocket<unknown, unknown>) {
    const events: string[] = [];
    socket.on('state', (s, p) => events.push(`${p}->${s}`));
    socket.on('error', (e) => events.push(`error:${e.code}`));
    return events;
  }

  it('opens, emits state and open, and sends directly when open', async () => {
    const socket = await open();
    const events = record(socket);
    let opened = 0;
    socket.on('open', () => opened++);
    expect(socket.state).to.equal('connecting');
    FakeWebSocket.last.serverOpen();
    expect(socket.state).to.equal('open');
    expect(events).to.deep.equal(['connecting->open']);
    expect(opened).to.equal(1);
    socket.send('hi');
    expect(FakeWebSocket.last.sent).to.deep.equal(['hi']);
    expect(FakeWebSocket.last.binaryType).to.equal('arraybuffer');
  });

  it('queues while connecting and flushes in order before anything sent later', async () => {
    const counters = stats();
    const socket = await open({ use: [counters] });
    socket.send('a');
    socket.send('b');
    socket.on('open', () => socket.send('c'));
    expect(socket.queued).to.deep.equal(['a', 'b']);
    FakeWebSocket.last.serverOpen();
    socket.send('d');
    expect(FakeWebSocket.last.sent).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(counters.snapshot().messagesOut).to.equal(4);
  });

  it('waits a full-jitter delay after an abnormal close, then reconnects and flushes', async () => {
    const counters = stats();
    const socket = await open({ minDelay: 1000, use: [counters] });
    const events = record(socket);
    const reconnecting: { attempt: number; delay: number }[] = [];
    socket.on('reconnecting', (info) => reconnecting.push(info));
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverClose(1006);
    expect(socket.state).to.equal('waiting');
    expect(reconnecting).to.have.length(1);
    expect(reconnecting[0].attempt).to.equal(1);
    expect(reconnecting[0].delay).to.be.within(0, 1000);
    socket.send('queued');
    clock.tick(reconnecting[0].delay);
    expect(FakeWebSocket.instances).to.have.length(2);
    FakeWebSocket.last.serverOpen();
    expect(FakeWebSocket.last.sent).to.deep.equal(['queued']);
    expect(events).to.deep.equal(['connecting->open', 'open->waiting', 'waiting->connecting', 'connecting->open']);
    expect(counters.snapshot().reconnects).to.equal(1);
  });

  it('stops after a close code the table marks fatal, and drops the outbox with CLOSED', async () => {
    const socket = await open();
    const drops: string[] = [];
    socket.on('drop', (d) => drops.push(`${d.data}:${d.reason}:${d.error.code}`));
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverClose(1008, 'policy');
    expect(socket.state).to.equal('closed');
    expect(() => socket.send('late')).to.throw(SteadySocketError).with.property('code', 'CLOSED');
    expect(clock.countTimers()).to.equal(0);
    expect(FakeWebSocket.instances).to.have.length(1);

    const other = await open();
    other.send('x');
    const pending = other.deliver('y');
    FakeWebSocket.last.serverClose(1002);
    expect(drops).to.deep.equal([]);
    expect((await rejection(pending)).code).to.equal('CLOSED');
  });

  it('grows the delay while a server keeps dropping new connections, and resets after stableAfter', async () => {
    const socket = await open({ minDelay: 100, maxDelay: 10_000, jitter: 0, stableAfter: 1000 });
    const delays: number[] = [];
    socket.on('reconnecting', (info) => delays.push(info.delay));
    for (let i = 0; i < 4; i++) {
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1011);
      clock.tick(delays[delays.length - 1]);
    }
    expect(delays).to.deep.equal([100, 200, 400, 800]);
    FakeWebSocket.last.serverOpen();
    clock.tick(1000);
    FakeWebSocket.last.serverClose(1001);
    expect(delays[4]).to.equal(100);
  });

  it('abandons an attempt after connectTimeout and retries', async () => {
    const socket = await open({ connectTimeout: 500, minDelay: 10, jitter: 0 });
    const events = record(socket);
    clock.tick(499);
    expect(socket.state).to.equal('connecting');
    clock.tick(1);
    expect(events).to.include('error:CONNECT_TIMEOUT');
    expect(socket.state).to.equal('waiting');
    expect(FakeWebSocket.instances[0].live).to.equal(false);
    clock.tick(10);
    expect(FakeWebSocket.instances).to.have.length(2);
    expect(socket.state).to.equal('connecting');
  });

  it('gives up with RETRIES_EXHAUSTED after maxRetries', async () => {
    const socket = await open({ maxRetries: 2, minDelay: 10, jitter: 0 });
    const events = record(socket);
    for (let i = 0; i < 3; i++) {
      FakeWebSocket.last.fail();
      clock.tick(100);
    }
    expect(FakeWebSocket.instances).to.have.length(3);
    expect(events.filter((e) => e === 'error:RETRIES_EXHAUSTED')).to.have.length(1);
    expect(socket.state).to.equal('closed');
  });

  it('never reconnects after close(), which resolves with no timer left in any state', async () => {
    const states: State[] = [];
    const openSocket = await open();
    FakeWebSocket.last.serverOpen();
    openSocket.send('x');
    const waitingSocket = await open({ minDelay: 5000 });
    FakeWebSocket.last.fail();
    const connectingSocket = await open();
    for (const s of [openSocket, waitingSocket, connectingSocket]) states.push(s.state);
    expect(states).to.deep.equal(['open', 'waiting', 'connecting']);
    const done = Promise.all([openSocket.close(), waitingSocket.close(), connectingSocket.close()]);
    expect(openSocket.state).to.equal('closing');
    expect(waitingSocket.state).to.equal('closed');
    clock.tick(10);
    await done;
    for (const s of [openSocket, waitingSocket, connectingSocket]) expect(s.state).to.equal('closed');
    expect(clock.countTimers()).to.equal(0);
    const count = FakeWebSocket.instances.length;
    clock.tick(60_000);
    expect(FakeWebSocket.instances).to.have.length(count);
    expect(openSocket.close()).to.equal(openSocket.close());
  });

  it('close() gives up on a peer that never completes the closing handshake after closeTimeout', async () => {
    const socket = await open({ closeTimeout: 200 });
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.close = () => {}; // the peer ignores us
    const done = socket.close(4000, 'bye');
    clock.tick(199);
    expect(socket.state).to.equal('closing');
    clock.tick(1);
    await done;
    expect(socket.state).to.equal('closed');
    expect(clock.countTimers()).to.equal(0);
  });

  it('close() copes with a socket that fires close synchronously', async () => {
    const socket = await open();
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    ws.close = (code?: number, reason?: string) => ws.serverClose(code ?? 1005, reason);
    await socket.close();
    expect(socket.state).to.equal('closed');
    expect(clock.countTimers()).to.equal(0);
  });

  it('validates close codes and reasons', async () => {
    const socket = await open();
    expect(() => socket.close(1006)).to.throw(SteadySocketError).with.property('code', 'INVALID_OPTION');
    expect(() => socket.close(1000, 'x'.repeat(124))).to.throw(/123/);
  });

  it('reconnect() replaces the connection at once and ignores the old socket', async () => {
    const socket = await open({ minDelay: 10_000 });
    const messages: unknown[] = [];
    socket.on('message', (m) => messages.push(m));
    const first = FakeWebSocket.last;
    first.serverOpen();
    socket.reconnect();
    expect(socket.state).to.equal('closing');
    clock.tick(5);
    expect(socket.state).to.equal('connecting');
    expect(FakeWebSocket.instances).to.have.length(2);
    first.serverMessage('stale');
    expect(first.live).to.equal(false);
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverMessage('fresh');
    expect(messages).to.deep.equal(['fresh']);
  });

  it('calls a URL provider before every attempt and fails over across a list', async () => {
    let n = 0;
    const socket = await open({ minDelay: 1, jitter: 0 }, async () => `ws://example.test/?token=t${++n}`);
    await clock.tickAsync(0);
    expect(FakeWebSocket.last.url).to.equal('ws://example.test/?token=t1');
    FakeWebSocket.last.fail();
    await clock.tickAsync(1);
    expect(FakeWebSocket.last.url).to.equal('ws://example.test/?token=t2');
    void socket;

    FakeWebSocket.reset();
    await open({ minDelay: 1, jitter: 0 }, ['ws://a.test/', 'ws://b.test/']);
    FakeWebSocket.last.fail();
    clock.tick(1);
    FakeWebSocket.last.fail();
    clock.tick(2);
    expect(FakeWebSocket.instances.map((w) => w.url)).to.deep.equal(['ws://a.test/', 'ws://b.test/', 'ws://a.test/']);
  });

  it('a provider that returns an invalid URL ends the client with a typed error', async () => {
    const socket = new SteadySocket<unknown, unknown>(() => 'ftp://nope', { WebSocket: FakeWebSocket as never });
    const errors: string[] = [];
    socket.on('error', (e) => errors.push(e.code));
    await Promise.resolve(); // the first attempt
    clock.tick(0); // its failure is told on a timer of its own
    expect(errors).to.deep.equal(['INVALID_URL']);
    expect(socket.state).to.equal('closed');
  });

  it('treats a provider that throws synchronously like one that rejects: a failed attempt, then a retry', async () => {
    let calls = 0;
    const socket = new SteadySocket<unknown, unknown>(
      () => {
        if (++calls === 1) throw new Error('token service down');
        return 'ws://example.test/';
      },
      { WebSocket: FakeWebSocket as never, minDelay: 5, jitter: 0 },
    );
    sockets.push(socket);
    const errors: string[] = [];
    socket.on('error', (e) => errors.push(e.code));
    await Promise.resolve(); // the first attempt
    clock.tick(0); // its failure is told on a timer of its own
    expect(errors).to.deep.equal(['CONNECT_FAILED']);
    expect(socket.state).to.equal('waiting');
    clock.tick(5);
    expect(FakeWebSocket.instances).to.have.length(1);
    expect(calls).to.equal(2);
  });

  it('ends the client when the WebSocket constructor refuses the URL (it would refuse it again)', async () => {
    class Refusing {
      constructor() {
        throw Object.assign(new Error('The port is blocked'), { name: 'SecurityError' });
      }
    }
    const socket = new SteadySocket('ws://example.test:25/', { WebSocket: Refusing as never });
    const errors: SteadySocketError[] = [];
    socket.on('error', (e) => errors.push(e));
    await Promise.resolve(); // the first attempt
    clock.tick(0); // its failure is told on a timer of its own
    expect(errors.map((e) => e.code)).to.deep.equal(['CONNECT_FAILED']);
    expect(errors[0].message).to.match(/port is blocked/);
    expect(socket.state).to.equal('closed');
    expect(clock.countTimers()).to.equal(0);
  });

  it('reports a close code outside 1000-4999 (Deno sends 0 for a drop) as 1006', async () => {
    const socket = await open({ minDelay: 10_000 });
    const closes: number[] = [];
    socket.on('close', (c) => closes.push(c.code));
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverClose(0);
    expect(closes).to.deep.equal([1006]);
  });

  it('does not stall when a runtime reports an error but never a close for a refused connection (undici)', async () => {
    const socket = await open({ minDelay: 5, jitter: 0, connectTimeout: 10_000 });
    const errors: string[] = [];
    socket.on('error', (e) => errors.push(e.code));
    const mute = FakeWebSocket.last;
    mute.onerror?.({ type: 'error' }); // ...and no close event, ever
    clock.tick(999);
    expect(socket.state).to.equal('connecting');
    clock.tick(1);
    expect(socket.state).to.equal('waiting');
    expect(mute.live).to.equal(false);
    clock.tick(5);
    expect(FakeWebSocket.instances).to.have.length(2);
    expect(errors).to.deep.equal(['CONNECT_FAILED']);
  });

  it('gives up on an errored attempt that never closes after 1 s, or at its connect timeout when that comes first', async () => {
    for (const [connectTimeout, endsAt, code] of [
      [Infinity, 1000, 'CONNECT_FAILED'],
      [300, 300, 'CONNECT_TIMEOUT'],
    ] as const) {
      const socket = await open({ minDelay: 60_000, jitter: 0, connectTimeout });
      const errors: string[] = [];
      socket.on('error', (e) => errors.push(e.code));
      FakeWebSocket.last.onerror?.({ type: 'error' });
      clock.tick(endsAt - 1);
      expect(socket.state, `connectTimeout ${connectTimeout}`).to.equal('connecting');
      clock.tick(1);
      expect(socket.state, `connectTimeout ${connectTimeout}`).to.equal('waiting');
      expect(errors.at(-1)).to.equal(code);
      socket.close();
    }
  });

  it('encodes a queued message with the codec of the connection that carries it', async () => {
    const upper = { encode: (v: unknown) => String(v).toUpperCase(), decode: (d: unknown) => d };
    const socket = await open({ protocols: ['json', 'shout'], codecs: { json: json(), shout: upper } });
    socket.send({ n: 1 });
    FakeWebSocket.last.serverOpen('shout');
    expect(FakeWebSocket.last.sent).to.deep.equal(['[OBJECT OBJECT]']);
    expect(socket.protocol).to.equal('shout');
  });

  it('turns a decode failure into an error event and keeps going', async () => {
    const socket = await open({ protocols: 'json', codecs: { json: json() } });
    const seen: unknown[] = [];
    const errors: string[] = [];
    socket.on('message', (m) => seen.push(m));
    socket.on('error', (e) => errors.push(e.code));
    FakeWebSocket.last.serverOpen('json');
    FakeWebSocket.last.serverMessage('{not json');
    FakeWebSocket.last.serverMessage('{"ok":true}');
    expect(errors).to.deep.equal(['DECODE_FAILED']);
    expect(seen).to.deep.equal([{ ok: true }]);
  });

  it('fails a server that picks an unoffered protocol or none', async () => {
    const a = await open({ protocols: ['a', 'b'] });
    const errors: string[] = [];
    a.on('error', (e) => errors.push(e.code));
    FakeWebSocket.last.serverOpen('z');
    expect(errors).to.deep.equal(['PROTOCOL_NOT_NEGOTIATED']);
    expect(a.state).to.equal('closed');
    const b = await open({ protocols: ['a'] });
    b.on('error', (e) => errors.push(e.code));
    FakeWebSocket.last.serverOpen('');
    expect(errors).to.deep.equal(['PROTOCOL_NOT_NEGOTIATED', 'PROTOCOL_NOT_NEGOTIATED']);
  });

  it('runs the ready step before flushing; its sends go first; failure retries', async () => {
    let calls = 0;
    const socket = await open({
      minDelay: 1,
      jitter: 0,
      use: [ready(async (ctx) => {
        calls++;
        ctx.send('hello');
        const reply = await ctx.next();
        if (reply !== 'welcome') throw new Error(`bad reply ${String(reply)}`);
      })],
    });
    const errors: string[] = [];
    socket.on('error', (e) => errors.push(e.code));
    socket.send('queued');
    FakeWebSocket.last.serverOpen();
    expect(socket.state).to.equal('connecting');
    FakeWebSocket.last.serverMessage('go away');
    await clock.tickAsync(0);
    expect(errors).to.deep.equal(['READY_FAILED']);
    expect(FakeWebSocket.instances[0].sent).to.deep.equal(['hello']);
    await clock.tickAsync(1);
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverMessage('welcome');
    await clock.tickAsync(0);
    expect(socket.state).to.equal('open');
    expect(FakeWebSocket.last.sent).to.deep.equal(['hello', 'queued']);
    expect(calls).to.equal(2);
  });

  it("the ready step's next() gets the next message after the call, not one that came before it (the guide's hello idiom)", async () => {
    const got: unknown[] = [];
    let gate!: () => void;
    const token = new Promise<void>((resolve) => (gate = resolve));
    await open({
      use: [ready(async (ctx) => {
        const early = ctx.next(); // before awaiting anything: the server's hello is not missed
        await token;
        got.push(await early);
        ctx.send('auth');
        got.push(await ctx.next());
        await token;
        got.push(await ctx.next()); // called after 'late' arrived: it waits for the one after
      })],
    });
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverMessage('hello');
    gate();
    await clock.tickAsync(0);
    FakeWebSocket.last.serverMessage('welcome');
    FakeWebSocket.last.serverMessage('late');
    await clock.tickAsync(0);
    FakeWebSocket.last.serverMessage('last');
    await clock.tickAsync(0);
    expect(got).to.deep.equal(['hello', 'welcome', 'last']);
  });

  it('rejects the ready step\'s next() with CONNECTION_CLOSED when the connection drops during it', async () => {
    let failure: SteadySocketError | undefined;
    await open({
      minDelay: 10_000,
      use: [ready(async (ctx) => {
        try {
          await ctx.next();
        } catch (error) {
          failure = error as SteadySocketError;
          throw error;
        }
      })],
    });
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverClose(1011);
    await clock.tickAsync(0);
    expect(failure?.code).to.equal('CONNECTION_CLOSED');
  });

  it('deliver() settles when written, or rejects with the reason it never will be', async () => {
    const socket = await open({ use: [ttl(1000)], maxMessages: 2, overflow: 'drop-oldest' });
    const overflowed = socket.deliver('1');
    const expired = socket.deliver('2');
    const kept = socket.deliver('3');
    expect((await rejection(overflowed)).code).to.equal('QUEUE_OVERFLOW');
    clock.tick(1000);
    expect((await rejection(expired)).code).to.equal('MESSAGE_EXPIRED');
    expect((await rejection(kept)).code).to.equal('MESSAGE_EXPIRED');
    const controller = new AbortController();
    const withdrawn = socket.deliver('4', { signal: controller.signal });
    const written = socket.deliver('5');
    controller.abort();
    expect((await rejection(withdrawn)).code).to.equal('MESSAGE_WITHDRAWN');
    FakeWebSocket.last.serverOpen();
    await written;
    expect(FakeWebSocket.last.sent).to.deep.equal(['5']);
    const queuedAtClose = (FakeWebSocket.last.serverClose(1006), socket.deliver('6'));
    void socket.close();
    expect((await rejection(queuedAtClose)).code).to.equal('CLOSED');
  });

  it("throws QUEUE_OVERFLOW from send() under the 'error' policy and announces drop-newest drops", async () => {
    const strict = await open({ maxMessages: 1 });
    strict.send('a');
    expect(() => strict.send('b')).to.throw(SteadySocketError).with.property('code', 'QUEUE_OVERFLOW');
    const lenient = await open({ maxMessages: 1, overflow: 'drop-newest' });
    const drops: unknown[] = [];
    lenient.on('drop', (d) => drops.push([d.data, d.reason]));
    lenient.send('a');
    lenient.send('b');
    expect(drops).to.deep.equal([['b', 'overflow']]);
    expect(lenient.queued).to.deep.equal(['a']);
  });

  it('keeps messages in the outbox above the high-water mark and flushes on drain', async () => {
    const socket = await open({ highWaterMark: 100 });
    FakeWebSocket.last.serverOpen();
    const ws = FakeWebSocket.last;
    ws.bufferedAmount = 150;
    socket.send('a');
    socket.send('b');
    expect(ws.sent).to.deep.equal([]);
    expect(socket.queued).to.deep.equal(['a', 'b']);
    let drained = false;
    void socket.flushed().then(() => (drained = true));
    await clock.tickAsync(50);
    expect(drained).to.equal(false);
    ws.bufferedAmount = 0;
    await clock.tickAsync(20);
    expect(ws.sent).to.deep.equal(['a', 'b']);
    expect(drained).to.equal(true);
  });

  it('resolves flushed() once the connection ends with the outbox empty: pending, or called from a close listener', async () => {
    const socket = await open({ minDelay: 10_000, maxDelay: 10_000, jitter: 0 });
    FakeWebSocket.last.serverOpen();
    const ws = FakeWebSocket.last;
    socket.send('a');
    ws.bufferedAmount = 5000; // written, not yet on the network
    let pending = false;
    void socket.flushed().then(() => (pending = true));
    let fromListener = false;
    socket.once('close', () => void socket.flushed().then(() => (fromListener = true)));
    await clock.tickAsync(50);
    expect(pending, 'still buffered on an open socket').to.equal(false);
    ws.serverClose(1000);
    await clock.tickAsync(0);
    // The dead socket's 5000 bytes went with it; nothing is left to send, long before the retry in 10 s.
    expect(socket.state).to.equal('waiting');
    expect(pending, 'the waiting flushed()').to.equal(true);
    expect(fromListener, "the close listener's flushed()").to.equal(true);
  });

  it('throws typed errors for bad input at once', async () => {
    const ctor = { WebSocket: FakeWebSocket as never };
    expect(() => new SteadySocket('ftp://x', ctor)).to.throw(SteadySocketError).with.property('code', 'INVALID_URL');
    expect(() => new SteadySocket('ws://x/#a', ctor)).to.throw(/fragment/);
    expect(() => new SteadySocket([], ctor)).to.throw(SteadySocketError).with.property('code', 'INVALID_URL');
    expect(() => new SteadySocket('ws://x', { ...ctor, protocols: ['a', 'a'] })).to.throw(SteadySocketError).with.property('code', 'INVALID_PROTOCOL');
    expect(() => new SteadySocket('ws://x', { ...ctor, protocols: ['bad token'] })).to.throw(SteadySocketError).with.property('code', 'INVALID_PROTOCOL');
    expect(() => new SteadySocket('ws://x', { ...ctor, minDelay: -1 })).to.throw(SteadySocketError).with.property('code', 'INVALID_OPTION');
    expect(() => new SteadySocket('ws://x', { ...ctor, overflow: 'explode' as never })).to.throw(/overflow/);
    expect(FakeWebSocket.instances).to.have.length(0);
    const raw = await open();
    expect(() => raw.send({} as never)).to.throw(SteadySocketError).with.property('code', 'INVALID_MESSAGE');
    const coded = await open({ codec: json() });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => coded.send(circular)).to.throw(SteadySocketError).with.property('code', 'ENCODE_FAILED');
    FakeWebSocket.last.serverOpen();
    expect(() => coded.send(circular)).to.throw(SteadySocketError).with.property('code', 'ENCODE_FAILED');
  });

  it('iterates messages across reconnects and ends at the final close', async () => {
    const socket = await open({ minDelay: 1, jitter: 0 });
    const got: unknown[] = [];
    const loop = (async () => {
      for await (const m of messages(socket)) got.push(m);
    })();
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverMessage('one');
    FakeWebSocket.last.serverClose(1012);
    await clock.tickAsync(1);
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverMessage('two');
    await clock.tickAsync(0);
    void socket.close();
    await clock.tickAsync(10);
    await loop;
    expect(got).to.deep.equal(['one', 'two']);
  });

  it('declares a silent connection dead after interval + timeout and reconnects', async () => {
    const socket = await open({ use: [heartbeat({ interval: 500, timeout: 500 })], minDelay: 1, jitter: 0 });
    const errors: string[] = [];
    socket.on('error', (e) => errors.push(e.code));
    const closes: number[] = [];
    socket.on('close', (i) => closes.push(i.code));
    FakeWebSocket.last.serverOpen();
    clock.tick(999);
    expect(socket.state).to.equal('open');
    clock.tick(1);
    expect(errors).to.deep.equal(['HEARTBEAT_TIMEOUT']);
    expect(closes).to.deep.equal([1006]);
    expect(socket.state).to.equal('waiting');
  });

  it('keeps a chatty connection alive and measures RTT with an application ping', async () => {
    const counters = stats();
    const socket = await open({
      use: [counters, heartbeat({ interval: 500, timeout: 500, ping: () => 'ping', isPong: (m) => m === 'pong' })],
    });
    const messages: unknown[] = [];
    socket.on('message', (m) => messages.push(m));
    FakeWebSocket.last.serverOpen();
    clock.tick(400);
    FakeWebSocket.last.serverMessage('data');
    clock.tick(100); // traffic seen: no ping needed yet
    expect(FakeWebSocket.last.sent).to.deep.equal([]);
    clock.tick(500);
    expect(FakeWebSocket.last.sent).to.deep.equal(['ping']);
    clock.tick(42);
    FakeWebSocket.last.serverMessage('pong');
    expect(counters.snapshot().rtt).to.equal(42);
    expect(messages).to.deep.equal(['data']);
    // Scheduled from the reply: the next ping goes out a full interval after the pong.
    clock.tick(499);
    expect(FakeWebSocket.last.sent).to.deep.equal(['ping']);
    clock.tick(1);
    expect(FakeWebSocket.last.sent).to.deep.equal(['ping', 'ping']);
    expect(socket.state).to.equal('open');
  });

  it('checks the connection at once when a timer fires far too late (the machine slept)', async () => {
    const socket = await open({ use: [heartbeat({ interval: 1000, timeout: 500, ping: () => 'ping', isPong: (m) => m === 'pong' })] });
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverMessage('recent traffic');
    clock.setSystemTime(Date.now() + 60_000); // wall clock jumps while timers were frozen
    clock.tick(1000);
    expect(FakeWebSocket.last.sent).to.deep.equal(['ping']);
    void socket;
  });

  it('keeps listeners across reconnects and counts stats', async () => {
    const counters = stats();
    const socket = await open({ minDelay: 1, jitter: 0, use: [counters] });
    const got: unknown[] = [];
    socket.on('message', (m) => got.push(m));
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverMessage('é');
    FakeWebSocket.last.serverClose(1001);
    clock.tick(1);
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverMessage(new ArrayBuffer(10));
    socket.send('abc');
    expect(got).to.have.length(2);
    expect(counters.snapshot()).to.include({ attempts: 2, reconnects: 1, messagesIn: 2, bytesIn: 12, messagesOut: 1, bytesOut: 3 });
  });

  it('never prints tokens in debug output', async () => {
    const lines: string[] = [];
    const socket = await open({ use: [debug((l) => lines.push(l))], minDelay: 1, jitter: 0 }, 'wss://user:pw@example.test/?token=SECRET');
    FakeWebSocket.last.fail();
    clock.tick(1);
    expect(lines.length).to.be.greaterThan(2);
    expect(lines.join('\n')).to.not.match(/SECRET|pw@/);
    void socket;
  });
});
