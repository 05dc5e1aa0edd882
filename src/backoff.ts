/** The parts of the options that shape the delay between attempts. */
export interface BackoffPolicy {
  /** The cap of the first retry's wait, in ms. */
  minDelay: number;
  /** No wait is longer than this, in ms (nor than 2^31 - 1 ms, what a timer holds). */
  maxDelay: number;
  /** Growth of the cap per failed attempt (≥ 1). */
  factor: number;
  /** 0 = no jitter, 1 = full jitter (uniform over [0, cap]). */
  jitter: number;
}

/**
 * The longest delay a timer can be armed with: Node and browsers store it in a signed 32-bit
 * integer and turn anything larger into ~1 ms (Node also warns). About 24.8 days.
 */
export const MAX_TIMER_DELAY = 2_147_483_647; // 2 ** 31 - 1

/** `ms` as a timer can take it: never negative or NaN, never above {@link MAX_TIMER_DELAY}. */
export function timerDelay(ms: number): number {
  return ms > 0 ? Math.min(ms, MAX_TIMER_DELAY) : 0;
}

/**
 * Delay before retry number `attempt` (1 for the first retry): exponential growth capped at
 * `maxDelay`, then jittered downward. Full jitter spreads a crowd of clients evenly over the
 * window, so a restarted server is not hit by all of them at once.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempt - 1);
  // factor^exponent overflows to Infinity after ~1,000 failures: 0 × Infinity would be NaN.
  const growth = policy.minDelay === 0 ? 0 : policy.minDelay * Math.pow(policy.factor, exponent);
  const cap = Math.min(policy.maxDelay, growth, MAX_TIMER_DELAY);
  return Math.round(cap * (1 - policy.jitter * random()));
}

/**
 * Milliseconds a `Retry-After` header asks to wait (RFC 9110 §10.2.3: delay-seconds or an
 * HTTP-date), or undefined when absent or unreadable. Capped at {@link MAX_TIMER_DELAY}: a
 * server asking for years gets ~24.8 days, never a 1 ms timer.
 */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return timerDelay(Number(text) * 1000);
  // Only the three HTTP-date forms (IMF-fixdate, RFC 850, asctime): V8's Date.parse also reads
  // text such as "later 5000" as a date far ahead.
  const form = /^(?:[a-z]{3}, \d\d [a-z]{3} \d{4} |[a-z]+, \d\d-[a-z]{3}-\d\d |([a-z]{3} [a-z]{3} [ \d]\d ))\d\d:\d\d:\d\d/i.exec(text);
  if (!form) return undefined;
  // asctime names no zone, and Date.parse would read it in local time: every HTTP-date is GMT
  // (RFC 9110 §5.6.7).
  const date = Date.parse(form[1] ? `${text} GMT` : text);
  return Number.isNaN(date) ? undefined : timerDelay(date - now);
}
