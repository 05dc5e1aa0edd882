import { expect } from 'chai';
import { needTools } from '../support/tools';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, FAST, killAll, makeCertificates, ndjson, requireBuiltCli, runCli, startServer, until, type TestServer } from './helpers';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** tinyproxy in the foreground, owned by this test, refusing every destination but loopback. */
class Tinyproxy {
  readonly dir = mkdtempSync(join(tmpdir(), 'steadysocket-cli-proxy-'));
  port = 0;
  private child: ChildProcess | undefined;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    writeFileSync(join(this.dir, 'filter'), '^127\\.0\\.0\\.1$\n^localhost$\n');
    writeFileSync(
      join(this.dir, 'tinyproxy.conf'),
      [
        `Port ${this.port}`,
        'Listen 127.0.0.1',
        'Allow 127.0.0.1',
        `LogFile "${join(this.dir, 'tinyproxy.log')}"`,
        'LogLevel Info',
        'DisableViaHeader Yes',
        `Filter "${join(this.dir, 'filter')}"`,
        'FilterType ere',
        'FilterDefaultDeny Yes',
        'MaxClients 20',
      ].join('\n'),
    );
    this.child = spawn('tinyproxy', ['-d', '-c', join(this.dir, 'tinyproxy.conf')], { stdio: 'ignore' });
    const deadline = Date.now() + 5000;
    while (!(await accepting(this.port))) {
      if (Date.now() > deadline) throw new Error('tinyproxy did not start');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** CONNECT requests it has seen for a port. */
  tunnelsTo(port: number): number {
    const log = join(this.dir, 'tinyproxy.log');
    if (!existsSync(log)) return 0;
    return readFileSync(log, 'utf8').split('\n').filter((line) => line.includes(`CONNECT 127.0.0.1:${port} `)).length;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('steadysocket CLI: proxies (tinyproxy)', function () {
  this.timeout(20_000);
  let proxy: Tinyproxy;
  let server: TestServer;

  before(async function () {
    requireBuiltCli();
    needTools(this, 'tinyproxy', 'openssl');
    proxy = new Tinyproxy();
    await proxy.start();
    server = await startServer();
  });
  after(async () => {
    await server?.close();
    await proxy?.stop();
  });
  afterEach(() => killAll());

  it('--proxy tunnels through an HTTP proxy with CONNECT', async () => {
    const before = proxy.tunnelsTo(server.port);
    const result = await runCli([server.url('/flag'), '--proxy', proxy.url, '-x', 'via proxy']);
    expect(result.code).to.equal(0);
    expect(result.stdout).to.equal('via proxy\n');
    await until(() => proxy.tunnelsTo(server.port) === before + 1, 3000, 'the CONNECT in the proxy log');
  });

  it('reads HTTP_PROXY from the environment for ws:// URLs', async () => {
    const before = proxy.tunnelsTo(server.port);
    const result = await runCli([server.url('/env'), '-x', 'via env'], { env: cleanEnv({ HTTP_PROXY: proxy.url }) });
    expect(result.code).to.equal(0);
    expect(result.stdout).to.equal('via env\n');
    await until(() => proxy.tunnelsTo(server.port) === before + 1, 3000, 'the CONNECT in the proxy log');
  });

  it('goes direct for hosts in NO_PROXY, and with --no-proxy', async () => {
    const before = proxy.tunnelsTo(server.port);
    const bypassed = await runCli([server.url('/noproxy'), '-x', 'direct'], {
      env: cleanEnv({ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }),
    });
    expect(bypassed.code).to.equal(0);
    const ignored = await runCli([server.url('/flagoff'), '--no-proxy', '-x', 'direct'], { env: cleanEnv({ HTTP_PROXY: proxy.url }) });
    expect(ignored.code).to.equal(0);
    expect(server.connections.filter((c) => c.path === '/noproxy' || c.path === '/flagoff')).to.have.length(2);
    expect(proxy.tunnelsTo(server.port)).to.equal(before);
  });

  it('tunnels wss:// through HTTPS_PROXY, with the server certificate still checked against --ca', async () => {
    const files = makeCertificates(proxy.dir);
    const secure = await startServer({ tls: { key: readFileSync(files.serverKey, 'utf8'), cert: readFileSync(files.serverCert, 'utf8') } });
    try {
      const env = cleanEnv({ HTTPS_PROXY: proxy.url, HTTP_PROXY: 'http://127.0.0.1:1' });
      const result = await runCli([secure.url('/wss'), '--ca', files.ca, '-x', 'tls in a tunnel'], { env });
      expect(result.code).to.equal(0);
      expect(result.stdout).to.equal('tls in a tunnel\n');
      await until(() => proxy.tunnelsTo(secure.port) === 1, 3000, 'the CONNECT in the proxy log');
      const unverified = await runCli([secure.url('/wss'), '-x', 'x'], { env });
      expect(unverified.code).to.equal(3);
    } finally {
      await secure.close();
    }
  });

  it('a proxy variable that is not an HTTP(S) proxy is a usage error', async () => {
    const result = await runCli([server.url('/socks'), '-x', 'x'], { env: cleanEnv({ ALL_PROXY: 'socks5://127.0.0.1:1080' }) });
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include('socks5');
  });

  it('names the proxy, not the server, when the proxy refuses the tunnel, and exits 6 without retrying', async () => {
    // 127.0.0.2 is loopback but outside the proxy's filter: tinyproxy answers the CONNECT with 403.
    const target = `ws://127.0.0.2:${server.port}/filtered`;
    const plain = await runCli([target, '--proxy', proxy.url, '-x', 'x', ...FAST]);
    expect(plain.code, plain.stderr).to.equal(6);
    expect(plain.stderr).to.include(`the proxy 127.0.0.1:${proxy.port} refused the tunnel to 127.0.0.2:${server.port}`);
    expect(plain.stderr).to.include('HTTP 403');
    expect(plain.stderr).not.to.match(/server rejected/i);
    expect(plain.stderr).not.to.include('reconnecting');

    const quiet = await runCli([target, '-q', '-x', 'x'], { env: cleanEnv({ HTTP_PROXY: proxy.url }) });
    expect(quiet.code).to.equal(6);
    expect(quiet.stderr).to.match(/^steadysocket: the proxy 127\.0\.0\.1:\d+ refused the tunnel .* \(exit 6\)\n$/);

    const json = await runCli([target, '--proxy', proxy.url, '--json', '-x', 'x']);
    expect(json.code).to.equal(6);
    const error = ndjson(json.stdout).find((e) => e.type === 'error')!;
    expect(error).to.include({ code: 'HANDSHAKE_REJECTED', status: 403, proxy: `127.0.0.1:${proxy.port}` });
  });

  it('blames the server, exit 4, when the tunnel opened and the server itself rejected the handshake', async () => {
    const result = await runCli([server.url('/reject/403'), '--proxy', proxy.url, '-q', '-x', 'x']);
    expect(result.code).to.equal(4);
    expect(result.stderr).to.equal('steadysocket: the server rejected the handshake with HTTP 403 (exit 4)\n');
  });

  it('retries, then exits 3, when the proxy could not reach the server (5xx), saying it was the proxy that answered', async () => {
    const dead = await freePort();
    const result = await runCli([`ws://127.0.0.1:${dead}/`, '--proxy', proxy.url, '--max-retries', '1', ...FAST, '-x', 'x']);
    expect(result.code).to.equal(3);
    expect(result.stderr.match(new RegExp(`the proxy 127\\.0\\.0\\.1:${proxy.port} could not open a tunnel to 127\\.0\\.0\\.1:${dead}: CONNECT answered HTTP 5\\d\\d`, 'g'))).to.have.length(2);
    expect(result.stderr).to.include('reconnecting');
  });

  it('exits 3 when the proxy itself cannot be reached', async () => {
    const dead = await freePort();
    const result = await runCli([server.url('/deadproxy'), '--proxy', `http://127.0.0.1:${dead}`, '--no-reconnect', '-x', 'x']);
    expect(result.code).to.equal(3);
    expect(result.stderr).to.include(`could not reach the proxy 127.0.0.1:${dead} (ECONNREFUSED): the server was not tried`);
  });
});

describe('steadysocket CLI: a proxy that wants credentials (HTTP 407)', function () {
  this.timeout(20_000);
  let proxy: Server;
  let port = 0;
  const sockets = new Set<Socket>();

  before(async () => {
    requireBuiltCli();
    proxy = createHttpServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (_req, socket: Socket) => {
      sockets.add(socket);
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    port = (proxy.address() as AddressInfo).port;
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  });
  afterEach(() => killAll());

  it('says credentials are missing when the proxy URL has none, and refused when it has some (exit 6, no retry)', async () => {
    const missing = await runCli(['ws://127.0.0.1:9/', '--proxy', `http://127.0.0.1:${port}`, '-x', 'x']);
    expect(missing.code, missing.stderr).to.equal(6);
    expect(missing.stderr).to.include('it wants credentials: put them in the proxy URL');
    const refused = await runCli(['ws://127.0.0.1:9/', '--proxy', `http://alice:wrongpass1@127.0.0.1:${port}`, '-x', 'x']);
    expect(refused.code, refused.stderr).to.equal(6);
    expect(refused.stderr).to.include('it refused the credentials in the proxy URL');
    expect(refused.stderr).not.to.include('wrongpass1');
  });
});
