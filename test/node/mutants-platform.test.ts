// Behaviour of src/platform.ts on real ws sockets that mutation testing (Stryker) found no test
// pinning down: onDrain() and sendPing() on a ws socket and on a socket that is not one, the
// message of a handshake stopped by maxRedirects: 1, the code of a 101 without Upgrade,
// the text of a protocol violation that is not an oversized message, a dropped connection's wasClean,
// the text of a refused connection (no TLS involved), one pong listener however many pings; and,
// from a later run over every test file that exercises platform.ts in-process: a rejection's
// response headers (collected, and scrubbed of the URL's token), the cause of a redirect to an
// invalid URL (redacted, not emptied), the text of a failed subprotocol negotiation, the texts of
// TLS failures (a certificate not accepted, a TLS 1.0-1.2 alert, a handshake OpenSSL cannot
// read, whose text kept OpenSSL's line break), unref() on open, connecting,
// redirected and closing ws sockets, the open listener swapped for the message one. Each test
// names the change to platform.ts it catches. A real ws server on 127.0.0.1.
import { expect } from 'chai';
import { createServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { ping, SteadySocket, type SteadySocketError } from '../../src/index';
import { onDrain, sendPing, unref } from '../../src/platform';
import { needTools } from '../support/tools';
import { freePort, makeTestPki, startWsServer, within, type WsServer } from './support';

describe('platform.ts on ws sockets: behaviour found unpinned by mutation testing', () => {
  let server: WsServer;
  let client: WebSocket | undefined;

  beforeEach(async () => (server = await startWsServer()));
  afterEach(async () => {
    client?.terminate();
    client = undefined;
    await server.close();
  });

  async function openClient(): Promise<WebSocket> {
    client = new WebSocket(server.url);
    await within(5000, 'the client opens', new Promise((resolve, reject) => client!.once('open', resolve).once('error', reject)));
    return client;
  }

  // onDrain()'s body emptied, its test made always true, or its `return false` made true.
  it("onDrain() listens once for the TCP socket's drain on an open ws socket, and is false for a socket without one", async () => {
    const ws = await openClient();
    const listener = () => {};
    const tcp = (ws as unknown as { _socket: { listeners(event: string): unknown[] } })._socket;
    const before = tcp.listeners('drain').length;
    expect(onDrain(ws as never, listener)).to.equal(true);
    expect(tcp.listeners('drain')).to.have.length(before + 1);
    expect(onDrain({ readyState: 1, send() {}, close() {} } as never, listener)).to.equal(false);
  });

  // sendPing()'s `if (!ws) return false` made never true, or its `return true` made false.
  it('sendPing() pings over a ws socket (true) and is false, sending nothing, for a socket that is not ws', async () => {
    const ws = await openClient();
    const pinged = new Promise<Buffer>((resolve) => server.connections[0].socket.once('ping', resolve));
    expect(sendPing(ws as never, 'hi')).to.equal(true);
    expect(String(await within(5000, 'the server gets the ping', pinged))).to.equal('hi');
    expect(sendPing({ readyState: 1, send() {}, close() {} } as never, 'hi')).to.equal(false);
  });

  // `followed === 1` made false: "redirected 1 times".
  it('maxRedirects: 1 and a redirect loop: the message says "redirected 1 time", singular', async () => {
    const http = createServer((_request, response) => response.writeHead(404).end());
    http.on('upgrade', (_request, socket) => socket.end('HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const socket = new SteadySocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/`, { followRedirects: true, maxRedirects: 1, maxRetries: 0 });
    try {
      const errors: SteadySocketError[] = [];
      socket.on('error', (error) => errors.push(error));
      await within(10_000, 'the client closes', new Promise<void>((resolve) => socket.on('state', (state) => state === 'closed' && resolve())));
      expect(errors[0]).to.include({ code: 'HANDSHAKE_REJECTED', status: 302, redirects: 1 });
      expect(errors[0].message).to.include('the handshake was redirected 1 time (maxRedirects) and the server answered with one more');
    } finally {
      socket.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    }
  });

  /** A client of a server that answers every upgrade request with `answer`, run until it closes; its errors. */
  async function errorsFrom(answer: string, options: ConstructorParameters<typeof SteadySocket>[1], path = '/'): Promise<SteadySocketError[]> {
    const http = createServer((_request, response) => response.writeHead(404).end());
    http.on('upgrade', (_request, socket) => socket.end(answer));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const socket = new SteadySocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}${path}`, { maxRetries: 0, ...options });
    try {
      const errors: SteadySocketError[] = [];
      socket.on('error', (error) => errors.push(error));
      await within(10_000, 'the client closes', new Promise<void>((resolve) => socket.on('state', (state) => state === 'closed' && resolve())));
      return errors;
    } finally {
      socket.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    }
  }

  // The code of that error made '' (any other code).
  it('a 101 answer without "Upgrade: websocket" is CONNECT_FAILED, saying so', async () => {
    const errors = await errorsFrom('HTTP/1.1 101 Switching Protocols\r\nConnection: close\r\n\r\n', {});
    expect(errors[0]).to.include({ code: 'CONNECT_FAILED' });
    expect(errors[0].message).to.equal('The server answered the handshake with 101 but without "Upgrade: websocket" (RFC 6455 §4.1).');
  });

  /** A client of the test server, run until the server's side of its first connection does `act`; its first error and close. */
  async function afterServer(act: (tcp: { write(bytes: Buffer): void }, ws: { terminate(): void }) => void) {
    const socket = new SteadySocket(server.url, { maxRetries: 0 });
    try {
      const errors: SteadySocketError[] = [];
      const closes: { code: number; wasClean: boolean }[] = [];
      socket.on('error', (error) => errors.push(error));
      socket.on('close', (info) => closes.push(info));
      await within(5000, 'the client opens', new Promise<void>((resolve) => socket.once('open', () => resolve())));
      const connection = server.connections[0].socket;
      act((connection as unknown as { _socket: { write(bytes: Buffer): void } })._socket, connection);
      await within(10_000, 'the client closes', new Promise<void>((resolve) => socket.on('state', (state) => state === 'closed' && resolve())));
      return { error: errors[0], close: closes[0] };
    } finally {
      socket.close();
    }
  }

  // `message === 'Max payload size exceeded'` made true, or the violation's text made empty.
  it('a frame with RSV1 set (no extension agreed) is PROTOCOL_ERROR quoting ws, not "larger than maxPayload"', async () => {
    const { error } = await afterServer((tcp) => tcp.write(Buffer.from([0xc1, 0x00])));
    expect(error.code).to.equal('PROTOCOL_ERROR');
    expect(error.message).to.equal('The server broke the WebSocket protocol: Invalid WebSocket frame: RSV1 must be clear.');
    expect(error.closeCode).to.equal(1002);
  });

  // wsClose's `code !== 1006` made true: a dropped connection reported clean.
  it('a connection the server drops (no close frame) closes with 1006, not clean', async () => {
    const { close } = await afterServer((_tcp, ws) => ws.terminate());
    expect(close).to.include({ code: 1006, wasClean: false });
  });

  // `if (tls === 'EPROTO')` or `if (tls)` made true: a refused connection described as a TLS failure.
  it('a refused connection is "WebSocket error: <Node\'s message>", nothing about TLS', async () => {
    const port = await freePort();
    const socket = new SteadySocket(`ws://127.0.0.1:${port}/`, { maxRetries: 0 });
    try {
      const errors: SteadySocketError[] = [];
      socket.on('error', (error) => errors.push(error));
      await within(10_000, 'the client closes', new Promise<void>((resolve) => socket.on('state', (state) => state === 'closed' && resolve())));
      expect(errors[0].code).to.equal('CONNECT_FAILED');
      expect(errors[0].message).to.equal(`WebSocket error: connect ECONNREFUSED 127.0.0.1:${port}`);
    } finally {
      socket.close();
    }
  });

  // sendPing()'s `if (!released(ws) && !ws.listeners('pong').includes(wsPong))` made true: a listener per ping.
  it('pings on one connection add one pong listener to its ws socket, not one per ping', async () => {
    const socket = new SteadySocket(server.url, { maxRetries: 0 });
    socket.on('error', () => {});
    try {
      await within(5000, 'the client opens', new Promise<void>((resolve) => socket.once('open', () => resolve())));
      const ws = (socket as unknown as { _conn: WebSocket })._conn;
      const before = ws.listenerCount('pong');
      for (let i = 0; i < 3; i++) expect(await ping(socket, { timeout: 5_000, data: `p${i}` })).to.be.a('number');
      expect(ws.listenerCount('pong')).to.equal(before + 1);
    } finally {
      socket.close();
    }
  });

  // 'www-authenticate' made '' (the header not collected), or `value !== undefined` made true (absent headers as undefined keys).
  it("a rejection carries the server's WWW-Authenticate and Retry-After, the URL's token scrubbed out, and no key for an absent header", async () => {
    const challenge = 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer error="invalid_token", token="zqTok3n"\r\nRetry-After: 7\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
    const [rejected] = await errorsFrom(challenge, {}, '/feed?token=zqTok3n');
    expect(rejected).to.include({ code: 'HANDSHAKE_REJECTED', status: 401 });
    expect(rejected.headers).to.deep.equal({ 'retry-after': '7', 'www-authenticate': 'Bearer error="invalid_token", token="***"' });
    const [bare] = await errorsFrom('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', {});
    expect(bare.headers).to.deep.equal({});
  });

  // The redirect's `hide` made to return undefined: the cause kept no text at all (no secret, but nothing said).
  it("a redirect to an invalid URL keeps ws's text in the cause, the Location's password and token redacted", async () => {
    const location = 'http://alice:pw-zq7Hunter2@[not a host/path?token=zqS3cretTok';
    const [error] = await errorsFrom(`HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, { followRedirects: true });
    expect(error.code).to.equal('CONNECT_FAILED');
    const cause = error.cause as Error;
    expect(cause.message).to.equal('Invalid URL: http://***:***@[not a host/path?token=***');
    expect(cause.stack).to.not.include('zq7Hunter2').and.not.include('zqS3cretTok');
  });

  // The text of PROTOCOL_NOT_NEGOTIATED made empty.
  it("a server that picks a subprotocol the client did not offer: PROTOCOL_NOT_NEGOTIATED quoting ws's reason", async () => {
    const picky = await startWsServer({ ws: { handleProtocols: () => 'other' } });
    const socket = new SteadySocket(picky.url, { protocols: ['v1'], maxRetries: 0 });
    try {
      const errors: SteadySocketError[] = [];
      socket.on('error', (error) => errors.push(error));
      await within(10_000, 'the client closes', new Promise<void>((resolve) => socket.on('state', (state) => state === 'closed' && resolve())));
      expect(errors[0].code).to.equal('PROTOCOL_NOT_NEGOTIATED');
      expect(errors[0].message).to.equal('Subprotocol negotiation failed: Server sent an invalid subprotocol.');
    } finally {
      socket.close();
      await picky.close();
    }
  });

  describe('unref() on a ws socket', () => {
    /** Whether the TCP socket under `ws` keeps the process alive (libuv's own answer). */
    const tcpHasRef = (ws: WebSocket) => (ws as unknown as { _socket: { _handle: { hasRef(): boolean } } })._socket._handle.hasRef();

    // unref()'s body emptied, or its `if (!ws) return` made always true.
    it('an open socket: its TCP socket is unref\'d, and close() unrefs the closing-handshake timer', async () => {
      const ws = await openClient();
      expect(tcpHasRef(ws)).to.equal(true);
      unref(ws as never);
      expect(tcpHasRef(ws)).to.equal(false);
      ws.close();
      const timer = (ws as unknown as { _closeTimer?: { hasRef(): boolean } })._closeTimer;
      expect(timer, "ws's close timer").to.not.equal(undefined);
      expect(timer!.hasRef()).to.equal(false);
    });

    // The connecting branch emptied: the handshake request's socket kept the process alive.
    it('a connecting socket: the TCP socket its handshake request gets is unref\'d', async () => {
      client = new WebSocket(server.url);
      unref(client as never);
      await within(5000, 'the client opens', new Promise((resolve, reject) => client!.once('open', resolve).once('error', reject)));
      expect(tcpHasRef(client)).to.equal(false);
    });

    // The 'redirect' listener dropped: the socket of a followed redirect kept the process alive.
    it("a connecting socket that follows a redirect: the redirect's TCP socket is unref'd too", async () => {
      const http = createServer((_request, response) => response.writeHead(404).end());
      http.on('upgrade', (_request, socket) => socket.end(`HTTP/1.1 302 Found\r\nLocation: ${server.url}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`));
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      try {
        client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/`, { followRedirects: true });
        unref(client as never);
        await within(5000, 'the client opens', new Promise((resolve, reject) => client!.once('open', resolve).once('error', reject)));
        expect(server.connections).to.have.length(1);
        expect(tcpHasRef(client)).to.equal(false);
      } finally {
        http.closeAllConnections();
        await new Promise((resolve) => http.close(resolve));
      }
    });
  });

  // wsOpen's removeListener('open', ...) made removeListener('', ...): an open socket kept its open listener.
  it("an open connection's ws socket carries no open listener, and one message listener", async () => {
    const socket = new SteadySocket(server.url, { maxRetries: 0 });
    socket.on('error', () => {});
    try {
      await within(5000, 'the client opens', new Promise<void>((resolve) => socket.once('open', () => resolve())));
      const ws = (socket as unknown as { _conn: WebSocket })._conn;
      expect(ws.listenerCount('open')).to.equal(0);
      expect(ws.listenerCount('message')).to.equal(1);
    } finally {
      socket.close();
    }
  });

  // classify()'s `if (tls)` made false, or its body emptied: a certificate not accepted was "WebSocket error: ...", which
  // still includes "certificate" (what the TLS tests check), without the advice.
  it('a server certificate from an unknown CA: the text names the TLS code and advises the ca option', async function () {
    needTools(this, 'openssl');
    const pki = makeTestPki();
    const tls = await startWsServer({ tls: { cert: pki.cert, key: pki.key } });
    const socket = new SteadySocket(`${tls.url}feed?token=zqTok3n`, { maxRetries: 0 });
    try {
      const errors: SteadySocketError[] = [];
      socket.on('error', (error) => errors.push(error));
      await within(10_000, 'the client closes', new Promise<void>((resolve) => socket.on('state', (state) => state === 'closed' && resolve())));
      expect(errors[0].code).to.equal('CONNECT_FAILED');
      expect(errors[0].message).to.equal(
        "The server's TLS certificate was not accepted (UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate). Pass its CA with the ca option, or fix the host name.",
      );
    } finally {
      socket.close();
      await tls.close();
      pki.remove();
    }
  });

  /** A client of a TCP server on 127.0.0.1 that answers the TLS ClientHello with `answer`, run with the default retry policy until it closes; its errors and the server's connection count. */
  async function tlsAnswer(answer: number[]): Promise<{ errors: SteadySocketError[]; connections: number }> {
    let connections = 0;
    const tcp = createTcpServer((socket) => {
      connections++;
      socket.on('error', () => {});
      socket.once('data', () => socket.end(Buffer.from(answer)));
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const socket = new SteadySocket(`wss://127.0.0.1:${(tcp.address() as AddressInfo).port}/feed?token=zqTok3n`, { minDelay: 20, maxDelay: 20 });
    try {
      const errors: SteadySocketError[] = [];
      socket.on('error', (error) => errors.push(error));
      await within(10_000, 'the client closes', new Promise<void>((resolve) => socket.on('state', (state) => state === 'closed' && resolve())));
      return { errors, connections };
    } finally {
      socket.close();
      await new Promise((resolve) => tcp.close(resolve));
    }
  }

  // The alert pattern's `tlsv1\d?` made `tlsv1\d`: a TLS 1.0-1.2 alert ("tlsv1 alert unknown ca") was "The TLS handshake failed".
  it('a TLS alert record "unknown ca": the server refused the TLS handshake, its alert named, cert and key advised, no retry', async () => {
    // Record type 21 (alert), TLS 1.2, 2 bytes: fatal (2), unknown_ca (48).
    const { errors, connections } = await tlsAnswer([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x30]);
    expect(errors.map((error) => error.code)).to.deep.equal(['CONNECT_FAILED']);
    expect(errors[0].message).to.equal(
      'The server refused the TLS handshake (EPROTO: tlsv1 alert unknown ca): if it asks for a client certificate, give one it trusts with the cert and key options. Not retried by default: the next attempt would meet the same.',
    );
    expect(connections).to.equal(1);
  });

  // `if (tls === 'EPROTO')` made false, or its text emptied: a handshake OpenSSL cannot read was "The server's TLS certificate
  // was not accepted ... Pass its CA with the ca option". Bug found here: the text kept OpenSSL's trailing line break.
  it('a handshake record OpenSSL cannot read: "The TLS handshake failed", on one line, no retry', async () => {
    // Record type 22 (handshake), TLS 1.2, 5 bytes: a handshake message of an unknown type (255).
    const { errors, connections } = await tlsAnswer([0x16, 0x03, 0x03, 0x00, 0x05, 0xff, 0x00, 0x00, 0x01, 0x00]);
    expect(errors.map((error) => error.code)).to.deep.equal(['CONNECT_FAILED']);
    expect(errors[0].message).to.match(/^The TLS handshake failed \(write EPROTO [^\n]*unexpected message[^\n]*\)\. Not retried by default: the next attempt would meet the same\.$/);
    expect(errors[0].message).to.not.match(/\s\)/);
    expect(connections).to.equal(1);
  });
});
