// Behaviour of the pure core modules that no other test pinned down, found by mutation testing
// (Stryker over test/unit, December 2026): each test fails with at least one mutant that survived
// the whole unit suite. Grouped by module, as the modules' own test files are.
import { expect } from 'chai';
import { retryAfterMs } from '../../src/backoff';
import { askShouldReconnect } from '../../src/close-policy';
import { SteadySocketError } from '../../src/errors';
import { checkClose, negotiationError, validateProtocols } from '../../src/protocol';
import { planRetry } from '../../src/retry';

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
