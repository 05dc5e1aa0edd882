// Behaviour of the CLI's pure parts (src/cli: args.ts, redact.ts, messages.ts, exit-codes.ts)
// that no test pinned down, found by mutation testing (Stryker over the in-process CLI tests,
// December 2026): each test fails with at least one mutant that survived them. In-process, like
// units.test.ts; the child-process tests cover the wiring.
import { expect } from 'chai';
import { SteadySocketError } from '../../src/index';
import { buildProgram, hideFlagValues, parseArgs, type CliOptions } from '../../src/cli/args';
import { ExitCode, exitCodeFor } from '../../src/cli/exit-codes';
import { describeClose, encodeInput, formatBytes, formatDelay, InputError, renderMessage, terminalSafeJson, toBuffer, visible } from '../../src/cli/messages';
import { expandShortFlags, redactUrlsIn, Scrubber, scrubberFor } from '../../src/cli/redact';

const base64 = (text: string) => Buffer.from(text).toString('base64');

/** What parseArgs made of argv: its result, and what it wrote on stdout and stderr. */
function parsed(...argv: string[]): { result: ReturnType<typeof parseArgs>; stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  const result = parseArgs(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), version: '9.8.7' });
  return { result, stdout, stderr };
}

function options(...argv: string[]): CliOptions {
  const { result, stderr } = parsed(...argv);
  if (!('run' in result)) throw new Error(`exit ${result.exit}: ${stderr}`);
  return result.run;
}

/** The first line of the usage error for argv (which must exit 2). */
function usageError(...argv: string[]): string {
  const { result, stderr } = parsed(...argv);
  expect(result, argv.join(' ')).to.deep.equal({ exit: ExitCode.USAGE });
  return stderr.split('\n')[0];
}

