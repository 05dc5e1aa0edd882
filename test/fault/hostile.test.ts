// Proves each hostile server does what it claims, as the raw `ws` client observes it. If these
// fail, the fault tests built on the harness prove nothing.

import { expect } from 'chai';
import type { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import WS from 'ws';
import { acceptFor, Opcode, startHostileServer, type BadFrame, type HostileServer } from './hostile.js';

/** Rejects when `promise` has not settled after `ms`, so no wait is unbounded. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the arguments of the next `event`, or rejects after `ms`. */
function next(emitter: EventEmitter, event: string, ms = 2000): Promise<unknown[]> {
  return within(ms, `'${event}'`, new Promise((resolve) => emitter.once(event, (...args) => resolve(args))));
}

/** Resolves true if `event` is emitted within `ms`, false if it is not. */
function emitsWithin(emitter: EventEmitter, event: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const onEvent = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      resolve(false);
    }, ms);
    emitter.once(event, onEvent);
  });
}

interface Observed {
  events: string[];
  error?: Error & { code?: string };
  code?: number;
}

/** Records the client's open/error/close sequence until it closes (at most `ms`). */
function observe(ws: WS, ms = 2000): Promise<Observed> {
  const observed: Observed = { events: [] };
  ws.on('open', () => observed.events.push('open'));
  ws.on('error', (error) => {
    observed.events.push('error');
    observed.error = error;
  });
  const closed = new Promise<Observed>((resolve) => {
    ws.on('close', (code) => {
      observed.events.push('close');
      observed.code = code;
      resolve(observed);
    });
  });
  return within(ms, "'close'", closed);
}

interface Rejection {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Reads the non-101 response ws hands to 'unexpected-response', then abandons the handshake. */
function rejection(ws: WS, ms = 2000): Promise<Rejection> {
  ws.on('error', () => {}); // terminate() during the handshake reports an error; not under test
  const read = new Promise<Rejection>((resolve) => {
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        ws.terminate();
        resolve({ statusCode: response.statusCode, headers: response.headers, body });
      });
    });
  });
  return within(ms, "'unexpected-response'", read);
}

/** Sends a raw upgrade request and returns everything the server wrote before closing. */
function rawExchange(port: number, ms = 2000): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  const request =
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  const received = new Promise<string>((resolve, reject) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.write(request);
  });
  return within(ms, 'server end', received).finally(() => socket.destroy());
}

