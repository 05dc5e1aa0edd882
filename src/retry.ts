/**
 * The retry plan: after a connection or attempt ends and the close policy has said whether to
 * reconnect, how long to wait, or why to stop. Pure: the time and the random source are
 * arguments.
 */
import { backoffDelay, retryAfterMs, type BackoffPolicy } from './backoff';
import type { CloseInfo } from './close-policy';

/** The options the plan reads. */
export interface RetryPolicy extends BackoffPolicy {
  maxRetries: number;
  stableAfter: number;
}

/** What follows the end of a connection: stop (the policy said so), give up (`maxRetries`), or wait `delay` ms. */
export type RetryPlan = { kind: 'stop' } | { kind: 'exhausted' } | { kind: 'wait'; delay: number };

/**
 * Failures in a row, counting the one that just ended. A connection that stayed open for
 * `stableAfter` ms resets the count first: a long-lived connection that drops starts again at 1.
 * @param openedAt when the connection that ended opened (on the clock `now` is read from);
 *   undefined when it never did
 */
export function countFailure(failures: number, openedAt: number | undefined, now: number, stableAfter: number): number {
  const stable = openedAt !== undefined && now - openedAt >= stableAfter;
  return (stable ? 0 : failures) + 1;
}

/**
 * The plan for `info` (its `attempt` already counted), given the close policy's answer. A 429
 * or 503 with `Retry-After` waits at least that long (RFC 9110 §10.2.3, capped at what a timer
 * can hold).
 */
export function planRetry(info: CloseInfo, reconnect: boolean, policy: RetryPolicy, now: number, random: () => number = Math.random): RetryPlan {
  if (!reconnect) return { kind: 'stop' };
  if (info.attempt > policy.maxRetries) return { kind: 'exhausted' };
  let delay = backoffDelay(info.attempt, policy, random);
  const status = info.error?.status;
  if (status === 429 || status === 503) {
    const wait = retryAfterMs(info.error?.headers?.['retry-after'], now);
    if (wait !== undefined) delay = Math.max(delay, wait);
  }
  return { kind: 'wait', delay };
}
