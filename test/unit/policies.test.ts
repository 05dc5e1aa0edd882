import { expect } from 'chai';
import fc from 'fast-check';
import { backoffDelay, MAX_TIMER_DELAY, retryAfterMs, timerDelay } from '../../src/backoff';
import { askShouldReconnect, closeAction, defaultShouldReconnect, STOP_CODES } from '../../src/close-policy';
import { json, utf8Length, wireSize } from '../../src/codecs';
import { SteadySocketError } from '../../src/errors';
import { codecFor, negotiationError, validateProtocols } from '../../src/protocol';
import { normalizeUrl, redactUrl } from '../../src/url';

const policy = { minDelay: 1000, maxDelay: 30_000, factor: 2, jitter: 1 };

describe('backoff', () => {
  it('grows exponentially up to maxDelay without jitter', () => {
    const fixed = { ...policy, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, fixed))).to.deep.equal([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
  });

  it('keeps every jittered delay within [0, cap] for any attempt and random value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const cap = Math.min(30_000, 1000 * 2 ** (attempt - 1));
        const delay = backoffDelay(attempt, policy, () => r);
        return delay >= 0 && delay <= cap;
      }),
    );
  });

  it('spreads full-jitter delays across the whole window', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const delays = Array.from({ length: 2000 }, () => backoffDelay(1, policy, random));
    const buckets = new Array(10).fill(0);
    for (const d of delays) buckets[Math.min(9, Math.floor(d / 100))]++;
    // Uniform over [0, 1000]: every 100 ms bucket holds roughly a tenth.
    for (const count of buckets) expect(count).to.be.within(140, 260);
  });

  it('with partial jitter never goes below (1 - jitter) of the cap', () => {
    const half = { ...policy, jitter: 0.5 };
    expect(backoffDelay(3, half, () => 0.999)).to.be.at.least(2000);
    expect(backoffDelay(3, half, () => 0)).to.equal(4000);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-25T10:00:00Z');
    expect(retryAfterMs('2', now)).to.equal(2000);
    expect(retryAfterMs('Wed, 25 Nov 2026 10:00:05 GMT', now)).to.equal(5000);
    expect(retryAfterMs('garbage', now)).to.equal(undefined);
    expect(retryAfterMs(undefined, now)).to.equal(undefined);
  });

  it('caps a Retry-After beyond what a timer can hold (seconds or a date in year 9999) at 2^31−1 ms', () => {
    const now = Date.parse('2026-11-25T10:00:00Z');
    expect(retryAfterMs('99999999999', now)).to.equal(MAX_TIMER_DELAY);
    expect(retryAfterMs('9'.repeat(400), now)).to.equal(MAX_TIMER_DELAY);
    expect(retryAfterMs('Fri, 31 Dec 9999 23:59:59 GMT', now)).to.equal(MAX_TIMER_DELAY);
    expect(retryAfterMs('Thu, 01 Jan 1970 00:00:00 GMT', now)).to.equal(0);
  });

  it('gives a finite delay between 0 and the cap for any policy and attempt, including minDelay 0 after 1,025 failures', () => {
    expect(backoffDelay(1025, { minDelay: 0, maxDelay: 30_000, factor: 2, jitter: 1 })).to.equal(0);
    const bound = fc.oneof(fc.constantFrom(0, 1, MAX_TIMER_DELAY, 2 ** 53, Number.MAX_VALUE, Infinity), fc.double({ min: 0, max: 1e15, noNaN: true }));
    fc.assert(
      fc.property(
        bound,
        bound,
        fc.oneof(fc.constantFrom(1, 2, 1e308, Infinity), fc.double({ min: 1, max: 100, noNaN: true })),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (minDelay, extra, factor, jitter, attempt, r) => {
          const maxDelay = minDelay + extra;
          const delay = backoffDelay(attempt, { minDelay, maxDelay, factor, jitter }, () => r);
          expect(Number.isFinite(delay), `delay ${delay}`).to.equal(true);
          expect(delay).to.be.within(0, Math.round(Math.min(maxDelay, MAX_TIMER_DELAY))); // whole ms
        },
      ),
    );
  });

  it('timerDelay clamps to [0, 2^31−1] and turns NaN and negatives into 0', () => {
    expect([-5, NaN, 0, 10, 2 ** 31, Infinity].map(timerDelay)).to.deep.equal([0, 0, 0, 10, MAX_TIMER_DELAY, MAX_TIMER_DELAY]);
  });
});

