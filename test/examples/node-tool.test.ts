// Keeps examples/node-tool/tail.mjs working: NDJSON out, --max, reconnects, clean exit on signals.
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { Child, eventually, requireDist } from './support';

const TAIL = 'examples/node-tool/tail.mjs';

interface Line {
  t: number;
  type: string;
  [field: string]: unknown;
}

/** Every stdout line must be a JSON object with a time and a type. */
function parseLines(stdout: string): Line[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((text) => {
      const line = JSON.parse(text) as Line;
      expect(line.t, text).to.be.a('number');
      expect(line.type, text).to.be.a('string');
      return line;
    });
}

interface Feed {
  url: string;
  /** Close codes of the connections that ended, in order. */
  closes: number[];
  /** Messages received from clients. */
  received: string[];
  connections: number;
  close(): Promise<void>;
}

/** A feed on 127.0.0.1 that sends `{"n":1}`, `{"n":2}`, … every 20 ms to each connection. */
async function startFeed(
  options: { onConnection?: (socket: ServerSocket, index: number) => void; verify?: (request: IncomingMessage) => number } = {},
): Promise<Feed> {
  const http: Server = createServer();
  const wss = new WebSocketServer({
    server: http,
    verifyClient: options.verify
      ? (info: { req: IncomingMessage }, done: (ok: boolean, status?: number) => void) => {
          const status = options.verify!(info.req);
          done(status === 101, status);
        }
      : undefined,
  });
  const feed: Feed = {
    url: '',
    closes: [],
    received: [],
    connections: 0,
    async close() {
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  wss.on('connection', (socket) => {
    const index = feed.connections++;
    let n = 0;
    const timer = setInterval(() => socket.send(JSON.stringify({ n: ++n })), 20);
    socket.on('message', (data) => feed.received.push(String(data)));
    socket.on('close', (code) => {
      clearInterval(timer);
      feed.closes.push(code);
    });
    socket.on('error', () => {});
    options.onConnection?.(socket, index);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  feed.url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/feed`;
  return feed;
}

describe('examples/node-tool/tail.mjs', function () {
  this.timeout(30_000);
  let feed: Feed | undefined;
  let child: Child | undefined;

  before(() => requireDist('index.js'));

  afterEach(async () => {
    await child?.stop();
    await feed?.close();
    child = feed = undefined;
  });

  it('prints N messages as NDJSON with --max N and exits 0', async () => {
    feed = await startFeed();
    child = new Child([TAIL, '--max', '3', feed.url]);
    const exit = await child.waitForExit(10_000);
    expect(exit, child.output()).to.deep.equal({ code: 0, signal: null });

    const lines = parseLines(child.stdout);
    const messages = lines.filter((line) => line.type === 'message');
    expect(messages.map((line) => line.data)).to.deep.equal(['{"n":1}', '{"n":2}', '{"n":3}']);
    expect(lines[0]).to.include({ type: 'open', url: feed.url, attempt: 0 });
    expect(lines.at(-2)).to.include({ type: 'exit', reason: 'max', messages: 3 });
    expect(lines.at(-1)).to.include({ type: 'close', code: 1000 });
    await eventually(2000, 'the server to see the close', () => feed!.closes.length > 0);
    expect(feed.closes).to.deep.equal([1000]);
  });

  it('decodes JSON with --json and resubscribes with --send on every connection', async () => {
    feed = await startFeed({
      onConnection: (socket, index) => {
        if (index === 0) setTimeout(() => socket.close(1012, 'restart'), 50);
      },
    });
    child = new Child([TAIL, '--json', '--max', '4', '--send', '{"subscribe":"ticks"}', feed.url]);
    const exit = await child.waitForExit(10_000);
    expect(exit, child.output()).to.deep.equal({ code: 0, signal: null });

    const lines = parseLines(child.stdout);
    const types = lines.map((line) => line.type);
    expect(types.slice(0, 1)).to.deep.equal(['open']);
    const closeAt = types.indexOf('close');
    expect(types.slice(closeAt, closeAt + 3), child.stdout).to.deep.equal(['close', 'reconnecting', 'open']);
    expect(lines[closeAt]).to.include({ code: 1012, reason: 'restart' });
    expect(lines[closeAt + 1]).to.include({ attempt: 1 });
    expect(lines[closeAt + 1].delay).to.be.a('number');
    // JSON decoded: data is an object, not a string.
    const data = lines.filter((line) => line.type === 'message').map((line) => line.data);
    expect(data).to.have.length(4);
    for (const value of data) expect(value).to.have.property('n').that.is.a('number');
    expect(feed.received).to.deep.equal(['{"subscribe":"ticks"}', '{"subscribe":"ticks"}']);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`closes the socket cleanly and exits 0 on ${signal}`, async () => {
      feed = await startFeed();
      child = new Child([TAIL, feed.url]);
      await child.waitFor(/"type":"message"/);
      child.process.kill(signal);
      const exit = await child.waitForExit(5000);
      expect(exit, child.output()).to.deep.equal({ code: 0, signal: null });
      const lines = parseLines(child.stdout);
      expect(lines.at(-2)).to.include({ type: 'exit', reason: signal });
      expect(lines.at(-1)).to.include({ type: 'close', code: 1000 });
      await eventually(2000, 'the server to see the close', () => feed!.closes.length > 0);
      expect(feed.closes).to.deep.equal([1000]);
    });
  }

  it('exits 1 with a typed error line when the server refuses with 401', async () => {
    feed = await startFeed({ verify: () => 401 });
    child = new Child([TAIL, feed.url]);
    const exit = await child.waitForExit(10_000);
    expect(exit.code, child.output()).to.equal(1);
    const errors = parseLines(child.stdout).filter((line) => line.type === 'error');
    expect(errors[0]).to.include({ code: 'HANDSHAKE_REJECTED', status: 401 });
    expect(feed.connections).to.equal(0);
  });

  it('rejects bad arguments with exit code 2 and a usage line', async () => {
    child = new Child([TAIL, '--max', 'lots', 'ws://127.0.0.1:9/']);
    expect(await child.waitForExit(5000)).to.deep.equal({ code: 2, signal: null });
    expect(child.stderr).to.match(/--max must be a positive integer/).and.to.match(/usage: node tail\.mjs/);
    child = new Child([TAIL, 'ftp://example.org/']);
    expect(await child.waitForExit(5000)).to.deep.equal({ code: 2, signal: null });
    expect(child.stderr).to.include('INVALID_URL');
  });
});
