import { expect } from 'chai';
import fc from 'fast-check';
import { MAX_TIMER_DELAY } from '../../src/backoff';
import { SteadySocketError } from '../../src/errors';
import { countFailure, planRetry } from '../../src/retry';

const policy = { minDelay: 100, maxDelay: 10_000, factor: 2, jitter: 0, maxRetries: 3, stableAfter: 5000 };
const info = (attempt: number, extra: object = {}) => ({ code: 1006, reason: '', wasClean: false, attempt, ...extra });

describe('retry plan (given now and random)', () => {
  it('counts failures in a row and starts again at 1 after a stable connection', () => {
    expect(countFailure(0, undefined, 0, 5000)).to.equal(1);
    expect(countFailure(3, undefined, 10_000, 5000)).to.equal(4);
    expect(countFailure(3, 0, 4999, 5000), 'not yet stable').to.equal(4);
    expect(countFailure(3, 0, 5000, 5000)).to.equal(1);
  });

  it('stops when the close policy says so, and gives up past maxRetries', () => {
    expect(planRetry(info(1), false, policy, 0)).to.deep.equal({ kind: 'stop' });
    expect(planRetry(info(3), true, policy, 0)).to.deep.equal({ kind: 'wait', delay: 400 });
    expect(planRetry(info(4), true, policy, 0)).to.deep.equal({ kind: 'exhausted' });
  });

  it('waits at least Retry-After on 429 and 503 only', () => {
    const rejected = (status: number) =>
      new SteadySocketError('HANDSHAKE_REJECTED', 'rejected', undefined, { status, headers: { 'retry-after': '7' } });
    expect(planRetry(info(1, { error: rejected(503) }), true, policy, 0)).to.deep.equal({ kind: 'wait', delay: 7000 });
    expect(planRetry(info(1, { error: rejected(429) }), true, policy, 0)).to.deep.equal({ kind: 'wait', delay: 7000 });
    expect(planRetry(info(1, { error: rejected(500) }), true, policy, 0)).to.deep.equal({ kind: 'wait', delay: 100 });
  });

  it('always plans a finite wait a timer can hold', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.string(), (attempt, r, retryAfter) => {
        const error = new SteadySocketError('HANDSHAKE_REJECTED', 'x', undefined, { status: 503, headers: { 'retry-after': retryAfter } });
        const plan = planRetry(info(attempt, { error }), true, { ...policy, maxRetries: Infinity, maxDelay: Infinity, jitter: 1 }, 0, () => r);
        expect(plan.kind).to.equal('wait');
        const delay = (plan as { delay: number }).delay;
        expect(Number.isFinite(delay) && delay >= 0 && delay <= MAX_TIMER_DELAY, String(delay)).to.equal(true);
      }),
    );
  });
});
