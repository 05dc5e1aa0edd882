// Behaviour of the CLI's pipe mode, interactive screen and colours (src/cli: pipe.ts,
// interactive.ts, terminal.ts, prompt.ts, colors.ts) that no test pinned down, found by mutation
// testing (December 2026: Stryker in-process over units.test.ts for the pure parts; for the
// rest, which runs in the CLI's process, Stryker over pipe.test.ts with the mutant handed to the
// built CLI through its environment, and mutants applied by hand): each test fails with at least
// one mutant that survived them (one test pins a fix, and says so). The pure parts run
// in-process, like units.test.ts; the rest runs the built CLI against a ws server on 127.0.0.1,
// in a real terminal (tmux) for the interactive mode and the passphrase prompt.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import picocolors from 'picocolors';
import { needTools } from '../support/tools';
import { useColor } from '../../src/cli/colors';
import { helpLines, statusText, wrapWords, type StatusSnapshot } from '../../src/cli/interactive';
import { linesOf } from '../../src/cli/pipe';
import { displayRows, truncate } from '../../src/cli/terminal';
import { killAll, makeCertificates, PASSPHRASE, requireBuiltCli, runCli, sleep, startCli, startServer, until, type TestServer } from './helpers';
import { cliCommand, Tmux } from './tmux';

/** The lines linesOf() makes of these chunks (at most 50: a mutant may loop). */
async function lines(chunks: string[], keepCr = false): Promise<string[]> {
  async function* input() {
    yield* chunks;
  }
  const out: string[] = [];
  for await (const line of linesOf(input(), keepCr)) if (out.push(line) >= 50) break;
  return out;
}

