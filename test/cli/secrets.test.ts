// No CLI output may carry a secret: URL user and password, query values, header values, --auth,
// proxy credentials. Every run hides fresh secrets in every part and checks stdout and stderr.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { cleanEnv, FAST, killAll, requireBuiltCli, runCli, startRedirector, startServer, type Redirector, type TestServer } from './helpers';

/** An HTTP proxy that refuses every CONNECT with 403 (as a filtering proxy does). */
async function refusingProxy(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => res.writeHead(403).end());
  server.on('connect', (_req, socket: Socket) => {
    sockets.add(socket);
    socket.end('HTTP/1.1 403 Filtered\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('steadysocket CLI: secrets never reach the output', function () {
  this.timeout(90_000);
  let server: TestServer;
  let proxy: Awaited<ReturnType<typeof refusingProxy>>;
  let dead: number;
  /** Redirects each handshake to its own path and query, one parameter longer: a loop. */
  let looping: Redirector;
  /** Redirects each handshake to the ws server, query (and its secret) kept. */
  let onward: Redirector;

  before(async () => {
    requireBuiltCli();
    server = await startServer();
    proxy = await refusingProxy();
    dead = await deadPort();
    looping = await startRedirector((path) => `${path}&n=1`);
    onward = await startRedirector((path) => `ws://127.0.0.1:${server.port}/landed${path.slice(path.indexOf('?'))}`);
  });
  after(async () => {
    await server?.close();
    await proxy?.close();
    await looping?.close();
    await onward?.close();
  });
  afterEach(() => killAll());

  it('hides URL userinfo, query values, header values and proxy passwords on every failure path, in every output mode', async () => {
    const tag = randomBytes(8).toString('hex');
    const secret = {
      user: `user${tag}`,
      pass: `pass${tag}`,
      query: `query${tag}`,
      header: `header${tag}`,
      bearer: `bearer${tag}`,
      auth: `auth${tag}`,
      proxyUser: `puser${tag}`,
      proxyPass: `ppass${tag}`,
    };
    const url = (hostPort: string, path = '/path') => `ws://${secret.user}:${secret.pass}@${hostPort}${path}?token=${secret.query}&v=2`;
    const local = `127.0.0.1:${server.port}`;
    const proxyUrl = (port: number, scheme = 'http') => `${scheme}://${secret.proxyUser}:${secret.proxyPass}@127.0.0.1:${port}`;
    const headers = ['-H', `X-Api-Key: ${secret.header}`, '-H', `Authorization: Bearer ${secret.bearer}`];

    const paths: { name: string; args: string[]; env?: NodeJS.ProcessEnv; code: number }[] = [
      { name: 'mistyped port', args: [url('127.0.0.1:80a'), ...headers], code: 2 },
      { name: 'port out of range', args: [url('127.0.0.1:99999'), ...headers], code: 2 },
      { name: 'refused connection', args: [url(`127.0.0.1:${dead}`), ...headers, '--connect-attempts', '2', ...FAST], code: 3 },
      { name: 'handshake rejected 403', args: [url(local, '/reject/403'), ...headers], code: 4 },
      { name: 'handshake rejected 500, retries spent', args: [url(local, '/reject/500'), ...headers, '--max-retries', '1', ...FAST], code: 3 },
      { name: 'proxy refuses the tunnel', args: [url(local), ...headers, '--proxy', proxyUrl(proxy.port)], code: 6 },
      { name: 'proxy from the environment refuses', args: [url(local), ...headers], env: cleanEnv({ HTTP_PROXY: proxyUrl(proxy.port) }), code: 6 },
      { name: 'proxy unreachable', args: [url(local), ...headers, '--proxy', proxyUrl(dead), '--no-reconnect'], code: 3 },
      { name: 'proxy of the wrong kind', args: [url(local), ...headers, '--proxy', proxyUrl(1080, 'socks5')], code: 2 },
      { name: 'redirect followed (-L)', args: [url(`127.0.0.1:${onward.port}`), ...headers, '-L'], code: 0 },
      { name: 'redirect not followed', args: [url(`127.0.0.1:${looping.port}`), ...headers, '--no-reconnect'], code: 3 },
      { name: 'redirects beyond --max-redirects', args: [url(`127.0.0.1:${looping.port}`), ...headers, '-L', '--max-redirects', '2', '--no-reconnect'], code: 3 },
      { name: 'unknown flag', args: [url(local), ...headers, '--bogus'], code: 2 },
      { name: 'malformed header', args: [url(local), '-H', `Bad Name: ${secret.header}`], code: 2 },
      { name: 'malformed --auth', args: [url(local), '--auth', secret.auth], code: 2 },
      // --auth sets Authorization: with -H 'Authorization: …' too it would be a usage error.
      { name: 'success', args: [url(local, '/ok'), '-H', `X-Api-Key: ${secret.header}`, '--auth', `me:${secret.auth}`], code: 0 },
    ];
    const modes = [[], ['--json'], ['-q', '--debug']];
    for (const path of paths) {
      for (const mode of modes) {
        const what = `${path.name} ${mode.join(' ')}`;
        const result = await runCli([...path.args, ...mode, '-x', 'hello'], { env: path.env, timeout: 10_000 });
        expect(result.code, `${what}: ${result.stderr}`).to.equal(path.code);
        for (const [part, value] of Object.entries(secret)) {
          expect(result.stdout, `${what}: ${part} on stdout`).not.to.include(value);
          expect(result.stderr, `${what}: ${part} on stderr`).not.to.include(value);
        }
        expect(`${result.stdout}${result.stderr}`, what).not.to.include(tag);
      }
    }
    expect(onward.requests).to.have.length(modes.length);
    expect(looping.requests).to.have.length(modes.length * 4); // without -L: 1 request; with --max-redirects 2: 3
    expect(server.connections.filter((c) => c.path.startsWith('/landed?'))).to.have.length(modes.length);
    // Redacted, the structure stays readable.
    const shown = await runCli([url('127.0.0.1:80a')]);
    expect(shown.stderr).to.include('invalid URL "ws://***:***@127.0.0.1:80a/path?token=***&v=***"');
    const open = await runCli([url(local, '/ok'), '--json', '-x', 'hi']);
    expect(open.stdout).to.include(`"url":"ws://***:***@${local}/ok?token=***&v=***"`);
    // The server did get the credentials: redaction is for output only.
    const ok = server.connections.filter((c) => c.path.startsWith('/ok'));
    expect(ok.at(-1)!.path).to.include(`token=${secret.query}`);
    expect(ok.at(-2)!.headers['x-api-key']).to.equal(secret.header);
  });

  it('hides the Basic credentials made from URL userinfo when a server quotes them, and the value of a mistyped flag', async () => {
    const tag = randomBytes(8).toString('hex');
    const basic = Buffer.from(`user${tag}:pass${tag}`).toString('base64');
    // Closes every connection quoting the Authorization header the client sent (ws makes it from the URL's userinfo).
    const quoting = await startServer({ echo: false, onConnection: (c) => c.socket.close(4001, `bad ${c.headers.authorization}`) });
    try {
      for (const mode of [[], ['--json'], ['-q', '--debug']]) {
        const result = await runCli([`ws://user${tag}:pass${tag}@127.0.0.1:${quoting.port}/`, '--no-reconnect', ...mode], { timeout: 10_000 });
        expect(result.code, `${mode.join(' ')}: ${result.stderr}`).to.equal(5);
        expect(`${result.stdout}${result.stderr}`, `${mode.join(' ')}: the close reason is shown`).to.include('bad ');
        for (const text of [result.stdout, result.stderr]) {
          expect(text, mode.join(' ')).not.to.include(tag);
          expect(text, `${mode.join(' ')}: Basic credentials`).not.to.include(basic);
        }
      }
      expect(quoting.connections[0].headers.authorization, 'the server did get them').to.equal(`Basic ${basic}`);
    } finally {
      await quoting.close();
    }
    // commander quotes an unknown option whole, value included.
    for (const args of [[`--headers=Authorization: Bearer bearer${tag}`], [`--auht=user:auth${tag}`], [`--header-x=it's ${tag}`]]) {
      const result = await runCli([`ws://127.0.0.1:${dead}/`, ...args], { timeout: 10_000 });
      expect(result.code, result.stderr).to.equal(2);
      expect(result.stderr).to.match(/unknown option '--[a-z-]+=\*\*\*'/);
      expect(`${result.stdout}${result.stderr}`).not.to.include(tag);
    }
  });
});
