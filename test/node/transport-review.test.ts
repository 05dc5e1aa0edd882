// The Node transport off the happy path, from an adversarial review at the real-socket level (ws,
// hand-built raw TCP servers, child processes for `unref`). Each test in 'regressions' failed
// before its fix; 'probed and found correct' keeps what the review tried that held.
import { expect } from 'chai';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { SteadySocket, type CloseInfo, type ReconnectingInfo, type SteadySocketError, type SteadySocketOptions } from '../../src/index';
import { proxyAgentFor } from '../../src/node';
import { Child } from '../examples/support';
import { acceptFor, closeFrame, encodeFrame, onClientFrames, readRequestHead, startHostileServer, switchingProtocols, type ClientFrame, type Handshake, type HostileServer } from '../fault/hostile';
import { needTools } from '../support/tools';
import { makeTestPki, sleep, startWsServer, within, type TestPki, type WsServer } from './support';

const SRC = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

// ------------------------------------------------------------------------------ harness

interface RawServer {
  url: string;
  port: number;
  /** Upgrade requests received (one per TCP connection that sent a request head). */
  handshakes: Handshake[];
  frames: ClientFrame[];
  close(): Promise<void>;
}

/** A raw TCP server on 127.0.0.1 that hands each upgrade request to `onRequest`. */
async function rawServer(onRequest: (socket: Socket, request: Handshake, rest: Buffer, server: RawServer) => void): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const net: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    readRequestHead(socket, (request, rest) => {
      server.handshakes.push(request);
      onRequest(socket, request, rest, server);
    });
  });
  await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
  const port = (net.address() as AddressInfo).port;
  const server: RawServer = {
    url: `ws://127.0.0.1:${port}/`,
    port,
    handshakes: [],
    frames: [],
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => net.close(() => resolve()));
    },
  };
  return server;
}

/** A valid 101 for `request`, then records client frames; `answerClose` echoes a close frame and ends TCP. */
function accept(socket: Socket, request: Handshake, rest: Buffer, server: RawServer, answerClose = true): void {
  socket.write(switchingProtocols({ accept: acceptFor(request.headers['sec-websocket-key'] ?? '') }));
  onClientFrames(socket, rest, (frame) => {
    server.frames.push(frame);
    if (answerClose && frame.opcode === 0x8 && socket.writable) socket.end(closeFrame(frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined));
  });
}

