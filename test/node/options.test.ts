import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { SteadySocket, stats, type CloseInfo, type SteadySocketError, type SteadySocketOptions } from '../../src/index';
import { Child } from '../examples/support';
import { eventually, freePort, liveKit, sleep, within } from './support';

describe('Node options reach the server (ws as the transport)', function () {
  this.timeout(30_000);
  const { server, client, opened } = liveKit();
  const closedState = (socket: SteadySocket) =>
    within(5000, 'the client to stop', new Promise<void>((resolve) => socket.on('state', (state) => state === 'closed' && resolve())));

  it('headers as an object are sent with the handshake', async () => {
    const s = await server();
    const socket = client(s.url, { headers: { 'X-Api-Key': 'k-123', 'X-Client': 'steadysocket-tests' } });
    await opened(socket);
    expect(s.connections[0].request.headers).to.include({ 'x-api-key': 'k-123', 'x-client': 'steadysocket-tests' });
  });

  it('headers from the function that are not an object, or hold a line break, end the client with INVALID_OPTION at the first attempt', async () => {
    const s = await server();
    for (const [headers, message] of [
      [() => 42, /headers must be an object/],
      [() => ({ Authorization: 'Bearer zqSecret1\r\nX-Evil: 1' }), /Header Authorization must be a string .* without line breaks/],
      [async () => ({ 'Authorization: Bearer zqSecret2': 'x' }), /Header name "Authorization" is not a token/],
    ] as const) {
      const socket = client(s.url, { headers: headers as never });
      const errors: SteadySocketError[] = [];
      socket.on('error', (error) => errors.push(error));
      await closedState(socket);
      expect(errors.map((error) => error.code)).to.deep.equal(['INVALID_OPTION']);
      expect(errors[0].message).to.match(message).and.not.match(/zq/);
    }
    expect(s.connections, 'no handshake was made').to.have.length(0);
  });

  it('Node-only options of the wrong shape throw INVALID_OPTION from the constructor, quoting no value', () => {
    const cases: [SteadySocketOptions<unknown, unknown>, RegExp][] = [
      [{ headers: 'Authorization: Bearer zqNotAnObject' as never }, /Option headers must be an object .*got string/],
      [{ headers: ['zqList'] as never }, /Option headers must be an object .*got an array/],
      [{ headers: { Authorization: 'Bearer zqToken\r\nX-Evil: 1' } }, /Header Authorization must be a string/],
      [{ headers: { 'X-Key': 'zq\0Nul' } }, /Header X-Key must be a string/],
      [{ headers: { 'X-Key': { zq: 1 } as never } }, /Header X-Key must be a string/],
      [{ headers: { 'X-Key': undefined as never } }, /Header X-Key must be a string/],
      [{ headers: { 'Bad Name': 'zqValue' } }, /Header name "Bad" is not a token/],
      [{ headers: { '': 'zqValue' } }, /Header name "" is not a token/],
      [{ headers: { 'Sec-WebSocket-Protocol': 'zq.v1' } }, /Header Sec-WebSocket-Protocol is the client's own for the handshake: offer subprotocols with the protocols option/],
      [{ headers: { 'sec-websocket-extensions': 'zq' } }, /the client's own for the handshake: use the perMessageDeflate option/],
      [{ headers: { Upgrade: 'zq', 'X-Ok': '1' } }, /Header Upgrade is the client's own for the handshake\.$/],
      [{ headers: { CONNECTION: 'zq' } }, /Header CONNECTION is the client's own/],
      [{ headers: { 'Sec-WebSocket-Key': 'zq' } }, /Header Sec-WebSocket-Key is the client's own/],
      [{ origin: 'https://app.example\r\nX-Evil: zq' }, /Option origin must be a string without line breaks/],
      [{ origin: 42 as never }, /Option origin must be a string/],
      [{ agent: 'http://user:zqProxyPass@127.0.0.1:3128' }, /Option agent must be an http\.Agent .*got string/],
      [{ agent: {} }, /Option agent must be an http\.Agent .*got object/],
      [{ agent: true }, /Option agent must be an http\.Agent .*got boolean/],
      [{ rejectUnauthorized: 'false' as never }, /Option rejectUnauthorized must be true or false; got string/],
      [{ followRedirects: 1 as never }, /Option followRedirects must be true or false; got number/],
      [{ perMessageDeflate: 'yes' as never }, /Option perMessageDeflate must be true, false or ws's options object; got string/],
      [{ perMessageDeflate: null as never }, /Option perMessageDeflate .*got null/],
      [{ passphrase: 1234 as never }, /Option passphrase must be a string; got number/],
      [{ ca: 42 as never }, /Option ca must be PEM text or bytes, or a list of them; got number/],
      [{ cert: { zq: 'pem' } as never }, /Option cert must be PEM/],
      [{ key: [42] as never }, /Option key must be PEM/],
    ];
    for (const [options, message] of cases) {
      let thrown: unknown;
      try {
        new SteadySocket('ws://127.0.0.1:9/', options).close();
      } catch (error) {
        thrown = error;
      }
      const label = inspect(options);
      expect(thrown, label).to.have.property('code', 'INVALID_OPTION');
      expect((thrown as Error).message, label).to.match(message).and.not.match(/zq/);
    }
  });

  it('accepts every legal shape of the Node-only options', async () => {
    const agent = new (await import('node:http')).Agent();
    const pem = '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----';
    for (const options of [
      { headers: { 'X-Key': 'v', 'X-Num': 3 as never, 'X-List': ['a', 'b'] as never }, origin: 'https://app.example' },
      { headers: () => ({}) },
      { agent },
      { agent: false },
      { rejectUnauthorized: false, followRedirects: true, perMessageDeflate: true },
      { perMessageDeflate: { threshold: 0 } },
      { ca: pem, cert: Buffer.from(pem), key: new Uint8Array(4), passphrase: '' },
      { ca: [pem, Buffer.from(pem)], key: [{ pem, passphrase: 'p' }] as never },
    ] as SteadySocketOptions<unknown, unknown>[]) {
      expect(() => new SteadySocket('ws://127.0.0.1:9/', { ...options, maxRetries: 0 }).close(), inspect(options)).to.not.throw();
    }
    agent.destroy();
  });

  it('headers as an async function are asked for again on every attempt (new value after a server-forced reconnect)', async () => {
    let calls = 0;
    const s = await server({
      onConnection: ({ socket }) => {
        // The first connection is sent away with 1012 (service restart): the client reconnects.
        if (s.connections.length === 1) setTimeout(() => socket.close(1012, 'restarting'), 20);
      },
    });
    const socket = client(s.url, {
      headers: async () => {
        calls++;
        await sleep(5);
        return { Authorization: `Bearer token-${calls}` };
      },
    });
    const closes: CloseInfo[] = [];
    socket.on('close', (info) => closes.push(info));
    await eventually(5000, 'a second connection', () => s.connections.length === 2);
    await eventually(2000, 'the client to be open again', () => socket.state === 'open');
    expect(closes.map((info) => info.code)).to.deep.equal([1012]);
    expect(s.connections.map((connection) => connection.request.headers.authorization)).to.deep.equal([
      'Bearer token-1',
      'Bearer token-2',
    ]);
    expect(calls).to.equal(2);
  });

  it('origin is sent as the Origin header', async () => {
    const s = await server();
    const socket = client(s.url, { origin: 'https://app.example' });
    await opened(socket);
    expect(s.connections[0].request.headers.origin).to.equal('https://app.example');
  });

  it('perMessageDeflate: true offers and negotiates permessage-deflate; by default it is not offered', async () => {
    const s = await server({ ws: { perMessageDeflate: true } });
    const compressed = client(s.url, { perMessageDeflate: true });
    await opened(compressed);
    const offered = s.connections[0].request.headers['sec-websocket-extensions'];
    expect(offered).to.be.a('string').that.includes('permessage-deflate');
    expect(s.connections[0].socket.extensions).to.equal('permessage-deflate');
    const text = 'compressible '.repeat(500);
    const echoed = within(5000, 'the echo', new Promise((resolve) => compressed.once('message', resolve)));
    compressed.send(text);
    expect(await echoed).to.equal(text);

    const plain = client(s.url);
    await opened(plain);
    expect(s.connections[1].request.headers).not.to.have.property('sec-websocket-extensions');
    expect(s.connections[1].socket.extensions).to.equal('');
  });

  it('maxPayload: a message over it fails the connection as PROTOCOL_ERROR with close code 1009, and stops', async () => {
    const s = await server({
      onConnection: ({ socket }) => {
        socket.send('a'.repeat(1024));
        socket.send('b'.repeat(1025));
      },
    });
    const counters = stats();
    const socket = client(s.url, { maxPayload: 1024, use: [counters] });
    const received: unknown[] = [];
    const errors: SteadySocketError[] = [];
    const closes: CloseInfo[] = [];
    socket.on('message', (message) => received.push(message));
    socket.on('error', (error) => errors.push(error));
    socket.on('close', (info) => closes.push(info));
    await closedState(socket);
    await sleep(200);

    expect(received, 'the message at the limit arrives').to.deep.equal(['a'.repeat(1024)]);
    expect(errors).to.have.length(1);
    const [error] = errors;
    expect(error.code).to.equal('PROTOCOL_ERROR');
    expect(error.closeCode).to.equal(1009);
    expect((error.cause as { code?: string }).code).to.equal('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    expect(error.message).to.match(/maxPayload/);
    expect((error.cause as Error).message).to.include('Max payload size exceeded');
    expect(closes.map((info) => info.code)).to.deep.equal([1009]);
    // ws tells the server why (RFC 6455 §7.4.1: 1009 message too big), and 1009 is in the stop list.
    await eventually(2000, 'the server to see the close', () => s.connections[0].closeCode !== undefined);
    expect(s.connections[0].closeCode).to.equal(1009);
    expect(counters.snapshot().attempts).to.equal(1);
    expect(s.connections).to.have.length(1);
  });

  describe('followRedirects and maxRedirects (passed to ws)', () => {
    const redirectors: Server[] = [];
    afterEach(async () => {
      for (const redirector of redirectors.splice(0)) {
        redirector.closeAllConnections();
        await new Promise((resolve) => redirector.close(resolve));
      }
    });

    /** Answers every upgrade with 302 to `location(n)` (n: the upgrade requests so far); counts them. */
    async function redirector(location: (n: number) => string): Promise<{ url: string; upgrades: string[] }> {
      const http = createServer((_request, response) => response.writeHead(404).end());
      redirectors.push(http);
      const upgrades: string[] = [];
      http.on('upgrade', (request, socket) => {
        upgrades.push(request.url ?? '');
        socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location(upgrades.length)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      });
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      return { url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/old`, upgrades };
    }

    it('followRedirects: true follows a 302 to the WebSocket server; by default the 302 is a rejected handshake', async () => {
      const s = await server();
      const moved = await redirector(() => `${s.url}moved`);
      const follows = client(moved.url, { followRedirects: true });
      await opened(follows);
      expect(s.connections, 'connections at the redirect target').to.have.length(1);
      expect(s.connections[0].request.url).to.equal('/moved');
      const echoed = within(5000, 'the echo', new Promise((resolve) => follows.once('message', resolve)));
      follows.send('after a redirect');
      expect(await echoed).to.equal('after a redirect');

      const stays = client(moved.url, { maxRetries: 0 });
      const errors: SteadySocketError[] = [];
      stays.on('error', (error) => errors.push(error));
      await closedState(stays);
      expect(errors[0]?.code).to.equal('HANDSHAKE_REJECTED');
      expect(errors[0]?.status).to.equal(302);
      expect(s.connections, 'no connection reached the target without followRedirects').to.have.length(1);
    });

    it('maxRedirects bounds the redirects followed: a redirect loop fails the attempt after maxRedirects + 1 requests', async () => {
      const s = await server();
      let loop: { url: string; upgrades: string[] } | undefined;
      loop = await redirector((n) => `${loop!.url}?hop=${n}`);
      const socket = client(loop.url, { followRedirects: true, maxRedirects: 2, maxRetries: 0 });
      const errors: SteadySocketError[] = [];
      socket.on('error', (error) => errors.push(error));
      await closedState(socket);
      expect(loop.upgrades, 'upgrade requests the looping server saw').to.deep.equal(['/old', '/old?hop=1', '/old?hop=2']);
      // ws gives up on the last 302 (its own error says "Maximum redirects exceeded"): a rejected
      // handshake whose message and `redirects` say that the limit, not the server, stopped it.
      expect(errors.map((e) => e.code), errors.map((e) => `${e.code}: ${e.message}`).join('; ')).to.deep.equal(['HANDSHAKE_REJECTED', 'RETRIES_EXHAUSTED']);
      expect(errors[0].status).to.equal(302);
      expect(errors[0].redirects).to.equal(2);
      expect(errors[0].message).to.equal(
        'Too many redirects: the handshake was redirected 2 times (maxRedirects) and the server answered with one more (HTTP 302). Raise maxRedirects, or connect to the final URL.',
      );
      expect(errors[0].message, 'the Location is not shown: it may carry a token').not.to.include('hop=');
      expect((errors[0].cause as Error).message).to.equal('Maximum redirects exceeded');
      expect(s.connections).to.have.length(0);
    });

    it('maxRedirects: 0 refuses the first redirect; a redirect without followRedirects is a plain rejection (no redirects detail)', async () => {
      const moved = await redirector(() => 'ws://127.0.0.1:1/never');
      const errorsOf = async (options: SteadySocketOptions) => {
        const socket = client(moved.url, { maxRetries: 0, ...options });
        const errors: SteadySocketError[] = [];
        socket.on('error', (error) => errors.push(error));
        await closedState(socket);
        return errors[0];
      };
      const limited = await errorsOf({ followRedirects: true, maxRedirects: 0 });
      expect(limited).to.include({ code: 'HANDSHAKE_REJECTED', status: 302, redirects: 0 });
      expect(limited.message).to.include('redirected 0 times (maxRedirects)');
      const unfollowed = await errorsOf({});
      expect(unfollowed).to.include({ code: 'HANDSHAKE_REJECTED', status: 302 });
      expect(unfollowed.redirects).to.equal(undefined);
      expect(unfollowed.message).to.equal('The server rejected the WebSocket handshake with HTTP 302.');
      expect(moved.upgrades).to.have.length(2);
    });

    it('a failure after a followed redirect is reported as itself, not as the 302 that was followed', async () => {
      const dead = await freePort();
      const toDead = await redirector(() => `ws://127.0.0.1:${dead}/gone`);
      const refused = client(toDead.url, { followRedirects: true, maxRetries: 0 });
      const errors: SteadySocketError[] = [];
      refused.on('error', (error) => errors.push(error));
      await closedState(refused);
      expect(errors[0]?.code, errors[0]?.message).to.equal('CONNECT_FAILED');
      expect((errors[0].cause as { code?: string }).code).to.equal('ECONNREFUSED');
      expect(errors[0].status).to.equal(undefined);

      const s = await server({ ws: { verifyClient: (_info, callback) => callback(false, 401) } });
      const toRejecting = await redirector(() => `${s.url.replace('ws:', 'http:')}auth`);
      const rejected = client(toRejecting.url, { followRedirects: true, maxRetries: 0 });
      const rejections: SteadySocketError[] = [];
      rejected.on('error', (error) => rejections.push(error));
      await closedState(rejected);
      expect(rejections[0]).to.include({ code: 'HANDSHAKE_REJECTED', status: 401 });
      expect(rejections[0].redirects).to.equal(undefined);
    });

    it("a redirect's Location keeps its secrets out of errors, whether it is not a URL or leads nowhere", async () => {
      const renderings = (error: SteadySocketError) => {
        const texts = [error.message, String(error), JSON.stringify(error), inspect(error, { depth: Infinity, showHidden: true }), error.stack ?? ''];
        for (let cause: unknown = error.cause; cause; cause = (cause as { cause?: unknown }).cause) texts.push(inspect(cause, { depth: Infinity, showHidden: true }));
        return texts.join('\n');
      };
      const dead = await freePort();
      const locations = [
        // Not a URL (ws: "Invalid URL: <Location>"), with a password and a token in it.
        'http://alice:pw-zq7Hunter2@[not a host/path?token=zqS3cretTok',
        // A URL whose host refuses: the error comes from the redirect target.
        `ws://alice:pw-zq7Hunter2@127.0.0.1:${dead}/gone?token=zqS3cretTok`,
      ];
      for (const location of locations) {
        const moved = await redirector(() => location);
        const socket = client(moved.url, { followRedirects: true, maxRetries: 0 });
        const errors: SteadySocketError[] = [];
        socket.on('error', (error) => errors.push(error));
        await closedState(socket);
        expect(errors[0]?.code, location).to.equal('CONNECT_FAILED');
        const text = errors.map(renderings).join('\n');
        for (const secret of ['zq7Hunter2', 'zqS3cretTok']) expect(text, `${location}: ${text}`).not.to.include(secret);
        if (location.includes('[')) {
          expect(errors[0].message).to.equal('The server redirected the handshake to an invalid URL: http://***:***@[not a host/path?token=***');
        }
      }
    });
  });

  describe('unref', () => {
    const fixture = fileURLToPath(new URL('./fixtures/stay-connected.ts', import.meta.url));
    const children: Child[] = [];
    afterEach(async () => {
      await Promise.all(children.splice(0).map((child) => child.stop()));
    });

    function start(url: string, mode: 'unref' | 'ref'): Child {
      const child = new Child(['--import', 'tsx', fixture, url, mode]);
      children.push(child);
      return child;
    }

    it('unref: true lets a Node process exit by itself while connected', async () => {
      const s = await server();
      const child = start(s.url, 'unref');
      await child.waitFor(/^open$/m, 10_000);
      const connectedAt = Date.now();
      const exit = await child.waitForExit(5000);
      expect(exit.code, child.output()).to.equal(0);
      expect(child.stdout).to.match(/^exit 0 in state open$/m);
      expect(Date.now() - connectedAt).to.be.below(5000);
      // The server was up all along and had the connection until the process went away.
      expect(s.connections).to.have.length(1);
      await eventually(2000, 'the server to see the connection end', () => s.connections[0].closeCode !== undefined);
      expect(s.connections[0].closeCode).to.equal(1006);
    });

    it('without unref the process stays alive while connected, and exits once it calls close()', async () => {
      const s = await server();
      const child = start(s.url, 'ref');
      await child.waitFor(/^open$/m, 10_000);
      await sleep(1500);
      expect(child.process.exitCode, 'still running 1.5 s after open').to.equal(null);
      expect(child.process.signalCode).to.equal(null);

      s.connections[0].socket.send('please close');
      const exit = await child.waitForExit(5000);
      expect(exit.code, child.output()).to.equal(0);
      expect(child.stdout).to.match(/^closed$/m);
      expect(child.stdout).to.match(/^exit 0 in state closed$/m);
      expect(s.connections[0].closeCode).to.equal(1000);
    });
  });
});
