// The core client off the happy path, from an adversarial review (client.ts, client-base.ts,
// url.ts, options, the outbox path). Each test in 'regressions' failed before its fix; 'probed
// and found correct' keeps what the review tried that held. Fake transport + fake clock, except
// the one real-socket test (a ws server on 127.0.0.1).
import type { Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import { createServer as createHttp } from 'node:http';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { json, SteadySocket, SteadySocketError, type SteadySocketOptions } from '../../src/index';
import { useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';
import { sleep, until } from '../support/servers';

type Options = SteadySocketOptions<unknown, unknown>;

describe('client: adversarial review (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const reported = useReportedErrors();
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));

  /** A client, tracked; its first attempt not started yet (what the constructor throws, it throws). */
  function create(url: unknown = 'ws://example.test/', options: Options = {}) {
    return kit.track(new SteadySocket<unknown, unknown>(url as never, { WebSocket: FakeWebSocket as never, ...options }));
  }

  async function make(url?: unknown, options?: Options) {
    const socket = create(url, options);
    await Promise.resolve(); // the first attempt
    return socket;
  }

  const live = () => FakeWebSocket.instances.filter((w) => w.live).length;

  async function outcome(promise: Promise<unknown>): Promise<string> {
    let result = 'pending';
    promise.then(
      () => (result = 'resolved'),
      (error: SteadySocketError) => (result = `rejected ${error.code}`),
    );
    for (let i = 0; i < 20; i++) await Promise.resolve();
    return result;
  }

  describe('regressions', () => {
    it('reconnect() in a state listener on entering waiting starts the next attempt at once', async () => {
      const socket = await make(undefined, { minDelay: 10_000, maxDelay: 10_000, jitter: 0 });
      FakeWebSocket.last.serverOpen();
      socket.once('state', (state) => {
        expect(state).to.equal('waiting');
        socket.reconnect();
      });
      FakeWebSocket.last.serverClose(1006);
      clock.tick(50);
      expect(FakeWebSocket.instances, 'a new attempt at once').to.have.length(2);
      expect(socket.state).to.equal('connecting');
    });

    it('a synchronous url provider that calls close() gets no socket opened after the close', async () => {
      let socket!: SteadySocket<unknown, unknown>;
      let calls = 0;
      let closing: Promise<void> | undefined;
      socket = await make(
        () => {
          if (++calls === 2) closing = socket.close();
          return 'ws://example.test/';
        },
        { minDelay: 10, maxDelay: 10, jitter: 0 },
      );
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1006);
      clock.tick(20); // the retry calls the provider, which closes the client
      expect(await outcome(closing!)).to.equal('resolved');
      expect(socket.state).to.equal('closed');
      expect(live(), 'live sockets after close()').to.equal(0);
    });

    it('a synchronous url provider that calls reconnect() leaves one socket, not an orphaned second', async () => {
      let socket!: SteadySocket<unknown, unknown>;
      let calls = 0;
      socket = await make(
        () => {
          if (++calls === 2) socket.reconnect();
          return 'ws://example.test/';
        },
        { minDelay: 10, maxDelay: 10, jitter: 0 },
      );
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1006);
      clock.tick(20);
      expect(live(), 'live sockets').to.equal(1);
    });

    it('send() of an object while not open is queued when protocols is a provider and only codecs (per subprotocol) are set', async () => {
      const socket = await make(undefined, { protocols: () => ['chat.json'], codecs: { 'chat.json': json() } });
      socket.send({ a: 1 }); // throws today: validated as a raw frame
      FakeWebSocket.last.serverOpen('chat.json');
      expect(FakeWebSocket.last.sent).to.deep.equal(['{"a":1}']);
    });

    it('reconnect() while connecting reports no error for the handshake it cut short', async () => {
      const socket = await make();
      const errors: string[] = [];
      socket.on('error', (error) => errors.push(error.code));
      socket.reconnect();
      clock.tick(20);
      expect(FakeWebSocket.instances, 'a new attempt').to.have.length(2);
      expect(errors, 'error events for our own reconnect()').to.deep.equal([]);
    });

    it('reconnect() in the error listener of RETRIES_EXHAUSTED reconnects', async () => {
      const socket = await make(undefined, { maxRetries: 0 });
      let threw: unknown;
      socket.on('error', (error) => {
        if (error.code !== 'RETRIES_EXHAUSTED') return;
        try {
          socket.reconnect();
        } catch (caught) {
          threw = caught;
        }
      });
      FakeWebSocket.last.fail();
      clock.tick(20);
      const reconnected = FakeWebSocket.instances.length === 2 && socket.state !== 'closed';
      const refused = threw instanceof SteadySocketError && threw.code === 'CLOSED';
      expect(reconnected || refused, `state ${socket.state}, sockets ${FakeWebSocket.instances.length}, threw ${String(threw)}`).to.equal(true);
    });

    it('reconnect() in a state listener on entering connecting (retry timer) makes one attempt, not two', async () => {
      const socket = await make(undefined, { minDelay: 10, maxDelay: 10, jitter: 0 });
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1006);
      socket.once('state', (state) => {
        expect(state).to.equal('connecting');
        socket.reconnect();
      });
      clock.tick(10);
      expect(FakeWebSocket.instances, 'sockets: the first connection and one retry').to.have.length(2);
    });

    it('an error without a close late in an attempt does not postpone its end past connectTimeout', async () => {
      const socket = await make(undefined, { connectTimeout: 1500 });
      const errors: string[] = [];
      let endedAt: number | undefined;
      socket.on('error', (error) => errors.push(error.code));
      socket.on('close', () => (endedAt ??= Date.now()));
      clock.tick(1000);
      FakeWebSocket.last.onerror?.({ type: 'error' }); // undici: an error, no close event
      clock.tick(2000);
      expect(endedAt, 'the attempt ended by connectTimeout').to.be.at.most(1500);
    });

    it('flushed() pending while waiting resolves once clearOutbox() empties the outbox', async () => {
      const socket = await make(undefined, { minDelay: 100_000, jitter: 0 });
      FakeWebSocket.last.fail();
      expect(socket.state).to.equal('waiting');
      socket.send('a');
      const first = socket.flushed();
      socket.clearOutbox();
      clock.tick(100);
      expect(await outcome(socket.flushed()), 'a flushed() made now').to.equal('resolved');
      expect(await outcome(first), 'the flushed() made before clearOutbox()').to.equal('resolved');
    });

    it('deliver() with a signal that is not an AbortSignal throws INVALID_OPTION at once and queues nothing', async () => {
      const socket = await make();
      let threw: unknown;
      try {
        void socket.deliver('x', { signal: {} as AbortSignal });
      } catch (caught) {
        threw = caught;
      }
      FakeWebSocket.last.serverOpen();
      expect(threw, String(threw)).to.be.instanceOf(SteadySocketError);
      expect(FakeWebSocket.last.sent, 'a refused deliver() sends nothing').to.deep.equal([]);
    });

    it('a codec option that is not a codec (json instead of json()) throws INVALID_OPTION at construction', () => {
      expect(() => create(undefined, { codec: json as never })).to.throw(SteadySocketError).with.property('code', 'INVALID_OPTION');
    });

    it('redacts the userinfo of a URL written without // (ws:user:pass@host) in the INVALID_URL message', () => {
      for (const url of ['ws:user:hunter22@host/#frag', 'https:user:hunter22@host/#frag', 'ftp:user:hunter22@host/']) {
        let message = '';
        try {
          create(url);
        } catch (error) {
          expect(error).to.be.instanceOf(SteadySocketError).with.property('code', 'INVALID_URL');
          message = (error as Error).message;
        }
        expect(message, url).to.not.equal('');
        expect(message, url).to.not.include('hunter22');
      }
    });

    it('deliver() with a signal from a state(open) listener, written at once, leaves no abort listener on the signal', async () => {
      const socket = await make();
      socket.send('queued first');
      const controller = new AbortController();
      let listeners = 0;
      const signal = controller.signal;
      const add = signal.addEventListener.bind(signal);
      const remove = signal.removeEventListener.bind(signal);
      signal.addEventListener = ((...args: Parameters<typeof add>) => (listeners++, add(...args))) as typeof add;
      signal.removeEventListener = ((...args: Parameters<typeof remove>) => (listeners--, remove(...args))) as typeof remove;
      let delivered: Promise<void> | undefined;
      socket.once('state', (state) => {
        if (state === 'open') delivered = socket.deliver('x', { signal });
      });
      FakeWebSocket.last.serverOpen();
      expect(FakeWebSocket.last.sent).to.deep.equal(['queued first', 'x']);
      expect(await outcome(delivered!)).to.equal('resolved');
      const closing = socket.close();
      clock.tick(100);
      await closing;
      expect(listeners, 'abort listeners left on the signal').to.equal(0);
    });

    it('bufferedAmount reads 0 once the client is closed, as while waiting', async () => {
      const socket = await make();
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.bufferedAmount = 500;
      FakeWebSocket.last.serverClose(1008); // the policy stops
      expect(socket.state).to.equal('closed');
      expect(socket.bufferedAmount).to.equal(0);
    });

    it('an async shouldReconnect (a promise is no answer) stops with INVALID_OPTION instead of reading as true', async () => {
      const socket = await make(undefined, { shouldReconnect: (async () => false) as never });
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(4000);
      expect(socket.state, 'not reconnecting on a promise').to.not.equal('waiting');
    });
  });

  describe('probed and found correct', () => {
    it('a slow url provider superseded by reconnect() and then by close(): no socket, no timer, late results ignored', async () => {
      const resolvers: ((url: string) => void)[] = [];
      const socket = await make(() => new Promise<string>((resolve) => resolvers.push(resolve)));
      socket.reconnect(); // supersedes the first call
      expect(resolvers).to.have.length(2);
      const closing = socket.close();
      resolvers.forEach((resolve) => resolve('ws://example.test/'));
      expect(await outcome(closing)).to.equal('resolved');
      expect(FakeWebSocket.instances).to.have.length(0);
      expect(clock.countTimers()).to.equal(0);
    });

    it('fails over across a URL list, keeps the one that worked, and url is redacted in every state', async () => {
      const socket = await make(['ws://a.test/?token=s3cret1', 'ws://b.test/?token=s3cret2'], { minDelay: 10, maxDelay: 10, jitter: 0 });
      expect(socket.url).to.equal('ws://a.test/?token=***');
      FakeWebSocket.last.fail();
      clock.tick(10);
      expect(FakeWebSocket.last.url).to.equal('ws://b.test/?token=s3cret2');
      expect(socket.url).to.equal('ws://b.test/?token=***');
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1006);
      clock.tick(10);
      expect(FakeWebSocket.last.url, 'stays on the URL that worked').to.equal('ws://b.test/?token=s3cret2');
    });

    it('a queued message the new connection\'s codec cannot encode is dropped (drop + error + ENCODE_FAILED rejection); the rest still flush in order', async () => {
      const refuse = { encode: (v: unknown) => { if (v === 'bad') throw new Error('no'); return `B:${String(v)}`; }, decode: (d: unknown) => d };
      const socket = await make(undefined, { protocols: ['a', 'b'], codecs: { a: json(), b: refuse as never } });
      const drops: string[] = [];
      const errors: string[] = [];
      socket.on('drop', (d) => drops.push(`${String(d.data)}:${d.reason}`));
      socket.on('error', (e) => errors.push(e.code));
      socket.send('one');
      const bad = socket.deliver('bad');
      socket.send('two');
      FakeWebSocket.last.serverOpen('b');
      expect(FakeWebSocket.last.sent).to.deep.equal(['B:one', 'B:two']);
      expect(drops).to.deep.equal(['bad:encode-failed']);
      expect(errors).to.deep.equal(['ENCODE_FAILED']);
      expect(await outcome(bad)).to.equal('rejected ENCODE_FAILED');
    });

    it('shouldReconnect that throws stops with INVALID_OPTION, and pending deliver()s reject CLOSED', async () => {
      const socket = await make(undefined, { shouldReconnect: () => { throw new Error('hook bug'); } });
      const errors: string[] = [];
      socket.on('error', (e) => errors.push(e.code));
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverCloseFrame();
      const pending = socket.deliver('x');
      FakeWebSocket.last.serverClose(1001);
      expect(errors).to.deep.equal(['INVALID_OPTION']);
      expect(socket.state).to.equal('closed');
      expect(await outcome(pending)).to.equal('rejected CLOSED');
      expect(clock.countTimers()).to.equal(0);
    });

    it('close() while the server never completes the closing handshake settles after closeTimeout; Infinity for connectTimeout arms nothing', async () => {
      const socket = await make(undefined, { connectTimeout: Infinity, closeTimeout: 2_000 });
      expect(clock.countTimers()).to.equal(0);
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.close = () => {}; // a peer that never answers
      const closing = socket.close();
      clock.tick(1_999);
      expect(await outcome(closing)).to.equal('pending');
      clock.tick(1);
      expect(await outcome(closing)).to.equal('resolved');
      expect(clock.countTimers()).to.equal(0);
    });
  });
});

