// Review of the API reference (TSDoc) against real ws servers on 127.0.0.1: what messages(),
// requests(), ping() and the ping/pong events promise, while a server closes gracefully
// mid-stream. Every server and client is closed; every wait is bounded.
import { expect } from 'chai';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { json, messages, ping, requests, SteadySocket, SteadySocketError } from '../../src/index';
import { until } from '../support/servers';

interface TestServer {
  url: string;
  wss: WebSocketServer;
  connections: ServerSocket[];
  close(): Promise<void>;
}

async function startServer(onConnection: (socket: ServerSocket, index: number) => void): Promise<TestServer> {
  const http: Server = createServer();
  const wss = new WebSocketServer({ server: http });
  const connections: ServerSocket[] = [];
  wss.on('connection', (socket) => {
    socket.on('error', () => {});
    connections.push(socket);
    onConnection(socket, connections.length - 1);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`,
    wss,
    connections,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
    },
  };
}

const FAST = { minDelay: 20, maxDelay: 50, jitter: 0 } as const;

describe('API reference (TSDoc), reviewed against real ws servers', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('messages(): the loop survives a graceful 1001 close mid-stream, gets every message once and in order, and ends after close()', async () => {
    // The first connection streams 0..49 and closes with 1001 after 25; the next one streams the rest.
    const server = await startServer((socket, index) => {
      const from = index === 0 ? 0 : 25;
      const to = index === 0 ? 25 : 50;
      for (let i = from; i < to; i++) socket.send(`n${i}`);
      if (index === 0) socket.close(1001, 'deploy');
    });
    cleanup.push(() => server.close());
    const client = new SteadySocket<string, string>(server.url, { ...FAST, binaryType: 'nodebuffer' });
    client.on('error', () => {});
    cleanup.push(() => client.close());
    const got: string[] = [];
    const loop = (async () => {
      for await (const message of messages(client)) {
        got.push(String(message));
        await new Promise((resolve) => setTimeout(resolve, 1)); // a body that awaits: later messages buffer
        if (got.length === 50) void client.close();
        if (got.length > 60) break; // bounded
      }
      return 'ended';
    })();
    const ended = await Promise.race([loop, new Promise((resolve) => setTimeout(() => resolve('timed out'), 5000))]);
    expect(ended).to.equal('ended');
    expect(got).to.deep.equal(Array.from({ length: 50 }, (_, i) => `n${i}`));
    expect(server.connections).to.have.length(2);
  });

  it('requests(): one in flight when the server closes gracefully rejects with CONNECTION_CLOSED; with resend it is answered on the next connection', async () => {
    // The first connection takes both requests and closes with 1001 without answering; later ones answer.
    const server = await startServer((socket, index) => {
      socket.on('message', (data) => {
        const { id, request } = JSON.parse(String(data)) as { id: number; request: string };
        if (index === 0) {
          if (request === 'second') socket.close(1001, 'deploy');
          return;
        }
        socket.send(JSON.stringify({ re: id, result: `done ${request}` }));
      });
    });
    cleanup.push(() => server.close());
    const rpc = requests();
    const client = new SteadySocket(server.url, { ...FAST, codec: json(), use: [rpc] });
    client.on('error', () => {});
    cleanup.push(() => client.close());
    await new Promise<void>((resolve) => client.once('open', () => resolve()));
    const once = rpc.request('first').then(
      () => 'resolved',
      (error: SteadySocketError) => error.code,
    );
    const again = rpc.request('second', { resend: true });
    expect(await once).to.equal('CONNECTION_CLOSED');
    expect(await again).to.equal('done second');
    expect(rpc.pending).to.equal(0);
    expect(server.connections).to.have.length(2);
  });

  it('ping(): a protocol ping with data ends at the pong that echoes it; the pong event sees it; CONNECTION_CLOSED once the server closed', async () => {
    const server = await startServer(() => {});
    cleanup.push(() => server.close());
    const client = new SteadySocket(server.url, { ...FAST });
    client.on('error', () => {});
    cleanup.push(() => client.close());
    const pongs: string[] = [];
    client.on('pong', (data) => pongs.push(Buffer.from(data).toString()));
    await new Promise<void>((resolve) => client.once('open', () => resolve()));
    const rtt = await ping(client, { data: 'probe-1', timeout: 2000 });
    expect(rtt).to.be.a('number').and.at.least(0);
    expect(pongs).to.deep.equal(['probe-1']);
    // Too long a payload throws at once, whatever the state.
    expect(() => ping(client, { data: 'x'.repeat(126) })).to.throw(SteadySocketError).with.property('code', 'INVALID_OPTION');
    server.connections[0].close(1001);
    await until(() => client.state !== 'open', 2000, 'the server close');
    const closed = await ping(client).then(
      () => 'resolved',
      (error: SteadySocketError) => error.code,
    );
    expect(closed).to.equal('CONNECTION_CLOSED');
  });
});
