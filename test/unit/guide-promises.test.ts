// Promises of docs/guide.md (and two of docs/migration.md) that an audit found untested: one
// test per promise, the promise quoted above it. Fake transport and fake clock, except the
// redirect test, which needs Node's real handshake (a node:http server on 127.0.0.1).
import { expect } from 'chai';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  acks,
  debug,
  pageSignals,
  ready,
  requests,
  SteadySocket,
  type CloseInfo,
  type ReadyContext,
  type ReconnectingInfo,
  type SteadySocketError,
  type SteadySocketOptions,
} from '../../src/index';
import { fakeOpener, useFakeClock } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';
import { FakeWindow } from '../support/fake-window';

/** Lets native promise callbacks run (the fake clock fakes only queueMicrotask). */
const settleMicrotasks = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('promises of the guide (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const open = fakeOpener<unknown, unknown>(kit, { minDelay: 100, maxDelay: 100, jitter: 0 });

  /** A client of `url` over the fake transport, tracked by the kit, its first attempt started. */
  async function openAt(url: string, options: SteadySocketOptions<unknown, unknown>): Promise<SteadySocket<unknown, unknown>> {
    const socket = kit.track(new SteadySocket<unknown, unknown>(url, { WebSocket: FakeWebSocket as never, ...options }));
    socket.on('error', () => {});
    await Promise.resolve(); // the first attempt
    return socket;
  }

  // guide §6: "`signal` is aborted when this connection is abandoned (closed, timed out or
  // superseded), for passing to `fetch` and the like."
  describe('the ready step\'s signal is aborted when its connection is abandoned', () => {
    /** A client whose ready step never settles, opened by the server; returns the step's context. */
    async function stuckInReady(options: SteadySocketOptions<unknown, unknown> = {}) {
      let context: ReadyContext<unknown, unknown> | undefined;
      const socket = await open({
        ...options,
        use: [
          ready((ctx) => {
            context = ctx;
            return new Promise<void>(() => {});
          }),
        ],
      });
      FakeWebSocket.last.serverOpen();
      expect(context, 'the step ran').to.not.equal(undefined);
      expect(context!.signal.aborted, 'not aborted while the step runs').to.equal(false);
      expect(socket.state).to.equal('connecting');
      return { socket, signal: context!.signal };
    }

    it('timed out: connectTimeout expires during the step', async () => {
      const { signal } = await stuckInReady({ connectTimeout: 1000 });
      kit.clock.tick(999);
      expect(signal.aborted).to.equal(false);
      kit.clock.tick(1);
      expect(signal.aborted).to.equal(true);
    });

    it('superseded: reconnect() during the step, at once (not when the closing handshake ends)', async () => {
      const { socket, signal } = await stuckInReady();
      let abortedWhenNextStarted: boolean | undefined;
      socket.on('state', (state) => state === 'connecting' && (abortedWhenNextStarted ??= signal.aborted));
      socket.reconnect();
      expect(signal.aborted, 'aborted when reconnect() is called').to.equal(true);
      kit.clock.tick(5); // the fake socket's closing handshake
      expect(FakeWebSocket.instances, 'the next attempt started').to.have.length(2);
      expect(abortedWhenNextStarted, 'aborted before the next attempt began').to.equal(true);
      expect(signal.aborted).to.equal(true);
    });

    it('closed by the app: close() during the step, at once (not when the closing handshake ends)', async () => {
      const { socket, signal } = await stuckInReady();
      const closed = socket.close();
      expect(signal.aborted, 'aborted when close() is called').to.equal(true);
      kit.clock.tick(5);
      await closed;
      expect(signal.aborted).to.equal(true);
    });

    it('closed by the server during the step', async () => {
      const { signal } = await stuckInReady();
      FakeWebSocket.last.serverClose(1001);
      expect(signal.aborted).to.equal(true);
    });
  });

  // guide §11: "The `debug(log?)` feature sends one line per lifecycle event (state changes, the
  // URL each attempt connects to, opens, closes, retries, drops, errors) and per decision of
  // another feature (a late heartbeat, sleep detection, the page going offline or into the
  // back/forward cache) to `log` (default `console.debug`), each starting with `[steadysocket]`."
  describe('debug() writes one line per lifecycle event and per feature decision', () => {
    const PREFIX = '[steadysocket] ';
    /** How many times each line was written, an error line counted by its code alone (its wording is not the promise). */
    const tally = (lines: string[]) => {
      const counts: Record<string, number> = {};
      for (const line of lines) {
        const key = line.replace(/^(\[steadysocket\] error [A-Z_]+):.*$/s, '$1');
        counts[key] = (counts[key] ?? 0) + 1;
      }
      return counts;
    };

    it('lifecycle: state changes, each attempt\'s URL, an open, closes, an error, retry waits and a drop', async () => {
      const lines: string[] = [];
      const socket = await open({ maxMessages: 1, overflow: 'drop-oldest', use: [debug((line) => lines.push(line))] });
      socket.send('a');
      socket.send('b'); // evicts 'a'
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1001);
      kit.clock.tick(100);
      FakeWebSocket.last.fail(); // fails before it opens: CONNECT_FAILED, then 1006
      expect(socket.state).to.equal('waiting');
      for (const line of lines) expect(line.startsWith(PREFIX), line).to.equal(true);
      // Every line written, each as many times as its event happened: nothing missing, nothing twice.
      expect(tally(lines)).to.deep.equal({
        [`${PREFIX}connecting to ws://example.test/`]: 2, // two attempts
        [`${PREFIX}dropped a queued message: overflow`]: 1,
        [`${PREFIX}state connecting -> open`]: 1,
        [`${PREFIX}open ws://example.test/`]: 1,
        [`${PREFIX}closed with 1001`]: 1,
        [`${PREFIX}state open -> waiting`]: 1,
        [`${PREFIX}retry 1 in 100 ms`]: 1,
        [`${PREFIX}state waiting -> connecting`]: 1,
        [`${PREFIX}error CONNECT_FAILED`]: 1,
        [`${PREFIX}closed with 1006`]: 1,
        [`${PREFIX}state connecting -> waiting`]: 1,
        [`${PREFIX}retry 2 in 100 ms`]: 1,
      });
    });

    it('page decisions: offline (while waiting and at a failure), back online, into the back/forward cache and out', async () => {
      const page = new FakeWindow();
      const lines: string[] = [];
      const socket = await open({ maxDelay: 20_000, use: [pageSignals(page), debug((line) => lines.push(line))] });
      FakeWebSocket.last.fail(); // waiting 100 ms
      page.navigator.onLine = false;
      page.dispatch('offline'); // holds the attempt
      page.navigator.onLine = true;
      page.dispatch('online'); // tries at once, failure count reset
      page.navigator.onLine = false;
      FakeWebSocket.last.fail(); // fails while offline: waits maxDelay
      kit.clock.tick(20_000); // the fallback attempt
      page.navigator.onLine = true;
      FakeWebSocket.last.serverOpen();
      page.dispatch('pagehide', { persisted: true });
      page.dispatch('pageshow', { persisted: true });
      expect(socket.state).to.equal('connecting');
      for (const line of lines) expect(line.startsWith(PREFIX), line).to.equal(true);
      const counts = tally(lines);
      for (const decision of [
        'offline: holding attempts until the network returns',
        'back online: trying at once',
        'offline: retry 1 in 20000 ms',
        'page hidden: waiting for it to be shown again',
        'waiting until woken',
        'page restored: trying at once',
      ]) {
        expect(counts[PREFIX + decision] ?? 0, decision).to.equal(1);
      }
    });
  });

  // guide §16, acks(): "`dedupe` remembers the last `window` incoming ids (default 1000); a message
  // with one of them is not delivered again."
  it('acks({ dedupe }) without a window remembers the last 1000 incoming ids', async () => {
    /** Whether id 0, received again after `between` other ids, is delivered the second time. */
    const deliveredAgainAfter = async (between: number) => {
      FakeWebSocket.reset();
      const socket = await open({ use: [acks({ id: () => undefined, ack: () => undefined, dedupe: { id: (m: unknown) => (m as { id: number }).id } })] });
      const got: number[] = [];
      socket.on('message', (m) => got.push((m as { id: number }).id));
      const ws = FakeWebSocket.last;
      ws.serverOpen();
      ws.serverMessage({ id: 0 });
      for (let id = 1; id <= between; id++) ws.serverMessage({ id });
      ws.serverMessage({ id: 0 });
      void socket.close();
      const first = got.slice(0, between + 1);
      expect(first, 'every id delivered once the first time').to.deep.equal(Array.from({ length: between + 1 }, (_, id) => id));
      expect(got.length, 'id 0 again: delivered or not').to.be.oneOf([between + 1, between + 2]);
      return got.length === between + 2;
    };
    // 999 ids between: the last 1000 ids are id 0 and those 999, so id 0 is remembered.
    expect(await deliveredAgainAfter(999), 'within the last 1000 ids: suppressed').to.equal(false);
    // 1000 ids between: id 0 is the 1001st most recent, forgotten.
    expect(await deliveredAgainAfter(1000), 'beyond the last 1000 ids: delivered again').to.equal(true);
  });

  // guide §16, requests(): "`wrap(id, data)` and `match(message) → { id, result?, error? }` speak any
  // other protocol. Replies are not emitted as `message` events."
  it('requests({ wrap, match }): wrap shapes what is written, and a reply match reads resolves the request', async () => {
    const rpc = requests({
      wrap: (id, data) => `CALL ${id} ${String(data)}`,
      match: (message: unknown) => {
        const reply = /^RET (\d+) (.*)$/.exec(String(message));
        return reply ? { id: Number(reply[1]), result: reply[2] } : undefined;
      },
    });
    const socket = await open({ use: [rpc] });
    const messages: unknown[] = [];
    socket.on('message', (m) => messages.push(m));
    FakeWebSocket.last.serverOpen();
    const answer = rpc.request('sum 1 2');
    expect(FakeWebSocket.last.sent).to.deep.equal(['CALL 1 sum 1 2']);
    FakeWebSocket.last.serverMessage('RET 1 3');
    await settleMicrotasks();
    expect(await Promise.race([answer, Promise.resolve('still pending')])).to.equal('3');
    expect(messages, 'the reply is not a message event').to.deep.equal([]);
  });

  // docs/migration.md (sockette): "sockette resets its count as soon as a connection opens; here
  // only after `stableAfter` ms (set `stableAfter: 0` for sockette's behaviour)".
  it('stableAfter: 0 resets the failure count on every open (1, 1, 1; the default 5000 counts 1, 2, 3)', async () => {
    const attempts = async (options: SteadySocketOptions<unknown, unknown>) => {
      FakeWebSocket.reset();
      const socket = await open(options);
      const seen: number[] = [];
      socket.on('close', (info) => seen.push(info.attempt));
      for (let i = 0; i < 3; i++) {
        FakeWebSocket.last.serverOpen();
        FakeWebSocket.last.serverClose(1006); // dropped the moment it opened
        kit.clock.tick(100);
      }
      void socket.close();
      return seen;
    };
    expect(await attempts({ stableAfter: 0 })).to.deep.equal([1, 1, 1]);
    expect(await attempts({})).to.deep.equal([1, 2, 3]);
  });

  // docs/migration.md (websocket-ts): "`withBuffer(new ArrayQueue())` (unbounded) | the outbox;
  // `maxMessages: Infinity, maxBytes: Infinity` for unbounded".
  it('maxMessages: Infinity, maxBytes: Infinity are accepted and queue past the default limits', async () => {
    const socket = await open({ maxMessages: Infinity, maxBytes: Infinity });
    const drops: unknown[] = [];
    socket.on('drop', (info) => drops.push(info.reason));
    const big = new Uint8Array(17 * 1024 * 1024); // above the default maxBytes of 16 MiB
    socket.send(big);
    for (let i = 0; i < 10_001; i++) socket.send(`m${i}`); // above the default maxMessages of 10 000
    expect(drops).to.deep.equal([]);
    expect(socket.queued).to.have.length(10_002);
    FakeWebSocket.last.serverOpen();
    expect(FakeWebSocket.last.sent).to.have.length(10_002);
    // A copy of its bytes (guide §5: a binary message that has to wait is copied).
    expect((FakeWebSocket.last.sent[0] as Uint8Array).byteLength).to.equal(big.byteLength);
  });

  // guide §12: "Errors and `debug` lines show a subprotocol longer than 24 characters by its length
  // only (`(71 characters, not shown)`); shorter ones [...] are shown as they are."
  it('PROTOCOL_NOT_NEGOTIATED shows a subprotocol of 24 characters as it is, one of 25 by its length only', async () => {
    const messageFor = async (offered: string) => {
      FakeWebSocket.reset();
      const socket = await open({ protocols: [offered], maxRetries: 0 });
      const errors: SteadySocketError[] = [];
      socket.on('error', (error) => errors.push(error));
      FakeWebSocket.last.serverOpen('other');
      const error = errors.find((e) => e.code === 'PROTOCOL_NOT_NEGOTIATED');
      expect(error, 'PROTOCOL_NOT_NEGOTIATED reported').to.not.equal(undefined);
      return error!.message;
    };
    const name24 = 'a'.repeat(24);
    const name25 = 'b'.repeat(25);
    const shown = await messageFor(name24);
    expect(shown).to.include(`"${name24}"`);
    expect(shown).to.not.include('characters, not shown');
    const hidden = await messageFor(name25);
    expect(hidden).to.include('(25 characters, not shown)');
    expect(hidden).to.not.include(name25);
  });

  // guide §3: "A URL on the machine itself (`localhost`, `127.x.x.x`, `[::1]`) needs no network, so
  // for it `navigator.onLine` is ignored."
  it('pageSignals(): navigator.onLine false holds no attempt to localhost, [::1] or 127.0.0.2, and holds one to another host', async () => {
    /** Whether an attempt to `url` that failed while offline is retried after minDelay (100 ms). */
    const retriedAtOnce = async (url: string) => {
      FakeWebSocket.reset();
      const page = new FakeWindow();
      page.navigator.onLine = false;
      const socket = await openAt(url, { minDelay: 100, maxDelay: 20_000, jitter: 0, use: [pageSignals(page)] });
      const waits: ReconnectingInfo[] = [];
      socket.on('reconnecting', (info) => waits.push(info));
      FakeWebSocket.last.fail();
      kit.clock.tick(100);
      const retried = FakeWebSocket.instances.length === 2;
      expect(waits.map((w) => w.offline), url).to.deep.equal([!retried]);
      void socket.close();
      return retried;
    };
    expect(await retriedAtOnce('ws://localhost:9/'), 'localhost').to.equal(true);
    expect(await retriedAtOnce('ws://[::1]:9/'), '[::1]').to.equal(true);
    expect(await retriedAtOnce('ws://127.0.0.2:9/'), '127.0.0.2').to.equal(true);
    expect(await retriedAtOnce('wss://example.org/'), 'a host on the network').to.equal(false);
  });

  // guide §14, "What 1006 means": "steadysocket itself abandoned the connection: [...] or a
  // `close()` whose closing handshake did not finish within `closeTimeout`." (§3's option table:
  // "ms `close()` and `reconnect()` wait for the closing handshake before dropping the socket".)
  describe('a closing handshake that does not finish within closeTimeout reports 1006, not clean', () => {
    /** A socket whose closing handshake never completes: close() only moves it to CLOSING. */
    class NeverClosing extends FakeWebSocket {
      override close(code?: number, reason?: string): void {
        this.closeCalls.push({ code, reason });
        if (this.readyState < FakeWebSocket.CLOSING) this.readyState = FakeWebSocket.CLOSING;
      }
    }

    async function openNeverClosing() {
      const socket = await open({ WebSocket: NeverClosing as never, closeTimeout: 1000 });
      const closes: CloseInfo[] = [];
      socket.on('close', (info) => closes.push(info));
      FakeWebSocket.last.serverOpen();
      return { socket, closes };
    }

    it('close()', async () => {
      const { socket, closes } = await openNeverClosing();
      const done = socket.close();
      kit.clock.tick(999);
      expect(closes, 'still waiting for the handshake').to.deep.equal([]);
      kit.clock.tick(1);
      await done;
      expect(closes.map((c) => ({ code: c.code, wasClean: c.wasClean }))).to.deep.equal([{ code: 1006, wasClean: false }]);
    });

    it('reconnect()', async () => {
      const { socket, closes } = await openNeverClosing();
      socket.reconnect();
      kit.clock.tick(999);
      expect(closes, 'still waiting for the handshake').to.deep.equal([]);
      kit.clock.tick(1);
      expect(closes.map((c) => ({ code: c.code, wasClean: c.wasClean }))).to.deep.equal([{ code: 1006, wasClean: false }]);
      expect(FakeWebSocket.instances, 'and it connects again').to.have.length(2);
    });
  });
});

