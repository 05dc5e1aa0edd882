// Nothing of a long life stays on the heap: a client that reconnects hundreds of times keeps only
// its current socket; clients that were closed, with every feature, are collected whole; a signal
// that many deliver() and request() calls share holds no listener once they are done. Real ws
// servers on loopback; the garbage collector is asked to run (v8's gc, exposed at runtime) and
// weak references say what survived it.
import { expect } from 'chai';
import { getEventListeners, setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryObjects, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket, { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { acks, debug, heartbeat, isSteadySocketError, json, persist, ready, requests, SteadySocket, stats, ttl, type SteadySocketOptions } from '../../src/index';
import { fileStore } from '../../src/storage/file';
import { useReportedErrors } from '../support/fake-clock';
import { sleep, until } from '../support/servers';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Counts objects that are still on the heap. A FinalizationRegistry, not WeakRefs: a WeakRef
 * keeps its target alive until the end of the job that made it, and Node does not always end
 * that job between two awaits of a test.
 */
class Tracker {
  made = 0;
  private collected = 0;
  private readonly registry = new FinalizationRegistry<number>(() => this.collected++);
  track(value: object): void {
    this.made++;
    this.registry.register(value, this.made);
  }
  /** How many tracked objects survive the collector (its callbacks come a task later: given up to ~1 s). */
  async alive(): Promise<number> {
    for (let i = 0; i < 20 && this.collected < this.made; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.made - this.collected;
  }
}

/** A ws client class that tracks every socket it makes. */
function trackedWebSocket(tracker: Tracker): SteadySocketOptions['WebSocket'] {
  class Tracked extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      tracker.track(this);
    }
  }
  return Tracked as unknown as SteadySocketOptions['WebSocket'];
}

type Mode = 'echo' | 'ack' | 'reply' | 'kill-after-first' | 'close-after-first';

/** A ws server on 127.0.0.1 whose behaviour can change mid-test: echo, acknowledge, reply, or end each connection after its first message. */
async function server() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  const state = { mode: 'echo' as Mode, connections: 0, messages: 0 };
  wss.on('connection', (socket: ServerSocket) => {
    state.connections++;
    socket.on('error', () => {});
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      state.messages++;
      const text = data.toString();
      if (state.mode === 'kill-after-first') return socket.terminate();
      if (state.mode === 'close-after-first') return socket.close(1001, 'going away');
      if (state.mode === 'ack') {
        const { id } = JSON.parse(text) as { id: number };
        return socket.send(JSON.stringify({ ack: id }));
      }
      if (state.mode === 'reply') {
        const { id, request } = JSON.parse(text) as { id: number; request: unknown };
        return socket.send(JSON.stringify({ re: id, result: request }));
      }
      socket.send(data, { binary: isBinary });
    });
  });
  const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`;
  return {
    url,
    state,
    wss,
    close: () => {
      for (const client of wss.clients) client.terminate();
      return new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

type Msg = { id: number; body?: string; ack?: number; re?: number; result?: unknown };

describe('nothing of a long life stays on the heap (real ws servers, the collector run)', function () {
  this.timeout(60_000);
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  // After the cleanup above: what listeners throw while the clients close is still collected.
  const reported = useReportedErrors();

  for (const ending of ['kill-after-first', 'close-after-first'] as const) {
    it(`keeps only its current socket after 150 connections the server ended (${ending === 'kill-after-first' ? 'terminated' : 'closed with 1001'}), with every Node feature in use`, async () => {
      const srv = await server();
      cleanup.push(srv.close);
      srv.state.mode = ending;
      const sockets = new Tracker();
      const lines: string[] = [];
      const counters = stats();
      const rpc = requests<Msg, Msg>();
      const client = new SteadySocket<Msg, Msg>(srv.url, {
        WebSocket: trackedWebSocket(sockets) as never,
        codec: json<Msg, Msg>(),
        minDelay: 0,
        maxDelay: 0,
        use: [
          heartbeat({ interval: 1000, timeout: 1000 }),
          ready(async () => {}),
          ttl(60_000),
          counters,
          debug((line) => void (lines.length < 50 && lines.push(line))),
          rpc,
          acks<Msg, Msg>({ id: (m) => m.id, ack: (m) => m.ack }),
        ],
      });
      cleanup.push(() => client.close());
      client.on('error', () => {});
      let n = 0;
      // Each connection gets a message (which ends it); what was unacknowledged is sent again on the next.
      client.on('open', () => client.send({ id: n++, body: 'x'.repeat(64) }));
      await until(() => srv.state.connections >= 150, 30_000, '150 connections');
      srv.state.mode = 'ack';
      await until(() => client.state === 'open' && client.queued.length === 0, 10_000, 'open again with nothing queued');
      await client.flushed();
      expect(sockets.made, 'sockets made').to.be.at.least(150);
      // The open one; a socket that is still closing (its close frame sent) may be a second.
      expect(await sockets.alive(), `sockets still on the heap of ${sockets.made}`).to.be.at.most(2);
      expect(counters.snapshot().reconnects, 'the client reconnected each time').to.be.at.least(149);
      expect(reported, 'nothing thrown by a listener').to.deep.equal([]);
    });
  }

  it('lets 60 closed clients go, with their sockets, features and file stores', async () => {
    const srv = await server();
    cleanup.push(srv.close);
    srv.state.mode = 'ack';
    const dir = mkdtempSync(join(tmpdir(), 'steadysocket-leaks-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const clients = new Tracker();
    const sockets = new Tracker();
    // Each client lives in a function of its own: no variable of this test's frame refers to it.
    async function life(i: number): Promise<void> {
      const client = new SteadySocket<Msg, Msg>(srv.url, {
        WebSocket: trackedWebSocket(sockets) as never,
        codec: json<Msg, Msg>(),
        use: [
          heartbeat({ interval: 1000, timeout: 1000 }),
          ready(async () => {}),
          ttl(60_000),
          stats(),
          requests<Msg, Msg>(),
          acks<Msg, Msg>({ id: (m) => m.id, ack: (m) => m.ack }),
          persist(fileStore(join(dir, `outbox-${i % 3}.json`))),
        ],
      });
      client.on('error', () => {});
      clients.track(client);
      client.send({ id: i });
      await client.flushed();
      await client.close();
    }
    for (let i = 0; i < 60; i++) await life(i);
    expect(sockets.made, 'sockets made').to.equal(60);
    expect(await clients.alive(), 'clients still on the heap').to.equal(0);
    expect(await sockets.alive(), 'sockets still on the heap').to.equal(0);
    expect(reported).to.deep.equal([]);
  });

  it('lets clients whose constructor threw go (a feature had taken the client before another refused it)', async () => {
    const srv = await server();
    cleanup.push(srv.close);
    const dir = mkdtempSync(join(tmpdir(), 'steadysocket-leaks-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'outbox.json');
    const holder = new SteadySocket<Msg, Msg>(srv.url, { codec: json<Msg, Msg>(), use: [persist(fileStore(path))] });
    cleanup.push(() => holder.close());
    holder.on('error', () => {});
    // The client of a constructor that threw has no reference to track: the heap is counted
    // instead (v8.queryObjects, experimental in Node 20 and 22: it prints a warning once).
    const count = () => queryObjects(SteadySocket, { format: 'count' }) as number;
    /** Collects until what earlier tests left is gone: their clients can only go, not come. */
    const settle = async () => {
      for (let i = 0; i < 4; i++) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await settle();
    const before = count();
    let refused = 0;
    for (let i = 0; i < 20; i++) {
      try {
        // requests() takes the client; persist() then refuses it: the store's key is the holder's.
        new SteadySocket<Msg, Msg>(srv.url, { codec: json<Msg, Msg>(), use: [requests<Msg, Msg>(), persist(fileStore(path))] });
      } catch (error) {
        if (isSteadySocketError(error) && error.code === 'INVALID_OPTION') refused++;
      }
    }
    expect(refused, 'each constructor threw INVALID_OPTION').to.equal(20);
    await settle();
    // At most as many as before (a client of an earlier test may have gone meanwhile); the 20 that
    // threw, held by the shared options, came on top before the fix.
    expect(count(), 'clients on the heap, against before').to.be.at.most(before);
  });

  it('leaves no listener on a signal shared by 300 deliver() calls (written at once, queued then written, withdrawn) and 100 request() calls', async () => {
    const srv = await server();
    cleanup.push(srv.close);
    const shared = new AbortController();
    // The guide's advice for a signal shared by more than ten waiting messages, in Node.
    setMaxListeners(1000, shared.signal);
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    cleanup.push(() => process.off('warning', onWarning));
    const rpc = requests<Msg, Msg>();
    const client = new SteadySocket<Msg, Msg>(srv.url, { codec: json<Msg, Msg>(), minDelay: 0, maxDelay: 0, use: [rpc] });
    cleanup.push(() => client.close());
    client.on('error', () => {});
    // Queued before the first connection, then written when it opens.
    // Ids from 10,000: the server's replies to requests (ids from 1) must not meet them.
    const early = Array.from({ length: 100 }, (_, i) => client.deliver({ id: 10_000 + i }, { signal: shared.signal }));
    expect(getEventListeners(shared.signal, 'abort').length, 'a queued message watches its signal').to.equal(100);
    await Promise.all(early);
    // Written at once.
    for (let i = 100; i < 200; i++) await client.deliver({ id: 10_000 + i }, { signal: shared.signal });
    await until(() => srv.state.messages === 200, 5000, 'the server has the 200 messages');
    srv.state.mode = 'reply';
    for (let i = 0; i < 100; i++) expect(await rpc.request<number>(i, { signal: shared.signal })).to.equal(i);
    expect(getEventListeners(shared.signal, 'abort').length, 'after deliveries and requests').to.equal(0);
    // Withdrawn by their own signals while queued: the shared one is not touched by them, and
    // each of their own is left without a listener.
    const own = Array.from({ length: 100 }, () => new AbortController());
    client.reconnect();
    const withdrawn = own.map((controller, i) => client.deliver({ id: 20_000 + i }, { signal: controller.signal }).catch((error: { code: string }) => error.code));
    for (const controller of own) controller.abort();
    expect(new Set(await Promise.all(withdrawn))).to.deep.equal(new Set(['MESSAGE_WITHDRAWN']));
    for (const controller of own) expect(getEventListeners(controller.signal, 'abort').length).to.equal(0);
    expect(getEventListeners(shared.signal, 'abort').length).to.equal(0);
    await sleep(0);
    expect(warnings, 'no MaxListenersExceededWarning with the limit raised').to.not.include('MaxListenersExceededWarning');
    expect(reported).to.deep.equal([]);
  });
});