describe('close-code policy', () => {
  const info = (code: number, extra: object = {}) => ({ code, reason: '', wasClean: false, attempt: 1, ...extra });

  it('reconnects after going-away, abnormal and server-error codes', () => {
    for (const code of [1000, 1001, 1005, 1006, 1011, 1012, 1013, 1014, 3000, 4000, 4999]) {
      expect(closeAction(code), String(code)).to.equal('reconnect');
      expect(defaultShouldReconnect(info(code)), String(code)).to.equal(true);
    }
  });

  it('stops after protocol, data and policy errors', () => {
    for (const code of [1002, 1003, 1007, 1008, 1009, 1010, 1015]) {
      expect(STOP_CODES.has(code)).to.equal(true);
      expect(defaultShouldReconnect(info(code)), String(code)).to.equal(false);
    }
  });

  it('stops on 401/403/407 handshake rejections but retries 404, 426, 429, 500 and 503', () => {
    expect(defaultShouldReconnect(info(1006, { status: 407 }))).to.equal(false);
    for (const status of [200, 404, 426]) expect(defaultShouldReconnect(info(1006, { status })), String(status)).to.equal(true);
    expect(defaultShouldReconnect(info(1006, { status: 401 }))).to.equal(false);
    expect(defaultShouldReconnect(info(1006, { status: 403 }))).to.equal(false);
    expect(defaultShouldReconnect(info(1006, { status: 429 }))).to.equal(true);
    expect(defaultShouldReconnect(info(1006, { status: 500 }))).to.equal(true);
    expect(defaultShouldReconnect(info(1006, { status: 503 }))).to.equal(true);
  });

  it('stops on failed negotiation and TLS verification errors', () => {
    const negotiation = new SteadySocketError('PROTOCOL_NOT_NEGOTIATED', 'x');
    expect(defaultShouldReconnect(info(1006, { error: negotiation }))).to.equal(false);
    const tls = new SteadySocketError('CONNECT_FAILED', 'x', Object.assign(new Error('x'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }));
    expect(defaultShouldReconnect(info(1006, { error: tls }))).to.equal(false);
    const refused = new SteadySocketError('CONNECT_FAILED', 'x', Object.assign(new Error('x'), { code: 'ECONNREFUSED' }));
    expect(defaultShouldReconnect(info(1006, { error: refused }))).to.equal(true);
  });

  it("asks shouldReconnect (the table without one); a throw or a promise is no answer but an INVALID_OPTION error naming it", () => {
    expect(askShouldReconnect(undefined, info(1006))).to.equal(true);
    expect(askShouldReconnect(undefined, info(1008))).to.equal(false);
    expect(askShouldReconnect(() => false, info(1006))).to.equal(false);
    // A truthy answer of another type (a JS caller) counts as yes, as an `if` would read it.
    expect(askShouldReconnect((() => 1) as never, info(1008))).to.equal(true);
    const thrown = new Error('boom');
    const answers = [
      askShouldReconnect(() => {
        throw thrown;
      }, info(1006)),
      askShouldReconnect((async () => true) as never, info(1006)),
    ];
    for (const answer of answers) {
      expect(answer).to.be.instanceOf(SteadySocketError);
      expect((answer as SteadySocketError).code).to.equal('INVALID_OPTION');
      expect((answer as SteadySocketError).message).to.contain('shouldReconnect');
    }
    expect((answers[0] as SteadySocketError).cause).to.equal(thrown);
    expect(String(((answers[1] as SteadySocketError).cause as Error).message)).to.contain('not a promise');
  });
});