function httpAnswer(status: number, headers: Record<string, string> = {}, body = ''): string {
  const lines = [`HTTP/1.1 ${status} X`, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', ...Object.entries(headers).map(([n, v]) => `${n}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

interface Seen {
  errors: SteadySocketError[];
  closes: CloseInfo[];
  waits: ReconnectingInfo[];
  opens: number;
  messages: unknown[];
  socket: SteadySocket;
}

/** Runs a client against `url` for `ms` (or until it reaches closed), records what the app sees, then closes it. */
async function watch(url: string, ms: number, options: SteadySocketOptions = {}): Promise<Seen> {
  const socket = new SteadySocket(url, { minDelay: 50, maxDelay: 50, jitter: 0, ...options });
  const seen: Seen = { errors: [], closes: [], waits: [], opens: 0, messages: [], socket };
  socket.on('error', (e) => seen.errors.push(e));
  socket.on('close', (c) => seen.closes.push(c));
  socket.on('reconnecting', (i) => seen.waits.push(i));
  socket.on('open', () => seen.opens++);
  socket.on('message', (m) => seen.messages.push(m));
  const closed = new Promise<void>((resolve) => socket.on('state', (s) => s === 'closed' && resolve()));
  await Promise.race([sleep(ms), closed]);
  await within(5000, 'close()', socket.close());
  return seen;
}

/** Every rendering of an error a user might log: message, String, JSON, inspect, stack, and the cause chain. */
function renderings(error: SteadySocketError): string {
  const texts = [error.message, String(error), JSON.stringify(error), inspect(error, { depth: Infinity, showHidden: true }), error.stack ?? ''];
  for (let cause: unknown = error.cause; cause; cause = (cause as { cause?: unknown }).cause) {
    texts.push(inspect(cause, { depth: Infinity, showHidden: true }), String((cause as Error).stack));
  }
  return texts.join('\n');
}

/** A child Node process running `body` after `const s = new SteadySocket(url, options)`; prints `exit in <state>`. */
function childClient(url: string, options: string, body: string, backstopMs = 4000): Child {
  const code = `
import { SteadySocket } from ${JSON.stringify(SRC)};
const s = new SteadySocket(${JSON.stringify(url)}, ${options});
s.on('error', (e) => console.log('error ' + e.code));
s.on('state', (state) => console.log('state ' + state));
process.on('exit', () => console.log('exit in ' + s.state));
// Cannot keep the process alive itself: it fires only if something else does.
setTimeout(() => { console.log('still alive in ' + s.state); process.exit(3); }, ${backstopMs}).unref();
${body}
`;
  return new Child(['--import', 'tsx', '--input-type=module', '-e', code]);
}

// ------------------------------------------------------------------------------ tests

describe('Node transport: adversarial review against real and hand-built servers', function () {
  this.timeout(30_000);
  const servers: { close(): Promise<void> }[] = [];
  const children: Child[] = [];
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop()));
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  async function keep<T extends { close(): Promise<void> }>(server: Promise<T>): Promise<T> {
    const started = await server;
    servers.push(started);
    return started;
  }
  function spawnClient(...args: Parameters<typeof childClient>): Child {
    const child = childClient(...args);
    children.push(child);
    return child;
  }

  describe('regressions', () => {
    it('unref: true lets the process exit while connecting (a server that never answers the handshake)', async () => {
      const server = await keep(startHostileServer('no-handshake'));
      const child = spawnClient(server.url, '{ unref: true, connectTimeout: 60_000 }', '');
      const exit = await child.waitForExit(8000);
      expect(server.handshakes, 'the request reached the server').to.have.length(1);
      // The process exits at once: nothing of an unref'd client holds it (before the fix the
      // handshake's TCP socket was unref'd only on open, so it stayed until connectTimeout).
      expect(child.stdout, child.output()).not.to.match(/still alive/);
      expect(exit.code, child.output()).to.equal(0);
    });

    it("unref: true lets the process exit while closing (ws's close timer unref'd), against a server that never answers the close", async () => {
      const server = await keep(startHostileServer('silent'));
      // The connecting client no longer holds the process: an interval does, until open.
      const child = spawnClient(server.url, '{ unref: true, closeTimeout: Infinity }', "const hold = setInterval(() => {}, 1000); s.on('open', () => { clearInterval(hold); console.log('open'); void s.close(); });");
      await child.waitFor(/^open$/m, 10_000);
      const exit = await child.waitForExit(8000);
      // Exits right after close() is called (fire and forget). Before the fix ws's own close
      // timer (closeTimeout, here clamped to ~24.8 days) held the process.
      expect(child.stdout, child.output()).not.to.match(/still alive/);
      expect(exit.code, child.output()).to.equal(0);
    });

    it('a 503 with an unreadable Retry-After ("later 5000") backs off as usual, not ~24.8 days', async () => {
      const server = await keep(rawServer((socket) => socket.end(httpAnswer(503, { 'Retry-After': 'later 5000' }))));
      const seen = await watch(server.url, 1000);
      expect(seen.errors[0]).to.include({ code: 'HANDSHAKE_REJECTED', status: 503 });
      // RFC 9110 §10.2.3: delay-seconds or an HTTP-date; anything else is no Retry-After, and the
      // normal backoff (50 ms here) applies. V8's lenient Date.parse reads "later 5000" as year 5000.
      expect(seen.waits[0]?.delay, 'first retry delay').to.equal(50);
      expect(server.handshakes.length, 'attempts within 1 s').to.be.greaterThan(3);
    });

    it('maxRedirects: NaN throws INVALID_OPTION at construction (it would turn a redirect loop into a request storm)', async () => {
      const server = await keep(rawServer((socket, _request, _rest, self) => socket.end(`HTTP/1.1 302 Found\r\nLocation: ${self.url}?n=${self.handshakes.length}\r\nContent-Length: 0\r\n\r\n`)));
      let thrown: unknown;
      try {
        await watch(server.url, 400, { followRedirects: true, maxRedirects: NaN, maxRetries: 0, connectTimeout: 300 });
      } catch (error) {
        thrown = error;
      }
      // INVALID_OPTION at construction, as for every other numeric option. Before the fix ws
      // compared `redirects > NaN` (always false) and followed the loop until connectTimeout.
      expect(server.handshakes.length, 'requests the looping server saw in one 300 ms attempt').to.be.at.most(11);
      expect((thrown as SteadySocketError | undefined)?.code).to.equal('INVALID_OPTION');
    });

    it('a 101 without an Upgrade header is a broken handshake (CONNECT_FAILED naming Upgrade), not a rejection with HTTP 101', async () => {
      const server = await keep(rawServer((socket, request) => socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(request.headers['sec-websocket-key'] ?? '')}\r\n\r\n`)));
      const seen = await watch(server.url, 300, { maxRetries: 0 });
      const [error] = seen.errors;
      // 101 is the server accepting; the handshake is broken (RFC 6455 §4.1: the client fails the
      // connection when Upgrade is missing), not rejected, and shouldReconnect should not see status 101.
      expect(error.code, error.message).not.to.equal('HANDSHAKE_REJECTED');
      expect(seen.closes[0].status).to.equal(undefined);
      expect(error.message).to.match(/Upgrade/);
    });
  });

  describe('probed and found correct', () => {
    it('close frames with an invalid code (1005, 1015, 2000), a 1-byte body or a 124-byte reason: PROTOCOL_ERROR, 1002 on the wire, no retry', async () => {
      const bodies: Buffer[] = [closeFrame(1005), closeFrame(1015), closeFrame(2000), encodeFrame({ opcode: 0x8, payload: Buffer.from([3]) }), closeFrame(1000, 'x'.repeat(124))];
      for (const body of bodies) {
        const server = await keep(rawServer((socket, request, rest, self) => {
          accept(socket, request, rest, self, false);
          socket.write(body);
        }));
        const seen = await watch(server.url, 500);
        expect(seen.errors.map((e) => e.code)).to.deep.equal(['PROTOCOL_ERROR']);
        expect(seen.closes.map((c) => c.code)).to.deep.equal([1002]);
        expect(seen.socket.state).to.equal('closed');
        expect(server.handshakes).to.have.length(1);
        expect(server.frames.find((f) => f.opcode === 0x8)?.payload.readUInt16BE(0)).to.equal(1002);
      }
    });

    it('a fragmented message with a ping between its fragments arrives whole; a frame after the close frame is never delivered', async () => {
      const server = await keep(rawServer((socket, request, rest, self) => {
        accept(socket, request, rest, self);
        socket.write(
          Buffer.concat([
            encodeFrame({ fin: false, opcode: 0x1, payload: Buffer.from('hel') }),
            encodeFrame({ opcode: 0x9, payload: Buffer.from('p') }),
            encodeFrame({ opcode: 0x0, payload: Buffer.from('lo') }),
            closeFrame(4001, 'bye'),
            encodeFrame({ opcode: 0x1, payload: Buffer.from('after close') }),
          ]),
        );
      }));
      const seen = await watch(server.url, 300, { maxRetries: 0 });
      expect(seen.messages[0]).to.equal('hello');
      expect(seen.messages).not.to.include('after close');
      expect(seen.closes[0]).to.include({ code: 4001, reason: 'bye', wasClean: true });
      expect(server.frames.find((f) => f.opcode === 0xa)?.payload.toString(), 'the ping was answered').to.equal('p');
    });

    it('Retry-After: negative, fractional or wordy values fall back to the backoff; seconds are honoured', async () => {
      for (const [value, delay] of [['-5', 50], ['1.5', 50], ['garbage', 50], ['3', 3000]] as const) {
        const server = await keep(rawServer((socket) => socket.end(httpAnswer(503, { 'Retry-After': value }))));
        const seen = await watch(server.url, 150);
        expect(seen.waits[0]?.delay, value).to.equal(delay);
      }
    });

    // RFC 9110 §5.6.7: every HTTP-date is GMT; asctime names no zone, and Date.parse alone reads it
    // in the process's local time (in Tokyo this wait was 0, in New York 5 hours longer).
    it('Retry-After as an asctime date is read as GMT whatever the time zone of the process', async () => {
      const before = process.env.TZ;
      try {
        for (const tz of ['Asia/Tokyo', 'America/New_York']) {
          process.env.TZ = tz;
          const at = new Date(Date.now() + 3_500);
          // toUTCString(): 'Thu, 03 Dec 2026 13:11:43 GMT'; asctime: 'Thu Dec  3 13:11:43 2026'.
          const [weekday, day, month, year, time] = at.toUTCString().replace(',', '').split(' ');
          const asctime = `${weekday} ${month} ${String(Number(day)).padStart(2, ' ')} ${time} ${year}`;
          const server = await keep(rawServer((socket) => socket.end(httpAnswer(503, { 'Retry-After': asctime }))));
          const seen = await watch(server.url, 150);
          expect(seen.waits[0]?.delay, `${tz}: ${asctime}`).to.be.within(2_000, 3_600);
        }
      } finally {
        if (before === undefined) delete process.env.TZ;
        else process.env.TZ = before;
      }
    });

    // docs/guide.md, followRedirects: "To another host, ws drops `Authorization` and `Cookie` but
    // sends every other header you set (an `X-Api-Key` too)".
    it('a redirect to another host:port does not carry Authorization or Cookie (ws strips them), and does carry other headers', async () => {
      const target = await keep(startWsServer());
      const server = await keep(rawServer((socket) => socket.end(`HTTP/1.1 302 Found\r\nLocation: ${target.url}moved\r\nContent-Length: 0\r\n\r\n`)));
      const seen = await watch(server.url, 400, { followRedirects: true, headers: { Authorization: 'Bearer zqSecret1', Cookie: 'session=zqCookie', 'X-Api-Key': 'zqKey' } });
      expect(seen.opens).to.equal(1);
      expect(server.handshakes[0].headers.authorization).to.equal('Bearer zqSecret1');
      expect(target.connections[0].request.headers).not.to.have.property('authorization');
      expect(target.connections[0].request.headers).not.to.have.property('cookie');
      expect(target.connections[0].request.headers['x-api-key'], 'what the guide warns about').to.equal('zqKey');
    });

    it('proxy failures (closed, bad header, 407, 502 echoing the CONNECT) keep proxy credentials and the URL token out of every rendering', async () => {
      const answers: ((socket: Socket, head: string) => void)[] = [
        (socket) => socket.destroy(),
        (socket) => socket.end('HTTP/1.1 200 OK\r\nnot a header\r\n\r\n'),
        (socket) => socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n'),
        (socket, head) => socket.end(httpAnswer(502, { 'X-Echo': head.split('\r\n').join(' | ') }, head)),
      ];
      const basic = Buffer.from('alice:zqProxyPw9').toString('base64');
      for (const answer of answers) {
        const proxy = await keep(rawServer((socket, request) => answer(socket, `CONNECT ${request.path} ${JSON.stringify(request.headers)}`)));
        const url = 'ws://127.0.0.1:1/feed?token=zqTok3n';
        const agent = proxyAgentFor(url, { HTTP_PROXY: `http://alice:zqProxyPw9@127.0.0.1:${proxy.port}` });
        const seen = await watch(url, 2000, { agent, maxRetries: 0 });
        expect(seen.errors.length).to.be.greaterThan(0);
        const text = seen.errors.map(renderings).join('\n') + inspect(seen.closes, { depth: Infinity });
        for (const secret of ['zqProxyPw9', 'zqTok3n', basic]) expect(text).not.to.include(secret);
      }
    });

    it('close(code, reason) counts the reason in UTF-8 bytes (a lone surrogate is 3) and allows 1000 and 3000–4999 only', async () => {
      const server = await keep(startWsServer());
      const refused = (code: number, reason: string) => {
        const socket = new SteadySocket(server.url);
        socket.on('error', () => {});
        try {
          void socket.close(code, reason);
          return false;
        } catch (error) {
          void socket.close();
          return (error as SteadySocketError).code === 'INVALID_OPTION';
        }
      };
      expect(refused(1000, '\ud800'.repeat(41))).to.equal(false);
      expect(refused(1000, '\ud800'.repeat(42))).to.equal(true);
      expect(refused(1000, 'é'.repeat(62))).to.equal(true);
      for (const code of [999, 1001, 1005, 1006, 1015, 2999, 5000]) expect(refused(code, ''), String(code)).to.equal(true);
      for (const code of [1000, 3000, 4999]) expect(refused(code, ''), String(code)).to.equal(false);
    });

    describe('TLS failures with a token in the URL and an Authorization header', () => {
      let pki: TestPki;
      let selfSigned: WsServer;
      let wrongName: WsServer;
      before(async function () {
        needTools(this, 'openssl');
        pki = makeTestPki();
        selfSigned = await startWsServer({ tls: { cert: pki.cert, key: pki.key } });
        wrongName = await startWsServer({ tls: { cert: pki.wrongNameCert, key: pki.wrongNameKey } });
      });
      after(async () => {
        await Promise.all([selfSigned?.close(), wrongName?.close()]);
        pki?.remove();
      });

      it('name the TLS code and carry no secret in message, inspect, stack or cause chain; no retry', async () => {
        const cases: [string, SteadySocketOptions, string][] = [
          [selfSigned.url.replace('wss://', 'wss://alice:zqPassw0rd@'), {}, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
          // 127.0.0.1, not localhost: under the test runner's network namespace localhost may be ::1 first.
          [wrongName.url, { ca: pki.ca }, 'ERR_TLS_CERT_ALTNAME_INVALID'],
        ];
        for (const [base, options, code] of cases) {
          const seen = await watch(`${base}feed?token=zqTok3n&x=1`, 3000, { ...options, headers: { Authorization: 'Bearer zqBearer7' } });
          expect(seen.errors.map((e) => e.code)).to.deep.equal(['CONNECT_FAILED']);
          expect((seen.errors[0].cause as { code?: string }).code).to.equal(code);
          const text = seen.errors.map(renderings).join('\n') + inspect(seen.closes, { depth: Infinity });
          for (const secret of ['zqPassw0rd', 'zqTok3n', 'zqBearer7']) expect(text, code).not.to.include(secret);
        }
      });
    });
  });
});
