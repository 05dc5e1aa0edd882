import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { json, stats, SteadySocket, SteadySocketError, type CloseInfo } from '../../src/index';
import { startHostileServer, type HostileServer } from '../fault/hostile';
import { sleep, startEchoServer, until, type EchoServer } from '../support/servers';

describe('SteadySocket against a real ws server on loopback', function () {
  this.timeout(30_000);
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function server(options?: Parameters<typeof startEchoServer>[0]): Promise<EchoServer> {
    const s = await startEchoServer(options);
    cleanup.push(() => s.close());
    return s;
  }

  function client<In = unknown, Out = unknown>(url: string, options: ConstructorParameters<typeof SteadySocket<In, Out>>[1] = {}) {
    const socket = new SteadySocket<In, Out>(url, options);
    socket.on('error', () => {});
    cleanup.push(() => socket.close());
    return socket;
  }

  it('echoes text and binary', async () => {
    const s = await server();
    const counters = stats();
    const socket = client<string | ArrayBuffer, string | Uint8Array>(s.url, { use: [counters] });
    const got: (string | ArrayBuffer)[] = [];
    socket.on('message', (m) => got.push(m));
    socket.send('hello');
    socket.send(new Uint8Array([1, 2, 3]));
    await until(() => got.length === 2);
    expect(got[0]).to.equal('hello');
    expect(got[1]).to.be.instanceOf(ArrayBuffer);
    expect([...new Uint8Array(got[1] as ArrayBuffer)]).to.deep.equal([1, 2, 3]);
    expect(counters.snapshot()).to.include({ messagesIn: 2, messagesOut: 2, bytesIn: 8, bytesOut: 8 });
  });

  it('uses the codec of the subprotocol the server picked (the 2nd offered)', async () => {
    const s = await server({ handleProtocols: (offered) => [...offered][1] ?? false });
    const upper = { encode: (v: unknown) => `RAW:${String(v)}`, decode: (d: unknown) => `raw<${String(d)}>` };
    const socket = client(s.url, { protocols: ['chat.raw', 'chat.v2+json'], codecs: { 'chat.raw': upper, 'chat.v2+json': json() } });
    const got: unknown[] = [];
    socket.on('message', (m) => got.push(m));
    socket.send({ text: 'queued before open' });
    await until(() => got.length === 1);
    expect(socket.protocol).to.equal('chat.v2+json');
    expect(s.connections[0].protocol).to.equal('chat.v2+json');
    expect(s.connections[0].messages).to.deep.equal(['{"text":"queued before open"}']);
    expect(got).to.deep.equal([{ text: 'queued before open' }]);
  });

  it('reports a server that picks an unoffered subprotocol as PROTOCOL_NOT_NEGOTIATED and stops', async () => {
    const hostile = await startHostileServer('unoffered-protocol');
    cleanup.push(() => hostile.close());
    const socket = client(hostile.url, { protocols: ['a', 'b'], minDelay: 10 });
    const errors: SteadySocketError[] = [];
    socket.on('error', (e) => errors.push(e));
    await until(() => socket.state === 'closed');
    expect(errors.map((e) => e.code)).to.deep.equal(['PROTOCOL_NOT_NEGOTIATED']);
    await sleep(100);
    expect(hostile.connections).to.have.length(1);
  });

  it('queues what a close listener sends (the socket is gone, the state not yet left open) and delivers it after reconnecting', async () => {
    const s = await server({ echo: false });
    const counters = stats();
    const socket = client<string, string>(s.url, { minDelay: 20, maxDelay: 20, jitter: 0, use: [counters] });
    await new Promise((resolve) => socket.once('open', resolve));
    let queuedInListener = -1;
    socket.once('close', () => {
      socket.send('sent from a close listener');
      queuedInListener = counters.snapshot().queued;
    });
    s.connections[0].socket.terminate();
    await until(() => s.connections.length === 2 && s.connections[1].messages.length === 1, 5000, 'the message on the new connection');
    expect(queuedInListener).to.equal(1);
    expect(s.connections[0].messages).to.deep.equal([]);
    expect(s.connections[1].messages).to.deep.equal(['sent from a close listener']);
  });

  it('resolves flushed() once everything was written, even when every connection closes within a few ms of opening', async () => {
    // The server closes each connection (1000) as soon as it is open, so no connection lives as
    // long as the 10 ms drain poll. flushed() used to wait for a poll on an open connection, and
    // so forever: a pipe that ends and awaits flushed() before close() reconnected without end.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    cleanup.push(() => new Promise((resolve) => wss.close(resolve)));
    let connections = 0;
    wss.on('connection', (ws) => {
      connections++;
      ws.close(1000);
    });
    const socket = client<string, string>(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, { minDelay: 20, maxDelay: 20, jitter: 0 });
    socket.send('a');
    socket.send('b');
    let flushedAfter = -1;
    const flushed = socket.flushed().then(() => {
      flushedAfter = connections;
    });
    await Promise.race([flushed, sleep(2000)]);
    // Resolved as the first connection ended: both were written to it (the server closed at once
    // and may never read them: without acks(), written is as far as the client can vouch).
    expect(flushedAfter, 'connections made when flushed() resolved (-1: not within 2 s)').to.equal(1);
    expect(socket.queued).to.deep.equal([]);
  });

  it('abandons a handshake that never completes after connectTimeout and retries', async () => {
    const hostile: HostileServer = await startHostileServer('no-handshake');
    cleanup.push(() => hostile.close());
    const socket = client(hostile.url, { connectTimeout: 300, minDelay: 50, maxDelay: 50 });
    const errors: string[] = [];
    socket.on('error', (e) => errors.push(e.code));
    await until(() => hostile.connections.length >= 2, 3000, 'a second attempt');
    expect(errors[0]).to.equal('CONNECT_TIMEOUT');
    expect(hostile.connections[1] - hostile.connections[0]).to.be.at.least(300);
  });

  it('loses nothing queued across ten server restarts while sending every 10 ms', async () => {
    const s = await server({ echo: false });
    const socket = client<string, string>(s.url, { minDelay: 20, maxDelay: 100, stableAfter: 100 });
    let seq = 0;
    const queuedWhileDown = new Set<number>();
    const sender = setInterval(() => {
      const n = seq++;
      if (socket.state !== 'open') queuedWhileDown.add(n);
      socket.send(String(n));
    }, 10);
    cleanup.push(() => clearInterval(sender));
    await until(() => socket.state === 'open');
    for (let restart = 0; restart < 10; restart++) {
      await sleep(150);
      await s.kill();
      await sleep(120);
      await s.start();
      await until(() => socket.state === 'open', 5000, `reconnect ${restart + 1}`);
    }
    await sleep(150);
    clearInterval(sender);
    await socket.flushed();
    await until(() => s.connections.flatMap((c) => c.messages).length >= seq - 50, 3000, 'last messages');
    await sleep(100);

    const received = s.connections.flatMap((c) => c.messages.map(Number));
    const duplicates = received.length - new Set(received).size;
    let reordered = 0;
    for (let i = 1; i < received.length; i++) if (received[i] <= received[i - 1]) reordered++;
    const got = new Set(received);
    const lostQueued = [...queuedWhileDown].filter((n) => !got.has(n));
    const lostInFlight = Array.from({ length: seq }, (_, n) => n).filter((n) => !got.has(n) && !queuedWhileDown.has(n));
    console.log(
      `      restarts: 10, connections: ${s.connections.length}, sent: ${seq}, received: ${received.length}, ` +
        `queued while down: ${queuedWhileDown.size}, lost of those: ${lostQueued.length}, ` +
        `duplicated: ${duplicates}, reordered: ${reordered}, lost in flight: ${lostInFlight.length}`,
    );
    expect(s.connections.length).to.equal(11);
    expect(queuedWhileDown.size).to.be.greaterThan(20);
    expect(lostQueued).to.deep.equal([]);
    expect(duplicates).to.equal(0);
    expect(reordered).to.equal(0);
  });

  describe('close codes follow the documented table', () => {
    for (const [code, reconnects] of [
      [1000, true],
      [1001, true],
      [1011, true],
      [1012, true],
      [1013, true],
      [4000, true],
      [1003, false],
      [1007, false],
      [1008, false],
      [1009, false],
    ] as const) {
      it(`${reconnects ? 'reconnects' : 'stops'} after the server closes with ${code}`, async () => {
        const s = await server();
        const socket = client(s.url, { minDelay: 10, maxDelay: 10 });
        const closes: CloseInfo[] = [];
        socket.on('close', (info) => closes.push(info));
        await until(() => s.connections.length === 1 && socket.state === 'open');
        s.connections[0].socket.close(code, 'bye');
        await until(() => closes.length === 1);
        expect(closes[0]).to.include({ code, reason: 'bye', wasClean: true });
        if (reconnects) {
          await until(() => s.connections.length === 2 && socket.state === 'open');
        } else {
          await until(() => socket.state === 'closed');
          await sleep(100);
          expect(s.connections).to.have.length(1);
        }
      });
    }

    it('lets shouldReconnect override the table', async () => {
      const s = await server();
      const seen: number[] = [];
      const socket = client(s.url, { minDelay: 10, shouldReconnect: (info) => (seen.push(info.code), info.code !== 1001) });
      await until(() => socket.state === 'open');
      s.connections[0].socket.close(1001);
      await until(() => socket.state === 'closed');
      expect(seen).to.deep.equal([1001]);
    });
  });

  describe('close() in every state lets a child process exit by itself', () => {
    const fixture = fileURLToPath(new URL('./fixtures/close-in-state.ts', import.meta.url));

    function runChild(url: string, state: string): Promise<{ code: number | null; ms: number; out: string }> {
      const started = Date.now();
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, url, state], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      return new Promise((resolve) =>
        child.on('exit', (code) => {
          clearTimeout(killer);
          resolve({ code, ms: Date.now() - started, out });
        }),
      );
    }

    it('open, closing', async () => {
      const s = await server();
      for (const state of ['open', 'closing']) {
        const result = await runChild(s.url, state);
        expect(result.code, result.out).to.equal(0);
        expect(result.out).to.contain(`closed from ${state}: closed`);
      }
    });

    it('connecting (server never answers the handshake)', async () => {
      const hostile = await startHostileServer('no-handshake');
      cleanup.push(() => hostile.close());
      const result = await runChild(hostile.url, 'connecting');
      expect(result.code, result.out).to.equal(0);
      expect(hostile.connections.length).to.be.at.most(1);
    });

    it('waiting (server down, a 60 s backoff pending)', async () => {
      const s = await server();
      const url = s.url;
      await s.kill();
      const result = await runChild(url, 'waiting');
      expect(result.code, result.out).to.equal(0);
      expect(result.out).to.contain('closed from waiting');
    });
  });

  it('throws typed errors for bad input at once, without connecting', async () => {
    const s = await server();
    const attempts = () => s.connections.length;
    expect(() => new SteadySocket('gopher://127.0.0.1/')).to.throw(SteadySocketError).with.property('code', 'INVALID_URL');
    expect(() => new SteadySocket(`${s.url}#x`)).to.throw(SteadySocketError).with.property('code', 'INVALID_URL');
    expect(() => new SteadySocket(s.url, { protocols: ['x y'] })).to.throw(SteadySocketError).with.property('code', 'INVALID_PROTOCOL');
    expect(() => new SteadySocket(s.url, { protocols: ['x', 'x'] })).to.throw(SteadySocketError).with.property('code', 'INVALID_PROTOCOL');
    const socket = client(s.url);
    expect(() => socket.send(Symbol('nope') as never)).to.throw(SteadySocketError).with.property('code', 'INVALID_MESSAGE');
    await socket.close();
    expect(() => socket.send('late')).to.throw(SteadySocketError).with.property('code', 'CLOSED');
    expect(() => socket.deliver('late')).to.throw(SteadySocketError).with.property('code', 'CLOSED');
    expect(() => socket.reconnect()).to.throw(SteadySocketError).with.property('code', 'CLOSED');
    await sleep(50);
    expect(attempts()).to.be.at.most(1);
  });
});