// guide §14: "Node: HANDSHAKE_REJECTED with a 3xx status [...] With [followRedirects], the 3xx is one
// of two things. [...] Or a redirect without a `Location`, which cannot be followed
// (`error.redirects` is not set)."
describe('promises of the guide (Node, a real HTTP server on 127.0.0.1)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  });

  it('followRedirects: a 302 without Location fails with HANDSHAKE_REJECTED, status 302, no redirects field', async () => {
    server = createServer((_req, res) => res.writeHead(500).end());
    server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 302 Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const client = new SteadySocket(`ws://127.0.0.1:${port}/`, { followRedirects: true, maxRetries: 0, connectTimeout: 10_000 });
    const errors: SteadySocketError[] = [];
    const closes: CloseInfo[] = [];
    client.on('error', (error) => errors.push(error));
    client.on('close', (info) => closes.push(info));
    try {
      await new Promise<void>((resolve, reject) => {
        if (client.state === 'closed') return resolve();
        const timer = setTimeout(() => reject(new Error(`not closed within 15 s; errors: ${errors.map((e) => e.code).join(', ')}`)), 15_000);
        client.on('state', (state) => state === 'closed' && (clearTimeout(timer), resolve()));
      });
      const rejected = errors.find((e) => e.code === 'HANDSHAKE_REJECTED');
      expect(rejected, `HANDSHAKE_REJECTED among ${errors.map((e) => e.code).join(', ')}`).to.not.equal(undefined);
      expect(rejected!.status).to.equal(302);
      expect(rejected!, 'no redirects field').to.not.have.property('redirects');
      expect(closes.map((c) => c.status)).to.deep.equal([302]);
    } finally {
      await client.close();
    }
  });
});
