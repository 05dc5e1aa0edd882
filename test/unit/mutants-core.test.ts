// Behaviour of the pure core modules that no other test pinned down, found by mutation testing
// (Stryker over test/unit, December 2026): each test fails with at least one mutant that survived
// the whole unit suite. Grouped by module, as the modules' own test files are.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { retryAfterMs } from '../../src/backoff';
import { parseArgs } from '../../src/cli/args';
import { askShouldReconnect, defaultShouldReconnect } from '../../src/close-policy';
import { causeText, isSteadySocketError, SteadySocketError, tlsVerifyCode } from '../../src/errors';
import { checkClose, negotiationError, validateProtocols } from '../../src/protocol';
import { json } from '../../src/codecs';
import { resolveOptions, type ResolvedOptions } from '../../src/options';
import type { OutboxEntry } from '../../src/outbox';
import { planRetry } from '../../src/retry';
import { closedError, dropError, likelyCodec, toWire, withdrawOnAbort } from '../../src/send';
import { normalizeUrl, redactUrl, scrubCause, secretScrubber } from '../../src/url';

const now = Date.parse('2026-11-25T10:00:00Z');

/** Runs `fn` with the process in time zone `tz` (Node reads TZ again when it is assigned). */
function inTimeZone<T>(tz: string, fn: () => T): T {
  const before = process.env.TZ;
  process.env.TZ = tz;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
}

describe('mutation gaps: backoff', () => {
  describe('retryAfterMs', () => {
    it('reads delay-seconds only when the whole value is digits (around spaces trimmed)', () => {
      expect(retryAfterMs(' 7 ', now)).to.equal(7000);
      expect(retryAfterMs('7\t', now)).to.equal(7000);
      for (const text of ['a5', '5a', '5 seconds', '1.5', '-5', '+5', '']) {
        expect(retryAfterMs(text, now), JSON.stringify(text)).to.equal(undefined);
      }
    });

    it('reads the obsolete RFC 850 and asctime HTTP-date forms (RFC 9110 §5.6.7) as well as IMF-fixdate', () => {
      expect(retryAfterMs('Wednesday, 25-Nov-26 10:00:05 GMT', now)).to.equal(5000);
      expect(retryAfterMs('Wed Nov 25 10:00:05 2026', now)).to.equal(5000);
      // asctime pads a one-digit day with a space.
      expect(retryAfterMs('Sun Dec  6 10:00:00 2026', now)).to.equal(11 * 86_400_000);
    });

    it('reads an asctime date as GMT whatever the time zone of the process', () => {
      for (const tz of ['America/New_York', 'Asia/Tokyo', 'UTC']) {
        expect(inTimeZone(tz, () => retryAfterMs('Wed Nov 25 10:00:05 2026', now)), tz).to.equal(5000);
      }
      expect(inTimeZone('America/New_York', () => retryAfterMs('Wed, 25 Nov 2026 10:00:05 GMT', now))).to.equal(5000);
    });

    it('ignores text that only holds an HTTP-date after something else, or a date-like text V8 would read', () => {
      // V8's Date.parse reads each of these as a date; none is an HTTP-date.
      for (const text of ['x Wed, 25 Nov 2026 10:00:05 GMT', 'later 5000', 'W Nov 25 10:00:05 2026']) {
        expect(retryAfterMs(text, now), JSON.stringify(text)).to.equal(undefined);
      }
    });
  });
});

describe('mutation gaps: retry plan', () => {
  const policy = { minDelay: 100, maxDelay: 10_000, factor: 2, jitter: 0, maxRetries: 3, stableAfter: 5000 };

  it('backs off normally after a 503 whose error carries no headers', () => {
    const error = new SteadySocketError('HANDSHAKE_REJECTED', 'rejected', undefined, { status: 503 });
    expect(planRetry({ code: 1006, reason: '', wasClean: false, attempt: 2, error }, true, policy, now)).to.deep.equal({ kind: 'wait', delay: 200 });
  });
});

describe('mutation gaps: close policy', () => {
  const info = { code: 1006, reason: '', wasClean: false, attempt: 1 };

  it('takes a shouldReconnect that returns undefined or null as "no", not as a broken hook', () => {
    expect(askShouldReconnect(() => undefined as unknown as boolean, info)).to.equal(false);
    expect(askShouldReconnect(() => null as unknown as boolean, info)).to.equal(false);
    expect(askShouldReconnect(() => 1 as unknown as boolean, info)).to.equal(true);
  });
});

