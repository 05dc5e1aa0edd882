import { expect } from 'chai';
import { SteadySocket, stats, type SteadySocketError, type SteadySocketOptions } from '../../src/index';
import { needTools } from '../support/tools';
import { makeTestPki, sleep, startWsServer, within, type TestPki, type WsServer } from './support';

describe('SteadySocket over wss:// with a test CA', function () {
  this.timeout(30_000);
  let pki: TestPki;
  /** Sends only the leaf. */
  let server: WsServer;
  /** Sends the leaf and the CA certificate. */
  let chainServer: WsServer;
  /** A leaf from the right CA whose name is other.test. */
  let wrongNameServer: WsServer;
  const sockets: SteadySocket[] = [];

  before(async function () {
    needTools(this, 'openssl');
    pki = makeTestPki();
    server = await startWsServer({ tls: { cert: pki.cert, key: pki.key } });
    chainServer = await startWsServer({ tls: { cert: pki.cert + pki.ca, key: pki.key } });
    wrongNameServer = await startWsServer({ tls: { cert: pki.wrongNameCert, key: pki.wrongNameKey } });
  });

  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });

  after(async () => {
    await Promise.all([server?.close(), chainServer?.close(), wrongNameServer?.close()]);
    pki?.remove();
  });

  function client(url: string, options: SteadySocketOptions = {}): SteadySocket {
    // Quick retries: if the policy retried, the test would see it within its wait.
    const socket = new SteadySocket(url, { minDelay: 20, maxDelay: 20, ...options });
    socket.on('error', () => {});
    sockets.push(socket);
    return socket;
  }

  it('connects with the CA in the ca option and echoes', async () => {
    const socket = client(server.url, { ca: pki.ca });
    const echoed = within(5000, 'the echo', new Promise((resolve) => socket.once('message', resolve)));
    socket.send('over tls');
    expect(await echoed).to.equal('over tls');
    expect(server.connections).to.have.length(1);
    expect(server.tlsErrors).to.deep.equal([]);
  });

  /**
   * Connects, waits for the client to reach `closed` (bounded), then long enough for several
   * retries at 20 ms; returns the errors it emitted.
   */
  async function failedVerification(target: WsServer, options: SteadySocketOptions): Promise<{ errors: SteadySocketError[]; socket: SteadySocket }> {
    const tcpBefore = target.tcpConnections;
    const wsBefore = target.connections.length;
    const counters = stats();
    const socket = client(target.url, { ...options, use: [...(options.use ?? []), counters] });
    const errors: SteadySocketError[] = [];
    socket.on('error', (error) => errors.push(error));
    await within(5000, 'the client to stop', new Promise<void>((resolve) => socket.on('state', (state) => state === 'closed' && resolve())));
    await sleep(300);
    expect(socket.state).to.equal('closed');
    expect(counters.snapshot().attempts, 'attempts').to.equal(1);
    expect(target.tcpConnections - tcpBefore, 'TCP connections the server saw').to.equal(1);
    expect(target.connections.length - wsBefore, 'WebSockets the server accepted').to.equal(0);
    return { errors, socket };
  }

  function expectTlsError(errors: SteadySocketError[], nodeCode: string): void {
    expect(errors, 'errors emitted').to.have.length(1);
    const [error] = errors;
    expect(error.code).to.equal('CONNECT_FAILED');
    expect((error.cause as { code?: string } | undefined)?.code).to.equal(nodeCode);
    expect(error.message).to.include(nodeCode === 'ERR_TLS_CERT_ALTNAME_INVALID' ? "does not match certificate's altnames" : 'certificate');
  }

  it('without ca: fails with cause.code UNABLE_TO_VERIFY_LEAF_SIGNATURE and does not retry', async () => {
    const { errors } = await failedVerification(server, {});
    expectTlsError(errors, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('with a CA that did not sign the certificate: UNABLE_TO_VERIFY_LEAF_SIGNATURE, no retry', async () => {
    const { errors } = await failedVerification(server, { ca: pki.otherCa });
    expectTlsError(errors, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('without ca, when the server sends its CA in the chain: SELF_SIGNED_CERT_IN_CHAIN, no retry', async () => {
    const { errors } = await failedVerification(chainServer, {});
    expectTlsError(errors, 'SELF_SIGNED_CERT_IN_CHAIN');
  });

  it('with the right CA but a certificate for another name: ERR_TLS_CERT_ALTNAME_INVALID, no retry', async () => {
    const { errors } = await failedVerification(wrongNameServer, { ca: pki.ca });
    expectTlsError(errors, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('wss:// to a plain ws:// server: says the server did not answer in TLS, and stops after one attempt', async () => {
    // Before: a raw OpenSSL message ("…ssl3_get_record:wrong version number…") on every attempt, retried for ever.
    const plain = await startWsServer();
    try {
      const socket = client(plain.url.replace(/^ws:/, 'wss:'));
      const errors: SteadySocketError[] = [];
      socket.on('error', (error) => errors.push(error));
      await within(5000, 'the client to stop', new Promise<void>((resolve) => socket.on('state', (state) => state === 'closed' && resolve())));
      await sleep(100); // several retries at 20 ms, had the policy retried
      expect(errors.map((error) => error.code)).to.deep.equal(['CONNECT_FAILED']);
      expect(errors[0]!.message).to.match(/^The server did not answer in TLS \(wrong version number\): is it a ws:\/\/ server\?/);
      expect(plain.tcpConnections, 'one attempt').to.equal(1);
    } finally {
      await plain.close();
    }
  });
});
