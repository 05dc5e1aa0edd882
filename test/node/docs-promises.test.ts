// Promises of README.md, docs/guide.md and docs/cli.md that no other test pinned and that need a
// real socket, a child process or the built CLI (dist/cli.js). Each test quotes the doc line it
// pins. Servers listen on 127.0.0.1 port 0 and are closed in after/finally; every wait is bounded.
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { killAll, requireBuiltCli, runCli, startCli, startServer, until, type TestServer } from '../cli/helpers';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

/** Runs an ES module snippet in a fresh Node process; resolves with its exit and output, killed after `timeout` ms. */
function runModule(source: string, timeout: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on. */
async function deadPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('docs promises without another test (real sockets, child processes, dist/)', function () {
  this.timeout(30_000);

  describe('the library (dist/)', () => {
    it('unref: true lets a Node process exit by itself while waiting to reconnect', async () => {
      // README options: "`unref` | `false` | Node: let the process exit whatever the client is doing (connecting, open, closing, waiting)"
      // (guide §10: "A fire-and-forget tool that should exit while still connected sets `unref: true`")
      const port = await deadPort();
      const url = pathToFileURL(`${DIST}index.js`).href;
      const source = `
        import { SteadySocket } from ${JSON.stringify(url)};
        const socket = new SteadySocket('ws://127.0.0.1:${port}/', { unref: ${'%UNREF%'}, minDelay: 60000, maxDelay: 60000, jitter: 0 });
        socket.on('reconnecting', (info) => console.log('waiting', info.delay));
        process.on('exit', () => console.log('exit in state', socket.state));
      `;
      const unref = await runModule(source.replace('%UNREF%', 'true'), 10_000);
      expect(unref.stdout, unref.stderr).to.match(/^waiting 60000$/m);
      expect(unref.stdout).to.match(/^exit in state waiting$/m);
      expect(unref.code).to.equal(0);
      expect(unref.ms).to.be.below(8000);
      // The control: without unref the 60 s retry timer keeps the process alive.
      const ref = await runModule(source.replace('%UNREF%', 'false'), 2500);
      expect(ref.stdout).to.match(/^waiting 60000$/m);
      expect(ref.signal, 'still alive after 2.5 s, killed by the test').to.equal('SIGKILL');
    });

    it('the browser build throws NO_WEBSOCKET from the constructor where no WebSocket can be found', async () => {
      // guide §1: "If no constructor can be found at all, the constructor throws `NO_WEBSOCKET`."
      // guide §13: "`NO_WEBSOCKET` | no `WebSocket` implementation was found: pass one as the `WebSocket` option | thrown by the constructor"
      const url = pathToFileURL(`${DIST}index.browser.js`).href;
      const result = await runModule(
        `
        delete globalThis.WebSocket; // Node 20 has none; Node 22 has a global one
        const { SteadySocket } = await import(${JSON.stringify(url)});
        try {
          new SteadySocket('ws://127.0.0.1:1/');
          console.log('no throw');
        } catch (error) {
          console.log('threw', error.code, error.name);
        }
        `,
        10_000,
      );
      expect(result.stdout.trim(), result.stderr).to.equal('threw NO_WEBSOCKET SteadySocketError');
    });
  });

  describe('the CLI (dist/cli.js)', () => {
    let server: TestServer;

    before(async () => {
      requireBuiltCli();
      server = await startServer({
        onConnection: (c) => {
          if (c.path === '/close/1005') c.socket.close(); // a close frame without a code
          const close = /^\/close\/(\d{4})/.exec(c.path);
          if (close && close[1] !== '1005') c.socket.close(Number(close[1]), 'bye');
          if (c.path === '/deaf') (c.socket as unknown as { _socket: { pause(): void } })._socket.pause(); // never reads the client's close frame
        },
      });
    });
    after(() => server.close());
    afterEach(() => killAll());

    it('exit 0 when the server closes with 1001 or 1005 and reconnecting is off', async () => {
      // docs/cli.md exit codes: "0 | normal end: … or the server closed with 1000, 1001 or 1005 and reconnecting was off"
      // and "5 | the server closed the connection with an error code (anything but 1000, 1001, 1005)"
      for (const code of ['1001', '1005']) {
        const result = await runCli([server.url(`/close/${code}`), '--no-reconnect', '-w', '-1'], { input: '' });
        expect(result.code, `${code}: ${result.stderr}`).to.equal(0);
      }
      const error = await runCli([server.url('/close/1011'), '--no-reconnect', '-w', '-1'], { input: '' });
      expect(error.code, error.stderr).to.equal(5);
    });

    it('a piped line that is not valid hex is skipped with a note on stderr and exit 8; in -x and --preamble it is a usage error (exit 2)', async () => {
      // docs/cli.md Messages: "A line that is not valid hex/base64 is skipped with a note on stderr
      // (in `-x` and `--preamble` it is a usage error), and the run then ends with exit 8".
      const before = server.connections.length;
      const piped = await runCli([server.url('/hex'), '--hex'], { input: 'zz not hex\nde ad\n' });
      expect(piped.code, piped.stderr).to.equal(8);
      expect(piped.stderr).to.match(/skipped a line/);
      const connection = server.connections[before];
      expect(connection.messages).to.deep.equal(['hex:dead']);
      for (const args of [['-x', 'zz'], ['--preamble', 'zz']]) {
        const usage = await runCli([server.url('/hex'), '--hex', ...args], { input: '' });
        expect(usage.code, `${args.join(' ')}: ${usage.stderr}`).to.equal(2);
      }
      for (const args of [['--base64', '-x', '%%%']]) {
        const usage = await runCli([server.url('/b64'), ...args], { input: '' });
        expect(usage.code, `${args.join(' ')}: ${usage.stderr}`).to.equal(2);
      }
    });

    it('--json: a failing run prints only JSON on stdout and exactly one line on stderr saying why', async () => {
      // docs/cli.md: "`--json` | … | one JSON object per event | nothing unless something fails" and
      // "With `-q` or `--json`, a failing run still prints one line on stderr"
      const port = await deadPort();
      const result = await runCli([`ws://127.0.0.1:${port}/`, '--json', '--max-retries', '0', '-x', 'never sent'], { input: '' });
      expect(result.code, result.stderr).to.equal(3);
      const lines = result.stdout.split('\n').filter(Boolean);
      expect(lines.length).to.be.greaterThan(0);
      for (const line of lines) expect(() => JSON.parse(line), line).not.to.throw();
      expect(lines.map((line) => JSON.parse(line).type)).to.include('drop');
      expect(result.stderr).to.match(/^steadysocket: .*\(exit 3\)\n$/);
      expect(result.stderr.split('\n').filter(Boolean)).to.have.length(1);
    });

    it('SIGTERM exits 143 after closing normally; a second signal exits at once while the close waits for the server', async () => {
      // docs/cli.md exit codes: "130 / 143 | interrupted by SIGINT / SIGTERM outside interactive mode
      // (the connection is closed normally first; a second signal exits at once)"
      const before = server.connections.length;
      const cli = startCli([server.url('/deaf')]);
      await until(() => server.connections.length > before, 5000, 'the connection');
      await new Promise((resolve) => setTimeout(resolve, 200));
      cli.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(cli.child.exitCode, 'the first signal waits for the closing handshake (closeTimeout)').to.equal(null);
      const secondAt = Date.now();
      cli.child.kill('SIGTERM');
      const result = await cli.exited(5000);
      expect(Date.now() - secondAt, 'exits at once on the second signal').to.be.below(1000);
      expect(result.code).to.equal(143);
    });
  });
});
