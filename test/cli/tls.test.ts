import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    // The advice names the CLI's flag, not the library's option.
    expect(result.stderr).to.include('Pass its CA with --ca <file>').and.not.include('ca option');
    expect(result.stderr).not.to.include('reconnecting');
  });

  it('a server that wants a client certificate: exit 3, no retry, and the advice names --cert and --key', async () => {
    const strict = await startServer({
      tls: { key: readFileSync(files.serverKey, 'utf8'), cert: readFileSync(files.serverCert, 'utf8'), ca: readFileSync(files.ca, 'utf8'), requestCert: true, rejectUnauthorized: true },
    });
    try {
      const result = await runCli([strict.url('/nocert'), '--ca', files.ca, '-x', 'x']);
      expect(result.code).to.equal(3);
      expect(result.stderr).to.include('The server refused the TLS handshake');
      // The advice names the CLI's flags, not the library's options.
      expect(result.stderr).to.include('with --cert <file> and --key <file>').and.not.include('key options');
      expect(result.stderr).not.to.include('reconnecting');
    } finally {
      await strict.close();
    }
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

  it('--ca with a file that holds no PEM certificate is a usage error, not silently ignored', async () => {
    writeFileSync(join(dir, 'empty.pem'), 'not a certificate\n');
    for (const file of [join(dir, 'empty.pem'), files.serverKey]) {
      const result = await runCli([server.url('/badca'), '--ca', file, '-x', 'x']);
      expect(result.code, file).to.equal(2);
      expect(result.stderr, file).to.include(`--ca ${file}: holds no PEM certificate`);
    }
    expect(server.connections.some((c) => c.path === '/badca')).to.equal(false);
  });

  it('wss:// to a plain ws:// server says so, without an OpenSSL dump, and does not retry (exit 3)', async () => {
    const plain = await startServer();
    try {
      const url = plain.url('/plain').replace('ws://', 'wss://');
      const result = await runCli([url, '-x', 'x', '--min-delay', '20'], { timeout: 5000 });
      expect(result.code).to.equal(3);
      expect(result.stderr).to.include('the server did not answer TLS; is it ws://?');
      expect(result.stderr).not.to.include('reconnecting');
      expect(result.stderr).not.to.match(/SSL routines|openssl/i);
      const quiet = await runCli([url, '-q'], { input: '' });
      expect(quiet.code).to.equal(3);
      expect(quiet.stderr).to.match(/^steadysocket: the server did not answer TLS; is it ws:\/\/\? .*\(exit 3\)\n$/);
    } finally {
      await plain.close();
    }
  });

  it("-n/--no-check (wscat's name) works as -k, with the same warning", async () => {
    const result = await runCli([server.url('/nocheck'), '-n', '-q', '-x', 'unverified']);
    expect(result.code).to.equal(0);
    expect(result.stdout).to.equal('unverified\n');
    expect(result.stderr).to.match(/^WARNING: -n\/--no-check \(wscat's name for -k\/--insecure\): the server certificate is NOT verified\./);
  });

  it('a wrong --passphrase is a usage error before any connection is tried', async () => {
    const before = server.connections.length;
    const result = await runCli([server.url('/badpass'), '--ca', files.ca, '--cert', files.clientCert, '--key', files.clientKey, '--passphrase', 'nope']);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include('--key').and.include('wrong --passphrase?');
    expect(server.connections.length).to.equal(before);
  });
});