describe('mutation gaps: CLI', () => {
  describe('args: numbers', () => {
    it('takes whole numbers around white space and names the flag and its bound when one is refused', () => {
      expect(options('ws://h', '--count', ' 2 ').count).to.equal(2);
      expect(usageError('ws://h', '--max-retries', '-1')).to.equal("error: option '--max-retries <n>' argument '-1' is invalid. --max-retries must be at least 0.");
      expect(usageError('ws://h', '--count', 'x')).to.equal("error: option '--count <n>' argument 'x' is invalid. --count must be a whole number.");
      expect(usageError('ws://h', '--heartbeat', '0')).to.include('--heartbeat must be at least 1.');
      expect(usageError('ws://h', '--connect-timeout', '0')).to.include('--connect-timeout must be at least 1.');
      expect(usageError('ws://h', '--max-redirects', '-1')).to.include('--max-redirects must be at least 0.');
      expect(usageError('ws://h', '--min-delay', '-1')).to.include('--min-delay must be at least 0.');
      expect(usageError('ws://h', '--max-delay', '-1')).to.include('--max-delay must be at least 0.');
      expect(usageError('ws://h', '--connect-attempts', '-1')).to.include('--connect-attempts must be at least 0.');
      expect(usageError('ws://h', '--count', '2x')).to.include('whole number');
      expect(usageError('ws://h', '--count', 'x2')).to.include('whole number');
    });

    it('takes seconds as decimals, -1, or 0, and nothing else', () => {
      const waits = ['1e3', '.5', '2.', '0', '-1', ' 2 ', '1E+1', '12.25', '.25', '1e10', '1e-1'];
      expect(waits.map((w) => options('ws://h', '-w', w).wait)).to.deep.equal([1000, 0.5, 2, 0, -1, 2, 10, 12.25, 0.25, 1e10, 0.1]);
      for (const w of ['0x10', '0b1', 'Infinity', '-0.5', '1e400', '2s', 'x2', '']) {
        expect(usageError('ws://h', '-w', w), w).to.equal(`error: option '-w, --wait <seconds>' argument '${w}' is invalid. seconds must be a number ≥ 0, or -1 to hold the connection open.`);
      }
    });
  });

  describe('args: headers', () => {
    it("refuses each of the handshake's own header fields, in any case", () => {
      for (const name of ['Sec-WebSocket-Key', 'Sec-WebSocket-Version', 'Sec-WebSocket-Extensions', 'Upgrade', 'CONNECTION']) {
        expect(usageError('ws://h', '-H', `${name}: x`), name).to.match(new RegExp(`is invalid\\. ${name} is set by the client for the handshake\\.$`));
      }
    });

    it('trims the name and the value, and refuses an empty name, nothing, a name given twice in another case, and a control character', () => {
      expect(options('ws://h', '-H', ' X-Key :  v a l ', '-H', 'X-Tab:\tcafé').headers).to.deep.equal({ 'X-Key': 'v a l', 'X-Tab': 'café' });
      expect(usageError('ws://h', '-H', 'nocolonatall')).to.include('got 12 characters without a colon');
      expect(options('ws://h', '-H', 'Host: a.test', '-H', 'Origin: https://site', '-H', 'Authorization: Bearer x').headers).to.have.keys('Host', 'Origin', 'Authorization');
      expect(usageError('ws://h', '-H', ': v')).to.include('expected "Name: value", got 3 characters without a colon (not shown: a header may hold a secret).');
      expect(usageError('ws://h', '-H', '  ')).to.include('expected "Name: value", got nothing.');
      expect(usageError('ws://h', '-H', 'A: 1', '-H', 'a: 2')).to.include('is invalid. a is given twice: give each header once (join a list with ", ").');
      expect(usageError('ws://h', '-H', 'X: a\u0001b')).to.include('the value of X holds a character no header can carry');
      expect(usageError('ws://h', '-H', 'X: a\u0100b')).to.include('the value of X holds a character no header can carry');
      expect(usageError('ws://h', '-H', 'X: a\u007fb')).to.include('the value of X holds a character no header can carry');
    });

    it('refuses a header set by a flag and by -H too, whatever the case of -H', () => {
      expect(usageError('ws://h', '--host', 'x', '-H', 'host: y')).to.equal('error: --host and -H "Host: …" both set the Host header: give one.');
      expect(usageError('ws://h', '-o', 'x', '-H', 'ORIGIN: y')).to.equal('error: -o/--origin and -H "Origin: …" both set the Origin header: give one.');
      expect(usageError('ws://h', '--auth', 'a:b', '-H', 'authorization: y')).to.equal('error: --auth and -H "Authorization: …" both set the Authorization header: give one.');
      expect(options('ws://h', '-o', 'https://site', '--host', 'a.test', '-H', 'X: 1')).to.deep.include({ origin: 'https://site', headers: { X: '1', Host: 'a.test' } });
    });

    it('refuses --auth without a colon, saying what it wants', () => {
      expect(usageError('ws://h', '--auth', 'nocolon')).to.equal("error: option '--auth <user:pass>' argument 'nocolon' is invalid. expected user:password.");
      expect(options('ws://h', '--auth', 'me:pw').auth).to.equal('me:pw');
    });
  });

  describe('args: commander', () => {
    it("hides the value of a flag quoted in an error, up to the last quote of its line", () => {
      expect(hideFlagValues("error: unknown option '--headers=X: it's secret'\nnext 'line'")).to.equal("error: unknown option '--headers=***'\nnext 'line'");
      expect(hideFlagValues("unknown option '-x=secret'")).to.equal("unknown option '-x=***'");
      expect(hideFlagValues("unknown option '--json'")).to.equal("unknown option '--json'");
      expect(usageError('ws://h', '--bogus=secret')).to.equal("error: unknown option '--bogus=***'");
      expect(parsed('ws://h', '--bogus').stderr).to.include('(run steadysocket --help for usage)');
    });

    it('prints the version and the help on stdout and exits 0', () => {
      for (const flag of ['-V', '--version']) expect(parsed(flag)).to.deep.equal({ result: { exit: ExitCode.OK }, stdout: '9.8.7\n', stderr: '' });
      const help = parsed('-h');
      expect(help.result).to.deep.equal({ exit: ExitCode.OK });
      expect(help.stdout).to.match(/^Usage: steadysocket \[options\] <url>\n\nA WebSocket client that reconnects, queues and reports typed errors\.\n/);
      expect(help.stdout).to.match(/\n {2}url +ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL \(ws:\/\/ is\s+assumed without a scheme\)\n/);
      const groups = ['Connection:', 'TLS:', 'Proxy:', 'Reconnect:', 'Messages:', 'Output:', 'wscat compatibility:', 'Examples:', 'Exit codes:'];
      const at = groups.map((group) => help.stdout.indexOf(`\n${group}\n`));
      expect(at, JSON.stringify(at)).to.deep.equal([...at].sort((a, b) => a - b));
      expect(at.every((i) => i > 0), JSON.stringify(at)).to.equal(true);
      expect(parsed('--help').stdout).to.equal(help.stdout);
      expect(help.stdout).to.match(/-h, --help +show this help\n/).and.include('-V, --version');
    });

    it('describes every option in the help', () => {
      const program = buildProgram({ stdout: () => {}, stderr: () => {}, version: '0' });
      expect(program.options.length).to.be.above(35);
      for (const option of program.options) expect(option.description, option.flags).to.match(/\w{3}/);
    });
  });

  describe('args: what the options become', () => {
    it('passes each option on', () => {
      const o = options(
        'wss://h/', '-L', '--max-redirects', '3', '--connect-timeout', '500', '--ca', 'ca.pem', '--cert', 'c.pem', '--key', 'k.pem',
        '--max-retries', '4', '--min-delay', '10', '--max-delay', '10', '--heartbeat', '99', '-w', '2', '--count', '5',
        '--json', '-P', '-q', '--no-color', '--debug', '--proxy', 'https://p:1', '--slash', '-p', ' 13 ',
      );
      expect(o).to.deep.include({
        followRedirects: true, maxRedirects: 3, connectTimeout: 500, ca: 'ca.pem', cert: 'c.pem', key: 'k.pem', passphrase: undefined,
        maxRetries: 4, minDelay: 10, maxDelay: 10, heartbeat: 99, wait: 2, count: 5, connectAttempts: undefined,
        json: true, showPingPong: true, quiet: true, color: false, debug: true, proxy: 'https://p:1', insecure: false, reconnect: true,
      });
      expect(options('ws://h')).to.deep.include({
        followRedirects: false, maxRedirects: 10, connectTimeout: undefined, json: false, showPingPong: false, quiet: false, color: true, debug: false,
        insecure: false, insecureFlag: '-k/--insecure', wait: undefined, count: undefined, subprotocols: [], execute: [], preamble: [], headers: {},
      });
      expect(options('ws://h', '-k', '-n')).to.include({ insecure: true, insecureFlag: '-k/--insecure' });
    });

    it('picks the encoding of --binary, --hex or --base64, and names every one given together', () => {
      expect(['--binary', '-b', '--hex', '--base64'].map((flag) => options('ws://h', flag).encoding)).to.deep.equal(['binary', 'binary', 'hex', 'base64']);
      expect(usageError('ws://h', '--binary', '--hex', '--base64')).to.equal('error: --binary and --hex and --base64 cannot be combined.');
      expect(usageError('ws://h', '--hex', '--base64')).to.equal('error: --hex and --base64 cannot be combined.');
      expect(usageError('ws://h', '-x', 'zz', '--hex')).to.equal('error: a message is not hex (pairs of 0-9a-f): "zz"');
      expect(options('ws://h', '--hex', '-x', 'dead', '--preamble', 'beef').execute).to.deep.equal(['dead']);
    });

    it('takes the URL once, as an argument or with -c, or the same both ways', () => {
      expect(options('-c', 'ws://h/c').url).to.equal('ws://h/c');
      expect(options('ws://h/c', '-c', 'ws://h/c').url).to.equal('ws://h/c');
      expect(usageError('ws://a', '-c', 'ws://b')).to.equal('error: give the URL once: either as an argument or with -c/--connect.');
      expect(usageError()).to.equal('error: missing the URL to connect to.');
      expect(usageError('')).to.equal('error: missing the URL to connect to.');
    });

    it('wants --cert and --key together, and --passphrase only with --key', () => {
      expect(usageError('ws://h', '--key', 'k.pem')).to.equal('error: --cert and --key go together.');
      expect(usageError('ws://h', '--passphrase', 'pw')).to.equal('error: --passphrase is the passphrase of --key: give --key (and --cert) too.');
      expect(usageError('ws://h', '--min-delay', '11', '--max-delay', '10')).to.equal('error: --max-delay must not be below --min-delay.');
    });

    it('refuses -l/--listen with the port, and any protocol version but 13', () => {
      expect(usageError('ws://h', '-l', '8080')).to.equal(
        'error: -l/--listen: steadysocket is a WebSocket client only and cannot listen on port 8080. For a quick server use `npx wscat -l 8080` or `websocat -s 8080`.',
      );
      expect(usageError('ws://h', '--protocol', '8')).to.equal(
        'error: -p/--protocol 8: steadysocket speaks WebSocket version 13 (RFC 6455) only, as every current server does; the old hybi drafts (e.g. 8) are not supported. To offer a subprotocol, use -s <token>.',
      );
      expect(parsed('ws://h', '-p', '8').stderr).to.include('(run steadysocket --help for usage)');
    });
  });

  describe('args: URLs', () => {
    it('adds ws:// to a URL without a scheme, and http:// to such a proxy', () => {
      expect(options('localhost:8080/x').url).to.equal('ws://localhost:8080/x');
      expect(options('-c', 'localhost:8080').url).to.equal('ws://localhost:8080');
      expect(options('ws://h', '--proxy', 'p:3128').proxy).to.equal('http://p:3128');
      expect(options('ws://h', '--proxy', 'HTTPS://p:1').proxy).to.equal('HTTPS://p:1');
    });

    it('says what is wrong with a URL, redacted', () => {
      const cases: [string, string, string?][] = [
        ['WS:/h', 'the scheme WS: must be followed by // and the host (ws://host/)'],
        ['https:h', 'the scheme https: must be followed by // and the host (https://host/)'],
        ['http:/h', 'the scheme http: must be followed by // and the host (http://host/)'],
        ['ws:h', 'the scheme ws: must be followed by // and the host (ws://host/)'],
        ['ws://h ', 'it starts or ends with white space'],
        ['ftp://h', 'the scheme must be ws://, wss://, http:// or https://, not ftp://'],
        ['ws://h/a b', 'it contains white space (percent-encode a space in a path or query as %20)'],
        ['ws://h/#x', 'a fragment (#…) is not allowed in a WebSocket URL (RFC 6455 §3)', 'ws://h/#***'],
        ['ws:///path', 'there is no host name'],
        ['wss:///path', 'there is no host name'],
        ['ws://?x', 'there is no host name', 'ws://?***'],
        ['ws://:80/', 'there is no host name'],
        ['ws://h:0', 'the port 0 is out of range (1–65535)'],
        ['ws://[::1/', 'the IPv6 address lacks its closing "]"'],
        ['ws://h:80a/', 'the port "80a" is not a number'],
        ['ws://h:99999/', 'the port 99999 is out of range (1–65535)'],
        ['ws://a b/', 'the host "a b" contains white space'],
        ['ws://h^/', 'the host "h^" is not a valid host name'],
        ['ws://h^:65535/', 'the host "h^" is not a valid host name'],
        ['ws://h^:/', 'the host "h^" is not a valid host name'],
        ['ws://[zz]/', 'the host "[zz]" is not a valid host name'],
        ['ws://[::zz]/', 'the host "[::zz]" is not a valid host name'],
        ['ws://[abc/', 'the IPv6 address lacks its closing "]"'],
        ['wss://h^/', 'the host "h^" is not a valid host name'],
        ['ws://h:a80/', 'the port "a80" is not a number'],
        ['ws://h:65536/', 'the port 65536 is out of range (1–65535)'],
        ['ws://u:pw@h^/?t=1', 'the host "h^" is not a valid host name', 'ws://***:***@h^/?t=***'],
      ];
      for (const [url, problem, shown = url] of cases) {
        expect(usageError(url), url).to.equal(`error: invalid URL ${JSON.stringify(shown)}: ${problem}.`);
      }
      expect(options('ws://h:65535/?a=b').url).to.equal('ws://h:65535/?a=b');
      expect(options('HTTPS://h').url).to.equal('HTTPS://h');
      for (const url of ['http://h', 'wss://h/?next=ws:x', 'ws://h/?next=x:///y']) expect(options(url).url).to.equal(url);
      expect(options('localhost:8080/?next=ws://x').url).to.equal('ws://localhost:8080/?next=ws://x');
    });
  });

  describe('redact: Scrubber', () => {
    it('masks a secret of four characters, not one of three', () => {
      const scrubber = new Scrubber();
      scrubber.add('abcd', 'xyz');
      expect(scrubber.scrub('abcd xyz')).to.equal('*** xyz');
    });

    it('masks a secret of 12 characters or more inside a longer word, a shorter one only as a whole word', () => {
      const scrubber = new Scrubber();
      scrubber.add('abcdefghijkl', 'mnopqrstuvw');
      expect(scrubber.scrub('xabcdefghijkly xmnopqrstuvwy mnopqrstuvw')).to.equal('x***y xmnopqrstuvwy ***');
    });

    it('masks a secret that holds another whole, added shorter first', () => {
      const scrubber = new Scrubber();
      scrubber.add('abcsecretvalue1', 'xabcsecretvalue1');
      expect(scrubber.scrub('got xabcsecretvalue1')).to.equal('got ***');
    });

    it('masks a secret as given, trimmed, percent-decoded and percent-encoded', () => {
      const scrubber = new Scrubber();
      scrubber.add(' padded-secret ', 'to%2Fken12345', 'a b/c secret');
      expect(scrubber.scrub('[padded-secret] to/ken12345 a%20b%2Fc%20secret')).to.equal('[***] *** ***');
    });

    it('masks every place a short secret stands', () => {
      const scrubber = new Scrubber();
      scrubber.add('abcd');
      expect(scrubber.scrub('abcd and abcd, abcd')).to.equal('*** and ***, ***');
    });

    it('masks what is added after a scrub too', () => {
      const scrubber = new Scrubber();
      scrubber.add('firstsecret1');
      expect(scrubber.scrub('firstsecret1 latersecret2')).to.equal('*** latersecret2');
      scrubber.add('latersecret2');
      expect(scrubber.scrub('firstsecret1 latersecret2')).to.equal('*** ***');
    });
  });

  describe('redact: the secrets of a URL', () => {
    it('masks the user and the password alone, together, and as Basic credentials (as written and decoded)', () => {
      const scrubber = new Scrubber();
      scrubber.addUrl('wss://alice99:pa%40ss99@host/');
      const text = `alice99 pa%40ss99 pa@ss99 alice99:pa%40ss99 ${base64('alice99:pa%40ss99')} ${base64('alice99:pa@ss99')}`;
      expect(scrubber.scrub(text)).to.equal('*** *** *** *** *** ***');
    });

    it('masks user info without a password, and in a URL without a scheme', () => {
      const scrubber = new Scrubber();
      scrubber.addUrl('wss://tokenonly1@host/');
      scrubber.addUrl('bob12345:hunter2x@host:8080/');
      expect(scrubber.scrub('tokenonly1 bob12345 hunter2x')).to.equal('*** *** ***');
    });

    it('masks each query value, a part without a name whole, and not the fragment with the last value', () => {
      const scrubber = new Scrubber();
      scrubber.addUrl('wss://host/p?token=tok3n123&bare-token-99&x=y=z123#fragment');
      expect(scrubber.scrub('tok3n123 bare-token-99 y=z123 token fragment')).to.equal('*** *** *** token fragment');
    });

    it('masks a password after an empty user name, and a query value after an empty name; no shorter user name', () => {
      const scrubber = new Scrubber();
      scrubber.addUrl('wss://:pass1234@host/?=secretval1');
      scrubber.addUrl('wss://tokenonly1@host/');
      expect(scrubber.scrub('pass1234 secretval1 tokenonly')).to.equal('*** *** tokenonly');
    });

    it('takes nothing from a URL without user info or query', () => {
      const scrubber = new Scrubber();
      scrubber.addUrl('wss://host.example/path@x');
      scrubber.addUrl(undefined);
      expect(scrubber.scrub('host.example/path host.example wss')).to.equal('host.example/path host.example wss');
    });
  });

  describe('redact: URLs in text', () => {
    it('redacts every URL in text, of any scheme and case, up to white space, a double quote, a bracket or a non-ASCII character', () => {
      const text = '(see ws://h/?t=secret1). "wss://u:p@h/x" <WS://u@h/?a=1> ws://h/?t=abc… git+ssh://u:p@h/ x1://h/?a=b`';
      expect(redactUrlsIn(text)).to.equal('(see ws://h/?t=***). "wss://***:***@h/x" <WS://***@h/?a=***> ws://h/?t=***… git+ssh://***:***@h/ x1://h/?a=***`');
    });

    it('leaves punctuation that ends a sentence after a URL, and only at its end', () => {
      expect(redactUrlsIn("ws://h/?t=abc;:!?], and ws://h/?a=1.b&c=2)'")).to.equal("ws://h/?t=***;:!?], and ws://h/?a=***&c=***)'");
    });

    // Bug found here: the URL ended at `'` (and at `"`, `<`, `>`, a backtick or non-ASCII), so a
    // password holding one, written raw in a text, showed its rest (`ss-s3cret@host`).
    it('masks user info holding a quote, bracket, backtick or non-ASCII character, up to its last @', () => {
      for (const odd of ["'", '"', '<', '>', '`', 'é', '…']) {
        const text = `fetch wss://user:pa${odd}ss-s3cret@host/x failed`;
        expect(redactUrlsIn(text), JSON.stringify(odd)).to.equal('fetch wss://***:***@host/x failed');
      }
      expect(redactUrlsIn("'wss://u:p@h/?t=ab'cd', next")).to.equal("'wss://***:***@h/?t=***', next");
      expect(redactUrlsIn('see "wss://h/x" and "a@b"')).to.equal('see "wss://h/x" and "a@b"');
    });
  });

  describe('redact: header values', () => {
    it("masks each word of a header value but an authentication scheme's name", () => {
      const schemes = ['Basic', 'Bearer', 'Digest', 'HOBA', 'Mutual', 'Negotiate', 'NTLM', 'OAuth', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'vapid', 'Token'];
      const scrubber = new Scrubber();
      for (const [i, scheme] of schemes.entries()) scrubber.addHeaderValue(`${scheme} credential${i}x`);
      for (const scheme of schemes) expect(scrubber.scrub(`use ${scheme} auth`)).to.equal(`use ${scheme} auth`);
      expect(scrubber.scrub('credential0x credential11x')).to.equal('*** ***');
    });

    it('splits a header value at white space, commas and semicolons, and trims it', () => {
      const scrubber = new Scrubber();
      scrubber.addHeaderValue('  first-part1,second-part2;third-part3 \tfourth-part4 ');
      expect(scrubber.scrub('fourth-part4 third-part3 first-part1 second-part2 (first-part1,second-part2;third-part3 \tfourth-part4)')).to.equal('*** *** *** *** (***)');
    });
  });

  describe('redact: short flags written together', () => {
    it('writes out a cluster up to each flag that takes a value, whatever follows', () => {
      for (const flag of ['c', 's', 'H', 'o', 'x', 'w', 'p', 'l']) {
        expect(expandShortFlags([`-q${flag}value`, 'next']), flag).to.deep.equal(['-q', `-${flag}`, 'value', 'next']);
        expect(expandShortFlags([`-q${flag}`, 'value']), flag).to.deep.equal(['-q', `-${flag}`, 'value']);
      }
      expect(expandShortFlags(['-qkLP', 'ws://h'])).to.deep.equal(['-q', '-k', '-L', '-P', 'ws://h']);
    });

    it('leaves long flags, single short flags and words alone', () => {
      const argv = ['--header', 'X-Key: v', '--json', '-H', 'A: b', '-q', 'ws://h', 'x-y', '-1'];
      expect(expandShortFlags(argv)).to.deep.equal(argv);
    });
  });

  describe('redact: the secrets of a command line', () => {
    it('reads proxy credentials from each proxy variable, in lower and upper case', () => {
      for (const name of ['http_proxy', 'https_proxy', 'all_proxy', 'ws_proxy', 'wss_proxy']) {
        for (const variable of [name, name.toUpperCase()]) {
          const scrubber = scrubberFor(['ws://h/'], { [variable]: 'http://proxyuser:proxypass1@p:3128' });
          expect(scrubber.scrub('proxyuser proxypass1'), variable).to.equal('*** ***');
        }
      }
    });

    it('reads proxy credentials from a proxy variable with spaces around its URL, as the proxy support reads it', () => {
      for (const value of [' http://proxyuser:proxypass1@p:3128', 'http://proxyuser:proxypass1@p:3128\n', '\t proxyuser:proxypass1@p:3128 ']) {
        const scrubber = scrubberFor(['ws://h/'], { HTTPS_PROXY: value });
        expect(scrubber.scrub('via proxyuser proxypass1'), JSON.stringify(value)).to.equal('via *** ***');
      }
    });

    it('reads header values after -H, --header, --header= and -H written together with its value', () => {
      for (const argv of [['-H', 'X-Key: hvalue1'], ['--header', 'X-Key: hvalue1'], ['--header=X-Key: hvalue1'], ['-HX-Key: hvalue1'], ['-H', 'hvalue1']]) {
        expect(scrubberFor(['ws://h/', ...argv], {}).scrub('X-Key: hvalue1'), argv.join(' ')).to.equal('X-Key: ***');
      }
    });

    it('reads the value written together with -s, -H or -c when it starts with a digit (no cluster then)', () => {
      const token = '1234567890abcdefghijklmnop';
      expect(scrubberFor(['ws://h/', `-s${token}`], {}).scrub(`protocol ${token}`)).to.equal('protocol ***');
      expect(scrubberFor(['ws://h/', '-H1X: secretvalue1'], {}).scrub('1X: secretvalue1')).to.equal('1X: ***');
      expect(scrubberFor(['-c1user:pw12345@h/'], {}).scrub('1user pw12345')).to.equal('*** ***');
    });

    it('reads a header value after a colon at its start, and a password after an empty --auth user', () => {
      expect(scrubberFor(['ws://h/', '-H', ':secretvalue1'], {}).scrub('secretvalue1')).to.equal('***');
      expect(scrubberFor(['ws://h/', '--auth', ':authpass1'], {}).scrub('authpass1')).to.equal('***');
    });

    it('reads a header value that starts like a cluster of short flags as it is (commander takes it whole)', () => {
      const scrubber = scrubberFor(['ws://h/', '-H', '-Xkey: secretvalue1'], {});
      expect(scrubber.scrub('rejected secretvalue1')).to.equal('rejected ***');
    });

    it('reads --auth: the whole value, the password and the Basic credentials made of it', () => {
      for (const argv of [['--auth', 'me:authpass1'], ['--auth=me:authpass1']]) {
        const scrubber = scrubberFor(['ws://h/', ...argv], {});
        expect(scrubber.scrub(`me:authpass1 authpass1 ${base64('me:authpass1')}`), argv.join(' ')).to.equal('*** *** ***');
      }
      // Its user name too, as a URL's user name is.
      expect(scrubberFor(['ws://h/', '--auth', 'authuser:authpass1'], {}).scrub('hello authuser')).to.equal('hello ***');
      expect(scrubberFor(['ws://h/', '--auth', 'nocolonauth'], {}).scrub('nocolonauth')).to.equal('***');
    });

    it('reads --passphrase with a value, but not a long flag that follows it', () => {
      expect(scrubberFor(['ws://h/', '--passphrase', 'pass-phrase1'], {}).scrub('pass-phrase1')).to.equal('***');
      expect(scrubberFor(['ws://h/', '--passphrase=-dash-phrase'], {}).scrub('-dash-phrase')).to.equal('***');
      // What is not shaped like a long flag is one (commander calls it an unknown option and quotes it).
      for (const phrase of ['--pass1234word', 'pass--phrase']) expect(scrubberFor(['ws://h/', '--passphrase', phrase], {}).scrub(phrase), phrase).to.equal('***');
      expect(scrubberFor(['ws://h/', '--passphrase', '--debug'], {}).scrub('--debug')).to.equal('--debug');
    });

    it('reads the URL of -c, --connect= and --proxy= written with their flag', () => {
      for (const arg of ['-cws://cuser1:cpass1@h/', '--connect=ws://cuser1:cpass1@h/', '--proxy=http://cuser1:cpass1@p:1']) {
        expect(scrubberFor([arg], {}).scrub('cuser1 cpass1'), arg).to.equal('*** ***');
      }
    });

    it('reads the user info and query of a URL written without a scheme, wherever it stands', () => {
      expect(scrubberFor(['bob12345:hunter2x@host:8080', '-x', 'hi'], {}).scrub('bob12345 hunter2x')).to.equal('*** ***');
      expect(scrubberFor(['host:8080?token=tok3n123', '-x', 'hi'], {}).scrub('token tok3n123')).to.equal('token ***');
      expect(scrubberFor(['-x', 'hi', 'bob12345:hunter2x@host:8080'], {}).scrub('bob12345 hunter2x')).to.equal('*** ***');
    });

    it('reads a subprotocol longer than 24 characters as a secret, and not one of 24', () => {
      const long = 'a'.repeat(20) + 'bcdef';
      const plain = 'b'.repeat(20) + 'cdef';
      expect(scrubberFor(['ws://h/', '-s', long, '--subprotocol', plain], {}).scrub(`${long} ${plain}`)).to.equal(`*** ${plain}`);
      expect(scrubberFor(['ws://h/', `--subprotocol=${long}`], {}).scrub(long)).to.equal('***');
    });

    it('takes no other flag or its value for a secret', () => {
      const message = 'a message of more than 24 characters';
      const scrubber = scrubberFor(['ws://h/', '--max-delay', '30000', '--origin', 'https://site', '--authority', '--connect-timeout', '5000', '-x', message], {});
      const text = `30000 5000 ority -timeout site max-delay connect-timeout ${message}`;
      expect(scrubber.scrub(text)).to.equal(text);
    });
  });
  describe('messages', () => {
    it('sends a line read as latin1 under -b as those bytes, and any other line as UTF-8', () => {
      expect(encodeInput('\u00e9\u00ff', 'binary', true)).to.deep.equal(Buffer.from([0xe9, 0xff]));
      expect(encodeInput('\u00e9', 'binary')).to.deep.equal(Buffer.from([0xc3, 0xa9]));
    });

    it('takes hex and base64 only as whole lines, white space anywhere ignored', () => {
      expect(encodeInput(' DE\tad ', 'hex')).to.deep.equal(Buffer.from([0xde, 0xad]));
      for (const line of ['xdead', 'deadx', 'dea']) expect(() => encodeInput(line, 'hex'), line).to.throw(InputError);
      expect(encodeInput(' 3q 0= ', 'base64')).to.deep.equal(Buffer.from([0xde, 0xad]));
      expect(encodeInput('3q2+', 'base64')).to.deep.equal(Buffer.from([0xde, 0xad, 0xbe]));
      expect(encodeInput('3q2-', 'base64')).to.deep.equal(Buffer.from([0xde, 0xad, 0xbe]));
      expect(encodeInput('', 'base64')).to.deep.equal(Buffer.alloc(0));
      for (const line of ['*3q0=', '3q0=*', '3q0===', '3q2+a', '3q2+a=', '3q2+a==']) expect(() => encodeInput(line, 'base64'), line).to.throw(InputError);
    });

    it('quotes a refused line in its error, cut to 40 characters', () => {
      expect(() => encodeInput('z'.repeat(40), 'hex')).to.throw(InputError, `not hex (pairs of 0-9a-f): "${'z'.repeat(40)}"`);
      expect(() => encodeInput('z'.repeat(41), 'base64')).to.throw(InputError, `not base64: "${'z'.repeat(40)}…"`);
    });

    it('prints binary under -b as text when it is UTF-8 and as base64 when not', () => {
      expect(renderMessage(Buffer.from([0xff, 0x00]), 'binary')).to.deep.equal({ text: '/wA=', binary: true, encoding: 'base64', bytes: 2 });
      expect(renderMessage(Buffer.from([0xff]), 'hex')).to.deep.equal({ text: 'ff', binary: true, encoding: 'hex', bytes: 1 });
    });

    it('reads the bytes of a Buffer, an ArrayBuffer, a view into part of one, fragments, and anything else as text', () => {
      const whole = new Uint8Array([1, 2, 3, 4]);
      expect(toBuffer(whole.buffer)).to.deep.equal(Buffer.from([1, 2, 3, 4]));
      expect(toBuffer(new Uint8Array(whole.buffer, 1, 2))).to.deep.equal(Buffer.from([2, 3]));
      expect(toBuffer(new DataView(whole.buffer, 2, 2))).to.deep.equal(Buffer.from([3, 4]));
      expect(toBuffer([Buffer.from([1]), new Uint8Array([2, 3]).buffer])).to.deep.equal(Buffer.from([1, 2, 3]));
      expect(toBuffer(42)).to.deep.equal(Buffer.from('42'));
    });

    it('writes controls, DEL, C1 controls and the bidirectional overrides as escapes, and nothing else', () => {
      const unsafe = '\u0000\u0008\u000b\u001f\u007f\u009f\u202a\u202e\u2066\u2069';
      expect(visible(`a${unsafe}b`)).to.equal('a\\x00\\x08\\x0b\\x1f\\x7f\\x9f\\u202a\\u202e\\u2066\\u2069b');
      const safe = '\t\n ~\u00a0\u00e9\u2029\u202f\u2065\u206a';
      expect(visible(safe)).to.equal(safe);
    });

    it('writes DEL, C1 controls and the bidirectional overrides in JSON as \\u escapes of four digits', () => {
      const json = JSON.stringify('~\u007f\u009f\u00a0\u202a\u202e\u2066\u2069\u2029');
      expect(terminalSafeJson(json)).to.equal('"~\\u007f\\u009f\u00a0\\u202a\\u202e\\u2066\\u2069\u2029"');
      expect(JSON.parse(terminalSafeJson(json))).to.equal(JSON.parse(json));
    });

    it('words delays and sizes for people', () => {
      expect([Infinity, 0, 999.4, 1000, 1250].map(formatDelay)).to.deep.equal(['later', '0 ms', '999 ms', '1.0 s', '1.3 s']);
      expect([0, 1023, 1024, 1024 * 1024 - 1, 1024 * 1024, 1536 * 1024].map(formatBytes)).to.deep.equal(['0 B', '1023 B', '1.0 KiB', '1024.0 KiB', '1.0 MiB', '1.5 MiB']);
    });

    it('names each close code of RFC 6455 and the registry, with the reason when there is one', () => {
      const names = ['normal closure', 'going away', 'protocol error', 'unsupported data', undefined, 'no status', 'abnormal closure', 'invalid payload', 'policy violation', 'message too big', 'mandatory extension', 'internal server error', 'service restart', 'try again later', 'bad gateway', 'TLS handshake failure'];
      for (const [i, name] of names.entries()) expect(describeClose(1000 + i, ''), String(1000 + i)).to.equal(name ? `${1000 + i} ${name}` : `${1000 + i}`);
      expect(describeClose(4000, 'bye')).to.equal('4000: bye');
      expect(describeClose(1008, 'no token')).to.equal('1008 policy violation: no token');
    });
  });

  describe('exit codes', () => {
    const close = (code: number, extra: object = {}) => ({ code, reason: '', wasClean: code !== 1006, attempt: 1, ...extra });
    const exhausted = new SteadySocketError('RETRIES_EXHAUSTED', 'gave up');

    it('tells a handshake refused with 401 or 403 from other failures when retries are spent', () => {
      expect(exitCodeFor({ close: close(1006, { status: 401 }), error: exhausted })).to.equal(ExitCode.HANDSHAKE_REJECTED);
      expect(exitCodeFor({ close: close(1006, { status: 403 }), error: exhausted })).to.equal(ExitCode.HANDSHAKE_REJECTED);
      const rejected = new SteadySocketError('HANDSHAKE_REJECTED', 'no', undefined, { status: 403 });
      expect(exitCodeFor({ close: close(1006, { error: rejected }), error: exhausted })).to.equal(ExitCode.HANDSHAKE_REJECTED);
      expect(exitCodeFor({ close: close(1006, { status: 500 }), error: exhausted })).to.equal(ExitCode.CONNECTION_FAILED);
      expect(exitCodeFor({ close: undefined, error: exhausted })).to.equal(ExitCode.CONNECTION_FAILED);
      // The server closed each connection cleanly with an error code and the retries ran out: 3, not 5.
      expect(exitCodeFor({ close: close(4000), error: exhausted })).to.equal(ExitCode.CONNECTION_FAILED);
    });

    it('ends without a close in failure only when there was an error', () => {
      expect(exitCodeFor({ close: undefined, error: undefined })).to.equal(ExitCode.OK);
      expect(exitCodeFor({ close: undefined, error: new SteadySocketError('CONNECT_TIMEOUT', 'slow') })).to.equal(ExitCode.CONNECTION_FAILED);
    });

    it('takes the status of the close or of its error, and 1005 as a normal close', () => {
      expect(exitCodeFor({ close: close(1006, { status: 403 }), error: undefined })).to.equal(ExitCode.HANDSHAKE_REJECTED);
      const rejected = new SteadySocketError('HANDSHAKE_REJECTED', 'no', undefined, { status: 401 });
      expect(exitCodeFor({ close: close(1006, { error: rejected }), error: undefined })).to.equal(ExitCode.HANDSHAKE_REJECTED);
      const failed = new SteadySocketError('HANDSHAKE_REJECTED', 'no', undefined, { status: 502 });
      expect(exitCodeFor({ close: close(1000, { error: failed }), error: undefined })).to.equal(ExitCode.CONNECTION_FAILED);
      expect(exitCodeFor({ close: close(1005), error: undefined })).to.equal(ExitCode.OK);
      expect(exitCodeFor({ close: close(1000, { wasClean: false }), error: undefined })).to.equal(ExitCode.CONNECTION_FAILED);
      // A clean 1000 that still carries a status or an error is no normal end.
      expect(exitCodeFor({ close: close(1000, { status: 500 }), error: undefined })).to.equal(ExitCode.CONNECTION_FAILED);
      const violation = new SteadySocketError('PROTOCOL_ERROR', 'bad frame');
      expect(exitCodeFor({ close: close(1000, { error: violation }), error: undefined })).to.equal(ExitCode.CONNECTION_FAILED);
    });
  });
});
