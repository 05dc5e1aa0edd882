// request()/requests() and ping() off the happy path, on the fake transport and clock (and one
// real ws server on 127.0.0.1). The 'regressions' each failed before the fix named in its title
// (found by an adversarial review); the rest pin behaviour that review probed and found correct.
import type { Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { acks, heartbeat, json, persist, ping, requests, SteadySocket, type Codec, type SteadySocketError, type SteadySocketOptions, type StoredMessage } from '../../src/index';
import { fakeOpener, useFakeClock } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';

type Msg = { id?: number; data?: unknown; ack?: number; re?: number; result?: unknown; error?: unknown; request?: unknown; ping?: number; pong?: number };

type Outcome = { value: unknown } | { code: string };
const outcome = (promise: Promise<unknown>): Promise<Outcome> => promise.then((value) => ({ value }), (error: SteadySocketError) => ({ code: error?.code ?? String(error) }));

describe('requests() and ping() off the happy path (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));

  const open = fakeOpener<Msg, Msg>(kit, { codec: json<Msg, Msg>(), minDelay: 10, jitter: 0 });

  const sent = (ws = FakeWebSocket.last) => ws.sent.map((frame) => JSON.parse(frame as string) as Msg);
  /** An application ping whose heartbeat never fires on its own (interval and timeout Infinity). */
  const appPing = () => heartbeat<Msg, Msg>({ interval: Infinity, timeout: Infinity, ping: () => ({ ping: 1 }), isPong: (m) => m.pong !== undefined });
  /** Lets native promise callbacks run (the fake clock fakes only queueMicrotask). */
  const settleMicrotasks = async () => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };

  describe('regressions', () => {
    it('withdraws a request that timed out while queued: it never reaches the server', async () => {
      const rpc = requests({ timeout: 100 });
      const socket = await open({ use: [rpc] });
      const late = outcome(rpc.request('late'));
      clock.tick(100);
      expect(await late).to.deep.equal({ code: 'REQUEST_TIMEOUT' });
      expect(rpc.pending).to.equal(0);
      expect(socket.queued, 'a settled request no longer waits in the outbox').to.deep.equal([]);
      FakeWebSocket.last.serverOpen();
      expect(sent(), 'nobody waits for its reply: it must not reach the server').to.deep.equal([]);
    });

    it('resolves a pending flushed() once the queued request it waited on is aborted or times out (found by the delivery model, seeds 13 and 14)', async () => {
      for (const end of ['abort', 'timeout'] as const) {
        const rpc = requests({ timeout: 100 });
        const socket = await open({ use: [rpc] });
        const controller = new AbortController();
        const request = outcome(rpc.request('queued', { signal: controller.signal }));
        let flushed = false;
        void socket.flushed().then(() => (flushed = true));
        await settleMicrotasks();
        expect(flushed, `${end}: the request waits in the outbox`).to.equal(false);
        if (end === 'abort') controller.abort();
        else clock.tick(100);
        await settleMicrotasks();
        expect(await request).to.deep.equal({ code: end === 'abort' ? 'REQUEST_ABORTED' : 'REQUEST_TIMEOUT' });
        expect(socket.state, end).to.equal('connecting');
        expect(flushed, `${end}: nothing is left to send`).to.equal(true);
      }
    });

    it('resolves a flushed() that waited for the stored messages once the store turns out unreadable (found by the delivery model, seed 1)', async () => {
      let fail!: (error: Error) => void;
      const store = { load: () => new Promise<StoredMessage[]>((_, reject) => (fail = reject)), save: async () => {}, clear: async () => {} };
      const socket = await open({ use: [persist(store)] });
      socket.on('error', () => {});
      let flushed = false;
      void socket.flushed().then(() => (flushed = true));
      await settleMicrotasks();
      expect(flushed, 'the stored messages are not back yet').to.equal(false);
      fail(new Error('disk on fire'));
      await settleMicrotasks();
      expect(socket.state).to.equal('connecting');
      expect(flushed, 'nothing stored came back, nothing else is queued').to.equal(true);
    });

    it('resolves a reply that carries its result beside error: null (JSON-RPC 1.0 style success)', async () => {
      const rpc = requests();
      await open({ use: [rpc] });
      FakeWebSocket.last.serverOpen();
      const reply = outcome(rpc.request('x'));
      FakeWebSocket.last.serverMessage(JSON.stringify({ re: 1, result: 2, error: null }));
      expect(await reply).to.deep.equal({ value: 2 });
    });

    it('rejects a resend request the next connection\'s likely codec refuses with ENCODE_FAILED, and still reconnects (nothing escapes the close handler)', async () => {
      // Two subprotocols, each with its codec; the server picks the second. A request written on
      // it is re-queued (resend) when the connection drops, and re-encoded with the codec of the
      // first offered protocol, which refuses it.
      const textOnly: Codec<Msg, Msg> = {
        encode(value) {
          if (typeof value !== 'string') throw new TypeError('text only');
          return value;
        },
        decode: (data) => data as unknown as Msg,
      };
      const rpc = requests({ resend: true });
      const socket = await open({ protocols: ['text', 'json'], codecs: { text: textOnly, json: json<Msg, Msg>() }, use: [rpc] });
      FakeWebSocket.last.serverOpen('json');
      const request = outcome(rpc.request({ op: 'sum' }));
      expect(FakeWebSocket.last.sent).to.have.length(1);
      let thrown: unknown;
      try {
        FakeWebSocket.last.serverClose(1006);
      } catch (error) {
        thrown = error;
      }
      clock.tick(10);
      expect(thrown, 'nothing escapes into the transport\'s close handler').to.equal(undefined);
      expect(socket.state, 'the client went on to reconnect').to.not.equal('open');
      expect(FakeWebSocket.instances, 'a new attempt started').to.have.length(2);
      await settleMicrotasks();
      expect(await Promise.race([request, Promise.resolve({ code: 'still pending' })])).to.deep.equal({ code: 'ENCODE_FAILED' });
    });

    it('does not persist requests: a new run\'s request never gets the reply to an earlier run\'s (ids restart at 1)', async () => {
      let stored: StoredMessage[] = [];
      const store = {
        load: async () => stored,
        save: async (messages: readonly StoredMessage[]) => void (stored = [...messages]),
        clear: async () => void (stored = []),
        loadSync: () => stored,
        saveSync: (messages: readonly StoredMessage[]) => void (stored = [...messages]),
      };
      const before = requests();
      await open({ use: [persist(store, { sync: true }), before] });
      void outcome(before.request('old'));
      // The process dies here (no close()); the next run starts from the same store.
      const after = requests();
      await open({ use: [persist(store, { sync: true }), after] });
      const fresh = outcome(after.request('new'));
      FakeWebSocket.last.serverOpen();
      await settleMicrotasks();
      const written = sent();
      // The server answers each request it got, in order.
      for (const message of written) FakeWebSocket.last.serverMessage(JSON.stringify({ re: message.id, result: `answer to ${String(message.request)}` }));
      expect(await fresh).to.deep.equal({ value: 'answer to new' });
    });

    it('rejects with CLOSED a ping pending at close() and one made while the final close is under way', async () => {
      const socket = await open({ use: [appPing()] });
      FakeWebSocket.last.serverOpen();
      const pending = outcome(ping(socket));
      const closing = socket.close();
      const during = outcome(ping(socket));
      clock.tick(10);
      await closing;
      // The documented outcome, and what request() does for a request written before close().
      expect(await pending, 'pending at close()').to.deep.equal({ code: 'CLOSED' });
      expect(await during, 'called after close()').to.deep.equal({ code: 'CLOSED' });
    });

    it('waits the whole of a ping timeout beyond what a timer holds (2^31 - 1 ms)', async () => {
      const socket = await open({ use: [appPing()] });
      FakeWebSocket.last.serverOpen();
      let result: Outcome | undefined;
      void outcome(ping(socket, { timeout: 2 ** 31 + 5000 })).then((o) => (result = o));
      clock.tick(2 ** 31 - 1);
      await settleMicrotasks();
      expect(result, `still waiting ${5001} ms before its timeout`).to.equal(undefined);
      clock.tick(5001);
      await settleMicrotasks();
      expect(result, 'then it times out').to.deep.equal({ code: 'PING_TIMEOUT' });
    });

    it('leaves no timer of requests() once every request settled', async () => {
      const rpc = requests(); // 30 s
      await open({ use: [rpc] });
      FakeWebSocket.last.serverOpen();
      const timersBefore = clock.countTimers();
      const reply = rpc.request('x');
      FakeWebSocket.last.serverMessage(JSON.stringify({ re: 1, result: 2 }));
      expect(await reply).to.equal(2);
      expect(rpc.pending).to.equal(0);
      expect(clock.countTimers(), 'nothing pending: no timer of requests() left').to.equal(timersBefore);
    });

    it('never holds a request under acks(), even when acks() reads the same id field (the guide\'s two examples together)', async () => {
      const rpc = requests();
      const socket = await open({ use: [acks({ id: (m: Msg) => m.id, ack: (m: Msg) => m.ack, timeout: 1000 }), rpc] });
      const drops: string[] = [];
      socket.on('drop', (d) => drops.push(d.reason));
      FakeWebSocket.last.serverOpen();
      const lost = outcome(rpc.request('lost'));
      const answered = outcome(rpc.request('answered'));
      FakeWebSocket.last.serverMessage(JSON.stringify({ re: 2, result: 'done' }));
      FakeWebSocket.last.serverClose(1006);
      expect(await lost).to.deep.equal({ code: 'CONNECTION_CLOSED' });
      expect(await answered).to.deep.equal({ value: 'done' });
      clock.tick(10);
      FakeWebSocket.last.serverOpen();
      expect(sent(), 'neither settled request goes out again').to.deep.equal([]);
      clock.tick(1000);
      expect(drops, 'no ack-timeout drops for requests').to.deep.equal([]);
    });
  });

  describe('probed and found correct', () => {
    it('settles a request made in every state, and from open/close/state listeners, with pending exact and no timer left after the final close', async () => {
      const rpc = requests({ timeout: 1000 });
      const socket = await open({ use: [rpc] });
      const results: Record<string, Promise<Outcome>> = {};
      socket.on('open', () => (results.inOpen ??= outcome(rpc.request('in open'))));
      socket.on('close', () => (results.inClose ??= outcome(rpc.request('in close'))));
      socket.on('state', (s) => s === 'waiting' && (results.inWaiting ??= outcome(rpc.request('in waiting'))));
      results.connecting = outcome(rpc.request('connecting'));
      FakeWebSocket.last.serverOpen();
      results.open = outcome(rpc.request('open'));
      expect(sent().map((m) => m.request)).to.deep.equal(['connecting', 'in open', 'open']);
      FakeWebSocket.last.serverMessage(JSON.stringify({ re: 2, result: 'ok' }));
      socket.reconnect();
      results.closingForReconnect = outcome(rpc.request('closing (reconnect)'));
      clock.tick(10);
      FakeWebSocket.last.serverOpen();
      expect(sent().map((m) => m.request), 'what waited goes out on the next connection').to.deep.equal(['closing (reconnect)', 'in close']);
      FakeWebSocket.last.serverClose(1006);
      clock.tick(10);
      FakeWebSocket.last.serverOpen();
      expect(sent().map((m) => m.request)).to.deep.equal(['in waiting']);
      expect(rpc.pending).to.equal(1);
      const closing = socket.close();
      results.closingFinal = outcome(rpc.request('closing (final)'));
      expect(rpc.pending, 'a request after close() rejects at once, as send() throws').to.equal(1);
      clock.tick(10);
      await closing;
      results.closed = outcome(rpc.request('closed'));
      const settled: Record<string, Outcome> = {};
      for (const [name, result] of Object.entries(results)) settled[name] = await result;
      expect(settled).to.deep.equal({
        connecting: { code: 'CONNECTION_CLOSED' },
        inOpen: { value: 'ok' },
        open: { code: 'CONNECTION_CLOSED' },
        closingForReconnect: { code: 'CONNECTION_CLOSED' },
        inClose: { code: 'CONNECTION_CLOSED' },
        inWaiting: { code: 'CLOSED' },
        closingFinal: { code: 'CLOSED' },
        closed: { code: 'CLOSED' },
      });
      expect(rpc.pending).to.equal(0);
      expect(clock.countTimers()).to.equal(0);
    });

    it('removes its abort listener however a request settles (overflow, reply, timeout, connection lost, withdrawn, aborted) and withdraws a queued one on abort', async () => {
      const listeners = new Set<unknown>();
      const signal = {
        aborted: false,
        reason: undefined as unknown,
        addEventListener: (_type: string, fn: unknown) => listeners.add(fn),
        removeEventListener: (_type: string, fn: unknown) => listeners.delete(fn),
      };
      const abort = () => {
        signal.aborted = true;
        for (const fn of [...listeners]) (fn as () => void)();
      };
      const rpc = requests({ timeout: 100 });
      const socket = await open({ use: [rpc], maxMessages: 1, overflow: 'drop-oldest' });
      const options = { signal: signal as unknown as AbortSignal };
      const results = [outcome(rpc.request('a', options)), outcome(rpc.request('b', options))]; // b evicts a
      FakeWebSocket.last.serverOpen();
      results.push(outcome(rpc.request('c', options)));
      FakeWebSocket.last.serverMessage(JSON.stringify({ re: 2, result: 'B' }));
      clock.tick(100); // c times out
      results.push(outcome(rpc.request('d', options)));
      FakeWebSocket.last.serverClose(1006); // d lost
      results.push(outcome(rpc.request('e', options)));
      socket.clearOutbox(); // e withdrawn
      results.push(outcome(rpc.request('f', options)));
      expect(listeners.size).to.equal(1);
      abort(); // f, still queued
      expect(socket.queued, 'withdrawn on abort').to.deep.equal([]);
      expect(await Promise.all(results)).to.deep.equal([
        { code: 'QUEUE_OVERFLOW' },
        { value: 'B' },
        { code: 'REQUEST_TIMEOUT' },
        { code: 'CONNECTION_CLOSED' },
        { code: 'MESSAGE_WITHDRAWN' },
        { code: 'REQUEST_ABORTED' },
      ]);
      expect(listeners.size, 'no abort listener left').to.equal(0);
      expect(rpc.pending).to.equal(0);
    });

    it('swallows late, duplicate and unknown replies (never a message event) and throws INVALID_OPTION at once for a bad timeout', async () => {
      const rpc = requests({ timeout: 100 });
      const socket = await open({ use: [rpc] });
      const messages: Msg[] = [];
      socket.on('message', (m) => messages.push(m));
      FakeWebSocket.last.serverOpen();
      const late = outcome(rpc.request('a'));
      clock.tick(100);
      FakeWebSocket.last.serverMessage(JSON.stringify({ re: 1, result: 'late' }));
      const twice = outcome(rpc.request('b'));
      FakeWebSocket.last.serverMessage(JSON.stringify({ re: 2, result: 'first' }));
      FakeWebSocket.last.serverMessage(JSON.stringify({ re: 2, result: 'second' }));
      FakeWebSocket.last.serverMessage(JSON.stringify({ re: 99, result: 'unknown' }));
      expect(await late).to.deep.equal({ code: 'REQUEST_TIMEOUT' });
      expect(await twice).to.deep.equal({ value: 'first' });
      expect(messages).to.deep.equal([]);
      for (const timeout of [0, -1, NaN, 0.5, '100']) {
        expect(() => rpc.request('x', { timeout: timeout as number }), String(timeout)).to.throw().with.property('code', 'INVALID_OPTION');
      }
      expect(rpc.pending).to.equal(0);
    });

    it('reads a message as "not mine" when a reader throws: acks() id/ack/dedupe.id and requests() match (guide: readers that throw)', async () => {
      // Readers written for one kind of message throw on another (`m.ack.id` on a reply): the
      // message is then what it would be with the reader returning undefined, and nothing stops.
      const boom = (m: Msg, field: keyof Msg) => {
        if (m.data === 'odd' || m.request === 'odd' || m.result === 'odd' || m.ack === -1) throw new TypeError(`cannot read ${field}`);
        return m[field] as number | undefined;
      };
      const rpc = requests<Msg, Msg>({ match: (m) => (boom(m, 're') === undefined ? undefined : { id: m.re!, result: m.result }) });
      const socket = await open({
        use: [
          acks<Msg, Msg>({ id: (m) => boom(m, 'id'), ack: (m) => boom(m, 'ack'), dedupe: { id: (m) => boom(m, 'id') } }),
          rpc,
        ],
      });
      const messages: Msg[] = [];
      socket.on('message', (m) => messages.push(m));
      FakeWebSocket.last.serverOpen();
      const odd = outcome(socket.deliver({ id: 1, data: 'odd' }));
      await settleMicrotasks();
      expect(await odd, 'an id() that throws: no acknowledgement needed, done once written').to.deep.equal({ value: undefined });
      const acked = outcome(socket.deliver({ id: 2, data: 'x' }));
      FakeWebSocket.last.serverMessage(JSON.stringify({ ack: -1 })); // ack() throws: not an acknowledgement
      FakeWebSocket.last.serverMessage(JSON.stringify({ id: 5, data: 'odd' })); // dedupe.id() throws: delivered
      FakeWebSocket.last.serverMessage(JSON.stringify({ id: 5, data: 'odd' })); // and again (no id to remember)
      FakeWebSocket.last.serverMessage(JSON.stringify({ re: 1, result: 'odd' })); // match() throws: a message
      FakeWebSocket.last.serverMessage(JSON.stringify({ ack: 2 }));
      expect(await acked).to.deep.equal({ value: undefined });
      const reply = outcome(rpc.request('q'));
      FakeWebSocket.last.serverMessage(JSON.stringify({ re: 1, result: 'fine' }));
      expect(await reply).to.deep.equal({ value: 'fine' });
      expect(messages).to.deep.equal([{ ack: -1 }, { id: 5, data: 'odd' }, { id: 5, data: 'odd' }, { re: 1, result: 'odd' }]);
      expect(socket.state).to.equal('open');
    });

    it('resolves 200 concurrent application pings with one pong and leaves no hook or timer behind', async () => {
      const socket = await open({ use: [appPing()] });
      FakeWebSocket.last.serverOpen();
      const hooks = () => (socket as unknown as { _hooks: unknown[] })._hooks.length;
      const pings = Array.from({ length: 200 }, (_, i) => outcome(ping(socket, { timeout: i % 2 ? Infinity : 60_000 })));
      clock.tick(7);
      FakeWebSocket.last.serverMessage(JSON.stringify({ pong: 1 }));
      expect(new Set((await Promise.all(pings)).map((o) => JSON.stringify(o)))).to.deep.equal(new Set(['{"value":7}']));
      expect(hooks()).to.equal(1);
      expect(clock.countTimers()).to.equal(0);
    });
  });
});

describe('ping() over a real ws server on 127.0.0.1', () => {
  it('50 concurrent pings with payloads resolve; no pong times out; after close it is CLOSED', async () => {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false });
    await new Promise((resolve) => wss.once('listening', resolve));
    const port = (wss.address() as { port: number }).port;
    let answer = true;
    wss.on('connection', (s) => {
      s.on('ping', (data) => answer && s.pong(data));
      s.on('error', () => {});
    });
    const socket = new SteadySocket(`ws://127.0.0.1:${port}/`, { minDelay: 10, jitter: 0 });
    socket.on('error', () => {});
    try {
      await new Promise((resolve) => socket.once('open', resolve));
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => outcome(ping(socket, { data: `p${i}`, timeout: 5000 }))));
      expect(many.every((o) => 'value' in o)).to.equal(true);
      answer = false;
      expect(await outcome(ping(socket, { timeout: 50 }))).to.deep.equal({ code: 'PING_TIMEOUT' });
      await socket.close();
      expect(await outcome(ping(socket))).to.deep.equal({ code: 'CLOSED' });
    } finally {
      if (socket.state !== 'closed') await socket.close();
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
