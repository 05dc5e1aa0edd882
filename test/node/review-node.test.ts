// Review of the guide's §10–§14 against real sockets on loopback: createProxyAgent's CONNECT
// headers, and what reaches the proxy.
import { expect } from 'chai';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SteadySocket, type SteadySocketError } from '../../src/index';
import { createProxyAgent } from '../../src/node';
import { Child } from '../examples/support';
import { startHostileServer } from '../fault/hostile';
import { eventually, startWsServer, within } from './support';

const SRC = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

interface RecordingProxy {
  url: string;
  /** What each accepted connection sent, and whether it has closed. */
  sockets: { socket: Socket; closed: boolean; read: string }[];
  close(): Promise<void>;
}

/** A "proxy" that records what it is sent and refuses every CONNECT with 502 once it has the head. */
/** A client through `agent` (no retries) until its attempt fails, then closed: the errors it reported. */
async function firstFailure(agent: ReturnType<typeof createProxyAgent>): Promise<SteadySocketError[]> {
  const errors: SteadySocketError[] = [];
  const client = new SteadySocket('ws://127.0.0.1:9/feed', { agent, connectTimeout: 5000, maxRetries: 0 });
  client.on('error', (error) => errors.push(error));
  try {
    await eventually(5_000, 'the attempt to fail', () => errors.length > 0);
  } finally {
    await within(5_000, 'close()', client.close());
  }
  return errors;
}

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
      const errors = await firstFailure(createProxyAgent(proxy.url, { headers: headers as never }));
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
    const errors = await firstFailure(
      createProxyAgent(proxy.url, {
        headers: () => {
          throw new Error('token service down');
        },
      }),
    );
    expect(errors[0]!.code).to.equal('CONNECT_FAILED');
    expect(errors[0]!.message).to.include('token service down');
    await eventually(2_000, 'every socket to the proxy closed', () => proxy.sockets.every((s) => s.closed));
  });
});