describe('hostile servers, as the ws client sees them', function () {
  let server: HostileServer | undefined;
  const clients: WS[] = [];

  function client(protocols?: string[]): WS {
    if (!server) throw new Error('start a server first');
    const ws = new WS(server.url, protocols);
    clients.push(ws);
    return ws;
  }

  afterEach(async function () {
    for (const ws of clients.splice(0)) {
      ws.on('error', () => {});
      ws.terminate();
    }
    await server?.close();
    server = undefined;
  });

  it('computes Sec-WebSocket-Accept as in the example of RFC 6455 §1.3', function () {
    expect(acceptFor('dGhlIHNhbXBsZSBub25jZQ==')).to.equal('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  describe('echo (the control)', function () {
    it('round-trips a text and a binary message and closes with 1000', async function () {
      server = await startHostileServer('echo');
      const ws = client();
      const closed = observe(ws);
      await next(ws, 'open');

      ws.send('hi');
      const [text, textIsBinary] = await next(ws, 'message');
      expect((text as Buffer).toString()).to.equal('hi');
      expect(textIsBinary).to.equal(false);

      ws.send(Buffer.from([0, 1, 2, 255]));
      const [binary, binaryIsBinary] = await next(ws, 'message');
      expect(binary).to.deep.equal(Buffer.from([0, 1, 2, 255]));
      expect(binaryIsBinary).to.equal(true);

      ws.close(1000, 'done');
      const observed = await closed;
      expect(observed.events).to.deep.equal(['open', 'close']);
      expect(observed.code).to.equal(1000);
      const opcodes = server.frames.map((frame) => frame.opcode);
      expect(opcodes).to.deep.equal([Opcode.text, Opcode.binary, Opcode.close]);
      expect(server.frames[2].payload.readUInt16BE(0)).to.equal(1000);
    });

    it('reads client frames with 16-bit and 64-bit lengths', async function () {
      server = await startHostileServer('echo');
      const ws = client();
      await next(ws, 'open');
      for (const size of [300, 70_000]) {
        const payload = Buffer.alloc(size, size % 251);
        ws.send(payload);
        const [echoed] = await next(ws, 'message');
        expect(echoed).to.deep.equal(payload);
      }
    });

    it('answers a ping with a pong carrying the same data', async function () {
      server = await startHostileServer('echo');
      const ws = client();
      await next(ws, 'open');
      ws.ping('are you there');
      const [data] = await next(ws, 'pong');
      expect((data as Buffer).toString()).to.equal('are you there');
    });

    it('counts TCP connections and records each upgrade request', async function () {
      server = await startHostileServer('echo');
      const first = client(['a', 'b']);
      await next(first, 'open');
      const second = client();
      await next(second, 'open');

      expect(server.connections).to.have.length(2);
      expect(server.connections[1]).to.be.at.least(server.connections[0]);
      expect(server.handshakes).to.have.length(2);
      const { method, path, headers } = server.handshakes[0];
      expect(method).to.equal('GET');
      expect(path).to.equal('/');
      expect(headers.upgrade).to.equal('websocket');
      expect(headers['sec-websocket-version']).to.equal('13');
      expect(headers['sec-websocket-protocol']).to.equal('a,b');
      expect(first.protocol).to.equal('a');
      expect(server.handshakes[1].headers).to.not.have.property('sec-websocket-protocol');
    });
  });

  describe('opening handshake faults', function () {
    it('wrong-accept: ws fails the handshake on Sec-WebSocket-Accept', async function () {
      server = await startHostileServer('wrong-accept');
      const observed = await observe(client());
      expect(observed.events).to.deep.equal(['error', 'close']);
      expect(observed.error?.message).to.match(/Sec-WebSocket-Accept/);
      expect(observed.error?.message).to.equal('Invalid Sec-WebSocket-Accept header');
      expect(observed.code).to.equal(1006);
      expect(server.connections).to.have.length(1);
      expect(server.handshakes).to.have.length(1);
    });

    it('missing-accept: ws fails the handshake on Sec-WebSocket-Accept', async function () {
      server = await startHostileServer('missing-accept');
      const observed = await observe(client());
      expect(observed.events).to.deep.equal(['error', 'close']);
      expect(observed.error?.message).to.equal('Invalid Sec-WebSocket-Accept header');
      expect(observed.code).to.equal(1006);
    });

    it('unoffered-protocol: ws fails the handshake on the subprotocol', async function () {
      server = await startHostileServer('unoffered-protocol');
      const observed = await observe(client(['a', 'b']));
      expect(observed.events).to.deep.equal(['error', 'close']);
      expect(observed.error?.message).to.match(/subprotocol/);
      expect(observed.error?.message).to.equal('Server sent an invalid subprotocol');
      expect(server.handshakes[0].headers['sec-websocket-protocol']).to.equal('a,b');
    });

    // RFC 6455 §4.1 and browsers accept a 101 that picks no subprotocol; ws does not.
    it('no-protocol: ws fails when it offered subprotocols', async function () {
      server = await startHostileServer('no-protocol');
      const observed = await observe(client(['a', 'b']));
      expect(observed.events).to.deep.equal(['error', 'close']);
      expect(observed.error?.message).to.equal('Server sent no subprotocol');
    });

    it('no-protocol: ws opens with an empty protocol when it offered none', async function () {
      server = await startHostileServer('no-protocol');
      const ws = client();
      await next(ws, 'open');
      expect(ws.protocol).to.equal('');
    });

    it('no-handshake: reads the request and never answers it', async function () {
      server = await startHostileServer('no-handshake');
      const ws = client();
      const closed = observe(ws);
      expect(await emitsWithin(ws, 'open', 500)).to.equal(false);
      expect(ws.readyState).to.equal(WS.CONNECTING);
      expect(server.connections).to.have.length(1);
      expect(server.handshakes).to.have.length(1);

      ws.terminate();
      const observed = await closed;
      expect(observed.events).to.deep.equal(['error', 'close']);
      expect(observed.error?.message).to.equal(
        'WebSocket was closed before the connection was established',
      );
      expect(observed.code).to.equal(1006);
    });
  });

  describe('HTTP answers instead of 101', function () {
    for (const status of [200, 403, 404]) {
      it(`${status}: ws fails with "Unexpected server response: ${status}"`, async function () {
        server = await startHostileServer({ kind: 'http', status });
        const observed = await observe(client());
        expect(observed.events).to.deep.equal(['error', 'close']);
        expect(observed.error?.message).to.equal(`Unexpected server response: ${status}`);
        expect(observed.code).to.equal(1006);
      });
    }

    it('401: ws hands over the status, WWW-Authenticate and body', async function () {
      const headers = { 'WWW-Authenticate': 'Bearer' };
      server = await startHostileServer({ kind: 'http', status: 401, headers });
      const response = await rejection(client());
      expect(response.statusCode).to.equal(401);
      expect(response.headers['www-authenticate']).to.equal('Bearer');
      expect(response.body).to.equal('401 Unauthorized\n');
    });

    for (const [status, seconds] of [
      [429, '5'],
      [503, '30'],
    ] as const) {
      it(`${status}: ws hands over the status and Retry-After`, async function () {
        server = await startHostileServer({ kind: 'http', status, headers: { 'Retry-After': seconds } });
        const response = await rejection(client());
        expect(response.statusCode).to.equal(status);
        expect(response.headers['retry-after']).to.equal(seconds);
      });
    }

    it('sends a complete HTTP/1.1 response and then closes the socket', async function () {
      server = await startHostileServer({ kind: 'http', status: 503, headers: { 'Retry-After': '30' } });
      const response = await rawExchange(server.port);
      expect(response).to.match(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
      expect(response).to.include('\r\nRetry-After: 30\r\n');
      expect(response).to.include('\r\nContent-Length: 24\r\n');
      expect(response.endsWith('\r\n\r\n503 Service Unavailable\n')).to.equal(true);
    });
  });

  describe('silent (half-open peer)', function () {
    it('opens with the first offered subprotocol, then never answers a ping', async function () {
      server = await startHostileServer('silent');
      const ws = client(['chat', 'other']);
      await next(ws, 'open');
      expect(ws.protocol).to.equal('chat');

      ws.ping('are you there');
      expect(await emitsWithin(ws, 'pong', 500)).to.equal(false);
      expect(ws.readyState).to.equal(WS.OPEN);
      // The ping did arrive: it was ignored, not lost.
      expect(server.frames.map((frame) => frame.opcode)).to.deep.equal([Opcode.ping]);
      expect(server.frames[0].payload.toString()).to.equal('are you there');
    });
  });

  describe('one bad frame after a valid handshake', function () {
    // [behaviour, error.code, error.message, close status ws sends]
    const cases: [BadFrame, string, string, number][] = [
      ['masked-frame', 'WS_ERR_UNEXPECTED_MASK', 'Invalid WebSocket frame: MASK must be clear', 1002],
      ['reserved-bits', 'WS_ERR_UNEXPECTED_RSV_1', 'Invalid WebSocket frame: RSV1 must be clear', 1002],
      ['reserved-opcode', 'WS_ERR_INVALID_OPCODE', 'Invalid WebSocket frame: invalid opcode 3', 1002],
      ['invalid-utf8', 'WS_ERR_INVALID_UTF8', 'Invalid WebSocket frame: invalid UTF-8 sequence', 1007],
      ['fragmented-control', 'WS_ERR_EXPECTED_FIN', 'Invalid WebSocket frame: FIN must be set', 1002],
      [
        'huge-length',
        'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
        'Unsupported WebSocket frame: payload length > 2^53 - 1',
        1009,
      ],
    ];
    for (const [behaviour, code, message, status] of cases) {
      it(`${behaviour}: ws reports ${code}, sends close ${status} and closes`, async function () {
        server = await startHostileServer(behaviour);
        const observed = await observe(client());
        expect(observed.events).to.deep.equal(['open', 'error', 'close']);
        expect(observed.error?.code).to.equal(code);
        expect(observed.error?.message).to.equal(message);
        const [closeFrame] = server.frames;
        expect(closeFrame.opcode).to.equal(Opcode.close);
        expect(closeFrame.payload.readUInt16BE(0)).to.equal(status);
        // ws stops reading after the error, so it never sees the server's close frame.
        expect(observed.code).to.equal(1006);
      });
    }
  });
});
