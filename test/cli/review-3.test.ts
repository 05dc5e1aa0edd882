// The CLI off the happy path, from a third adversarial review (a wscat user's). Each test in
// 'regressions' failed before its fix.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { killAll, requireBuiltCli, runCli, startServer, type TestServer } from './helpers';

describe('steadysocket CLI: review 3', function () {
  this.timeout(30_000);
  let server: TestServer;

  before(async () => {
    requireBuiltCli();
    server = await startServer({
      echo: false,
      onConnection: (c) => {
        // A text message with what JSON.stringify leaves raw: a C1 CSI, a bidi override, DEL.
        if (c.path === '/c1') c.socket.send('a\u009b2J\u202eb\u007f');
        // A frame header that announces 101 MiB: the client refuses it before any payload comes.
        if (c.path === '/huge') (c.socket as unknown as { _socket: Socket })._socket.write(Buffer.from([0x82, 127, 0, 0, 0, 0, 0x06, 0x50, 0, 0]));
      },
    });
  });
  after(() => server.close());
  afterEach(() => killAll());

  describe('regressions', () => {
    it('sends a 32 MB stdin line without a newline as one message, in seconds (reading it was quadratic in its chunks)', async () => {
      const line = 'x'.repeat(32 * 1024 * 1024);
      // Before the fix each 64 KiB chunk searched the whole line so far: about 40 s on this size.
      const result = await runCli([server.url('/long-line'), '-q'], { input: line, timeout: 15_000 });
      expect(result.code, result.stderr).to.equal(0);
      const received = server.connections.find((c) => c.path === '/long-line')!.messages;
      expect(received.map((m) => m.length)).to.deep.equal([line.length]);
    });

    it('-w refuses hex, binary and octal literals (0x10, 0b1, 0o7) at once with exit 2, and still takes decimals', async () => {
      for (const value of ['0x10', '0b1', '0o7', '1_0']) {
        const result = await runCli([server.url('/never'), '-w', value, '-x', 'hi'], { timeout: 5000 });
        expect(result.code, `-w ${value}: ${result.stderr}`).to.equal(2);
        expect(result.stderr).to.include(`argument '${value}' is invalid. seconds must be a number`);
      }
      expect(server.connections.filter((c) => c.path === '/never')).to.have.length(0);
      const ok = await runCli([server.url('/decimal'), '-w', '.2', '-x', 'hi', '-q'], { timeout: 5000 });
      expect(ok.code, ok.stderr).to.equal(0);
    });

    it('a header given twice, or by a flag and -H, is a usage error naming it (never its values), not one value silently lost', async () => {
      const tag = randomBytes(8).toString('hex');
      const cases: [string[], string][] = [
        [['-H', `X-Token: first${tag}`, '-H', `x-token: second${tag}`], 'x-token is given twice'],
        [['-H', `X-Token: first${tag}`, '--header', `X-Token: second${tag}`], 'X-Token is given twice'],
        [['--auth', `me:pass${tag}`, '-H', `authorization: Bearer bearer${tag}`], '--auth and -H "Authorization: …" both set the Authorization header'],
        [['--host', 'a.example', '-H', 'host: b.example'], '--host and -H "Host: …" both set the Host header'],
        [['-o', 'https://a.example', '-H', 'Origin: https://b.example'], '-o/--origin and -H "Origin: …" both set the Origin header'],
      ];
      for (const [args, message] of cases) {
        const result = await runCli([server.url('/twice'), ...args, '-x', 'hi'], { timeout: 5000 });
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).to.equal(2);
        expect(result.stderr).to.include(message);
        expect(result.stderr).not.to.include(tag);
      }
      expect(server.connections.filter((c) => c.path === '/twice')).to.have.length(0);
    });

    it('--json writes C1 controls, DEL and bidi overrides as \\u escapes (safe on a terminal, the same value to a parser); its notes show them as escapes', async () => {
      const result = await runCli([server.url('/c1'), '--json', '--count', '1'], { timeout: 5000 });
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).not.to.match(/[\u007f-\u009f\u202a-\u202e]/);
      const message = result.stdout.split('\n').find((line) => line.includes('"message"'))!;
      expect(message).to.include('"data":"a\\u009b2J\\u202eb\\u007f"');
      expect((JSON.parse(message) as { data: string }).data).to.equal('a\u009b2J\u202eb\u007f');

      const skipped = await runCli([server.url('/c1-input'), '--json', '--hex'], { input: 'zz\u009b2J\u202e\n', timeout: 5000 });
      expect(skipped.code, skipped.stderr).to.equal(8);
      expect(skipped.stderr).to.include('not hex');
      expect(skipped.stderr).to.include('\\x9b2J\\u202e');
      expect(skipped.stderr).not.to.match(/[\u007f-\u009f\u202a-\u202e]/);
    });

    it('with -q, the line for a skipped input line does not point to notes that -q kept off stderr', async () => {
      const result = await runCli([server.url('/skip'), '--hex', '-q'], { input: 'zz\n0a\n', timeout: 5000 });
      expect(result.code).to.equal(8);
      expect(result.stderr).to.include('1 input line was not sent (skipped: not valid for --hex/--base64, or refused by the client; run without -q to see each) (exit 8)');
      expect(result.stderr).not.to.include('see the notes above');
      const loud = await runCli([server.url('/skip'), '--hex'], { input: 'zz\n0a\n', timeout: 5000 });
      expect(loud.stderr).to.include('skipped a line that is not hex');
      expect(loud.stderr).to.include('(skipped: see the notes above) (exit 8)');
    });

    it('a message over 100 MiB ends the connection with a line that names the limit, not an option the CLI does not have (exit 3, no retry)', async () => {
      const result = await runCli([server.url('/huge'), '-w', '5'], { timeout: 10_000 });
      expect(result.code, result.stderr).to.equal(3);
      expect(result.stderr).to.include('error PROTOCOL_ERROR: A message from the server was larger than the 100 MiB a message may have.');
      expect(result.stderr).to.include('disconnected: 1009 message too big');
      expect(result.stderr).not.to.include('maxPayload');
      expect(result.stderr).not.to.include('reconnecting');
      expect(server.connections.filter((c) => c.path === '/huge')).to.have.length(1);
    });
  });
});
