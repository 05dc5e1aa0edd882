// A proxy that accepts TCP and never answers CONNECT. Each attempt through createProxyAgent must
// end its socket to the proxy when the attempt is given up (connect timeout, close()), and a
// process that gave up must exit by itself. https-proxy-agent alone kept every such socket open.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { SteadySocket } from '../../src/index';
import { createProxyAgent } from '../../src/node';
import { createServer as createTlsServer } from 'node:tls';
import { needTools } from '../support/tools';
import { eventually, makeTestPki, within } from './support';

const fixture = fileURLToPath(new URL('./fixtures/silent-proxy-exit.ts', import.meta.url));

interface SilentProxy {
  url: string;
  /** Every TCP connection accepted, and whether it has closed. */
  sockets: { socket: Socket; closed: boolean; read: string }[];
  close(): Promise<void>;
}

/**
 * `askAuthFirst`: the first CONNECT gets a 407 asking for credentials; every later one, silence.
 * `tls`: an https:// proxy (TLS to the proxy, then silence).
 */
async function silentProxy(askAuthFirst = false, tls?: { cert: string; key: string }): Promise<SilentProxy> {
  const sockets: SilentProxy['sockets'] = [];
  const accept = (socket: Socket) => {
    const entry = { socket, closed: false, read: '' };
    sockets.push(entry);
    const ask = askAuthFirst && sockets.length === 1;
    socket.on('data', (chunk) => {
      entry.read += chunk.toString('latin1');
      if (ask && entry.read.includes('\r\n\r\n')) socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="t"\r\nContent-Length: 0\r\n\r\n');
    });
    socket.on('error', () => {});
    socket.on('close', () => (entry.closed = true));
  };
  const server: Server = tls ? createTlsServer(tls, accept) : createServer(accept);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sockets,
    close: async () => {
      for (const { socket } of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('createProxyAgent: a proxy that never answers CONNECT', function () {
  this.timeout(20_000);
  let proxy: SilentProxy;
  beforeEach(async () => (proxy = await silentProxy()));
  afterEach(() => proxy.close());

  it('each timed-out attempt closes its socket to the proxy, and close() leaves none open', async () => {
    const client = new SteadySocket('ws://127.0.0.1:9/feed', { agent: createProxyAgent(proxy.url), connectTimeout: 150, minDelay: 10, maxDelay: 20 });
    try {
      await eventually(5_000, 'three attempts reach the proxy', () => proxy.sockets.length >= 3 && proxy.sockets[0]!.read.includes('\r\n\r\n'));
      // The attempts before the current one were given up by the connect timeout.
      await eventually(2_000, 'the timed-out attempts closed their sockets', () => proxy.sockets.slice(0, -1).every((s) => s.closed));
      expect(proxy.sockets[0]!.read).to.match(/^CONNECT 127\.0\.0\.1:9 HTTP\/1\.1\r\n/);
    } finally {
      await within(5_000, 'close()', client.close());
    }
    await eventually(2_000, 'every socket to the proxy closed after close()', () => proxy.sockets.every((s) => s.closed));
    expect(client.state).to.equal('closed');
  });

  it('plain ws with the agent: close() while connecting closes the socket to the proxy', async () => {
    // ws's handshakeTimeout cannot help here: Node starts a request's timeout when the request gets
    // its socket, which the agent hands over only once the proxy has answered.
    const ws = new WebSocket('ws://127.0.0.1:9/feed', { agent: createProxyAgent(proxy.url) });
    const failed = new Promise<Error>((resolve) => ws.once('error', resolve));
    await eventually(5_000, 'the attempt reaches the proxy', () => proxy.sockets.length === 1);
    ws.close();
    expect((await within(5_000, 'the abort', failed)).message).to.match(/closed before the connection was established/);
    await eventually(2_000, 'the socket to the proxy closed', () => proxy.sockets[0]!.closed);
  });

  it('the retry after a 407 (onProxyAuth) closes its socket to the proxy too', async () => {
    await proxy.close();
    proxy = await silentProxy(true);
    const asked: string[] = [];
    const onProxyAuth = ({ scheme }: { scheme: string }) => (asked.push(scheme), { headers: { 'Proxy-Authorization': 'Basic dTpw' } });
    const client = new SteadySocket('ws://127.0.0.1:9/feed', { agent: createProxyAgent(proxy.url, { onProxyAuth } as never), connectTimeout: 1000, maxRetries: 0 });
    try {
      // The whole request, not just the connection: its bytes may come a moment after the accept.
      await eventually(5_000, 'the retry reaches the proxy', () => proxy.sockets.length === 2 && proxy.sockets[1]!.read.includes('\r\n\r\n'));
      expect(asked).to.deep.equal(['Basic']);
      expect(proxy.sockets[1]!.read).to.include('Proxy-Authorization: Basic dTpw');
      await eventually(5_000, 'the timed-out retry closed its socket', () => proxy.sockets.every((s) => s.closed));
    } finally {
      await within(5_000, 'close()', client.close());
    }
  });

  it('an https:// proxy: the timed-out attempt closes its TLS socket to the proxy', async function () {
    needTools(this, 'openssl');
    const pki = makeTestPki();
    await proxy.close();
    proxy = await silentProxy(false, pki);
    const client = new SteadySocket('ws://127.0.0.1:9/feed', { agent: createProxyAgent(proxy.url, { ca: pki.ca }), connectTimeout: 300, maxRetries: 0 });
    try {
      await eventually(5_000, 'the attempt reaches the proxy', () => proxy.sockets.length === 1 && proxy.sockets[0]!.read.startsWith('CONNECT 127.0.0.1:9 '));
      await eventually(3_000, 'the timed-out attempt closed its socket', () => proxy.sockets[0]!.closed);
    } finally {
      await within(5_000, 'close()', client.close());
      pki.remove();
    }
  });

  const modes = { client: 'SteadySocket close()', ws: 'plain ws close()', unref: 'unref: true, no close(): at the connect timeout' };
  const printed = { client: 'closed', ws: 'aborted', unref: 'CONNECT_TIMEOUT' };
  for (const mode of ['client', 'ws', 'unref'] as const) {
    it(`a process that gave up (${modes[mode]}) exits by itself`, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, proxy.url, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      try {
        const code = await within(10_000, 'the process to exit by itself', new Promise<number | null>((exited) => child.once('exit', exited)));
        expect({ code, output: output.trim() }).to.deep.equal({ code: 0, output: printed[mode] });
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      expect(proxy.sockets.length, 'attempts that reached the proxy').to.be.greaterThan(0);
    });
  }
});
