// Secrets never reach an error, a cause, an event payload or a debug line (issue 14 §5): URLs
// hiding a secret in every part, generated.
import { inspect } from 'node:util';
import FakeTimers, { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import fc from 'fast-check';
import { debug, ready, SteadySocket, SteadySocketError } from '../../src/index';
import { negotiationError, validateProtocols } from '../../src/protocol';
import { normalizeUrl, redactUrl, redactUrlsIn, scrubCause, secretScrubber } from '../../src/url';
import { FakeWebSocket } from '../support/fake-websocket';

/** A secret nobody else's text contains by chance. */
const secret = fc.stringMatching(/^[A-Za-z0-9]{10,24}$/).map((s) => `zq${s}`);
/** Characters that end the authority in a parser's eyes but may sit in a mistyped password. */
const breaker = fc.constantFrom('/', '?', '#', '@', ':', '%', ' ');

/** Every way an error can be shown: message, String(), JSON, util.inspect with causes. */
function renderings(error: unknown): string[] {
  const e = error as Error;
  const texts = [e.message, String(e), JSON.stringify(e), JSON.stringify({ ...e }), inspect(e, { depth: Infinity, showHidden: true }), e.stack];
  return texts.filter((text): text is string => typeof text === 'string');
}

function expectClean(texts: string[], secrets: string[]): void {
  for (const text of texts) for (const s of secrets) expect(text, 'a secret in the output').to.not.include(s);
}

describe('secrets in URLs and headers', () => {
  describe('redactUrl', () => {
    it('hides user name, password, query values and fragment of any valid URL', () => {
      fc.assert(
        fc.property(secret, secret, secret, secret, (user, pass, token, frag) => {
          const text = `wss://${user}:${pass}@example.org:8443/p/a?token=${token}&x=1#${frag}`;
          const out = redactUrl(text);
          expectClean([out], [user, pass, token, frag]);
          expect(out).to.equal('wss://***:***@example.org:8443/p/a?token=***&x=***#***');
        }),
      );
    });

    it('hides a password that holds /, ?, # or @ in text that does not parse', () => {
      fc.assert(
        fc.property(secret, secret, breaker, secret, (user, pass1, cut, pass2) => {
          const text = `ws://${user}:${pass1}${cut}${pass2}@127.0.0.1:99999/?t=${pass2}`;
          expectClean([redactUrl(text)], [user, pass1, pass2]);
        }),
      );
    });
  });

  describe('normalizeUrl errors', () => {
    const badUrls = fc.oneof(
      fc.tuple(secret, secret).map(([a, b]) => [`ws://u:${a}@127.0.0.1:99999/?token=${b}`, [a, b]] as const),
      fc.tuple(secret, fc.constantFrom('/', '?', '#'), secret).map(([a, cut, b]) => [`wss://user:${a}${cut}${b}@host/`, [a, b]] as const),
      fc.tuple(secret).map(([a]) => [`ws://exa mple.org/?token=${a}`, [a]] as const),
      fc.tuple(secret, secret).map(([a, b]) => [`ws://host/?token=${a}#${b}`, [a, b]] as const),
      fc.tuple(secret).map(([a]) => [`ftp://me:${a}@host/`, [a]] as const),
    );

    it('are typed INVALID_URL and carry no secret in message, String, JSON, inspect or cause', () => {
      fc.assert(
        fc.property(badUrls, ([text, secrets]) => {
          let error: unknown;
          try {
            normalizeUrl(text);
          } catch (e) {
            error = e;
          }
          expect(error).to.be.instanceOf(SteadySocketError);
          expect((error as SteadySocketError).code).to.equal('INVALID_URL');
          expectClean(renderings(error), [...secrets]);
        }),
      );
    });

    it('are thrown by the constructor with the same care', () => {
      let error: unknown;
      try {
        new SteadySocket('ws://me:zqTopSecret1@127.0.0.1:99999/?token=zqTopSecret2');
      } catch (e) {
        error = e;
      }
      expect((error as SteadySocketError).code).to.equal('INVALID_URL');
      expectClean(renderings(error), ['zqTopSecret1', 'zqTopSecret2']);
    });
  });

  describe('redactUrlsIn (Node: the CLI, a provider\'s error)', () => {
    /** Any character a password written raw into a text may hold, but white space and what ends the authority. */
    const odd = fc.constantFrom("'", '"', '<', '>', '`', '(', ')', ',', ';', '.', '!', 'é', '…', '\u202e', ':', '%', '[', ']', '{', '}', '\\');
    /** Text around a URL: words, quotes, brackets, punctuation, an e-mail address. */
    const around = fc.constantFrom('', ' ', '"', "'", '(', '<', '`', 'see ', 'failed: ', 'a@b.example ', '[');
    const after = fc.constantFrom('', ' ', '"', "'", ')', '>', '`', '.', ', then', ' a@b.example', ']', ';');

    it('hides a password whatever it holds, and each query value, of a URL anywhere in a text', () => {
      fc.assert(
        fc.property(around, secret, secret, odd, secret, secret, after, fc.constantFrom('ws', 'wss', 'https', 'WSS', 'git+ssh'), (before, user, pass1, bad, pass2, token, end, scheme) => {
          const text = `${before}${scheme}://${user}:${pass1}${bad}${pass2}@host.example/p?token=${token}${end}`;
          const shown = redactUrlsIn(text);
          expectClean([shown], [user, pass1, pass2, token]);
          expect(shown, 'the host and path are kept').to.include('@host.example/p?token=***');
        }),
      );
    });

    it('leaves text without a URL as it is', () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 60 }).filter((text) => !text.includes('://')), (text) => {
          expect(redactUrlsIn(text)).to.equal(text);
        }),
      );
    });
  });

  describe('secretScrubber and scrubCause', () => {
    it('remove the URL, its secrets (raw and percent-decoded) and header values from foreign text', () => {
      fc.assert(
        fc.property(secret, secret, secret, (pass, token, header) => {
          const url = `wss://me:${pass}@h.example/?token=${encodeURIComponent(token + ' x')}`;
          const scrub = secretScrubber(url, { Authorization: `Bearer ${header}` });
          const foreign = `Failed to construct 'WebSocket': The URL '${url}' is invalid; token ${token} x; Bearer ${header}; ${pass}`;
          expectClean([scrub(foreign)], [pass, token, header]);
        }),
      );
    });

    it('copy an error cause chain keeping diagnostics (code, errno, syscall, port) and dropping fields that may hold the URL', () => {
      const inner = Object.assign(new Error('connect to ws://h/?token=zqInnerSecret failed'), { code: 'ECONNREFUSED', port: 80 });
      const outer = Object.assign(new TypeError('Invalid URL'), { input: 'ws://h/?token=zqInnerSecret', code: 'ERR_INVALID_URL', cause: inner });
      const scrub = secretScrubber('ws://h/?token=zqInnerSecret');
      const copy = scrubCause(outer, scrub) as Error & { code?: string; input?: string; cause?: Error & { code?: string; port?: number } };
      expect(copy.name).to.equal('TypeError');
      expect(copy.code).to.equal('ERR_INVALID_URL');
      expect(copy.input).to.equal(undefined);
      expect(copy.cause?.code).to.equal('ECONNREFUSED');
      expect(copy.cause?.port).to.equal(80);
      expectClean([inspect(copy, { depth: Infinity, showHidden: true })], ['zqInnerSecret']);
    });
  });

  describe('subprotocols that carry a token', () => {
    // Browsers cannot set headers, so some APIs take the token as a subprotocol (Kubernetes,
    // API keys offered beside 'token'): a name over 24 characters is shown by its length only.
    const k8s = (token: string) => `base64url.bearer.authorization.k8s.io.${token}`;

    it('INVALID_PROTOCOL names the bad character and its position, not a long token', () => {
      fc.assert(
        fc.property(secret, fc.constantFrom('=', ' ', ',', '/', '"'), (token, bad) => {
          const offered = `${k8s(token)}${bad}`;
          const error = (() => {
            try {
              validateProtocols(['chat', offered]);
            } catch (e) {
              return e as SteadySocketError;
            }
            throw new Error('validateProtocols accepted a separator');
          })();
          expect(error.code).to.equal('INVALID_PROTOCOL');
          expectClean(renderings(error), [token]);
          expect(error.message).to.include(`${JSON.stringify(bad)} at position ${offered.length - 1}`);
          expect(error.message).to.include(`${offered.length} characters`);
        }),
      );
      expect(() => validateProtocols(['x'.repeat(30), 'x'.repeat(30)]))
        .to.throw(SteadySocketError, /\(30 characters, not shown\) is offered twice/);
    });

    it('PROTOCOL_NOT_NEGOTIATED lists short names and hides long ones', () => {
      fc.assert(
        fc.property(secret, (token) => {
          const none = negotiationError(['v2.chat', k8s(token)], '')!;
          const other = negotiationError(['v2.chat', k8s(token)], `${k8s(token)}.v2`)!;
          for (const error of [none, other]) {
            expect(error.code).to.equal('PROTOCOL_NOT_NEGOTIATED');
            expect(error.message).to.include('"v2.chat"');
            expectClean(renderings(error), [token]);
          }
        }),
      );
      expect(negotiationError(['a'], 'b')!.message).to.equal('The server chose subprotocol "b", which was not offered ("a").');
      expect(negotiationError(['a', 'b'], 'b')).to.equal(undefined);
    });

    it('the client emits the failed negotiation and logs the open without the token', async () => {
      const clock = FakeTimers.install();
      try {
        const token = `zq${'T'.repeat(30)}`;
        for (const chosen of ['', k8s(token)]) {
          FakeWebSocket.reset();
          const lines: string[] = [];
          const errors: SteadySocketError[] = [];
          const socket = new SteadySocket('ws://example.test/', {
            WebSocket: FakeWebSocket as never,
            protocols: [k8s(token), 'v2.chat'],
            maxRetries: 0,
            use: [debug((line) => lines.push(line))],
          });
          socket.on('error', (error) => errors.push(error));
          await Promise.resolve(); // the first attempt
          FakeWebSocket.instances[0].serverOpen(chosen);
          clock.runMicrotasks();
          if (chosen === '') {
            expect(errors.map((e) => e.code)).to.deep.equal(['PROTOCOL_NOT_NEGOTIATED']);
            expect(socket.state).to.equal('closed');
          } else {
            expect(socket.state).to.equal('open');
            expect(socket.protocol, 'the API still gives the real subprotocol').to.equal(k8s(token));
            expect(lines.some((line) => line.includes('] open ') && line.includes('with (70 characters, not shown)')), lines.join('\n')).to.equal(true);
          }
          for (const error of errors) expectClean(renderings(error), [token]);
          expectClean(lines, [token]);
          void socket.close();
          clock.runAll();
        }
      } finally {
        clock.uninstall();
      }
    });
  });

  describe('the client', () => {
    let clock: InstalledClock;
    beforeEach(() => {
      FakeWebSocket.reset();
      clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'queueMicrotask'] });
    });
    afterEach(() => {
      clock.runAll();
      clock.uninstall();
    });

    /** A transport that fails the way runtimes do: the URL and a header value in its message and in its event. */
    function leakyTransport(header: string) {
      return class extends FakeWebSocket {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols);
          setTimeout(() => {
            const error = Object.assign(new Error(`connection to ${url} failed (header ${header})`), { input: url });
            this.onerror?.({ type: 'error', message: `WebSocket ${url} failed`, error, target: this });
            this.serverClose(1006);
          }, 1);
        }
      };
    }

    it('scrubs what a throwing or rejecting provider says (it may quote the URL or a header value) from the error, its cause, close and debug lines', async () => {
      for (const how of ['throws', 'rejects'] as const) {
        FakeWebSocket.reset();
        const [user, pass, token, header] = ['us3r-s3cret', 'pa55-s3cret', 't0ken-s3cret', 'h3ader-s3cret'];
        const url = `ws://${user}:${pass}@example.test/feed?token=${token}`;
        const lines: string[] = [];
        const seen: unknown[] = [];
        const fail = () => new Error(`token refresh for ${url} with ${header} failed`);
        const socket = new SteadySocket(url, {
          WebSocket: FakeWebSocket as never,
          headers: { 'X-Token': header },
          protocols: how === 'throws' ? () => { throw fail(); } : async () => { throw fail(); },
          minDelay: 10,
          jitter: 0,
          use: [debug((line) => lines.push(line))],
        });
        socket.on('error', (error) => seen.push(error));
        socket.on('close', (info) => seen.push(info));
        try {
          await Promise.resolve(); // the first attempt
          await clock.tickAsync(1);
          expect(seen.map((e) => (e as SteadySocketError).code).filter(Boolean), how).to.include('CONNECT_FAILED');
          const secrets = [user, pass, token, header];
          for (const value of seen) expectClean(renderings(value).concat(inspect(value, { depth: Infinity })), secrets);
          expectClean(lines, secrets);
          expect(String((seen[0] as Error).message), how).to.include('token refresh for ws://***:***@example.test/feed?token=*** with *** failed');
        } finally {
          void socket.close();
          await clock.tickAsync(20);
        }
      }
    });

    it('emits errors, close causes, open info, url and debug lines without any secret', async () => {
      await fc.assert(
        fc.asyncProperty(secret, secret, secret, secret, async (user, pass, token, header) => {
          FakeWebSocket.reset();
          const lines: string[] = [];
          const seen: unknown[] = [];
          const url = `ws://${user}:${pass}@example.test/feed?token=${token}`;
          const socket = new SteadySocket(url, {
            WebSocket: leakyTransport(header) as never,
            headers: { 'X-Token': header },
            minDelay: 10,
            jitter: 0,
            use: [debug((line) => lines.push(line))],
          });
          socket.on('error', (error) => seen.push(error));
          socket.on('close', (info) => seen.push(info));
          socket.on('reconnecting', (info) => seen.push(info));
          try {
            await Promise.resolve(); // the first attempt
            clock.tick(1);
            expect(seen.length, 'events seen').to.be.greaterThan(1);
            const secrets = [user, pass, token, header];
            for (const value of seen) expectClean(renderings(value).concat(inspect(value, { depth: Infinity })), secrets);
            expectClean(lines, secrets);
            expectClean([String(socket.url)], secrets);
          } finally {
            void socket.close();
            clock.tick(20);
          }
        }),
        { numRuns: 40 },
      );
    });

    it('scrubs a close reason in which the server quotes the token or a header value from the debug line; the close event keeps it as sent', async () => {
      const lines: string[] = [];
      const token = 'TOKEN-quoted-back-1234';
      const header = 'HEADER-quoted-back-5678';
      const socket = new SteadySocket(`ws://example.test/feed?token=${token}`, {
        WebSocket: FakeWebSocket as never,
        headers: { 'X-Key': header },
        use: [debug((line) => lines.push(line))],
      });
      const reasons: string[] = [];
      socket.on('close', (info) => reasons.push(info.reason));
      await Promise.resolve(); // the first attempt
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(4001, `bad token ${token} / key ${header}`);
      const closed = lines.filter((line) => line.includes('closed with 4001'));
      expect(closed, 'the debug line of the close').to.deep.equal(['[steadysocket] closed with 4001 bad token *** / key ***']);
      // The guide: what the server sends is passed on as it came (the application reads its own protocol).
      expect(reasons).to.deep.equal([`bad token ${token} / key ${header}`]);
      void socket.close();
    });

    it('util.inspect / console.log of a client shows its state and the redacted URL, not the secrets its fields hold (Node)', async () => {
      const socket = new SteadySocket('ws://alice:pa55word99@example.test/feed?token=TOKEN-inspect-1', {
        WebSocket: FakeWebSocket as never,
        headers: { Authorization: 'Bearer HEADER-inspect-2' },
      });
      await Promise.resolve(); // the first attempt
      socket.send('queued');
      const shown = inspect(socket, { depth: Infinity, showHidden: true });
      for (const secret of ['pa55word99', 'alice', 'TOKEN-inspect-1', 'HEADER-inspect-2']) expect(shown).not.to.include(secret);
      expect(shown).to.match(/^SteadySocket \{/);
      expect(shown).to.include("state: 'connecting'").and.include('ws://***:***@example.test/feed?token=***').and.include('queued: 1');
      void socket.close();
    });

    it('reports a constructor that refuses the URL (a browser SyntaxError naming it) without the secret', async () => {
      class Refusing extends FakeWebSocket {
        constructor(url: string) {
          super(url);
          throw Object.assign(new SyntaxError(`Failed to construct 'WebSocket': The URL '${url}' is invalid.`), { url });
        }
      }
      const errors: SteadySocketError[] = [];
      const socket = new SteadySocket('ws://example.test/?token=zqRefusedSecret', { WebSocket: Refusing as never });
      socket.on('error', (error) => errors.push(error));
      await Promise.resolve(); // the first attempt
      clock.tick(0); // the failed attempt is told on a timer of its own
      expect(socket.state).to.equal('closed');
      expect(errors).to.have.length(1);
      expectClean(renderings(errors[0]), ['zqRefusedSecret']);
      expect(inspect(errors[0], { depth: Infinity })).to.include('token=***');
    });

    it('gives the open event and the ready step a redacted URL', async () => {
      let readyUrl = '';
      const socket = new SteadySocket('ws://a:zqPw12345@example.test/?token=zqTok12345', {
        WebSocket: FakeWebSocket as never,
        use: [ready((context) => void (readyUrl = context.url))],
      });
      let openUrl = '';
      socket.on('open', (info) => (openUrl = info.url));
      await Promise.resolve(); // the first attempt
      FakeWebSocket.last.serverOpen();
      for (let i = 0; i < 10 && !openUrl; i++) await Promise.resolve(); // the ready step settles on microtasks
      expect(openUrl).to.equal('ws://***:***@example.test/?token=***');
      expect(readyUrl).to.equal(openUrl);
      expect(socket.url).to.equal(openUrl);
      expect(FakeWebSocket.last.url, 'the transport still gets the real URL').to.include('zqTok12345');
      void socket.close();
    });
  });
});
