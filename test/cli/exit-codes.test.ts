import { expect } from 'chai';
import { FAST, killAll, requireBuiltCli, runCli, startCli, startServer, until, type TestServer } from './helpers';

describe('steadysocket CLI: exit codes', function () {
  this.timeout(20_000);
  let server: TestServer;

  before(async () => {
    requireBuiltCli();
    server = await startServer({
      onConnection: (c) => {
        const close = /^\/close\/(\d{4})/.exec(c.path);
        if (close) c.socket.close(Number(close[1]), 'server says bye');
      },
    });
  });
  after(() => server.close());
  afterEach(() => killAll());

  it('0 when the server closes normally and reconnecting is off', async () => {
    const result = await runCli([server.url('/close/1000'), '--no-reconnect'], { input: '' });
    expect(result.code).to.equal(0);
  });

  it('2 for usage errors, with the reason on stderr', async () => {
    // More argument checks run in-process in units.test.ts; these cover each layer once.
    const cases: [string[], RegExp][] = [
      [[], /missing the URL/],
      [['ws://x', '--bogus'], /unknown option '--bogus'/],
      [['ws://x', '--max-retries', 'many'], /--max-retries must be a whole number/],
      [['ftp://x'], /ftp/],
      [['ws://x', '-s', 'bad token'], /token|protocol/i],
      [['ws://x', '--ca', '/nonexistent/ca.pem'], /--ca \/nonexistent\/ca\.pem: ENOENT/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).to.equal(2);
      expect(result.stderr, args.join(' ')).to.match(message);
    }
  });

  it('2 for a bad URL, blaming the URL and not the proxy variables', async () => {
    const cases: [string, RegExp][] = [
      ['ws://', /invalid URL "ws:\/\/": there is no host name/],
      ['foo bar', /invalid URL "ws:\/\/foo bar": the host "foo bar" contains white space/],
      ['ws://127.0.0.1:99999', /invalid URL "ws:\/\/127\.0\.0\.1:99999": the port 99999 is out of range/],
      ['ws://127.0.0.1:0/', /invalid URL "ws:\/\/127\.0\.0\.1:0\/": the port 0 is out of range/],
      ['ws://127.0.0.1:1/ x', /invalid URL "ws:\/\/127\.0\.0\.1:1\/ x": it contains white space/],
      [' ws://127.0.0.1:1/', /invalid URL " ws:\/\/127\.0\.0\.1:1\/": it starts or ends with white space/],
      ['http:/127.0.0.1:1', /invalid URL "http:\/127\.0\.0\.1:1": the scheme http: must be followed by \/\/ and the host/],
      ['ws:///path', /invalid URL "ws:\/\/\/path": there is no host name/],
      ['ws://127.0.0.1:80a/', /the port "80a" is not a number/],
      ['ws://127.0.0.1/#top', /a fragment \(#…\) is not allowed/],
    ];
    for (const [url, message] of cases) {
      const result = await runCli([url], { input: '' });
      expect(result.code, url).to.equal(2);
      expect(result.stderr, url).to.match(message);
      expect(result.stderr, url).not.to.match(/proxy/i);
    }
  });

  it('lists every exit code in --help, the new 6 and 7 among them', async () => {
    const help = await runCli(['--help']);
    for (const code of [0, 1, 2, 3, 4, 5, 6, 7, 130]) expect(help.stdout).to.match(new RegExp(`^  ${code} `, 'm'));
  });

  describe('wscat habits', () => {
    it('--host sets the Host header, --slash and -p 13 are accepted', async () => {
      const result = await runCli([server.url('/wscat'), '--host', 'example.test:8080', '--slash', '-p', '13', '-x', 'hi']);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('hi\n');
      expect(server.connections.find((c) => c.path === '/wscat')!.headers.host).to.equal('example.test:8080');
    });

    it('-p with another protocol version and -l/--listen are refused with what to do instead', async () => {
      const version = await runCli([server.url('/p8'), '-p', '8', '-x', 'x']);
      expect(version.code).to.equal(2);
      expect(version.stderr).to.include('version 13 (RFC 6455) only').and.include('use -s <token>');
      const listen = await runCli(['-l', '8080']);
      expect(listen.code).to.equal(2);
      expect(listen.stderr).to.include('client only').and.include('wscat -l 8080').and.include('websocat -s 8080');
      expect(server.connections.some((c) => c.path === '/p8')).to.equal(false);
    });

    it('--passphrase without a value and without a terminal is a clear usage error', async () => {
      const result = await runCli([server.url('/pass'), '--cert', 'c.pem', '--key', 'k.pem', '--passphrase', '-x', 'x']);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include('--passphrase was given without a value and there is no terminal to ask on');
    });
  });

  it('0 for --help and --version, on stdout', async () => {
    const help = await runCli(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.include('Usage: steadysocket').and.include('Exit codes:');
    const version = await runCli(['--version']);
    expect(version.code).to.equal(0);
    expect(version.stdout.trim()).to.match(/^\d+\.\d+\.\d+/);
  });

  it('3 when nothing listens and --max-retries is spent', async () => {
    const result = await runCli(['ws://127.0.0.1:1/', '--max-retries', '2', ...FAST]);
    expect(result.code).to.equal(3);
    expect(result.stderr.match(/ECONNREFUSED/g)).to.have.length(3);
    expect(result.stderr).to.include('RETRIES_EXHAUSTED');
  });

  it('3 when the handshake never answers within --connect-timeout and reconnecting is off', async () => {
    const started = Date.now();
    const result = await runCli([server.url('/hang'), '--connect-timeout', '300', '--no-reconnect']);
    expect(result.code).to.equal(3);
    expect(result.stderr).to.include('CONNECT_TIMEOUT');
    expect(Date.now() - started).to.be.below(5000);
  });

  it('3 when the connection drops and reconnecting is off', async () => {
    const dropper = await startServer({ onConnection: (c) => setTimeout(() => c.socket.terminate(), 50) });
    try {
      const cli = startCli([dropper.url(), '--no-reconnect']);
      const result = await cli.exited();
      expect(result.code).to.equal(3);
      expect(result.stderr).to.include('1006 abnormal closure');
    } finally {
      await dropper.close();
    }
  });

  it('4 when the handshake is rejected with 401 or 403, at once, without retrying', async () => {
    for (const status of [401, 403]) {
      const result = await runCli([server.url(`/reject/${status}`), '-q']);
      expect(result.code, String(status)).to.equal(4);
      expect(result.stderr).to.equal(`steadysocket: the server rejected the handshake with HTTP ${status} (exit 4)\n`);
    }
  });

  it('3, not 4, for other rejected handshakes once retries are spent', async () => {
    const result = await runCli([server.url('/reject/503'), '--max-retries', '1', ...FAST, '-q']);
    expect(result.code).to.equal(3);
  });

  it('5 when the server closes with an error code and does not get a reconnect', async () => {
    // 1008 (policy violation) stops reconnecting by default; 4000 needs --no-reconnect.
    const policy = await runCli([server.url('/close/1008')], { input: '' });
    expect(policy.code).to.equal(5);
    expect(policy.stderr).to.include('disconnected: 1008 policy violation: server says bye');
    const app = await runCli([server.url('/close/4000'), '--no-reconnect', '-q'], { input: '' });
    expect(app.code).to.equal(5);
    expect(app.stderr).to.equal('steadysocket: the server closed the connection: 4000: server says bye (exit 5)\n');
  });

  it('130 on SIGINT, after closing the connection normally', async () => {
    const before = server.connections.length;
    const cli = startCli([server.url('/sigint')]);
    await until(() => server.connections.length > before, 5000, 'the connection');
    const closed = new Promise<number>((resolve) => server.connections[before].socket.once('close', (code) => resolve(code)));
    cli.child.kill('SIGINT');
    const result = await cli.exited();
    expect(result.code).to.equal(130);
    expect(await closed).to.equal(1000);
  });
});
