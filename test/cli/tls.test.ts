import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needTools } from '../support/tools';
import { killAll, makeCertificates, PASSPHRASE, requireBuiltCli, runCli, startServer, type TestServer } from './helpers';

describe('steadysocket CLI: TLS', function () {
  this.timeout(20_000);
  let dir: string;
  let files: ReturnType<typeof makeCertificates>;
  let server: TestServer;

  before(async function () {
    requireBuiltCli();
    needTools(this, 'openssl');
    dir = mkdtempSync(join(tmpdir(), 'steadysocket-cli-tls-'));
    files = makeCertificates(dir);
    server = await startServer({
      tls: {
        key: readFileSync(files.serverKey, 'utf8'),
        cert: readFileSync(files.serverCert, 'utf8'),
        ca: readFileSync(files.ca, 'utf8'),
        requestCert: true,
      },
    });
  });
  after(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => killAll());

  it('--ca trusts a private CA for wss://', async () => {
    const result = await runCli([server.url('/ca'), '--ca', files.ca, '-x', 'over tls']);
    expect(result.code).to.equal(0);
    expect(result.stdout).to.equal('over tls\n');
    expect(result.stderr).not.to.include('WARNING');
  });

  it('fails without --ca (exit 3) and does not retry a certificate it cannot verify', async () => {
    const result = await runCli([server.url('/noca'), '-x', 'x']);
    expect(result.code).to.equal(3);
    expect(result.stderr).to.match(/unable to verify|self.signed|UNABLE_TO_VERIFY/i);
    expect(result.stderr).not.to.include('reconnecting');
  });

  it('-k/--insecure connects anyway, with a loud warning on stderr even under -q', async () => {
    const result = await runCli([server.url('/insecure'), '-k', '-q', '-x', 'unverified']);
    expect(result.code).to.equal(0);
    expect(result.stdout).to.equal('unverified\n');
    expect(result.stderr).to.match(/^WARNING: -k\/--insecure: the server certificate is NOT verified\./);
  });

  it('--cert, --key and --passphrase present a client certificate', async () => {
    const result = await runCli([
      server.url('/mtls'),
      '--ca', files.ca,
      '--cert', files.clientCert,
      '--key', files.clientKey,
      '--passphrase', PASSPHRASE,
      '-x', 'mutual',
    ]);
    expect(result.code).to.equal(0);
    expect(server.connections.find((c) => c.path === '/mtls')!.clientCert).to.equal('steadysocket-test-client');
  });

  it('a wrong --passphrase is a usage error before any connection is tried', async () => {
    const before = server.connections.length;
    const result = await runCli([server.url('/badpass'), '--ca', files.ca, '--cert', files.clientCert, '--key', files.clientKey, '--passphrase', 'nope']);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include('--key').and.include('wrong --passphrase?');
    expect(server.connections.length).to.equal(before);
  });
});
