// Review of the guide's §10–§14 against real sockets on loopback: createProxyAgent's CONNECT
// headers, and what reaches the proxy.
import { expect } from 'chai';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { SteadySocket, type SteadySocketError } from '../../src/index';
import { createProxyAgent } from '../../src/node';
import { eventually, within } from './support';

interface RecordingProxy {
  url: string;
  /** What each accepted connection sent, and whether it has closed. */
  sockets: { socket: Socket; closed: boolean; read: string }[];
  close(): Promise<void>;
}

/** A "proxy" that records what it is sent and refuses every CONNECT with 502 once it has the head. */
async function recordingProxy(): Promise<RecordingProxy> {
  const sockets: RecordingProxy['sockets'] = [];
  const server: Server = createServer((socket) => {
    const entry = { socket, closed: false, read: '' };
    sockets.push(entry);
    socket.on('data', (chunk) => {
      entry.read += chunk.toString('latin1');
      if (entry.read.includes('\r\n\r\n')) socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    });
    socket.on('error', () => {});
    socket.on('close', () => (entry.closed = true));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sockets,
    close: async () => {
      for (const { socket } of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('review: guide §10 createProxyAgent on loopback', function () {
  this.timeout(20_000);
  let proxy: RecordingProxy;
  beforeEach(async () => (proxy = await recordingProxy()));
  afterEach(() => proxy.close());

  // guide §10: "`options.headers` go into the `CONNECT` request (a value with a line break or NUL,
  // or a name that is no token, throws a `TypeError`)". ProxyAgentOptions also takes a function
  // that makes the headers (https-proxy-agent calls it for every CONNECT): its answer is written
  // into the request as it is, so it needs the same check, or a value from elsewhere (a token
  // fetched from a service) adds header lines to the CONNECT.
  const bad: [string, () => Record<string, unknown>][] = [
    ['a value with CRLF', () => ({ 'X-Proxy-Token': 'ok\r\nX-Injected: yes' })],
    ['a value with a bare LF', () => ({ 'X-Proxy-Token': 'ok\nX-Injected: yes' })],
    ['a value with NUL', () => ({ 'X-Proxy-Token': 'ok\0X-Injected: yes' })],
    ['a list holding a line break', () => ({ 'X-Proxy-Token': ['fine', 'ok\r\nX-Injected: yes'] })],
    ['a name that is no token', () => ({ 'X-Injected: yes\r\nX-Proxy-Token': 'ok' })],
  ];
  for (const [what, headers] of bad) {
    it(`a headers function whose answer holds ${what} fails the attempt: no header line is added to a CONNECT`, async () => {
      const errors: SteadySocketError[] = [];
      const client = new SteadySocket('ws://127.0.0.1:9/feed', {
        agent: createProxyAgent(proxy.url, { headers: headers as never }),
        connectTimeout: 5000,
        maxRetries: 0,
      });
      client.on('error', (error) => errors.push(error));
      try {
        await eventually(5_000, 'the attempt to fail', () => errors.length > 0);
      } finally {
        await within(5_000, 'close()', client.close());
      }
      for (const { read } of proxy.sockets) expect(read, 'what reached the proxy').not.to.match(/\r?\nX-Injected/);
      expect(errors[0]!.code).to.equal('CONNECT_FAILED');
      expect(errors[0]!.message, 'the message names the bad proxy header').to.match(/proxy header/i);
      // Nothing was sent: the check runs before a socket to the proxy is opened (none is left open).
      await eventually(2_000, 'every socket to the proxy closed', () => proxy.sockets.every((s) => s.closed));
      expect(proxy.sockets.map((s) => s.read).join('')).to.equal('');
    });
  }

  it('a headers function with good values is asked for every CONNECT, and its headers reach the proxy', async () => {
    let n = 0;
    const errors: SteadySocketError[] = [];
    const client = new SteadySocket('ws://127.0.0.1:9/feed', {
      agent: createProxyAgent(proxy.url, { headers: () => ({ 'X-Proxy-Token': `tok-${++n}`, 'X-List': ['a', 'b'] }) }),
      minDelay: 10,
      maxDelay: 20,
      maxRetries: 1,
    });
    client.on('error', (error) => errors.push(error));
    try {
      await eventually(5_000, 'two CONNECTs reach the proxy', () => proxy.sockets.length >= 2 && proxy.sockets[1]!.read.includes('\r\n\r\n'));
    } finally {
      await within(5_000, 'close()', client.close());
    }
    expect(proxy.sockets[0]!.read).to.match(/^CONNECT 127\.0\.0\.1:9 HTTP\/1\.1\r\n/).and.include('X-Proxy-Token: tok-1\r\n').and.include('X-List: a,b\r\n');
    expect(proxy.sockets[1]!.read).to.include('X-Proxy-Token: tok-2\r\n');
    // A 502 from the proxy is a rejected handshake with its status.
    expect(errors[0]!.code).to.equal('HANDSHAKE_REJECTED');
    expect(errors[0]!.status).to.equal(502);
  });

  it('a headers function that throws fails the attempt and leaves no socket to the proxy open', async () => {
    const errors: SteadySocketError[] = [];
    const client = new SteadySocket('ws://127.0.0.1:9/feed', {
      agent: createProxyAgent(proxy.url, {
        headers: () => {
          throw new Error('token service down');
        },
      }),
      maxRetries: 0,
    });
    client.on('error', (error) => errors.push(error));
    try {
      await eventually(5_000, 'the attempt to fail', () => errors.length > 0);
    } finally {
      await within(5_000, 'close()', client.close());
    }
    expect(errors[0]!.code).to.equal('CONNECT_FAILED');
    expect(errors[0]!.message).to.include('token service down');
    await eventually(2_000, 'every socket to the proxy closed', () => proxy.sockets.every((s) => s.closed));
  });
});