/** A raw HTTP server on loopback: `answer` gets each request's socket and head (its path). */
async function rawServer(answer: (socket: Socket, head: string, index: number) => void): Promise<{ url: string; heads: string[]; close(): Promise<void> }> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let read = '';
    socket.on('data', (chunk) => {
      if (read.includes('\r\n\r\n')) return;
      read += chunk.toString('latin1');
      if (read.includes('\r\n\r\n')) {
        heads.push(read);
        answer(socket, read, heads.length - 1);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    heads,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const http = (status: string, headers: string[] = []) => [`HTTP/1.1 ${status}`, ...headers, 'Content-Length: 0', 'Connection: close', '', ''].join('\r\n');

describe('review: guide §14 handshake statuses on loopback', function () {
  this.timeout(20_000);
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function run(url: string, options: ConstructorParameters<typeof SteadySocket>[1], until: (errors: SteadySocketError[], client: SteadySocket<unknown, unknown>) => boolean) {
    const errors: SteadySocketError[] = [];
    const statuses: (number | undefined)[] = [];
    const client = new SteadySocket(url, { minDelay: 10, maxDelay: 20, ...options });
    cleanup.push(() => within(5_000, 'close()', client.close()));
    client.on('error', (error) => errors.push(error));
    client.on('close', (info) => statuses.push(info.status));
    await eventually(5_000, 'the expected outcome', () => until(errors, client));
    return { client, errors, statuses };
  }

  // guide §14: "With it [followRedirects], the 3xx is one of two things. [...] Or a redirect
  // without a `Location`, which cannot be followed (`error.redirects` is not set)."
  it('followRedirects: a 3xx without a Location, also one after a followed redirect, is HANDSHAKE_REJECTED with its status and no redirects; it backs off and retries', async () => {
    const server = await rawServer((socket, head) => {
      // The first request of each attempt is redirected to /next; /next answers 307 without a Location.
      socket.end(head.startsWith('GET /next?') ? http('307 Temporary Redirect') : http('302 Found', ['Location: /next?token=LOCATION-SECRET-1']));
    });
    cleanup.push(server.close);
    const { errors, statuses } = await run(server.url, { followRedirects: true }, (errors) => errors.length >= 2);
    for (const error of errors.slice(0, 2)) {
      expect(error.code).to.equal('HANDSHAKE_REJECTED');
      expect(error.status).to.equal(307);
      expect(error.redirects, 'not a redirect limit').to.equal(undefined);
      expect(error.message).not.to.match(/Too many redirects/).and.not.to.include('LOCATION-SECRET-1');
    }
    // Retried by default (a 3xx is no stop status): two attempts, each a 302 then the 307.
    expect(server.heads.map((h) => h.split(' ')[1])).to.deep.equal(server.heads.map((_, i) => (i % 2 ? '/next?token=LOCATION-SECRET-1' : '/')));
    expect(statuses[0]).to.equal(307);
  });

  // guide §14: "Node: HANDSHAKE_REJECTED with status 407 [...] A 407 stops the client by default."
  it('a forward proxy answering 407 stops the client: one CONNECT, HANDSHAKE_REJECTED 407 naming credentials, state closed, no secret shown', async () => {
    const proxy = await rawServer((socket) => socket.end(http('407 Proxy Authentication Required', ['Proxy-Authenticate: Basic realm="t"'])));
    cleanup.push(proxy.close);
    const proxyUrl = proxy.url.replace('ws://', 'http://alice:PROXY-PASSWORD-2@');
    const { client, errors } = await run('ws://127.0.0.1:9/feed?token=URL-TOKEN-3', { agent: createProxyAgent(proxyUrl) }, (_e, client) => client.state === 'closed');
    expect(proxy.heads).to.have.length(1);
    expect(proxy.heads[0]).to.match(/^CONNECT 127\.0\.0\.1:9 HTTP\/1\.1\r\n/).and.include('Proxy-Authorization: Basic ');
    expect(errors.map((e) => e.code)).to.deep.equal(['HANDSHAKE_REJECTED']);
    expect(errors[0]!.status).to.equal(407);
    expect(errors[0]!.message).to.match(/credentials/);
    for (const secret of ['PROXY-PASSWORD-2', 'URL-TOKEN-3', 'alice']) expect(JSON.stringify(errors[0]) + errors[0]!.message + String(errors[0]!.stack)).not.to.include(secret);
    expect(client.state).to.equal('closed');
  });

  // guide §14: "Node: HANDSHAKE_REJECTED with status 200 or 426 [...] These retry with backoff by
  // default; a `shouldReconnect` that stops on `info.status === 426` ends them."
  for (const status of ['200 OK', '426 Upgrade Required']) {
    it(`a plain ${status} answer to the upgrade retries by default`, async () => {
      const server = await rawServer((socket) => socket.end(http(status)));
      cleanup.push(server.close);
      const { errors } = await run(server.url, {}, (errors) => errors.length >= 3);
      expect(errors.slice(0, 3).map((e) => `${e.code} ${e.status}`)).to.deep.equal(Array(3).fill(`HANDSHAKE_REJECTED ${parseInt(status, 10)}`));
    });
  }

  it('a shouldReconnect that stops on info.status === 426 ends the client after the first 426', async () => {
    const server = await rawServer((socket) => socket.end(http('426 Upgrade Required')));
    cleanup.push(server.close);
    const { client, errors } = await run(server.url, { shouldReconnect: (info) => info.status !== 426 }, (_e, client) => client.state === 'closed');
    expect(server.heads).to.have.length(1);
    expect(errors.map((e) => `${e.code} ${e.status}`)).to.deep.equal(['HANDSHAKE_REJECTED 426']);
    expect(client.state).to.equal('closed');
  });
});

describe('review: guide §10 unref in every state', function () {
  this.timeout(30_000);
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  // guide §10: "A fire-and-forget tool that should exit while still connected sets `unref: true`:
  // then nothing of the client holds the process, in any state (the handshake's socket, [...])".
  // ws opens a new request, on a new TCP socket, for each redirect it follows: that socket is the
  // handshake's too.
  it('unref: true lets the process exit while connecting after a followed redirect (the target never answers the handshake)', async () => {
    const target = await startHostileServer('no-handshake');
    cleanup.push(() => target.close());
    const redirector = await rawServer((socket) => socket.end(http('302 Found', [`Location: ${target.url}`])));
    cleanup.push(redirector.close);
    // The child holds itself with an interval until the redirect has reached the target (it
    // prints 'released' then); after that only the client's sockets could hold it.
    const release = `/tmp/steadysocket-review-node-release-${process.pid}-${Date.now()}`;
    const code = `
import { existsSync } from 'node:fs';
import { SteadySocket } from ${JSON.stringify(SRC)};
const s = new SteadySocket(${JSON.stringify(redirector.url)}, { unref: true, followRedirects: true, connectTimeout: 60_000 });
s.on('error', (e) => console.log('error ' + e.code));
process.on('exit', () => console.log('exit in ' + s.state));
setTimeout(() => { console.log('still alive in ' + s.state); process.exit(3); }, 8000).unref();
const hold = setInterval(() => {
  if (!existsSync(${JSON.stringify(release)})) return;
  clearInterval(hold);
  console.log('released');
}, 50);
`;
    const child = new Child(['--import', 'tsx', '--input-type=module', '-e', code]);
    cleanup.push(async () => {
      await child.stop();
      rmSync(release, { force: true });
    });
    await eventually(10_000, 'the redirected request to reach the target', () => target.connections.length === 1);
    expect(redirector.heads, 'one request redirected').to.have.length(1);
    writeFileSync(release, '');
    await child.waitFor(/^released$/m, 10_000);
    const exit = await child.waitForExit(10_000);
    expect(child.stdout, child.output()).not.to.match(/still alive/);
    expect(child.stdout).to.match(/^exit in connecting$/m);
    expect(exit.code, child.output()).to.equal(0);
  });
});

describe('review: guide §12 createProxyAgent errors keep the proxy credentials out', () => {
  // guide §10: "A URL without a scheme is taken as `http://`"; guide §12: no error message contains
  // a URL's user name or password. A scheme-less proxy URL that does not parse (a mistyped port,
  // a password with `/` in it) was redacted as given, where `alice:` reads as a scheme: the user
  // name, and a password holding `/`, were printed.
  const cases = [
    'zqAlice:zqPass/word1@proxy.internal:3128', // a password with `/`: `/word1@...` is the path
    'zqAlice:zqPass2@proxy.internal:99999', // a mistyped port
    'zqAlice@proxy.internal:99999', // a user name alone
    'zqAlice:zqPass3@proxy.internal:3128 x', // a stray word
  ];
  for (const input of cases) {
    it(`refuses ${JSON.stringify(input.replace(/zq\w+/g, '…'))} with a TypeError that shows no user name or password`, () => {
      let error: unknown;
      try {
        createProxyAgent(input);
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(TypeError);
      expect(String(error)).to.match(/Invalid proxy URL/).and.not.match(/zq\w+/);
      // It still names the host, which is no secret and says which value was wrong.
      expect(String(error)).to.include('proxy.internal');
    });
  }
});

describe('review: guide §10/§12 maxPayload at legal extremes', function () {
  this.timeout(20_000);
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  // guide §10: "`maxPayload` | 100 MiB (ws's) | largest message accepted, in bytes". The option
  // takes any number from 0 up. ws keeps it as a 32-bit integer (`maxPayload | 0`): 2^32 + 10
  // allowed 10 bytes, and 3 GiB wrapped to a negative number, which ws reads as no limit.
  for (const [what, maxPayload] of [
    ['2^32 + 10', 2 ** 32 + 10],
    ['5 GiB', 5 * 2 ** 30],
    ['Infinity', Infinity],
  ] as const) {
    it(`maxPayload ${what} accepts a 1,000-byte message (no 32-bit wrap-around into a tiny limit)`, async () => {
      const server = await startWsServer({ onConnection: ({ socket }) => socket.send('x'.repeat(1000)) });
      cleanup.push(server.close);
      const client = new SteadySocket(server.url, { maxPayload, maxRetries: 0 });
      cleanup.push(() => within(5_000, 'close()', client.close()));
      const received: unknown[] = [];
      const errors: SteadySocketError[] = [];
      client.on('message', (m) => received.push(m));
      client.on('error', (e) => errors.push(e));
      await eventually(5_000, 'the message or an error', () => received.length > 0 || errors.length > 0);
      expect(errors.map((e) => `${e.code} ${e.closeCode ?? ''}`), 'errors').to.deep.equal([]);
      expect(received).to.deep.equal(['x'.repeat(1000)]);
    });
  }

  it('maxPayload 999 still refuses a 1,000-byte message (PROTOCOL_ERROR, 1009): small limits are passed on as they are', async () => {
    const server = await startWsServer({ onConnection: ({ socket }) => socket.send('x'.repeat(1000)) });
    cleanup.push(server.close);
    const client = new SteadySocket(server.url, { maxPayload: 999, maxRetries: 0 });
    cleanup.push(() => within(5_000, 'close()', client.close()));
    const errors: SteadySocketError[] = [];
    client.on('error', (e) => errors.push(e));
    await eventually(5_000, 'the error', () => errors.length > 0);
    expect(errors[0]!.code).to.equal('PROTOCOL_ERROR');
    expect(errors[0]!.closeCode).to.equal(1009);
  });
});