describe('client: adversarial review (real ws server on 127.0.0.1)', function () {
  this.timeout(20_000);

  it('with a reader that stops, at most highWaterMark plus one message sits in the socket, and all arrive in order once it reads again', async () => {
    const http = createHttp();
    const wss = new WebSocketServer({ server: http });
    let peer: ServerSocket | undefined;
    const received: string[] = [];
    wss.on('connection', (s) => {
      peer = s;
      (s as unknown as { _socket: { pause(): void } })._socket.pause();
      s.on('message', (d) => received.push(d.toString().slice(0, 8)));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
    const port = (http.address() as AddressInfo).port;
    const hwm = 256 * 1024;
    const message = 64 * 1024;
    const client = new SteadySocket<string, string>(`ws://127.0.0.1:${port}/`, { highWaterMark: hwm, maxBytes: 64 * 1024 * 1024 });
    const buffered = () => (client as unknown as { _conn?: { bufferedAmount: number } })._conn?.bufferedAmount ?? 0;
    let max = 0;
    const sampler = setInterval(() => (max = Math.max(max, buffered())), 2);
    try {
      await until(() => client.state === 'open', 5000, 'open');
      const N = 300;
      const ids = Array.from({ length: N }, (_, i) => String(i).padStart(8, '0'));
      for (const id of ids) {
        client.send(id + 'x'.repeat(message - 8));
        max = Math.max(max, buffered());
      }
      await sleep(300);
      expect(client.queued.length, 'most wait in the outbox').to.be.greaterThan(N / 2);
      (peer as unknown as { _socket: { resume(): void } })._socket.resume();
      await until(() => received.length === N, 10_000, 'every message');
      expect(received).to.deep.equal(ids);
      expect(max, 'bytes in the socket').to.be.at.most(hwm + message);
    } finally {
      clearInterval(sampler);
      await client.close();
      for (const c of wss.clients) c.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await new Promise((resolve) => http.close(resolve));
    }
  });
});
