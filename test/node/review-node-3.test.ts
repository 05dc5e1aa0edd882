// Review of the Node side as the author of a Node service would meet it (third pass): real TLS
// servers on loopback that ask for a client certificate.
import { expect } from 'chai';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { SteadySocket, type SteadySocketError } from '../../src/index';
import { needTools } from '../support/tools';
import { eventually, makeTestPki, within, type TestPki } from './support';

describe('review 3: a wss:// server that wants a client certificate (mutual TLS)', function () {
  this.timeout(30_000);
  let pki: TestPki;

  before(function () {
    needTools(this, 'openssl');
    pki = makeTestPki();
  });
  after(() => pki?.remove());

  /** An https server that requires a client certificate signed by the test CA and never upgrades. */
  async function mtlsServer(maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<{ url: string; server: Server }> {
    const server = createServer({ cert: pki.cert, key: pki.key, ca: pki.ca, requestCert: true, rejectUnauthorized: true, maxVersion });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return { url: `wss://127.0.0.1:${(server.address() as AddressInfo).port}/feed?token=zqTOKEN`, server };
  }

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`${version}: no client certificate is the server refusing the handshake (its alert named, cert and key advised), not "the server's certificate was not accepted"; no retry, no secret`, async () => {
      const { url, server } = await mtlsServer(version);
      const errors: SteadySocketError[] = [];
      const client = new SteadySocket(url, { ca: pki.ca, headers: { authorization: 'Bearer zqHEADER' }, minDelay: 20, maxDelay: 20 });
      client.on('error', (error) => errors.push(error));
      try {
        await eventually(10_000, 'the client to stop', () => client.state === 'closed');
        expect(errors).to.have.length(1);
        const [error] = errors;
        expect(error!.code).to.equal('CONNECT_FAILED');
        // Before: "The server's TLS certificate was not accepted (…). Pass its CA with the ca option,
        // or fix the host name." (TLS 1.3), or OpenSSL's raw text with a line break in it (TLS 1.2).
        expect(error!.message).to.match(/^The server refused the TLS handshake \((ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|EPROTO): (tlsv13 alert certificate required|sslv3 alert handshake failure)\)/);
        expect(error!.message).to.include('cert and key options');
        expect(error!.message).not.to.match(/server's TLS certificate|ca option|\n/);
        const shown = `${error!.message}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`;
        expect(shown).not.to.match(/zqTOKEN|zqHEADER/);
      } finally {
        await within(5_000, 'close()', client.close());
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });
  }
});
