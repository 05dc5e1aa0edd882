// Review of guide section 15 and README.md against real servers on 127.0.0.1: closeTimeout's
// default and its Infinity measured against a server that never answers the client's close frame
// (the guide: "ms close() and reconnect() wait for the closing handshake before dropping the
// socket"; "Infinity: wait as long as it takes"), and perMessageDeflate's default (false).
import { expect } from 'chai';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { SteadySocket, type SteadySocketError, type SteadySocketOptions } from '../../src/index';
import { acceptFor, onClientFrames, Opcode, readRequestHead, switchingProtocols } from '../fault/hostile';

interface SilentServer {
  url: string;
  /** When the client's close frame arrived (performance.now()), per connection. */
  closeFrames: number[];
  close(): Promise<void>;
}

/**
 * Completes the handshake, then never answers a close frame; ends TCP `endAfterMs` after the
 * client's close frame (Infinity: never, until the test closes the server).
 */
async function startSilentServer(endAfterMs = Infinity): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const closeFrames: number[] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    readRequestHead(socket, (request, rest) => {
      socket.write(switchingProtocols({ accept: acceptFor(request.headers['sec-websocket-key'] ?? '') }));
      onClientFrames(socket, rest, (frame) => {
        if (frame.opcode !== Opcode.close) return;
        closeFrames.push(performance.now());
        if (endAfterMs !== Infinity) {
          const timer = setTimeout(() => {
            timers.delete(timer);
            socket.destroy();
          }, endAfterMs);
          timers.add(timer);
        }
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    closeFrames,
    close() {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('guide section 15 and README against real servers (review)', function () {
  this.timeout(20_000);
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const undo of cleanup.splice(0).reverse()) await undo();
  });

  /** A client of `url`, closed after the test; its first open awaited. */
  async function openClient(url: string, options: SteadySocketOptions = {}): Promise<SteadySocket> {
    const socket = new SteadySocket(url, options);
    socket.on('error', () => {});
    cleanup.push(() => socket.close());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('did not open within 5 s')), 5000);
      socket.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return socket;
  }

  it('closeTimeout default 3000: close() against a server that never answers the close frame settles at about 3 s (not ws\'s 30 s), and the client is closed', async () => {
    const server = await startSilentServer();
    cleanup.push(() => server.close());
    const socket = await openClient(server.url);
    const started = performance.now();
    const closes: { code: number; wasClean: boolean }[] = [];
    socket.on('close', (info) => closes.push(info));
    await socket.close();
    const took = performance.now() - started;
    expect(server.closeFrames, 'the close frame was sent').to.have.length(1);
    expect(took, 'ms close() took').to.be.within(2900, 3600);
    expect(socket.state).to.equal('closed');
    expect(closes).to.have.length(1);
    expect(closes[0].wasClean).to.equal(false);
  });

  it('closeTimeout Infinity ("wait as long as it takes"): close() waits for a server that ends TCP 4 s after the close frame, past the default 3 s', async () => {
    const server = await startSilentServer(4000);
    cleanup.push(() => server.close());
    const socket = await openClient(server.url, { closeTimeout: Infinity });
    const started = performance.now();
    let settled = false;
    const closing = socket.close().then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(settled, 'still waiting at 3.5 s').to.equal(false);
    expect(socket.state).to.equal('closing');
    await closing;
    expect(performance.now() - started, 'ms close() took').to.be.within(3900, 6000);
    expect(socket.state).to.equal('closed');
  });

  it('closeTimeout 0: close() against a server that never answers settles at once (well under a second)', async () => {
    const server = await startSilentServer();
    cleanup.push(() => server.close());
    const socket = await openClient(server.url, { closeTimeout: 0 });
    const started = performance.now();
    await socket.close();
    expect(performance.now() - started, 'ms close() took').to.be.below(500);
    expect(socket.state).to.equal('closed');
  });

  it('perMessageDeflate default false: the handshake offers no extension to a server that would accept it, and a 2 MiB binary message arrives whole as an ArrayBuffer', async () => {
    const http = createHttpServer();
    const wss = new WebSocketServer({ server: http, perMessageDeflate: true, maxPayload: 256 * 1024 * 1024 });
    let extensions: string | undefined;
    wss.on('connection', (ws, request) => {
      extensions = request.headers['sec-websocket-extensions'];
      ws.on('error', () => {});
      ws.send(Buffer.alloc(2 * 1024 * 1024, 7));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          for (const client of wss.clients) client.terminate();
          wss.close(() => http.close(() => resolve()));
        }),
    );
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`;
    const socket = new SteadySocket(url);
    socket.on('error', () => {});
    cleanup.push(() => socket.close());
    const message = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message within 5 s')), 5000);
      socket.once('message', (data) => {
        clearTimeout(timer);
        resolve(data);
      });
    });
    expect(extensions, 'no permessage-deflate offered').to.equal(undefined);
    expect(message).to.be.instanceOf(ArrayBuffer);
    expect((message as ArrayBuffer).byteLength).to.equal(2 * 1024 * 1024);
  });

  /** Answers every upgrade with a 302 back to itself (a redirect loop); counts the upgrades. */
  async function redirectLoop(): Promise<{ url: string; upgrades: () => number }> {
    const http: HttpServer = createHttpServer((_request, response) => response.writeHead(404).end());
    let upgrades = 0;
    let url = '';
    http.on('upgrade', (_request, socket) => {
      upgrades++;
      socket.on('error', () => {});
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${url}?hop=${upgrades}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/loop`;
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          http.closeAllConnections();
          http.close(() => resolve());
        }),
    );
    return { url, upgrades: () => upgrades };
  }

  /** The client's errors until it is closed (within `ms`). */
  async function errorsUntilClosed(socket: SteadySocket, ms: number): Promise<SteadySocketError[]> {
    const errors: SteadySocketError[] = [];
    socket.on('error', (error) => errors.push(error));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
      const check = (state: string) => {
        if (state !== 'closed') return;
        clearTimeout(timer);
        resolve();
      };
      socket.on('state', check);
    });
    return errors;
  }

  it('maxRedirects default 10: a redirect loop is followed 10 times and the 11th redirect fails the attempt with HANDSHAKE_REJECTED', async () => {
    const loop = await redirectLoop();
    const socket = new SteadySocket(loop.url, { followRedirects: true, maxRetries: 0 });
    cleanup.push(() => socket.close());
    const errors = await errorsUntilClosed(socket, 10_000);
    expect(loop.upgrades(), 'upgrade requests: the first and 10 redirects followed').to.equal(11);
    expect(errors[0]).to.include({ code: 'HANDSHAKE_REJECTED', status: 302, redirects: 10 });
  });

  it('maxRedirects Infinity: a redirect loop is followed until connectTimeout ends the attempt, and the client stops (no endless loop)', async () => {
    const loop = await redirectLoop();
    const socket = new SteadySocket(loop.url, { followRedirects: true, maxRedirects: Infinity, connectTimeout: 500, maxRetries: 0 });
    cleanup.push(() => socket.close());
    const errors = await errorsUntilClosed(socket, 10_000);
    expect(errors.map((e) => e.code)).to.deep.equal(['CONNECT_TIMEOUT', 'RETRIES_EXHAUSTED']);
    const seen = loop.upgrades();
    expect(seen, 'redirects were followed').to.be.above(11);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(loop.upgrades(), 'nothing follows the redirects once the attempt was abandoned').to.be.at.most(seen + 1);
  });
});