describe('mutation gaps: CLI pipe and interactive modes', () => {
  describe('input lines', () => {
    it('joins a line that spans chunks, splits a chunk at each newline, and keeps a last line without one', async () => {
      // Kills `end >= 0` → false and → `end > 0`, slice(start, end) → the whole chunk, `start = end + 1` → `end - 1`, and the tail of a chunk dropped or kept whole.
      expect(await lines(['a\nb', 'c\n', '\nd', 'e'])).to.deep.equal(['a', 'bc', '', 'de']);
      expect(await lines(['\n\nx\ny\n'])).to.deep.equal(['', '', 'x', 'y']);
    });

    it('makes no line of the nothing after a last newline, nor of an empty chunk', async () => {
      // Kills `start < chunk.length` → `<=` or true, `if (pending.length)` → true, and a seeded pending list.
      expect(await lines(['a\n', '', 'b\n'])).to.deep.equal(['a', 'b']);
      expect(await lines([])).to.deep.equal([]);
      expect(await lines(['', ''])).to.deep.equal([]);
    });

    it('keeps the last line when the input ends without a newline', async () => {
      // Kills `if (pending.length)` → false.
      expect(await lines(['a\nlast'])).to.deep.equal(['a', 'last']);
    });

    it('drops only the \\r right before a newline in text, and keeps every \\r with -b', async () => {
      // Kills each mutant of `!keepCr && text.endsWith('\\r') ? text.slice(0, -1) : text`.
      expect(await lines(['\rone\r\n', 'tw\ro\r', '\n', 'three\r'])).to.deep.equal(['\rone', 'tw\ro', 'three']);
      expect(await lines(['\rone\r\n', 'tw\ro\r', '\n', 'three\r'], true)).to.deep.equal(['\rone\r', 'tw\ro\r', 'three\r']);
      expect(await lines(['plain\n'])).to.deep.equal(['plain']);
    });
  });

  describe('colours', () => {
    it('FORCE_COLOR=0 forces nothing: off when stderr is no terminal', () => {
      // Kills `env.FORCE_COLOR !== '0'` → true and '0' → ''.
      expect(useColor({ isTTY: false }, true, { FORCE_COLOR: '0' })).to.equal(false);
      expect(useColor({ isTTY: false }, true, { FORCE_COLOR: '' })).to.equal(false);
      expect(useColor({ isTTY: true }, true, { FORCE_COLOR: '0' })).to.equal(true);
    });
  });

  describe('/help', () => {
    it('lists every command with its arguments and description, wrapped under the descriptions', () => {
      // Kills the emptied command names and help texts of SLASH_COMMANDS, the `${name} ${args}`
      // template, a first line lost or its continuation lines doubled, and a seeded line list.
      expect(helpLines(79)).to.deep.equal([
        '/ping [text]             send a ping (carrying the text) and show the round',
        '                         trip',
        '/close [code] [reason]   close with a code (1000 or 3000–4999) and reason, then',
        '                         exit',
        '/reconnect               drop the connection and connect again at once',
        '/stats                   show counters: attempts, messages, bytes, rtt, queue',
        '/quit                    close normally and exit (also Ctrl-D, or Ctrl-C on an',
        '                         empty line)',
        '/help                    show this list',
        '//text                   send a message that starts with /',
      ]);
    });

    it('keeps descriptions at least 20 columns wide in a narrow terminal', () => {
      // Kills Math.max(20, …) → Math.min (a room of 5 columns: one word a line).
      const lines = helpLines(30);
      expect(lines.slice(0, 4)).to.deep.equal([
        '/ping [text]             send a ping',
        '                         (carrying the text)',
        '                         and show the round',
        '                         trip',
      ]);
    });

    it('fills a line up to exactly its width, and ignores white space around the text', () => {
      // Kills `<= width` → `< width`, and the dropped filter of empty words.
      expect(wrapWords('ab cd ef', 5)).to.deep.equal(['ab cd', 'ef']);
      expect(wrapWords('  ab  cd ', 5)).to.deep.equal(['ab cd']);
    });
  });

  describe('status line', () => {
    const c = picocolors.createColors(false);
    const base: StatusSnapshot = { state: 'open', url: 'ws://h/', protocol: '', rtt: undefined, queued: 0, retry: undefined, attempts: 1 };

    it('says only "connected" without a subprotocol or a round trip yet', () => {
      // Kills `if (s.protocol)` and `if (s.rtt !== undefined)` → true.
      expect(statusText(base, 0, c)).to.equal('● connected');
    });

    it('counts connection attempts past the first, and what waits in the queue', () => {
      // Kills `s.attempts > 1` → false.
      expect(statusText({ ...base, state: 'connecting', attempts: 3, queued: 2 }, 0, c)).to.equal('● connecting to ws://h/… (attempt 3) · 2 queued');
      expect(statusText({ ...base, state: 'connecting', attempts: 1 }, 0, c)).to.equal('● connecting to ws://h/…');
    });

    it('says "waiting" with no retry planned, the time left to the next attempt, and "when resumed" for a paused client', () => {
      // Kills `if (!s.retry)` → false, `s.retry.at - now` → `+`, and the emptied 'when resumed'.
      expect(statusText({ ...base, state: 'waiting' }, 0, c)).to.equal('● waiting');
      expect(statusText({ ...base, state: 'waiting', retry: { at: 5000, attempt: 2 } }, 4000, c)).to.equal('● reconnecting in 1.0 s (attempt 2)');
      expect(statusText({ ...base, state: 'waiting', retry: { at: Infinity, attempt: 2 } }, 4000, c)).to.equal('● reconnecting when resumed (attempt 2)');
      expect(statusText({ ...base, state: 'closing' }, 0, c)).to.equal('● closing…');
    });
  });

  describe('terminal rows (as readline counts them)', () => {
    /** [rows of 40 of the character, rows of 79 x and the character] in 80 columns: [0,0] zero width, [0,1] one, [1,1] two. */
    const width = (char: string): number => {
      const rows = [displayRows(char.repeat(40), 80), displayRows(`${'x'.repeat(79)}${char}`, 80)];
      return rows[0] === 1 ? 2 : rows[1];
    };

    it('gives combining marks, zero-width spaces and variation selectors no column, at both ends of their ranges', () => {
      // Kills the mutated bounds and conditions of charWidth's zero-width ranges.
      for (const code of [0x300, 0x36f, 0x200b, 0x200f, 0xfe00, 0xfe0f]) expect(width(String.fromCodePoint(code)), code.toString(16)).to.equal(0);
      for (const code of [0x2ff, 0x370, 0x200a, 0x2010, 0xfdff]) expect(width(String.fromCodePoint(code)), code.toString(16)).to.equal(1);
    });

    it('gives East Asian wide characters and emoji two columns, at both ends of their ranges', () => {
      // Kills the mutated bounds and conditions of charWidth's wide ranges.
      const wide = [0x1100, 0x115f, 0x2e80, 0xa4cf, 0xac00, 0xd7a3, 0xf900, 0xfaff, 0xfe30, 0xfe4f, 0xff00, 0xff60, 0xffe0, 0xffe6, 0x1f300, 0x1faff, 0x20000, 0x3fffd];
      for (const code of wide) expect(width(String.fromCodePoint(code)), code.toString(16)).to.equal(2);
      const narrow = [0x10ff, 0x1160, 0x2e7f, 0xa4d0, 0xabff, 0xd7a4, 0xf8ff, 0xfb00, 0xfe2f, 0xfe50, 0xfe70, 0xff61, 0xffdf, 0xffe7, 0x1f2ff, 0x1fb00, 0x1ffff, 0x3fffe];
      for (const code of narrow) expect(width(String.fromCodePoint(code)), code.toString(16)).to.equal(1);
    });

    it('moves a wide character that would straddle the edge to the next row, and only a wide one', () => {
      // Kills each mutant of `width === 2 && (offset + 1) % columns === 0`, and `offset++` → `offset--`.
      expect(displayRows(`${'x'.repeat(79)}界${'x'.repeat(78)}`, 80)).to.equal(2);
      expect(displayRows(`${'x'.repeat(78)}界${'x'.repeat(79)}`, 80)).to.equal(1);
      expect(displayRows('x'.repeat(159), 80)).to.equal(1);
      expect(displayRows(`${'界'.repeat(40)}${'x'.repeat(40)}`, 80)).to.equal(1);
    });

    it('counts each row a wrapped line takes before a newline, and one for an empty line', () => {
      // Kills `Math.ceil(offset / columns) || 1` → `&& 1`, and the emptied condition.
      expect(displayRows(`${'x'.repeat(160)}\n> `, 80)).to.equal(2);
      expect(displayRows(`${'x'.repeat(161)}\n> `, 80)).to.equal(3);
      expect(displayRows('\n\n> ', 80)).to.equal(2);
    });

    it('keeps a status line that fits the width exactly', () => {
      // Kills `length <= width` → `<`.
      expect(truncate('abcd', 4)).to.equal('abcd');
      expect(truncate('\u001b[32mabcd\u001b[39m', 4)).to.equal('\u001b[32mabcd\u001b[39m');
      expect(truncate('abcde', 1)).to.equal('…');
    });
  });

  describe('pipe and execute modes (the built CLI)', function () {
    this.timeout(20_000);
    let server: TestServer;

    before(async () => {
      requireBuiltCli();
      server = await startServer({
        onConnection: (c) => {
          // /stream: a message every 20 ms until the client goes (at most 1,000).
          if (c.path.startsWith('/stream')) {
            let sent = 0;
            const timer = setInterval(() => {
              if (sent++ >= 1000 || c.socket.readyState !== c.socket.OPEN) clearInterval(timer);
              else c.socket.send(`tick ${sent}`);
            }, 20);
            c.socket.on('close', () => clearInterval(timer));
          }
          // /deaf: never reads again, so never answers the closing handshake.
          if (c.path.startsWith('/deaf')) {
            const raw = (c.socket as unknown as { _socket: Socket })._socket;
            raw.removeAllListeners('data');
            raw.pause();
          }
          // /close-1008: closes at once with 1008 (a stop code).
          if (c.path === '/close-1008') c.socket.close(1008, 'policy');
          // /close-1000-later: closes normally after 300 ms.
          if (c.path === '/close-1000-later') setTimeout(() => c.socket.close(1000), 300);
          // /late: answers each message 1.5 s later, after the CLI should be gone.
          if (c.path === '/late') c.socket.on('message', (data) => setTimeout(() => c.socket.readyState === c.socket.OPEN && c.socket.send(`late ${String(data)}`), 1500));
        },
      });
    });
    after(() => server.close());
    afterEach(() => killAll());

    it('ends with exit 0 and no word of a write failure when the reader of stdout goes away (| head -1), even with -w -1', async () => {
      // Kills `error.code === 'EPIPE'` → false (exit 1, "cannot write to stdout: EPIPE"), and
      // `if (!session.ended)` → false in the stdout error handler (-w -1 then never ends).
      const cli = startCli([server.url('/stream'), '-w', '-1', '--no-reconnect']);
      await cli.waitForLine('tick 1');
      cli.child.stdout.destroy(); // the reader is gone
      const result = await cli.exited(8000);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr).not.to.include('cannot write');
      expect(result.stderr).not.to.include('(exit');
    });

    it('a reader of stdout that went away is no --count shortfall: exit 0, not 7', async () => {
      // Kills `!readerGone` dropped from the --count check, and readerGone never set.
      const cli = startCli([server.url('/stream-count'), '--count', '900', '-q']);
      await cli.waitForLine('tick 2');
      cli.child.stdout.destroy();
      const result = await cli.exited(8000);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr).to.equal('');
    });

    it('-x: says the rest of the messages was not sent when the connection gave up while they waited for room', async () => {
      // 1,500 messages: past the first 1,000 queued the input waits for the outbox to drain,
      // and the first connection never opens. Kills `lines.read++` → `--`, and sendAll() going
      // on (or ending with true) after trySend() returned false.
      const messages = Array.from({ length: 1500 }, (_, i) => ['-x', `m${i}`]).flat();
      const result = await runCli([server.url('/reject/500'), ...messages, '--connect-attempts', '1', '-q'], { timeout: 10_000 });
      expect(result.code, result.stderr).to.equal(3);
      expect(result.stderr).to.include('steadysocket: the connection ended before the input did: the rest of the -x messages was not sent\n');
      expect(result.stderr).to.match(/could not connect: the first connection did not open after 1 attempt .*\(exit 3\)\n$/);
    });

    it('a second signal while the first one closes ends the CLI at once, with the code of the second', async () => {
      // The server never answers the closing handshake: after the first signal the CLI waits
      // for it up to the close timeout (3 s, then "close timed out"); a second one ends the wait.
      // Kills `received = true` → false and `if (received || session.ended)` → false.
      const cli = startCli([server.url('/deaf-twice')]);
      await cli.waitForStderr('connected');
      cli.child.kill('SIGINT');
      await sleep(500);
      cli.child.kill('SIGTERM');
      const result = await cli.exited(8000);
      expect(result.code, result.stderr).to.equal(143);
      expect(result.stderr).not.to.include('close timed out');
    });

    it('a stalled reader of stdout pauses reading from the server once, not once per message that arrives meanwhile', async () => {
      // 1 KiB messages arrive many to a TCP chunk: while stdout waits to drain, each one used to
      // add a 'drain' listener (MaxListenersExceededWarning on stderr past 10). Kills
      // `|| readingPaused` dropped from the check in the 'message' listener.
      const TOTAL = 4000;
      const flood = await startServer({
        echo: false,
        onConnection: (c) => {
          for (let i = 0; i < TOTAL; i++) c.socket.send(`${String(i).padStart(5, '0')}${'z'.repeat(1019)}`);
        },
      });
      try {
        const cli = startCli([flood.url('/flood'), '-q', '--count', String(TOTAL), '-w', '15']);
        cli.child.stdout.pause(); // the reader stops reading
        await sleep(1000);
        cli.child.stdout.resume();
        const result = await cli.exited(15_000);
        expect(result.code, result.stderr).to.equal(0);
        expect(result.stderr).to.equal('');
        const lines = result.stdout.split('\n').filter(Boolean);
        expect(lines).to.have.length(TOTAL);
        expect(lines.every((line, i) => line.startsWith(String(i).padStart(5, '0')))).to.equal(true);
      } finally {
        await flood.close();
      }
    });

    it('--count with a first connection that never opens exits 3 (could not connect), not 7', async () => {
      // Kills `code === ExitCode.OK` → true in the --count check after the session ended.
      const result = await runCli([server.url('/reject/500'), '--count', '1', '--connect-attempts', '1', '-q'], { input: '', timeout: 8000 });
      expect(result.code, result.stderr).to.equal(3);
      expect(result.stderr).not.to.include('--count');
    });

    it('--count 1 not reached within -w says "1 message", in the singular', async () => {
      // Kills `count === 1 ? '' : 's'` → false in the shortfall text.
      const result = await runCli([server.url('/count-one'), '--count', '1', '-w', '1'], { input: '', timeout: 8000 });
      expect(result.code, result.stderr).to.equal(7);
      expect(result.stderr).to.include('steadysocket: only 0 of 1 message (--count) arrived within 1 s (-w) (exit 7)\n');
    });

    it('a stdin left open that gave nothing is no input cut short when the server ends the connection: exit 0', async () => {
      // Kills `lines.read > 0` → true or `>= 0` in the check for input cut short.
      const cli = startCli([server.url('/close-1000-later'), '--no-reconnect']);
      const result = await cli.exited(8000); // stdin stays open
      cli.end();
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr).not.to.include('before the input did');
    });

    it('without -q or --json, a failure is said once, by the error events: no summary line', async () => {
      // Kills `options.quiet` → true in the choice of a summary line (a second "(exit 5)" line).
      const loud = await runCli([server.url('/close-1008')], { input: '', timeout: 8000 });
      expect(loud.code, loud.stderr).to.equal(5);
      expect(loud.stderr).to.include('1008').and.not.include('(exit 5)');
      const quiet = await runCli([server.url('/close-1008'), '-q'], { input: '', timeout: 8000 });
      expect(quiet.code).to.equal(5);
      expect(quiet.stderr).to.match(/^steadysocket: .*1008.*\(exit 5\)\n$/);
    });

    it('counts every skipped line, sends the others in order, and exits 8', async () => {
      // Kills `lines.skipped++` → `--`, and the plural of the count.
      const result = await runCli([server.url('/skip-two'), '--hex', '-w', '0'], { input: '01\nzz\n02\nqq\n03\n', timeout: 8000 });
      expect(result.code, result.stderr).to.equal(8);
      expect(server.connections.find((c) => c.path === '/skip-two')!.messages).to.deep.equal(['hex:01', 'hex:02', 'hex:03']);
      expect(result.stderr.match(/skipped a line that is not hex/g)).to.have.length(2);
      expect(result.stderr).to.include('steadysocket: 2 input lines were not sent (skipped: see the notes above) (exit 8)\n');
    });

    it('without -w or --count, ends once the input is sent: a reply that comes later is not waited for', async () => {
      // Kills `count !== undefined ? DEFAULT_COUNT_WAIT : undefined` → always the 10 s wait of --count.
      const result = await runCli([server.url('/late'), '-x', 'hi'], { timeout: 8000 });
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).not.to.include('late hi');
      expect(server.connections.find((c) => c.path === '/late')!.messages).to.deep.equal(['hi']);
    });
  });

  describe('interactive mode in a real terminal (tmux)', function () {
    this.timeout(30_000);
    let server: TestServer;
    let tmux: Tmux;

    before(async function () {
      requireBuiltCli();
      needTools(this, 'tmux');
      server = await startServer();
    });
    after(() => server?.close());
    beforeEach(() => {
      tmux = new Tmux();
    });
    afterEach(() => tmux.kill());

    it('lines typed before the connection opens are shown as queued, then sent in order once it opens', async () => {
      // Kills the dropped ' (queued)' note, and lines lost or reordered on their way to the outbox.
      const later = await startServer();
      const url = later.url('/queued');
      await later.close(); // nothing listens yet: the client keeps retrying
      try {
        tmux.start(cliCommand([url, '--min-delay', '50', '--max-delay', '100']));
        await tmux.waitFor(/● (connecting|reconnecting)/);
        for (const line of ['one', 'two', '//three']) tmux.keys(line, 'Enter');
        await tmux.waitFor('> /three (queued)');
        const screen = tmux.screen();
        expect(screen).to.include('> one (queued)').and.include('> two (queued)');
        await later.start();
        await until(() => later.connections.some((c) => c.messages.length === 3), 8000, 'the three queued lines');
        expect(later.connections.flatMap((c) => c.messages)).to.deep.equal(['one', 'two', '/three']);
        tmux.keys('four', 'Enter');
        await tmux.waitFor('< four');
        expect(tmux.screen(), 'sent at once: no queued note').not.to.include('> four (queued)');
        tmux.keys('/exit', 'Enter');
        await tmux.waitFor('EXIT=0');
      } finally {
        await later.close();
      }
    });

    it('exits 143 on SIGTERM and 130 on SIGINT from outside, after closing the connection normally', async () => {
      // Kills the emptied signal names and the exit codes of the signal handlers.
      for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
        tmux.kill();
        tmux = new Tmux();
        const path = `/signal-${signal}`;
        tmux.start(cliCommand([server.url(path)]));
        await tmux.waitFor('● connected');
        const connection = server.connections.find((c) => c.path === path)!;
        const closed = new Promise<number>((resolve) => connection.socket.once('close', (closeCode) => resolve(closeCode)));
        process.kill(tmux.cliPid(), signal);
        expect(await closed).to.equal(1000);
        await tmux.waitFor(`EXIT=${code}`);
      }
    });

    it('/close refuses a code that is not a number and stays connected; /close alone closes with 1000; /? lists the commands', async () => {
      // Kills the emptied /? alias, `Number.isInteger(code)` → true, and the default code 1000.
      tmux.start(cliCommand([server.url('/close-default')]));
      await tmux.waitFor('● connected');
      const connection = server.connections.find((c) => c.path === '/close-default')!;
      const closed = new Promise<[number, string]>((resolve) => connection.socket.once('close', (code, reason) => resolve([code, reason.toString()])));
      tmux.keys('/?', 'Enter');
      await tmux.waitFor('send a message that starts with /');
      tmux.keys('/close soon', 'Enter');
      await tmux.waitFor('/close: "soon" is not a close code (use 1000 or 3000–4999)');
      tmux.keys('still here', 'Enter');
      await tmux.waitFor('< still here');
      tmux.keys('/close', 'Enter');
      expect(await closed).to.deep.equal([1000, '']);
      await tmux.waitFor('closing with 1000');
      await tmux.waitFor('EXIT=0');
    });

    it('/stats counts messages in and out, one in the singular, and shows – for a round trip not measured yet', async () => {
      // Kills `session.rtt === undefined` → false, the singular of `${n} message${n === 1 ? '' : 's'}` and the counters' places.
      tmux.start(cliCommand([server.url('/stats-count')]));
      await tmux.waitFor('● connected');
      tmux.keys('/stats', 'Enter');
      await tmux.waitFor('rtt – · queued 0');
      tmux.keys('a', 'Enter');
      await tmux.waitFor('< a');
      tmux.keys('/stats', 'Enter');
      await tmux.waitFor('in 1 message, 1 B · out 1 message, 1 B');
      server.connections.find((c) => c.path === '/stats-count')!.socket.send('ccc');
      await tmux.waitFor('< ccc');
      tmux.keys('/stats', 'Enter');
      await tmux.waitFor('in 2 messages, 4 B · out 1 message, 1 B');
      tmux.keys('/reconnect', 'Enter');
      await tmux.waitFor('reconnecting…');
      await until(() => server.connections.filter((c) => c.path === '/stats-count').length === 2, 5000, 'the second connection');
      await tmux.waitFor(/● connected\s*\n/);
      tmux.keys('/stats', 'Enter');
      await tmux.waitFor(/attempts 2 · reconnects 1/);
      tmux.keys('C-d');
      await tmux.waitFor('EXIT=0');
    });

    it('Ctrl-C clears a half-typed line and keeps running; Ctrl-C on the empty line then quits with exit 0', async () => {
      // Kills `this.rl.line.length > 0` → false or `>= 0` (a half-typed line quit, or an empty
      // line never quit), and the dropped Ctrl-U/Ctrl-K of the clearing.
      tmux.start(cliCommand([server.url('/ctrl-c')]));
      await tmux.waitFor('● connected');
      tmux.keys('-l', 'half typed');
      await tmux.waitFor('> half typed');
      tmux.keys('Left', 'Left', 'C-c');
      tmux.keys('-l', 'sent');
      tmux.keys('Enter');
      await tmux.waitFor('< sent');
      expect(server.connections.find((c) => c.path === '/ctrl-c')!.messages).to.deep.equal(['sent']);
      tmux.keys('C-c');
      await tmux.waitFor('EXIT=0');
    });

    it('Tab completes a slash command', async () => {
      // Kills the completer's mutants: no names, no filter, names that end with the line.
      tmux.start(cliCommand([server.url('/tab')]));
      await tmux.waitFor('● connected');
      tmux.keys('-l', '/sta');
      await tmux.waitFor('> /sta');
      tmux.keys('Tab');
      await tmux.waitFor('> /stats');
      tmux.keys('Enter');
      await tmux.waitFor(/state open · connected for/);
      tmux.keys('C-d');
      await tmux.waitFor('EXIT=0');
    });

    it('/ping takes a text of exactly 125 bytes', async () => {
      // Kills `Buffer.byteLength(text) > 125` → `>=`.
      tmux.start(cliCommand([server.url('/ping-125')]));
      await tmux.waitFor('● connected');
      const connection = server.connections.find((c) => c.path === '/ping-125')!;
      const pinged = new Promise<string>((resolve) => connection.socket.once('ping', (data) => resolve(data.toString())));
      tmux.keys('-l', `/ping ${'p'.repeat(125)}`);
      tmux.keys('Enter');
      expect(await pinged).to.equal('p'.repeat(125));
      await tmux.waitFor(/pong in \d+ ms/);
      tmux.keys('C-d');
      await tmux.waitFor('EXIT=0');
    });

    it('with stderr sent to a file, draws no status line on the terminal', async () => {
      // Kills `showStatus: process.stderr.isTTY === true` → true.
      const dir = mkdtempSync(join(tmpdir(), 'steadysocket-mutants-pipe-'));
      try {
        tmux.start(cliCommand([server.url('/no-status')], { stderrTo: join(dir, 'stderr.txt') }));
        await until(() => server.connections.some((c) => c.path === '/no-status'), 5000, 'the connection');
        tmux.keys('hello', 'Enter');
        await tmux.waitFor('< hello');
        expect(tmux.screen()).not.to.include('●');
        tmux.keys('C-d');
        await tmux.waitFor('EXIT=0');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('after Enter, the entered line is shown once, above one status line and the prompt', async () => {
      // Kills `displayRows(this.footer() + line, columns) + 1` → `- 1` in submitted(): the old
      // footer and the entered text were left on the screen above the echo.
      tmux.start(cliCommand([server.url('/entered')]));
      await tmux.waitFor('● connected');
      for (const line of ['first', 'second']) {
        tmux.keys('-l', line);
        tmux.keys('Enter');
        await tmux.waitFor(`< ${line}`);
      }
      const screen = tmux.screen().split('\n').filter((line) => line.trim() !== '');
      expect(screen.slice(1)).to.deep.equal(['> first', '< first', '> second', '< second', '● connected', '>']);
      tmux.keys('C-d');
      await tmux.waitFor('EXIT=0');
    });

    it('cuts a long status line to one column less than the terminal, ending in …', async () => {
      // Kills `(columns || 80) - 1` → `+ 1` in footer(): the status line wrapped onto a second row.
      const path = `/hang/${'a'.repeat(100)}`;
      tmux.start(cliCommand([server.url(path)]), 80);
      await tmux.waitFor('● connecting to');
      const screen = tmux.screen().split('\n');
      const status = screen.findIndex((line) => line.startsWith('● connecting to'));
      expect(screen[status]).to.have.length(79).and.match(/a…$/);
      expect(screen[status + 1]).to.equal('>');
      tmux.keys('C-c');
      await tmux.waitFor('EXIT=0');
    });

    it('reports a dropped connection once as "disconnected", and an attempt that never opened only by its error', async () => {
      // Kills `opened || !info.error` → true: each failed attempt also said "disconnected".
      // Events go to the file.
      const dir = mkdtempSync(join(tmpdir(), 'steadysocket-mutants-pipe-'));
      try {
        const file = join(dir, 'stderr.txt');
        tmux.start(cliCommand([server.url('/dropped'), '--min-delay', '50', '--max-delay', '100'], { stderrTo: file }));
        await until(() => server.connections.some((c) => c.path === '/dropped'), 5000, 'the connection');
        server.connections.find((c) => c.path === '/dropped')!.socket.terminate();
        await until(() => server.connections.filter((c) => c.path === '/dropped').length === 2, 5000, 'the reconnection');
        tmux.keys('C-d');
        await tmux.waitFor('EXIT=0');
        expect(readFileSync(file, 'utf8').match(/disconnected: 1006/g)).to.have.length(1);

        tmux.kill();
        tmux = new Tmux();
        tmux.start(cliCommand([server.url('/reject/500'), '--min-delay', '20', '--max-delay', '20', '--max-retries', '1'], { stderrTo: file }));
        await tmux.waitFor('EXIT=3');
        const events = readFileSync(file, 'utf8');
        expect(events.match(/HTTP 500/g)?.length ?? 0, events).to.be.at.least(2);
        expect(events).not.to.include('disconnected');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    describe('--passphrase asked on the terminal', () => {
      let dir: string;
      let files: ReturnType<typeof makeCertificates>;
      let secure: TestServer;

      before(async function () {
        needTools(this, 'openssl');
        dir = mkdtempSync(join(tmpdir(), 'steadysocket-mutants-pipe-'));
        files = makeCertificates(dir);
        secure = await startServer({
          tls: { key: readFileSync(files.serverKey, 'utf8'), cert: readFileSync(files.serverCert, 'utf8'), ca: readFileSync(files.ca, 'utf8'), requestCert: true },
        });
      });
      after(async () => {
        await secure?.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });
      const args = (path: string) => [secure.url(path), '--ca', files.ca, '--cert', files.clientCert, '--key', files.clientKey, '--passphrase'];

      it('Backspace takes back a character and Ctrl-U the whole line; other control keys add nothing', async () => {
        // Kills the mutated Backspace, Ctrl-U and `char >= ' '` branches of askHidden(): the key
        // would not decrypt, and the CLI would end with exit 2 instead of connecting.
        tmux.start(cliCommand(args('/asked-edited')));
        await tmux.waitFor(`Passphrase for ${files.clientKey}:`);
        tmux.keys('-l', 'wrong');
        tmux.keys('C-u');
        tmux.keys('-l', `${PASSPHRASE.slice(0, 3)}xy`);
        tmux.keys('BSpace', 'C-h');
        tmux.keys('-l', PASSPHRASE.slice(3));
        tmux.keys('Tab', 'C-d', 'Enter');
        await tmux.waitFor('● connected');
        expect(secure.connections.some((c) => c.path === '/asked-edited' && c.clientCert === 'steadysocket-test-client')).to.equal(true);
        expect(tmux.screen()).not.to.include(PASSPHRASE).and.not.include('wrong');
        tmux.keys('/quit', 'Enter');
        await tmux.waitFor('EXIT=0');
      });

      it('hands the terminal back as it found it: Ctrl-C at the message prompt afterwards is a key (quit, exit 0), not a signal', async () => {
        // Kills the dropped `input.off('data', onData)`: the prompt went on reading keys, and the
        // next Enter put the terminal back in cooked mode under readline (Ctrl-C then a SIGINT, exit 130).
        tmux.start(cliCommand(args('/asked-then-typed')));
        await tmux.waitFor(`Passphrase for ${files.clientKey}:`);
        tmux.keys('-l', PASSPHRASE);
        tmux.keys('Enter');
        await tmux.waitFor('● connected');
        tmux.keys('-l', 'one');
        tmux.keys('Enter');
        await tmux.waitFor('< one');
        tmux.keys('C-c');
        await tmux.waitFor('EXIT=0');
      });

      it('in pipe mode (stdout to a file) reads the lines typed after the passphrase, ends at Ctrl-D, and keeps the prompt on its own line', async () => {
        // Kills the dropped `input.setRawMode(wasRaw)` (the terminal left raw: Enter gives no
        // line, Ctrl-D no end of input, a hang) and `output.write('\n')` → ''.
        const out = join(dir, 'stdout.txt');
        tmux.start(cliCommand(args('/asked-pipe'), { stdoutTo: out }));
        await tmux.waitFor(`Passphrase for ${files.clientKey}:`);
        tmux.keys('-l', PASSPHRASE);
        tmux.keys('Enter');
        await tmux.waitFor('connected to');
        tmux.keys('-l', 'typed line');
        tmux.keys('Enter');
        await until(() => readFileSync(out, 'utf8') === 'typed line\n', 5000, 'the echo in the file');
        tmux.keys('C-d');
        await tmux.waitFor('EXIT=0');
        expect(secure.connections.find((c) => c.path === '/asked-pipe')!.messages).to.deep.equal(['typed line']);
        expect(tmux.screen().split('\n')).to.include(`Passphrase for ${files.clientKey}:`);
      });

      it('keeps what is typed or pasted right after the passphrase, in the same read: sent as the first lines, in interactive and pipe mode', async () => {
        // The prompt stopped at Enter and dropped the rest of the chunk (found by mutation testing).
        tmux.start(cliCommand(args('/asked-typeahead')));
        await tmux.waitFor(`Passphrase for ${files.clientKey}:`);
        tmux.keys(PASSPHRASE, 'Enter', 'ahead', 'Enter', 'of time', 'Enter');
        await until(() => secure.connections.some((c) => c.path === '/asked-typeahead' && c.messages.length === 2), 5000, 'the lines typed ahead');
        expect(secure.connections.find((c) => c.path === '/asked-typeahead')!.messages).to.deep.equal(['ahead', 'of time']);
        await tmux.waitFor('< of time');
        tmux.keys('C-d');
        await tmux.waitFor('EXIT=0');

        tmux.kill();
        tmux = new Tmux();
        const out = join(dir, 'stdout-ahead.txt');
        tmux.start(cliCommand(args('/asked-typeahead-pipe'), { stdoutTo: out }));
        await tmux.waitFor(`Passphrase for ${files.clientKey}:`);
        tmux.keys(PASSPHRASE, 'Enter', 'ahead', 'Enter');
        await until(() => readFileSync(out, 'utf8') === 'ahead\n', 5000, 'the echo in the file');
        tmux.keys('-l', 'then typed');
        tmux.keys('Enter', 'C-d');
        await tmux.waitFor('EXIT=0');
        expect(secure.connections.find((c) => c.path === '/asked-typeahead-pipe')!.messages).to.deep.equal(['ahead', 'then typed']);
      });

      it('Ctrl-C at the prompt, or Ctrl-D on nothing typed, ends with exit 130 and no connection', async () => {
        // Kills the mutated Ctrl-C / Ctrl-D branch of askHidden() (`value === ''`, the codes).
        for (const [path, keys] of [['/asked-ctrl-c', ['-l', 'typed', ';', 'send-keys', '-t', 'cli', 'C-c']], ['/asked-ctrl-d', ['C-d']]] as const) {
          tmux.kill();
          tmux = new Tmux();
          tmux.start(cliCommand(args(path)));
          await tmux.waitFor(`Passphrase for ${files.clientKey}:`);
          tmux.keys(...keys);
          await tmux.waitFor('EXIT=130');
          expect(secure.connections.some((c) => c.path === path)).to.equal(false);
          expect(tmux.screen()).not.to.include('typed');
        }
      });
    });
  });
});
