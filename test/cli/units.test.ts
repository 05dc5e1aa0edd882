// The CLI's pure pieces, in-process (the child-process tests cover the wiring).
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import picocolors from 'picocolors';
import { SteadySocketError } from '../../src/index';
import { parseArgs, type CliOptions } from '../../src/cli/args';
import { useColor } from '../../src/cli/colors';
import { ExitCode, exitCodeFor } from '../../src/cli/exit-codes';
import { helpLines, statusText, wrapWords } from '../../src/cli/interactive';
import { displayUrl, encodeInput, InputError, renderMessage } from '../../src/cli/messages';
import { JsonReporter } from '../../src/cli/output';
import { expandShortFlags, redactUrl, Scrubber, scrubberFor } from '../../src/cli/redact';
import { askHidden } from '../../src/cli/prompt';
import { displayRows, truncate } from '../../src/cli/terminal';

function parse(...argv: string[]): CliOptions {
  const errors: string[] = [];
  const result = parseArgs(argv, { stdout: () => {}, stderr: (text) => errors.push(text), version: '1.2.3' });
  if (!('run' in result)) throw new Error(`exit ${result.exit}: ${errors.join('')}`);
  return result.run;
}

describe('steadysocket CLI: pure parts', () => {
  describe('argument parsing', () => {
    it('collects repeatable flags in order and applies defaults', () => {
      const o = parse('ws://h/', '-s', 'a', '-s', 'b', '-x', '1', '-x', '2', '--preamble', 'p', '-H', 'A: 1', '-H', 'B:2');
      expect(o.subprotocols).to.deep.equal(['a', 'b']);
      expect(o.execute).to.deep.equal(['1', '2']);
      expect(o.preamble).to.deep.equal(['p']);
      expect(o.headers).to.deep.equal({ A: '1', B: '2' });
      expect(o).to.include({ reconnect: true, json: false, encoding: 'text', color: true, maxRedirects: 10, proxy: undefined });
    });

    it('turns --auth into a Basic Authorization header and keeps other headers', () => {
      const o = parse('ws://h/', '-H', 'X: y', '--auth', 'me:pa:ss');
      expect(o.headers).to.deep.equal({ X: 'y', Authorization: `Basic ${Buffer.from('me:pa:ss').toString('base64')}` });
    });

    it('reads --no-reconnect, --no-proxy, --proxy without a scheme, -w -1 and -k', () => {
      expect(parse('ws://h', '--no-reconnect').reconnect).to.equal(false);
      expect(parse('ws://h', '--no-proxy').proxy).to.equal(false);
      expect(parse('ws://h', '--proxy', '127.0.0.1:3128').proxy).to.equal('http://127.0.0.1:3128');
      expect(parse('ws://h', '-w', '-1').wait).to.equal(-1);
      expect(parse('ws://h', '-k').insecure).to.equal(true);
    });

    it('refuses what cannot work, with exit code 2 and the reason', () => {
      for (const [argv, reason] of [
        [['ws://h', '-H', 'no colon'], /expected "Name: value", got 8 characters without a colon \(not shown: a header may hold a secret\)/],
        [['ws://h', '-H', 'Bad Name: v'], /expected "Name: value", got "Bad Name: \*\*\*": the name is no token/],
        [['ws://h', '--hex', '-x', 'zz'], /not hex/],
        [['ws://h', '--base64', '--preamble', '***'], /not base64/],
        [['ws://h', '--binary', '--base64'], /cannot be combined/],
        [['ws://h', '--count', '1.5'], /whole number/],
        [['ws://h', '-H', 'Sec-WebSocket-Protocol: chat'], /Sec-WebSocket-Protocol is set by the client for the handshake: offer subprotocols with -s/],
        [['ws://h', '-H', 'sec-websocket-key: x'], /sec-websocket-key is set by the client/],
        [['ws://h', '-H', 'Upgrade: h2c'], /Upgrade is set by the client/],
        [['ws://h', '--passphrase', 'pw'], /--passphrase is the passphrase of --key/],
      ] as [string[], RegExp][]) {
        const errors: string[] = [];
        const result = parseArgs(argv, { stdout: () => {}, stderr: (text) => errors.push(text), version: '0' });
        expect(result, argv.join(' ')).to.deep.equal({ exit: ExitCode.USAGE });
        expect(errors.join(''), argv.join(' ')).to.match(reason);
      }
      for (const argv of [
        ['ws://h', '-w', '-2'],
        ['ws://h', '--count', '0'],
        ['ws://h', '--min-delay', '500', '--max-delay', '100'],
        ['ws://h', '--cert', 'c.pem'],
        ['ws://a', '-c', 'ws://b'],
        ['ws://h', '--auth', 'nocolon'],
      ]) {
        const result = parseArgs(argv, { stdout: () => {}, stderr: () => {}, version: '0' });
        expect(result, argv.join(' ')).to.deep.equal({ exit: ExitCode.USAGE });
      }
    });
  });

  describe('wscat compatibility and defaults', () => {
    it('maps -n/--no-check to -k, --host to a Host header, and bounds the first connection unless --max-retries is given', () => {
      expect(parse('wss://h', '-n')).to.include({ insecure: true, insecureFlag: '-n/--no-check' });
      expect(parse('wss://h', '--no-check')).to.include({ insecure: true });
      expect(parse('wss://h', '-k')).to.include({ insecure: true, insecureFlag: '-k/--insecure' });
      expect(parse('ws://h', '--host', 'a.test').headers).to.deep.equal({ Host: 'a.test' });
      expect(parse('ws://h').connectAttempts).to.equal(3);
      expect(parse('ws://h', '--max-retries', '5').connectAttempts).to.equal(undefined);
      expect(parse('ws://h', '--connect-attempts', '0').connectAttempts).to.equal(0);
      const keyPair = ['--cert', 'c.pem', '--key', 'k.pem'];
      expect(parse('ws://h', ...keyPair, '--passphrase').passphrase).to.equal(true);
      expect(parse('ws://h', ...keyPair, '--passphrase', 'pw').passphrase).to.equal('pw');
    });
  });

  describe('redaction', () => {
    it('redacts user, password, query values and fragments, also in URLs that do not parse', () => {
      expect(redactUrl('wss://user:pw@host/path?token=abc&x=1')).to.equal('wss://***:***@host/path?token=***&x=***');
      expect(redactUrl('ws://tok@host:80a/?k=v')).to.equal('ws://***@host:80a/?k=***');
      expect(redactUrl('ws://host/?justatoken#frag')).to.equal('ws://host/?***#***');
      expect(redactUrl('ws://host/p')).to.equal('ws://host/p');
    });

    it('scrubs the secrets of a command line from any text, and URLs inside it', () => {
      const scrubber = scrubberFor(
        ['ws://alice:pa55word@h/?token=t0ken123', '-H', 'Authorization: Bearer abcd1234', '--auth', 'bob:hunter22', '--proxy', 'http://p:proxypw1@x:1'],
        { HTTPS_PROXY: 'http://e:envpass9@x:1' },
      );
      const text = 'pa55word t0ken123 abcd1234 hunter22 proxypw1 envpass9 see http://z:q@y/?a=b, 1000 normal closure';
      expect(scrubber.scrub(text)).to.equal('*** *** *** *** *** *** see http://***:***@y/?a=***, 1000 normal closure');
      // The scheme's name is no secret (a lone word as a header value is one, whatever it says).
      expect(scrubber.scrub('expected a Bearer token; got Bearer abcd1234')).to.equal('expected a Bearer token; got ***');
      const lone = scrubberFor(['ws://h/', '-H', 'X-Mode: Bearer'], {});
      expect(lone.scrub('a Bearer token')).to.equal('a *** token');
      // A short secret is masked where it stands alone, not inside a longer word; a long one anywhere.
      const short = scrubberFor(['ws://h/?v=1000&m=connected', '-H', 'X-Key: abc.def', '-H', 'X-Token: longsecret99x'], {});
      expect(short.scrub('connected; disconnected: 1000 normal closure, port 41000')).to.equal('***; disconnected: *** normal closure, port 41000');
      expect(short.scrub('key=abc.def, abcXdef, xlongsecret99xy')).to.equal('key=***, abcXdef, x***y');
    });

    it('finds the secrets of short flags written together (-qs, -PsVALUE, -qH) as commander reads them', () => {
      const token = 'base64url.bearer.authorization.k8s.io.SECRETTOKEN';
      expect(expandShortFlags(['-qs', token, '-PHX-Key: hidden99', '-xhello', '-Lk', 'ws://h'])).to.deep.equal(['-q', '-s', token, '-P', '-H', 'X-Key: hidden99', '-x', 'hello', '-L', '-k', 'ws://h']);
      for (const argv of [['-qs', token], [`-Ps${token}`], ['-kPs', token], ['-s', token]]) {
        const scrubber = scrubberFor(['ws://h/', ...argv, '-qH', 'X-Key: hidden99'], {});
        expect(scrubber.scrub(`protocol ${token} key hidden99`), argv.join(' ')).to.equal('protocol *** key ***');
      }
    });
  });

  describe('exit codes', () => {
    const close = (code: number, extra: object = {}) => ({ code, reason: '', wasClean: code !== 1006, attempt: 1, ...extra });

    it('maps how a session ended to the documented codes', () => {
      expect(exitCodeFor({ close: close(1000), error: undefined })).to.equal(ExitCode.OK);
      expect(exitCodeFor({ close: close(1001), error: undefined })).to.equal(ExitCode.OK);
      expect(exitCodeFor({ close: close(1008), error: undefined })).to.equal(ExitCode.SERVER_ERROR_CLOSE);
      expect(exitCodeFor({ close: close(4000), error: undefined })).to.equal(ExitCode.SERVER_ERROR_CLOSE);
      expect(exitCodeFor({ close: close(1006), error: undefined })).to.equal(ExitCode.CONNECTION_FAILED);
      expect(exitCodeFor({ close: close(1006, { status: 401 }), error: undefined })).to.equal(ExitCode.HANDSHAKE_REJECTED);
      expect(exitCodeFor({ close: close(1006, { status: 404 }), error: undefined })).to.equal(ExitCode.CONNECTION_FAILED);
      const exhausted = new SteadySocketError('RETRIES_EXHAUSTED', 'gave up');
      expect(exitCodeFor({ close: close(1006), error: exhausted })).to.equal(ExitCode.CONNECTION_FAILED);
      // A protocol violation is reported with its status code but is not the server's close frame.
      const violation = new SteadySocketError('PROTOCOL_ERROR', 'bad frame', undefined, { closeCode: 1002 });
      expect(exitCodeFor({ close: close(1002, { wasClean: false, error: violation }), error: violation })).to.equal(ExitCode.CONNECTION_FAILED);
    });
  });

  describe('messages', () => {
    it('encodes input lines per --binary/--hex/--base64 and refuses malformed ones', () => {
      expect(encodeInput('hi', 'text')).to.equal('hi');
      expect(encodeInput('hé', 'binary')).to.deep.equal(Buffer.from('hé'));
      expect(encodeInput('de ad', 'hex')).to.deep.equal(Buffer.from([0xde, 0xad]));
      expect(encodeInput('3q0=', 'base64')).to.deep.equal(Buffer.from([0xde, 0xad]));
      expect(encodeInput('_-8', 'base64')).to.deep.equal(Buffer.from('_-8', 'base64url'));
      expect(() => encodeInput('abc', 'hex')).to.throw(InputError);
      expect(() => encodeInput('a', 'base64')).to.throw(InputError);
      expect(() => encodeInput('**', 'base64')).to.throw(InputError);
    });

    it('renders text as is and binary as hex, base64 or raw text', () => {
      expect(renderMessage('x\ty', 'hex')).to.deep.equal({ text: 'x\ty', binary: false });
      const bytes = Buffer.from([0x68, 0x69]);
      expect(renderMessage(bytes, 'text')).to.include({ text: '6869', encoding: 'hex', bytes: 2 });
      expect(renderMessage(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 2), 'base64')).to.include({ text: 'aGk=' });
      expect(renderMessage(bytes, 'binary')).to.include({ text: 'hi', encoding: 'utf8' });
    });

    it('hides user, password and query values from displayed URLs', () => {
      expect(displayUrl('wss://u:secret@h/p?token=abc&x=1')).to.equal('wss://***:***@h/p?token=***&x=***');
    });

    it('writes NDJSON with the documented fields', () => {
      const lines: string[] = [];
      const now = () => new Date('2026-01-02T03:04:05.678Z');
      const json = new JsonReporter({ write: (t: string) => lines.push(t) }, { write: () => {} }, 'text', false, new Scrubber(), now);
      json.reconnecting({ attempt: 2, delay: Infinity, offline: true, cause: { code: 1006, reason: '', wasClean: false, attempt: 2 } });
      json.error(new SteadySocketError('HANDSHAKE_REJECTED', 'no', undefined, { status: 401 }));
      expect(lines.map((l) => JSON.parse(l))).to.deep.equal([
        { type: 'reconnecting', ts: '2026-01-02T03:04:05.678Z', attempt: 2, delay: null, offline: true },
        { type: 'error', ts: '2026-01-02T03:04:05.678Z', code: 'HANDSHAKE_REJECTED', message: 'no', status: 401 },
      ]);
    });
  });

  describe('terminal', () => {
    it('counts rows like readline: wrapping, newlines and wide characters', () => {
      expect(displayRows('> hi', 80)).to.equal(0);
      expect(displayRows('status\n> hi', 80)).to.equal(1);
      expect(displayRows(`${'x'.repeat(80)}`, 80)).to.equal(1);
      expect(displayRows(`\u001b[32m${'x'.repeat(79)}\u001b[39m`, 80)).to.equal(0);
      expect(displayRows('界'.repeat(40), 80)).to.equal(1);
    });

    it('truncates the status line to the terminal width', () => {
      expect(truncate('abcdef', 4)).to.equal('abc…');
      expect(truncate('abc', 4)).to.equal('abc');
    });

    it('words the status line for each state', () => {
      const c = picocolors.createColors(false);
      const base = { url: 'ws://h/?t=1', protocol: '', rtt: undefined, queued: 0, retry: undefined, attempts: 1 };
      expect(statusText({ ...base, state: 'connecting' }, 0, c)).to.equal('● connecting to ws://h/?t=***…');
      expect(statusText({ ...base, state: 'open', protocol: 'chat.v2', rtt: 12 }, 0, c)).to.equal('● connected · protocol chat.v2 · rtt 12 ms');
      expect(statusText({ ...base, state: 'waiting', queued: 3, retry: { at: 3200, attempt: 4 } }, 0, c)).to.equal(
        '● reconnecting in 3.2 s (attempt 4) · 3 queued',
      );
      expect(statusText({ ...base, state: 'closed' }, 0, c)).to.equal('● closed');
    });
  });

  describe('/help', () => {
    it('wraps words, never cutting one', () => {
      expect(wrapWords('close normally and exit', 10)).to.deep.equal(['close', 'normally', 'and exit']);
      expect(wrapWords('averyveryverylongword x', 5)).to.deep.equal(['averyveryverylongword', 'x']);
    });

    it('fits the terminal width, with continuation lines under the descriptions', () => {
      for (const width of [79, 60]) {
        const lines = helpLines(width);
        for (const line of lines) expect(line.length, line).to.be.at.most(width);
        expect(lines.some((line) => line.startsWith(' '.repeat(25)))).to.equal(true);
      }
    });
  });

  describe('colours', () => {
    it('are on for a terminal only, off with NO_COLOR or --no-color, forced with FORCE_COLOR', () => {
      expect(useColor({ isTTY: true }, true, {})).to.equal(true);
      expect(useColor({ isTTY: false }, true, {})).to.equal(false);
      expect(useColor({ isTTY: true }, true, { NO_COLOR: '1' })).to.equal(false);
      expect(useColor({ isTTY: true }, false, {})).to.equal(false);
      expect(useColor({ isTTY: false }, true, { FORCE_COLOR: '1' })).to.equal(true);
      expect(useColor({ isTTY: true }, true, { TERM: 'dumb' })).to.equal(false);
    });
  });

  describe('askHidden() (the --passphrase prompt) over a fake terminal', () => {
    /** A terminal's input: a stream with raw mode, fed by the test. */
    function terminal() {
      const input = Object.assign(new PassThrough(), { isRaw: false, setRawMode(raw: boolean) { input.isRaw = raw; return input; } });
      const output = new PassThrough();
      return { input: input as unknown as NodeJS.ReadStream & PassThrough, output: output as unknown as NodeJS.WriteStream };
    }
    async function restAfter(typed: string): Promise<{ answer: string | undefined; rest: string }> {
      const { input, output } = terminal();
      const asked = askHidden(input, output, 'Passphrase: ');
      input.write(typed);
      const answer = await asked;
      input.end();
      let rest = '';
      for await (const chunk of input) rest += String(chunk);
      return { answer, rest };
    }

    it('gives what follows Enter in the same read back to the next reader, each line end as one \\n', async () => {
      expect(await restAfter('s3cret\rhello\rworld\r')).to.deep.equal({ answer: 's3cret', rest: 'hello\nworld\n' });
      // A paste with CRLF line ends: one line end each, no empty line between (as the bare \r\n would give).
      expect(await restAfter('s3cret\r\nhello\r\nworld')).to.deep.equal({ answer: 's3cret', rest: 'hello\nworld' });
      expect(await restAfter('s3cret\n\nnext')).to.deep.equal({ answer: 's3cret', rest: '\nnext' });
      expect(await restAfter('s3cret\r')).to.deep.equal({ answer: 's3cret', rest: '' });
    });

    it('hands the terminal back as it found it: raw mode off again', async () => {
      const { input, output } = terminal();
      const asked = askHidden(input, output, 'Passphrase: ');
      expect(input.isRaw, 'raw while asking').to.equal(true);
      input.write('pw\r');
      expect(await asked).to.equal('pw');
      expect(input.isRaw).to.equal(false);
    });
  });
});
