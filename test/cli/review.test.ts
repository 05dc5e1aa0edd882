// The CLI off the happy path, from an adversarial review. Each test in 'regressions' failed before
// its fix; 'probed and found correct' keeps promises the review tried that held.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import type { Socket } from 'node:net';
import { CLI, cleanEnv, FAST, killAll, requireBuiltCli, ROOT, runCli, sleep, startCli, startRedirector, startServer, type TestServer } from './helpers';

/** The CLI with raw stdout bytes, stdout optionally left unread for `readAfter` ms (a slow reader). */
function spawnRaw(args: string[], options: { readAfter?: number; stdout?: number; input?: Buffer } = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: cleanEnv(),
    cwd: ROOT,
    stdio: ['pipe', options.stdout ?? 'pipe', 'pipe'],
  });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.on('error', () => {});
  if (options.input) child.stdin!.write(options.input);
  child.stdin!.end();
  // A 'readable' listener that does not read yet: the pipe fills and the CLI's writes wait, as
  // behind `| (sleep 3; cat)`. (With no listener at all, Node would discard the data at exit.)
  let reading = !options.readAfter;
  const read = () => {
    let chunk: Buffer | null;
    while (reading && (chunk = child.stdout!.read() as Buffer | null) !== null) chunks.push(chunk);
  };
  child.stdout?.on('readable', read);
  if (options.readAfter) {
    setTimeout(() => {
      reading = true;
      read();
    }, options.readAfter);
  }
  const done = new Promise<{ code: number | null; stdout: Buffer; stderr: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI did not exit in time; stderr: ${stderr}`));
    }, 15_000);
    const ended = child.stdout ? new Promise((settle) => child.stdout!.on('end', settle)) : Promise.resolve();
    child.on('exit', (code) => {
      void ended.then(() => {
        clearTimeout(timer);
        resolve({ code, stdout: Buffer.concat(chunks), stderr });
      });
    });
  });
  return { child, done };
}

describe('steadysocket CLI: adversarial review', function () {
  this.timeout(30_000);
  let server: TestServer;

  before(async () => {
    requireBuiltCli();
    server = await startServer({
      echo: true,
      onConnection: (c) => {
        // /burst/N/SIZE: N messages of SIZE bytes, then a normal close.
        const burst = /^\/burst\/(\d+)\/(\d+)/.exec(c.path);
        if (burst) {
          for (let i = 0; i < Number(burst[1]); i++) c.socket.send(`${i} ${'x'.repeat(Number(burst[2]))}`);
          c.socket.close(1000);
        }
        // /escapes: text with terminal escapes, then a close whose reason has one.
        if (c.path.startsWith('/escapes')) {
          c.socket.send('\x1b[31mred\x1b[0m');
          c.socket.close(4000, 'bye\x1b]2;owned\x07');
        }
        // /deaf: never reads again, so never answers the closing handshake.
        if (c.path.startsWith('/deaf')) {
          const raw = (c.socket as unknown as { _socket: Socket })._socket;
          raw.removeAllListeners('data');
          raw.pause();
        }
        // /bad-utf8: a text frame whose payload is not UTF-8.
        if (c.path === '/bad-utf8') {
          const raw = (c.socket as unknown as { _socket: Socket })._socket;
          setTimeout(() => raw.write(Buffer.from([0x81, 0x02, 0xc3, 0x28])), 50);
        }
      },
    });
  });
  after(() => server.close());
  afterEach(() => killAll());

  describe('regressions', () => {
    it('writes all of stdout however slow its reader, before it exits 0', async () => {
      // 300 messages of ~8 KB (2.4 MB): far more than a pipe buffer. The reader starts after 2.5 s.
      const run = spawnRaw([server.url('/burst/300/8000'), '-w', '-1'], { readAfter: 2500 });
      const result = await run.done;
      expect(result.code).to.equal(0);
      const lines = result.stdout.toString('utf8').split('\n').filter(Boolean);
      expect(lines.length, 'messages that reached the reader').to.equal(300);
    });

    it('exits with its normal code (no uncaught EPIPE) when the reader of stderr went away, e.g. 2>&1 | head -1', async () => {
      const cli = startCli([server.url('/stderr-gone'), '-w', '-1', '--no-reconnect']);
      await cli.waitForStderr('connected');
      cli.child.stderr.destroy(); // the reader of stderr is gone
      const connection = server.connections.find((c) => c.path === '/stderr-gone')!;
      connection.socket.close(1000); // the CLI now reports "disconnected" on stderr, and ends
      const result = await cli.exited();
      expect(result.code, 'exit code (1 means "a bug inside the CLI")').to.equal(0);
    });

    it('exits 1 and says so when received messages cannot be written to stdout (ENOSPC on /dev/full)', async function () {
      if (!existsSync('/dev/full')) this.skip();
      const full = openSync('/dev/full', 'w');
      try {
        const run = spawnRaw([server.url('/full'), '-x', 'a reply that cannot be written'], { stdout: full });
        const result = await run.done;
        expect(server.connections.find((c) => c.path === '/full')!.messages).to.deep.equal(['a reply that cannot be written']);
        expect(result.code, `stderr: ${result.stderr}`).to.equal(1);
        expect(result.stderr).to.include('cannot write to stdout: ENOSPC');
      } finally {
        closeSync(full);
      }
    });

    it('-b passes bytes that are not UTF-8 through untouched, on the way in and on the way out', async () => {
      const bytes = Buffer.from([0xff, 0xfe, 0x41]);
      const run = spawnRaw([server.url('/raw-binary'), '-b', '-w', '0.5'], { input: Buffer.concat([bytes, Buffer.from('\n')]) });
      const result = await run.done;
      expect(result.code).to.equal(0);
      const received = server.connections.find((c) => c.path === '/raw-binary')!.messages;
      expect(received, 'what the server received').to.deep.equal([`hex:${bytes.toString('hex')}`]);
      expect(result.stdout.toString('hex'), 'the echo on stdout').to.equal(`${bytes.toString('hex')}0a`);
    });

    it('a -H value with a character no header may carry is a usage error (exit 2) that names the header, not its value', async () => {
      const result = await runCli([server.url('/bad-header'), '-H', 'X-Token: abc€def', '-x', 'hi']);
      expect(result.code, result.stderr).to.equal(2);
      expect(result.stderr).not.to.include('for this URL');
      expect(result.stderr).to.include('X-Token');
      expect(result.stderr, 'the value is never echoed').not.to.include('abc');
    });

    it('never prints a --passphrase that starts with "-", not even in the "unknown option" error', async () => {
      const secret = `-Zq${process.pid}secret`; // not a valid short flag: commander reports it as an unknown option
      const result = await runCli([server.url('/pass'), '--passphrase', secret]);
      expect(result.code).to.equal(2);
      expect(result.stderr).not.to.include(secret.slice(1));
    });

    it('-w longer than 24.8 days (2^31 ms) keeps waiting, without a TimeoutOverflowWarning', async () => {
      const cli = startCli([server.url('/long-wait'), '-x', 'hi', '-w', '3000000']);
      await cli.waitForLine('hi');
      await sleep(1500);
      expect(cli.child.exitCode, `stderr: ${cli.stderr()}`).to.equal(null);
      expect(cli.stderr()).not.to.include('TimeoutOverflowWarning');
    });

    it('says an IPv6 host lacks its closing bracket (not that the port is wrong)', async () => {
      const result = await runCli(['ws://[::1']);
      expect(result.code).to.equal(2);
      expect(result.stderr).not.to.include('the port');
    });

    it('never prints a subprotocol that carries a token (-s longer than 24 characters), whether the server picks it or none', async () => {
      const token = `Zq${process.pid}TOKENxxxxxxxxxxxxxxxx`;
      const offered = `base64url.bearer.authorization.k8s.io.${token}`;
      // The test server picks the first offered subprotocol: connected (protocol …), --json open, --debug.
      for (const mode of [[], ['--json'], ['--debug']]) {
        const result = await runCli([server.url('/k8s'), '-s', offered, '-x', 'hi', ...mode]);
        expect(result.code, `${mode.join(' ')} ${result.stderr}`).to.equal(0);
        expect(`${result.stdout}${result.stderr}`, mode.join(' ')).not.to.include(token);
      }
      // Written together with other short flags, as commander also reads them.
      for (const flags of [['-Ps', offered], ['-qs', offered, '--json'], [`-Ps${offered}`, '--debug']]) {
        const result = await runCli([server.url('/k8s'), ...flags, '-x', 'hi']);
        expect(result.code, `${flags[0]} ${result.stderr}`).to.equal(0);
        expect(`${result.stdout}${result.stderr}`, flags.join(' ')).not.to.include(token);
      }
      const refusing = await startServer({ echo: true, handleProtocols: () => false });
      try {
        const result = await runCli([refusing.url('/k8s'), '-s', offered, '-s', 'v2.chat', '-x', 'hi', '--debug']);
        expect(result.code, result.stderr).to.not.equal(0);
        expect(result.stderr).to.include('PROTOCOL_NOT_NEGOTIATED');
        expect(`${result.stdout}${result.stderr}`).not.to.include(token);
      } finally {
        await refusing.close();
      }
    });
    it('diagnostics show a server\'s control characters as escapes; stdout keeps the message byte-for-byte', async () => {
      const result = await runCli([server.url('/escapes'), '--no-reconnect', '-w', '-1']);
      expect(result.stdout, 'the message, untouched').to.equal('\x1b[31mred\x1b[0m\n');
      expect(result.stderr).to.include('bye\\x1b]2;owned\\x07');
      expect(result.stderr, 'no raw ESC or BEL on stderr').not.to.match(/[\x07\x1b]/);
      // --debug lines quote the close reason too.
      const debugged = await runCli([server.url('/escapes'), '--no-reconnect', '-w', '-1', '--debug']);
      expect(debugged.stderr).to.match(/\[steadysocket\] closed with \d+ bye\\x1b\]2;owned\\x07/);
      expect(debugged.stderr, 'no raw ESC or BEL in --debug lines').not.to.match(/[\x07\x1b]/);
    });
  });

  describe('probed and found correct', () => {
    it('a text frame that is not UTF-8 ends the session with a typed PROTOCOL_ERROR and exit 3, no stack trace', async () => {
      const result = await runCli([server.url('/bad-utf8'), '-w', '-1']);
      expect(result.code).to.equal(3);
      expect(result.stderr).to.include('error PROTOCOL_ERROR');
      expect(result.stderr).to.include('1007 invalid payload');
      expect(result.stderr).not.to.match(/\n\s+at /);
    });

    it('a server that never answers the closing handshake delays the end by the close timeout only: stdin end 0, SIGINT 130, SIGTERM 143', async () => {
      for (const [how, code] of [['stdin', 0], ['SIGINT', 130], ['SIGTERM', 143]] as const) {
        const cli = startCli([server.url(`/deaf-${how}`)]);
        await cli.waitForStderr('connected');
        const started = Date.now();
        if (how === 'stdin') cli.end();
        else cli.child.kill(how);
        const result = await cli.exited(8000);
        expect(result.code, how).to.equal(code);
        expect(Date.now() - started, how).to.be.below(6000);
        expect(result.stderr, how).to.include('close timed out');
      }
    });

    it('a server closing with 1000 mid-stream (twice) gets every piped line exactly once, in order, over three connections', async () => {
      let closes = 0;
      const closing = await startServer({
        echo: false,
        onConnection: (c) => c.socket.on('message', () => c.messages.length === 250 && closes++ < 2 && c.socket.close(1000, 'bye')),
      });
      try {
        const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}`);
        const cli = startCli([closing.url('/mid'), ...FAST]);
        await cli.waitForStderr('connected');
        for (let batch = 0; batch < 10; batch++) {
          cli.write(`${lines.slice(batch * 100, batch * 100 + 100).join('\n')}\n`);
          await sleep(100);
        }
        cli.end();
        const result = await cli.exited();
        expect(result.code).to.equal(0);
        expect(closing.connections.length).to.equal(3);
        expect(closing.connections.flatMap((c) => c.messages)).to.deep.equal(lines);
      } finally {
        await closing.close();
      }
    });

    it('-L never prints the Location, not in --json open events nor in --debug', async () => {
      const redirector = await startRedirector(() => `ws://127.0.0.1:${server.port}/landed/loc${process.pid}?k=q${process.pid}`);
      try {
        for (const mode of [['--json'], ['--debug']]) {
          const result = await runCli([redirector.url('/start'), '-L', '-x', 'hi', ...mode]);
          expect(result.code, mode.join(' ')).to.equal(0);
          expect(`${result.stdout}${result.stderr}`, mode.join(' ')).not.to.include(`loc${process.pid}`);
          expect(`${result.stdout}${result.stderr}`, mode.join(' ')).not.to.include(`q${process.pid}`);
        }
      } finally {
        await redirector.close();
      }
    });

    it('masks secrets in URLs that do not parse or hold unusual characters, and proxy URLs without a scheme', async () => {
      const secret = `Zq${process.pid}SECRET`;
      const local = `127.0.0.1:${server.port}`;
      const runs = [
        [`ws://127.0.0.1:80a/p?token=é${secret}`],
        [`ws://u:é${secret}@127.0.0.1:80a/p`],
        [`ws://u:pa#${secret}@${local}/p`],
        [`ws://${local}/p?token=é${secret}`, '--debug', '-x', 'a'],
        [`ws://${local}/`, '--proxy', `u:${secret}@127.0.0.1:xx`],
        [`ws://${local}/`, '--proxy', `u:${secret}@127.0.0.1:1`, '--no-reconnect'],
      ];
      for (const args of runs) {
        const result = await runCli(args);
        expect(`${result.stdout}${result.stderr}`, args.join(' ')).not.to.include(secret);
      }
    });
  });
});