describe('mutation gaps: subprotocols', () => {
  for (const bad of [42, null, undefined, {}, ['chat']]) {
    it(`rejects the token ${JSON.stringify(bad) ?? 'undefined'} with INVALID_PROTOCOL naming its type`, () => {
      expect(() => validateProtocols(['ok', bad as string]))
        .to.throw(SteadySocketError)
        .that.satisfies((error: SteadySocketError) => error.code === 'INVALID_PROTOCOL' && error.message.includes(`(${typeof bad})`));
    });
  }

  it('names the first character that is not a token character and its position', () => {
    expect(() => validateProtocols([' chat'])).to.throw('(" " at position 0)');
    expect(() => validateProtocols(['chat v2'])).to.throw('(" " at position 4)');
    expect(() => validateProtocols([''])).to.throw(/non-empty token without spaces or separators\.$/);
  });

  it('returns a list of its own: changing the array given afterwards changes nothing', () => {
    const given = ['a', 'b'];
    const offered = validateProtocols(given);
    given.push('c');
    given[0] = 'z';
    expect(offered).to.deep.equal(['a', 'b']);
  });

  it('names the offered subprotocols when the server chose none or another, and says when none was offered', () => {
    expect(negotiationError(['a', 'b'], '')?.message).to.include('("a", "b")');
    expect(negotiationError(['a', 'b'], 'z')?.message).to.include('"z"').and.include('("a", "b")');
    expect(negotiationError([], 'z')?.message).to.include('(none)');
  });

  it('names the close code it refuses', () => {
    expect(() => checkClose(1001, '')).to.throw(SteadySocketError, 'Close code 1001 is not allowed');
  });
});

describe('mutation gaps: URLs', () => {
  it('refuses an object that only turns into a URL string (INVALID_URL naming its type), and takes a URL object', () => {
    const lookalike = { toString: () => 'wss://example.test/' };
    expect(() => normalizeUrl(lookalike as unknown as string))
      .to.throw(SteadySocketError, 'Expected a URL string, got object.')
      .with.property('code', 'INVALID_URL');
    expect(normalizeUrl(new URL('wss://example.test/a'))).to.equal('wss://example.test/a');
  });

  it('redacts a URL the parser reads past leading white space or control characters, or tabs and line breaks inside', () => {
    // The URL parser drops these (WHATWG URL): each of them connects to host with user:pw.
    expect(redactUrl(' wss://user:pw@host/p?token=abc#x')).to.equal(' wss://***:***@host/p?token=***#***');
    // Tabs and line breaks, which the parser skips wherever they are, are left out.
    expect(redactUrl('\twss://user:pw@host/')).to.equal('wss://***:***@host/');
    expect(redactUrl('\n\u0000wss://user@host/ ')).to.equal('\u0000wss://***@host/ ');
    expect(redactUrl('w\tss://user:pw@ho\nst/')).to.equal('wss://***:***@host/');
    expect(redactUrl('wss://us\ter:p\rw@host/')).to.equal('wss://***:***@host/');
    // Text before the scheme that is not white space: the URL does not parse; hidden by shape.
    expect(redactUrl('bad ws://user:pw@host')).to.equal('***:***@host');
  });

  it("keeps the password out of the CLI's usage error for a URL that starts with a space", () => {
    let stderr = '';
    const result = parseArgs([' wss://user:hunter2@example.test/'], { stdout: () => {}, stderr: (text) => (stderr += text), version: '0' });
    expect(result).to.deep.equal({ exit: 2 });
    expect(stderr).to.include('invalid URL " wss://***:***@example.test/": it starts or ends with white space');
    expect(stderr).to.not.include('hunter2');
  });

  it("scrubs each word of a header value, also one that starts or ends like an auth scheme's name; the name alone stays", () => {
    const scrub = secretScrubber('wss://host/', { Authorization: 'Bearer tokenA1b2', 'X-Key': 'Basic s3cr3tbearer' });
    expect(scrub('server said: tokenA1b2 is expired')).to.equal('server said: *** is expired');
    expect(scrub('no user for s3cr3tbearer')).to.equal('no user for ***');
    expect(scrub('Bearer realm')).to.equal('Bearer realm');
  });

  it('scrubs a secret that is not valid percent-encoding (decoding it throws) as it is', () => {
    const scrub = secretScrubber('wss://host/?token=50%off');
    expect(scrub('refused: token 50%off')).to.equal('refused: token ***');
  });

  it('copies four levels of causes beneath an error and no more, also for a cause that is its own cause', () => {
    const cyclic = new Error('outer') as Error & { cause?: unknown };
    cyclic.cause = cyclic;
    let depth = 0;
    for (let cause = scrubCause(cyclic, (text) => text) as { cause?: unknown } | undefined; cause; cause = cause.cause as typeof cause) {
      depth++;
      expect(depth, 'a chain that never ends').to.be.below(100);
    }
    expect(depth).to.equal(5);
  });
});

