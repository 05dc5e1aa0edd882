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
      expect(result.stderr).to.equal(`steadysocket: handshake rejected with HTTP ${status} (exit 4)\n`);
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
