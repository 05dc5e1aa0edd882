import { expect } from 'chai';
import { SteadySocket, stats, type SteadySocketError, type SteadySocketOptions } from '../../src/index';
import { proxyAgentFor } from '../../src/node';
import { needTools } from '../support/tools';
import { eventually, makeTestPki, startTinyproxy, startWsServer, within, type TestPki, type Tinyproxy, type WsServer } from './support';

/** Resolves with the first message that arrives on `socket`. */
function nextMessage(socket: SteadySocket, ms = 5000): Promise<unknown> {
  return within(ms, 'an echo', new Promise((resolve) => socket.once('message', resolve)));
}

describe('SteadySocket through tinyproxy (HTTP CONNECT), agent from proxyAgentFor', function () {
  this.timeout(30_000);
  let proxy: Tinyproxy;
  let pki: TestPki;
  let plain: WsServer;
  let secure: WsServer;
  const sockets: SteadySocket[] = [];

  before(async function () {
    needTools(this, 'tinyproxy', 'openssl');
    pki = makeTestPki();
    proxy = await startTinyproxy();
    plain = await startWsServer();
    secure = await startWsServer({ tls: { cert: pki.cert, key: pki.key } });
  });

  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });

  after(async () => {
    await Promise.all([proxy?.stop(), plain?.close(), secure?.close()]);
    pki?.remove();
  });

  function client(url: string, options: SteadySocketOptions = {}): SteadySocket {
    const socket = new SteadySocket(url, { minDelay: 50, maxDelay: 200, ...options });
    socket.on('error', () => {});
    sockets.push(socket);
    return socket;
  }

  /** The CONNECT requests tinyproxy logged for `port`. */
  const connectsTo = (port: number) =>
    proxy.log().split('\n').filter((line) => line.includes(`CONNECT 127.0.0.1:${port} HTTP/1.1`));

  it('carries ws:// through the proxy (HTTP_PROXY) and echoes', async () => {
    const agent = proxyAgentFor(plain.url, { HTTP_PROXY: proxy.url });
    expect(agent, 'an agent from HTTP_PROXY').not.to.equal(undefined);
    const socket = client(plain.url, { agent });
    socket.send('hello through the proxy');
    expect(await nextMessage(socket)).to.equal('hello through the proxy');
    expect(plain.connections.at(-1)!.messages).to.deep.equal(['hello through the proxy']);
    // tinyproxy logs every request line: the tunnel was asked for by CONNECT to the server's port.
    await eventually(2000, 'the CONNECT in the tinyproxy log', () => connectsTo(plain.port).length === 1);
  });

  it('carries wss:// through the proxy (HTTPS_PROXY) with TLS end to end, checked against the test CA', async () => {
    const agent = proxyAgentFor(secure.url, { HTTPS_PROXY: proxy.url, HTTP_PROXY: 'http://127.0.0.1:9' });
    const socket = client(secure.url, { agent, ca: pki.ca });
    socket.send('hello over tls');
    expect(await nextMessage(socket)).to.equal('hello over tls');
    expect(secure.connections.at(-1)!.messages).to.deep.equal(['hello over tls']);
    await eventually(2000, 'the CONNECT in the tinyproxy log', () => connectsTo(secure.port).length === 1);
  });

  it('connects directly when NO_PROXY names the host (nothing reaches the proxy)', async () => {
    const direct = await startWsServer();
    try {
      const agent = proxyAgentFor(direct.url, { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });
      expect(agent).to.equal(undefined);
      const socket = client(direct.url, { agent });
      socket.send('direct');
      expect(await nextMessage(socket)).to.equal('direct');
      await socket.close();
      expect(connectsTo(direct.port)).to.deep.equal([]);
    } finally {
      await direct.close();
    }
  });

  it('sends the credentials of the proxy URL to a proxy that requires them', async () => {
    const guarded = await startTinyproxy({ basicAuth: { user: 'tester', password: 's3cret' } });
    try {
      const withCredentials = `http://tester:s3cret@127.0.0.1:${guarded.port}`;
      const socket = client(plain.url, { agent: proxyAgentFor(plain.url, { HTTP_PROXY: withCredentials }) });
      socket.send('authorised');
      expect(await nextMessage(socket)).to.equal('authorised');

      // Without them the proxy answers 407: a rejected handshake that names the proxy, and a stop.
      const counters = stats();
      const refused = client(plain.url, { agent: proxyAgentFor(plain.url, { HTTP_PROXY: guarded.url }), minDelay: 10, use: [counters] });
      const error = await within(5000, 'the error', new Promise<SteadySocketError>((resolve) => refused.once('error', resolve)));
      expect(error.code).to.equal('HANDSHAKE_REJECTED');
      expect(error.status).to.equal(407);
      expect(error.message).to.match(/proxy/);
      await within(2000, 'the client to stop', new Promise((resolve) => (refused.state === 'closed' ? resolve(null) : refused.on('state', (s) => s === 'closed' && resolve(null)))));
      expect(counters.snapshot().attempts).to.equal(1);
    } finally {
      await Promise.all(sockets.splice(0).map((socket) => socket.close()));
      await guarded.stop();
    }
  });
});