describe('mutation gaps: errors', () => {
  it('is named SteadySocketError, and has no cause property when made without one', () => {
    const error = new SteadySocketError('CLOSED', 'closed');
    expect(error.name).to.equal('SteadySocketError');
    expect(String(error)).to.equal('SteadySocketError: closed');
    expect(Object.prototype.hasOwnProperty.call(error, 'cause'), 'own cause').to.equal(false);
    expect(new SteadySocketError('CLOSED', 'closed', null).cause).to.equal(null);
  });

  it('isSteadySocketError is false for anything else, and for another code', () => {
    for (const value of [undefined, null, 0, '', 'SteadySocketError', new Error('x'), { code: 'CLOSED', name: 'SteadySocketError' }]) {
      expect(isSteadySocketError(value), String(value)).to.equal(false);
      expect(isSteadySocketError(value, 'CLOSED'), String(value)).to.equal(false);
    }
    const error = new SteadySocketError('CLOSED', 'closed');
    expect(isSteadySocketError(error)).to.equal(true);
    expect(isSteadySocketError(error, 'CLOSED')).to.equal(true);
    expect(isSteadySocketError(error, 'CONNECT_FAILED')).to.equal(false);
  });

  it('isSteadySocketError knows an error of another copy of the library by its registered mark', () => {
    const other = Object.assign(new Error('x'), { code: 'CLOSED', [Symbol.for('steadysocket.error')]: true });
    expect(isSteadySocketError(other, 'CLOSED')).to.equal(true);
    expect(isSteadySocketError(other, 'CONNECT_FAILED')).to.equal(false);
  });

  it("causeText reads an error's message, a plain value as text, and null as null", () => {
    expect(causeText(new Error('boom'))).to.equal('boom');
    expect(causeText('plain')).to.equal('plain');
    expect(causeText(null)).to.equal('null');
    expect(causeText(undefined)).to.equal('undefined');
    expect(causeText(Symbol('s'))).to.equal('Symbol(s)');
  });

  it('takes only certificate and TLS protocol failures as fatal TLS codes: a refused connection still retries', () => {
    for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO']) {
      expect(tlsVerifyCode({ code }), code).to.equal(code);
    }
    // EPROTONOSUPPORT is the socket's, not TLS's; the others only contain a TLS code's prefix.
    for (const code of ['ECONNREFUSED', 'EPROTONOSUPPORT', 'ERR_APP_CERT_EXPIRED', 'X_UNABLE_TO_CONNECT', 42]) {
      expect(tlsVerifyCode({ code }), String(code)).to.equal(undefined);
    }
    expect(tlsVerifyCode(null)).to.equal(undefined);
    const refused = new SteadySocketError('CONNECT_FAILED', 'refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(defaultShouldReconnect({ code: 1006, reason: '', wasClean: false, attempt: 1, error: refused })).to.equal(true);
  });
});

describe('mutation gaps: send path', () => {
  const options = (given: object) => given as ResolvedOptions<unknown, unknown>;

  it('sends an empty binary message as it is (0 bytes is a size, not an error)', () => {
    const empty = new Uint8Array(0);
    expect(toWire(undefined, empty)).to.equal(empty);
    const buffer = new ArrayBuffer(0);
    expect(toWire(undefined, buffer)).to.equal(buffer);
    expect(toWire(undefined, '')).to.equal('');
  });

  it('likelyCodec: one subprotocol given as a string picks its codec; with no subprotocols, the default codec', () => {
    const a = json();
    const b = json();
    expect(likelyCodec(options({ codecs: { v2: a }, protocols: 'v2', codec: b }))).to.equal(a);
    expect(likelyCodec(options({ codecs: { v2: a }, codec: b })), 'no protocols').to.equal(b);
    expect(likelyCodec(options({ codecs: { v2: a }, protocols: null })), 'null protocols, no default').to.equal(undefined);
    expect(likelyCodec(options({ protocols: ['v2'], codec: b })), 'no codecs').to.equal(b);
    expect(likelyCodec(options({ codecs: { v1: b, v2: a }, protocols: () => ['v2'] })), 'a provider and no default: the first of codecs').to.equal(b);
  });

  it('says in its errors why a message was not sent and what to do', () => {
    expect(dropError('overflow').message).to.equal('The message was not sent (overflow).');
    expect(closedError().message).to.include('create a new SteadySocket to connect again');
    expect(() => toWire({ encode: () => { throw new Error('cyclic'); }, decode: (x: unknown) => x }, {}))
      .to.throw(SteadySocketError, 'The codec could not encode the message: cyclic')
      .with.property('code', 'ENCODE_FAILED');
  });

  it('withdrawOnAbort withdraws once even when another abort event is dispatched', () => {
    const controller = new AbortController();
    let withdrawn = 0;
    withdrawOnAbort({} as OutboxEntry<unknown>, controller.signal, () => withdrawn++);
    controller.abort();
    controller.signal.dispatchEvent(new Event('abort'));
    expect(withdrawn).to.equal(1);
  });
});

