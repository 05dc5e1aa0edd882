// Review of the API reference (the TSDoc comments of every public export) against the client,
// off the happy path: listeners that throw, methods called from listeners, extreme legal numbers.
// Fake transport, fake clock.
import type { Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import {
  acks,
  backoffDelay,
  closeAction,
  debug,
  defaultShouldReconnect,
  heartbeat,
  json,
  messages,
  pageSignals,
  persist,
  ping,
  ready,
  redactUrl,
  requests,
  stats,
  SteadySocket,
  SteadySocketError,
  ttl,
  type SteadySocketOptions,
} from '../../src/index';
import { useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';
import { FakeWindow } from '../support/fake-window';

type Options = SteadySocketOptions<any, any>;

async function rejection(promise: Promise<unknown>): Promise<SteadySocketError> {
  try {
    await promise;
  } catch (error) {
    return error as SteadySocketError;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): SteadySocketError {
  try {
    fn();
  } catch (error) {
    return error as SteadySocketError;
  }
  throw new Error('expected a throw');
}

describe('API reference (TSDoc), reviewed (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const reported = useReportedErrors();
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));

  async function make(options: Options = {}, url: ConstructorParameters<typeof SteadySocket>[0] = 'ws://example.test/') {
    const socket = kit.track(new SteadySocket<any, any>(url, { WebSocket: FakeWebSocket as never, ...options }));
    socket.on('error', () => {});
    await Promise.resolve(); // the first attempt
    return socket;
  }

  async function opened(options: Options = {}) {
    const socket = await make(options);
    FakeWebSocket.last.serverOpen();
    await clock.tickAsync(0);
    expect(socket.state).to.equal('open');
    return socket;
  }

  describe('SteadySocket methods', () => {
    it('flushed(): rejects with CLOSED when the client closes for good with messages still queued', async () => {
      const socket = await make();
      socket.send('a');
      const waiting = rejection(socket.flushed());
      void socket.close();
      await clock.tickAsync(10); // the fake socket's closing handshake
      const error = await waiting;
      expect(error.code).to.equal('CLOSED');
    });

    it('reconnect(): throws CLOSED once close() was called', async () => {
      const socket = await opened();
      void socket.close();
      expect(thrown(() => socket.reconnect()).code).to.equal('CLOSED');
    });

    it('close(): a second call with another code returns the same promise and does not change the code sent', async () => {
      const socket = await opened();
      const first = socket.close(4000, 'first');
      const second = socket.close(4001, 'second');
      expect(second).to.equal(first);
      expect(FakeWebSocket.last.closeCalls[0]).to.deep.equal({ code: 4000, reason: 'first' });
      await clock.tickAsync(10);
      await first;
      expect(socket.state).to.equal('closed');
    });
  });

  describe('feature factories', () => {
    it('ttl(Infinity): a queued message never expires, and no timer is armed for it', async () => {
      const socket = await make({ connectTimeout: Infinity, use: [ttl(Infinity)] });
      const timers = clock.countTimers();
      socket.send('a');
      expect(clock.countTimers()).to.equal(timers);
      await clock.tickAsync(10 * 365 * 24 * 3600 * 1000);
      expect(socket.queued).to.deep.equal(['a']);
    });

    it('ttl(0) and ttl(NaN) throw INVALID_OPTION', () => {
      expect(thrown(() => ttl(0)).code).to.equal('INVALID_OPTION');
      expect(thrown(() => ttl(NaN)).code).to.equal('INVALID_OPTION');
    });

    it('heartbeat({ interval: Infinity, timeout: Infinity }): no heartbeat timer while open', async () => {
      const socket = await opened({ use: [heartbeat({ interval: Infinity, timeout: Infinity })] });
      expect(clock.countTimers()).to.equal(0);
      await clock.tickAsync(100 * 24 * 3600 * 1000);
      expect(socket.state).to.equal('open');
    });

    it('acks({ timeout: Infinity }): a written message waits for its acknowledgement as long as it takes', async () => {
      const socket = await opened({ use: [acks<string, string>({ id: (m) => m, ack: (m) => (m.startsWith('ack:') ? m.slice(4) : undefined) })], });
      // the default is 30000: check the Infinity variant on another client
      void socket;
      const other = await opened({ use: [acks<string, string>({ id: (m) => m, ack: (m) => (m.startsWith('ack:') ? m.slice(4) : undefined), timeout: Infinity })] });
      let settled = false;
      void other.deliver('m1').then(() => (settled = true));
      expect(clock.countTimers()).to.equal(0);
      await clock.tickAsync(100 * 24 * 3600 * 1000);
      expect(settled).to.equal(false);
      FakeWebSocket.last.serverMessage('ack:m1');
      await clock.tickAsync(0);
      expect(settled).to.equal(true);
    });

    it('requests(): request({ timeout: 0 }) throws INVALID_OPTION synchronously (as ping() does), counting nothing', async () => {
      const rpc = requests();
      await opened({ codec: json(), use: [rpc] });
      expect(thrown(() => void rpc.request('x', { timeout: 0 })).code).to.equal('INVALID_OPTION');
      expect(rpc.pending).to.equal(0);
    });

    it('requests(): a request with timeout Infinity arms no timer and rejects with CLOSED when the client closes first', async () => {
      const rpc = requests();
      const socket = await opened({ codec: json(), use: [rpc] });
      const pending = rejection(rpc.request('x', { timeout: Infinity }));
      expect(clock.countTimers()).to.equal(0);
      expect(rpc.pending).to.equal(1);
      void socket.close();
      await clock.tickAsync(10);
      expect((await pending).code).to.equal('CLOSED');
      expect(rpc.pending).to.equal(0);
    });

    it('ping(): { timeout: Infinity } arms no timer, and the pong of the application ping ends it', async () => {
      const socket = await opened({ use: [heartbeat<string, string>({ interval: 60_000, timeout: 10_000, ping: () => 'ping', isPong: (m) => m === 'pong' })] });
      const timers = clock.countTimers();
      const rtt = ping(socket, { timeout: Infinity });
      expect(clock.countTimers()).to.equal(timers);
      expect(FakeWebSocket.last.sent).to.deep.equal(['ping']);
      await clock.tickAsync(25);
      FakeWebSocket.last.serverMessage('pong');
      expect(await rtt).to.equal(25);
    });

    it('ping(): called from an open listener that then throws, still resolves', async () => {
      const socket = await make({ use: [heartbeat<string, string>({ interval: 60_000, timeout: 10_000, ping: () => 'ping', isPong: (m) => m === 'pong' })] });
      let rtt: Promise<number> | undefined;
      socket.on('open', () => {
        rtt = ping(socket);
        throw new Error('listener bug');
      });
      FakeWebSocket.last.serverOpen();
      await clock.tickAsync(0);
      expect(rtt).to.not.equal(undefined);
      FakeWebSocket.last.serverMessage('pong');
      expect(await rtt).to.be.a('number');
      expect(reported).to.have.length(1);
    });

    it('stats(): reconnects counts connections opened after the first; messagesOut includes what the ready step sent', async () => {
      const counters = stats();
      const socket = await make({ use: [counters, ready<string, string>((context) => context.send('hello'))] });
      FakeWebSocket.last.serverOpen();
      await clock.tickAsync(0);
      socket.send('a');
      expect(counters.snapshot()).to.include({ attempts: 1, reconnects: 0, messagesOut: 2 });
      socket.reconnect();
      await clock.tickAsync(10);
      FakeWebSocket.last.serverOpen();
      await clock.tickAsync(0);
      expect(counters.snapshot()).to.include({ attempts: 2, reconnects: 1, messagesOut: 3 });
    });

    it('debug(): a log that throws changes nothing, and a close reason quoting a query token is scrubbed', async () => {
      const lines: string[] = [];
      const socket = await make(
        {
          use: [
            debug((line) => {
              lines.push(line);
              throw new Error('log sink down');
            }),
          ],
        },
        'ws://example.test/?token=zqSecretToken1',
      );
      FakeWebSocket.last.serverOpen();
      await clock.tickAsync(0);
      FakeWebSocket.last.serverClose(4001, 'bad token zqSecretToken1');
      await clock.tickAsync(0);
      expect(socket.state).to.equal('waiting');
      expect(lines.join('\n')).to.not.include('zqSecretToken1');
      expect(lines.join('\n')).to.include('closed with 4001');
      expect(reported).to.have.length(0);
    });

    it('messages(): after the final close the loop gets what is buffered, then ends; a throwing message listener changes nothing', async () => {
      const socket = await opened();
      socket.on('message', () => {
        throw new Error('listener bug');
      });
      const iterator = messages<string>(socket as never);
      FakeWebSocket.last.serverMessage('a');
      FakeWebSocket.last.serverMessage('b');
      void socket.close();
      await clock.tickAsync(10);
      expect(socket.state).to.equal('closed');
      expect(await iterator.next()).to.deep.equal({ value: 'a', done: false });
      expect(await iterator.next()).to.deep.equal({ value: 'b', done: false });
      expect(await iterator.next()).to.deep.equal({ value: undefined, done: true });
      expect(reported).to.have.length(2);
    });
  });

  describe('pure exports', () => {
    it('redactUrl(): the example of its comment', () => {
      expect(redactUrl('wss://user:pw@host/p?token=abc#x')).to.equal('wss://***:***@host/p?token=***#***');
    });

    it('backoffDelay(): finite and at most 2^31 - 1 for any failure count, Infinity factor included', () => {
      const random = () => 0;
      expect(backoffDelay(1, { minDelay: 1000, maxDelay: 30_000, factor: 2, jitter: 1 }, random)).to.equal(1000);
      expect(backoffDelay(0, { minDelay: 1000, maxDelay: 30_000, factor: 2, jitter: 0 }, random)).to.equal(1000);
      expect(backoffDelay(1e9, { minDelay: 1, maxDelay: Infinity, factor: 2, jitter: 0 })).to.equal(2 ** 31 - 1);
      expect(backoffDelay(2, { minDelay: 1, maxDelay: Infinity, factor: Infinity, jitter: 0 })).to.equal(2 ** 31 - 1);
      expect(backoffDelay(5000, { minDelay: 0, maxDelay: Infinity, factor: 2, jitter: 1 })).to.equal(0);
    });

    it('closeAction() and defaultShouldReconnect(): the table and the statuses', () => {
      expect(closeAction(1015)).to.equal('stop');
      expect(closeAction(1014)).to.equal('reconnect');
      expect(defaultShouldReconnect({ code: 1006, reason: '', wasClean: false, attempt: 1, status: 407 })).to.equal(false);
      expect(defaultShouldReconnect({ code: 1006, reason: '', wasClean: false, attempt: 1, status: 404 })).to.equal(true);
    });
  });

  describe('comments corrected by this review, and what they now say', () => {
    it('close(): throws INVALID_OPTION for a code outside 1000 and 3000–4999, a fractional code, or a reason over 123 UTF-8 bytes', async () => {
      const socket = await opened();
      expect(thrown(() => void socket.close(1001)).code).to.equal('INVALID_OPTION');
      expect(thrown(() => void socket.close(3000.5)).code).to.equal('INVALID_OPTION');
      expect(thrown(() => void socket.close(1000, 'é'.repeat(62))).code).to.equal('INVALID_OPTION');
      expect(socket.state).to.equal('open');
      void socket.close(1000, 'é'.repeat(61));
      expect(socket.state).to.equal('closing');
    });

    it('shouldReconnect: an async function ends the client with INVALID_OPTION (emitted, and the cause of CLOSED)', async () => {
      const socket = await opened({ shouldReconnect: (async () => true) as never });
      const errors: string[] = [];
      socket.on('error', (error) => errors.push(error.code));
      FakeWebSocket.last.serverClose(1001);
      await clock.tickAsync(0);
      expect(socket.state).to.equal('closed');
      expect(errors).to.deep.equal(['INVALID_OPTION']);
      const closed = thrown(() => socket.send('x'));
      expect(closed.code).to.equal('CLOSED');
      expect((closed.cause as SteadySocketError).code).to.equal('INVALID_OPTION');
    });

    it('shouldReconnect is not asked after reconnect()', async () => {
      let asked = 0;
      const socket = await opened({ shouldReconnect: () => (asked++, false) });
      socket.reconnect();
      await clock.tickAsync(10);
      expect(asked).to.equal(0);
      expect(socket.state).to.equal('connecting');
    });

    it('deliver() with acks(): resolves on the acknowledgement, not the write, and rejects with ACK_TIMEOUT without one', async () => {
      const socket = await opened({ use: [acks<string, string>({ id: (m) => m, ack: (m) => (m.startsWith('ack:') ? m.slice(4) : undefined), timeout: 1000 })] });
      let first = false;
      void socket.deliver('m1').then(() => (first = true));
      const second = rejection(socket.deliver('m2'));
      await clock.tickAsync(0);
      expect(FakeWebSocket.last.sent).to.deep.equal(['m1', 'm2']);
      expect(first).to.equal(false);
      FakeWebSocket.last.serverMessage('ack:m1');
      await clock.tickAsync(1000);
      expect(first).to.equal(true);
      expect((await second).code).to.equal('ACK_TIMEOUT');
    });

    it('deliver(): a signal that is not an AbortSignal throws INVALID_OPTION synchronously and queues nothing; after close() it throws CLOSED', async () => {
      const socket = await make();
      expect(thrown(() => void socket.deliver('x', { signal: {} as never })).code).to.equal('INVALID_OPTION');
      expect(socket.queued).to.deep.equal([]);
      void socket.close();
      expect(thrown(() => void socket.deliver('y')).code).to.equal('CLOSED');
    });

    it('acks() dedupe: the window defaults to 1000 ids', async () => {
      const delivered: string[] = [];
      const socket = await opened({
        use: [acks<string, string>({ id: () => undefined, ack: () => undefined, dedupe: { id: (m) => m } })],
      });
      socket.on('message', (m) => delivered.push(m));
      FakeWebSocket.last.serverMessage('dup');
      for (let i = 0; i < 999; i++) FakeWebSocket.last.serverMessage(`m${i}`);
      FakeWebSocket.last.serverMessage('dup'); // 'dup' is among the last 1000 ids: not delivered
      expect(delivered.filter((m) => m === 'dup')).to.have.length(1);
      FakeWebSocket.last.serverMessage('m999'); // the 1001st id: 'dup' leaves the window
      FakeWebSocket.last.serverMessage('dup');
      expect(delivered.filter((m) => m === 'dup')).to.have.length(2);
    });

    it('ready(): context.send() throws CONNECTION_CLOSED once close() was called during the step, and next() rejects with it', async () => {
      let context: { send(data: string): void; next(): Promise<string> } | undefined;
      const socket = await make({ use: [ready<string, string>((c) => ((context = c), new Promise<void>(() => {})))] });
      FakeWebSocket.last.serverOpen();
      await clock.tickAsync(0);
      context!.send('hello');
      expect(FakeWebSocket.last.sent).to.deep.equal(['hello']);
      const next = rejection(context!.next());
      void socket.close();
      expect(thrown(() => context!.send('late')).code).to.equal('CONNECTION_CLOSED');
      expect((await next).code).to.equal('CONNECTION_CLOSED');
      await clock.tickAsync(10);
      expect(FakeWebSocket.last.sent).to.deep.equal(['hello']);
    });

    it('ready(): next() does not get a message that came before the call; that message is a message event too', async () => {
      let context: { next(): Promise<string> } | undefined;
      let release!: () => void;
      const socket = await make({ use: [ready<string, string>((c) => ((context = c), new Promise<void>((resolve) => (release = resolve))))] });
      const events: string[] = [];
      socket.on('message', (m) => events.push(m));
      FakeWebSocket.last.serverOpen();
      await clock.tickAsync(0);
      FakeWebSocket.last.serverMessage('early');
      const next = context!.next();
      FakeWebSocket.last.serverMessage('late');
      expect(await next).to.equal('late');
      expect(events).to.deep.equal(['early', 'late']);
      release();
      await clock.tickAsync(0);
      expect(socket.state).to.equal('open');
    });

    it('requests(): a written request whose connection ends rejects with CONNECTION_CLOSED (no resend); a queued one dropped by clearOutbox() with MESSAGE_WITHDRAWN', async () => {
      const rpc = requests();
      const socket = await opened({ codec: json(), use: [rpc] });
      const written = rejection(rpc.request('a'));
      FakeWebSocket.last.serverClose(1001);
      const queued = rejection(rpc.request('b'));
      socket.clearOutbox();
      expect((await written).code).to.equal('CONNECTION_CLOSED');
      expect((await queued).code).to.equal('MESSAGE_WITHDRAWN');
      expect(rpc.pending).to.equal(0);
    });

    it('pageSignals(): the page entering the back/forward cache gives close and reconnecting attempt 0 (no failure), delay Infinity', async () => {
      const page = new FakeWindow();
      const socket = await opened({ use: [pageSignals(page as never)] });
      const closes: number[] = [];
      const waits: { attempt: number; delay: number }[] = [];
      socket.on('close', (info) => closes.push(info.attempt));
      socket.on('reconnecting', (info) => waits.push({ attempt: info.attempt, delay: info.delay }));
      page.dispatch('pagehide', { persisted: true });
      expect(closes).to.deep.equal([0]);
      expect(waits).to.deep.equal([{ attempt: 0, delay: Infinity }]);
      expect(FakeWebSocket.last.closeCalls[0]).to.deep.equal({ code: 1000, reason: 'page hidden' });
    });

    it('reconnecting.offline is true only with pageSignals() and a browser that reports offline', async () => {
      const page = new FakeWindow();
      page.navigator.onLine = false;
      const withSignals = await opened({ use: [pageSignals(page as never)] });
      const plain = await opened();
      const offline: boolean[] = [];
      withSignals.on('reconnecting', (info) => offline.push(info.offline));
      plain.on('reconnecting', (info) => offline.push(info.offline));
      (FakeWebSocket.instances[0] as FakeWebSocket).serverClose(1001);
      (FakeWebSocket.instances[1] as FakeWebSocket).serverClose(1001);
      expect(offline).to.deep.equal([true, false]);
    });

    it('close is emitted when a URL function gives an invalid URL (code 1006, the error in info.error): error, close, then state closed end the client', async () => {
      const events: string[] = [];
      const socket = kit.track(new SteadySocket<any, any>(() => 'ftp://example.test/', { WebSocket: FakeWebSocket as never }));
      socket.on('error', (error) => events.push(`error ${error.code}`));
      socket.on('close', (info) => events.push(`close ${info.code} ${info.error?.code}`));
      socket.on('state', (state) => events.push(`state ${state}`));
      await clock.tickAsync(0);
      expect(events).to.deep.equal(['error INVALID_URL', 'close 1006 INVALID_URL', 'state closed']);
      expect(FakeWebSocket.instances).to.have.length(0);
    });

    it('CloseInfo.reason: the error message when the client gave the connection up (heartbeat, connect timeout), "close timed out" for a close never answered', async () => {
      const socket = await opened({ closeTimeout: 100, connectTimeout: 500, minDelay: 100, maxDelay: 100, jitter: 0, use: [heartbeat({ interval: 1000, timeout: 1000 })] });
      const reasons: string[] = [];
      socket.on('close', (info) => reasons.push(`${info.code} ${info.reason}`));
      await clock.tickAsync(2000); // a quiet interval, a ping without answer
      expect(reasons).to.have.length(1);
      expect(reasons[0]).to.match(/^1006 No sign of life for \d+ ms after a ping \(heartbeat\)\.$/);
      await clock.tickAsync(2000); // the retry: never answered, then connectTimeout
      expect(reasons[1]).to.equal('1006 No connection within 500 ms (connectTimeout).');
      for (let i = 0; i < 100 && !(socket.state === 'connecting' && FakeWebSocket.last.readyState === 0); i++) await clock.tickAsync(10);
      FakeWebSocket.last.serverOpen();
      await clock.tickAsync(0);
      expect(socket.state).to.equal('open');
      // The server's close frame arrived, its close event never does: dropped closeTimeout later.
      FakeWebSocket.last.serverCloseFrame();
      socket.send('x'); // notices the socket left OPEN
      await clock.tickAsync(100);
      expect(reasons.at(-1)).to.equal('1006 close timed out');
    });

    it('heartbeat() without ping/isPong on a socket with no protocol ping (a browser): nothing is sent, a quiet connection is closed as dead, traffic keeps it', async () => {
      const socket = await opened({ use: [heartbeat({ interval: 1000, timeout: 500 })] });
      const errors: string[] = [];
      socket.on('error', (error) => errors.push(error.code));
      for (let i = 0; i < 10; i++) {
        await clock.tickAsync(400);
        FakeWebSocket.last.serverMessage(`tick ${i}`);
      }
      expect(socket.state).to.equal('open');
      await clock.tickAsync(2500); // quiet: 2 × interval + timeout at most (a check that saw the last message, a "ping" that sends nothing, its timeout)
      expect(errors).to.deep.equal(['HEARTBEAT_TIMEOUT']);
      expect(FakeWebSocket.instances[0].sent).to.deep.equal([]);
      expect(socket.state).to.not.equal('open');
    });

    it('persist(): a store that cannot be read is STORAGE_FAILED (error event), never written, and saved() rejects with it; a Blob throws INVALID_MESSAGE', async () => {
      let saves = 0;
      const store = { load: () => Promise.reject(new Error('EACCES')), save: async () => void saves++, clear: async () => {} };
      const feature = persist(store);
      const socket = kit.track(new SteadySocket<any, any>('ws://example.test/', { WebSocket: FakeWebSocket as never, use: [feature] }));
      const errors: string[] = [];
      socket.on('error', (error) => errors.push(error.code));
      await feature.restored;
      expect(errors).to.deep.equal(['STORAGE_FAILED']);
      socket.send('a');
      expect((await rejection(feature.saved())).code).to.equal('STORAGE_FAILED');
      expect(saves).to.equal(0);
      const blob = { size: 1, arrayBuffer: async () => new ArrayBuffer(1) };
      expect(thrown(() => socket.send(blob)).code).to.equal('INVALID_MESSAGE');
      expect(socket.queued).to.deep.equal(['a']);
    });
  });

  describe('regressions', () => {
    it('JSON.stringify(client) (what loggers do with an object) shows no password, token or header value, and does not throw once connecting', async () => {
      const socket = await make(
        { headers: () => ({ authorization: 'Bearer zqHeaderSecret99' }) } as Options,
        'wss://me:zqPasswordSecret@example.test/feed?token=zqQueryToken77',
      );
      socket.send('queued');
      const text = JSON.stringify({ socket });
      for (const secret of ['zqHeaderSecret99', 'zqPasswordSecret', 'zqQueryToken77']) expect(text).to.not.include(secret);
      expect(JSON.parse(text).socket).to.deep.equal({ state: 'connecting', url: 'wss://***:***@example.test/feed?token=***', protocol: '', queued: 1 });
      const headers = await make({ headers: { authorization: 'Bearer zqHeaderSecret99' } } as Options);
      expect(JSON.stringify(headers)).to.not.include('zqHeaderSecret99');
    });

    it('persist(): saved() asked before a client has the feature resolves (it threw a TypeError)', async () => {
      const saves: unknown[] = [];
      const store = { load: async () => [], save: async (messages: unknown) => void saves.push(messages), clear: async () => {} };
      const feature = persist(store);
      let result: Promise<void> | undefined;
      expect(() => (result = feature.saved())).to.not.throw();
      await result;
      await feature.restored;
      expect(saves).to.deep.equal([]);
      // Given to a client afterwards, it works as usual.
      const socket = await make({ use: [feature] });
      await feature.restored;
      socket.send('a');
      await feature.saved();
      expect(saves.at(-1)).to.deep.equal([{ data: 'a', queuedAt: Date.now() }]);
    });

    it('flushed() called after the client ended by itself with messages queued rejects with CLOSED (its cause why); it resolved, as if they had gone out', async () => {
      const socket = await make({ maxRetries: 0 });
      const drops: string[] = [];
      socket.on('drop', (info) => drops.push(`${info.reason} ${info.data}`));
      socket.send('important');
      FakeWebSocket.last.fail();
      await clock.tickAsync(0);
      expect(socket.state).to.equal('closed');
      expect(drops).to.deep.equal(['closed important']);
      const error = await rejection(socket.flushed());
      expect(error.code).to.equal('CLOSED');
      expect((error.cause as SteadySocketError).code).to.equal('RETRIES_EXHAUSTED');
    });

    it('flushed() called after close() dropped queued messages rejects with CLOSED; after a close with nothing queued it resolves', async () => {
      const dropping = await make();
      dropping.send('a');
      const closed = dropping.close();
      await clock.tickAsync(10); // the fake socket's closing handshake
      await closed;
      expect((await rejection(dropping.flushed())).code).to.equal('CLOSED');
      const clean = await opened();
      clean.send('b'); // written at once
      await clean.flushed();
      const closing = clean.close();
      await clock.tickAsync(10);
      await closing;
      await clean.flushed();
    });
  });
});