describe('URL validation', () => {
  it('accepts ws and wss and maps http(s) to ws(s)', () => {
    expect(normalizeUrl('ws://example.test/a?b=1')).to.equal('ws://example.test/a?b=1');
    expect(normalizeUrl('wss://example.test')).to.equal('wss://example.test/');
    expect(normalizeUrl('http://example.test/x')).to.equal('ws://example.test/x');
    expect(normalizeUrl('https://example.test:8443/x')).to.equal('wss://example.test:8443/x');
    expect(normalizeUrl(new URL('ws://[::1]:9000/'))).to.equal('ws://[::1]:9000/');
  });

  for (const bad of ['ftp://example.test', 'file:///etc/passwd', 'javascript:alert(1)', 'not a url', '', 'ws://example.test/#frag', 'ws://example.test/#']) {
    it(`rejects ${JSON.stringify(bad)} with INVALID_URL`, () => {
      expect(() => normalizeUrl(bad)).to.throw(SteadySocketError).with.property('code', 'INVALID_URL');
    });
  }

  it('rejects non-strings', () => {
    expect(() => normalizeUrl(42 as never)).to.throw(SteadySocketError).with.property('code', 'INVALID_URL');
  });

  it('redacts credentials and query values', () => {
    expect(redactUrl('wss://user:secret@host/p?token=abc&x=1')).to.equal('wss://***:***@host/p?token=***&x=***');
    expect(redactUrl('ws://user@host/?t')).to.equal('ws://***@host/?***');
    expect(redactUrl('ws://host/?email=a@b')).to.equal('ws://host/?email=***');
  });
});

describe('subprotocol tokens', () => {
  it('accepts RFC 7230 tokens and a single string', () => {
    expect(validateProtocols(['chat.v2+json', 'graphql-ws', "a!#$%&'*+-.^_`|~9"])).to.have.length(3);
    expect(validateProtocols('mqtt')).to.deep.equal(['mqtt']);
    expect(validateProtocols(undefined)).to.deep.equal([]);
  });

  for (const bad of ['', 'has space', 'semi;colon', 'a,b', 'quote"', 'slash/x', 'ünï', '(paren)', 'tab\t']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      expect(() => validateProtocols(['ok', bad])).to.throw(SteadySocketError).with.property('code', 'INVALID_PROTOCOL');
    });
  }

  it('rejects duplicates', () => {
    expect(() => validateProtocols(['a', 'b', 'a'])).to.throw(/offered twice/);
  });

  it('judges the server choice', () => {
    expect(negotiationError(['a', 'b'], 'b')).to.equal(undefined);
    expect(negotiationError([], '')).to.equal(undefined);
    expect(negotiationError(['a'], '')?.code).to.equal('PROTOCOL_NOT_NEGOTIATED');
    expect(negotiationError(['a'], 'z')?.code).to.equal('PROTOCOL_NOT_NEGOTIATED');
    expect(negotiationError([], 'z')?.code).to.equal('PROTOCOL_NOT_NEGOTIATED');
  });

  it('picks the codec of the negotiated protocol, else the fallback', () => {
    const a = json();
    const fallback = json();
    expect(codecFor('a', { a }, fallback)).to.equal(a);
    expect(codecFor('b', { a }, fallback)).to.equal(fallback);
    expect(codecFor('toString', { a }, undefined)).to.equal(undefined);
  });
});

describe('codecs and sizes', () => {
  it('json round-trips text and decodes UTF-8 binary', () => {
    const codec = json();
    expect(codec.decode(codec.encode({ a: [1, 'é'] }) as string)).to.deep.equal({ a: [1, 'é'] });
    expect(codec.decode(new TextEncoder().encode('{"b":2}'))).to.deep.equal({ b: 2 });
  });

  it('json refuses what it cannot encode', () => {
    const codec = json();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => codec.encode(circular)).to.throw(TypeError);
    expect(() => codec.encode(undefined)).to.throw(TypeError);
    expect(() => codec.encode(10n)).to.throw(TypeError);
  });

  it('counts UTF-8 bytes exactly', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => utf8Length(text) === Buffer.byteLength(text, 'utf8')),
    );
    expect(utf8Length('\ud800x')).to.equal(Buffer.byteLength('\ud800x'));
  });

  it('sizes every sendable type and refuses the rest', () => {
    expect(wireSize('héllo')).to.equal(6);
    expect(wireSize(new ArrayBuffer(7))).to.equal(7);
    expect(wireSize(new Uint16Array(4))).to.equal(8);
    expect(wireSize(new Blob(['abc']))).to.equal(3);
    expect(wireSize({})).to.equal(-1);
    expect(wireSize(42)).to.equal(-1);
    expect(wireSize(null)).to.equal(-1);
  });
});