describe('mutation gaps: options', () => {
  it('takes an option given as undefined as not given: its default', () => {
    const resolved = resolveOptions({ minDelay: undefined, maxDelay: undefined, overflow: undefined, binaryType: undefined, maxRetries: undefined });
    expect([resolved.minDelay, resolved.maxDelay, resolved.overflow, resolved.binaryType, resolved.maxRetries]).to.deep.equal([1000, 30_000, 'error', 'arraybuffer', Infinity]);
  });

  it('refuses a codec without encode or decode, or codecs that are no object of codecs, with the way to pass them', () => {
    const encodeOnly = { encode: (x: unknown) => x };
    const decodeOnly = { decode: (x: unknown) => x };
    for (const options of [{ codec: encodeOnly }, { codec: decodeOnly }, { codec: null }, { codecs: { a: decodeOnly } }, { codecs: 'json' }, { codecs: null }]) {
      expect(() => resolveOptions(options as never), JSON.stringify(options))
        .to.throw(SteadySocketError, 'Options codec and codecs take codecs (encode, decode)')
        .with.property('code', 'INVALID_OPTION');
    }
    expect(() => resolveOptions({ codec: json(), codecs: { a: json() } })).to.not.throw();
  });

  it("takes binaryType 'nodebuffer' and names every choice when one is wrong", () => {
    expect(resolveOptions({ binaryType: 'nodebuffer' }).binaryType).to.equal('nodebuffer');
    expect(() => resolveOptions({ binaryType: 'text' as never })).to.throw('Option binaryType must be one of arraybuffer, blob, nodebuffer.');
  });

  it('shares resolved options only with options of the same keys, not with ones that lack a key the others hold as undefined', () => {
    const first = resolveOptions({ minDelay: 5, maxDelay: 40_000 });
    const second = resolveOptions({ minDelay: 5, maxRetries: undefined });
    expect(second, 'another key, as many keys').to.not.equal(first);
    expect(second.maxDelay).to.equal(30_000);
  });

  it('warns about no option it knows (in a fresh process: each warning is given once per process)', function () {
    this.timeout(30_000);
    // Every option of SteadySocketOptions with a valid value; the Node-only ones without a WebSocket
    // of the application's (they would warn that it cannot take them).
    const script = `
      const warnings = [];
      process.on('warning', (warning) => warnings.push(warning.message));
      const { resolveOptions } = await import('./src/options.ts');
      const { json } = await import('./src/codecs.ts');
      const { stats } = await import('./src/features/stats.ts');
      resolveOptions({ protocols: ['a'], codecs: { a: json() }, codec: json(), WebSocket: class {}, binaryType: 'arraybuffer',
        minDelay: 10, maxDelay: 20, factor: 2, jitter: 0.5, maxRetries: 3, stableAfter: 1, connectTimeout: 1, closeTimeout: 1,
        maxMessages: 1, maxBytes: 1, overflow: 'drop-oldest', highWaterMark: 1, shouldReconnect: () => true, use: [stats()] });
      resolveOptions({ headers: { a: 'b' }, origin: 'https://example.test', agent: false, ca: 'x', cert: 'x', key: 'x', passphrase: 'x',
        rejectUnauthorized: true, perMessageDeflate: false, maxPayload: 10, followRedirects: true, maxRedirects: 3, unref: true });
      resolveOptions({ someTypo: 1 });
      await new Promise((resolve) => setImmediate(resolve));
      process.stdout.write(JSON.stringify(warnings));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out), 'the typo warns, nothing else').to.deep.equal(['steadysocket: unknown option someTypo is ignored.']);
  });
});
