/** The parts of the options that shape the delay between attempts. */
export interface BackoffPolicy {
  minDelay: number;
  maxDelay: number;
  factor: number;
  /** 0 = no jitter, 1 = full jitter (uniform over [0, cap]). */
  jitter: number;
}

/**
 * Delay before retry number `attempt` (1 for the first retry): exponential growth capped at
 * `maxDelay`, then jittered downward. Full jitter spreads a crowd of clients evenly over the
 * window, so a restarted server is not hit by all of them at once.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempt - 1);
  const cap = Math.min(policy.maxDelay, policy.minDelay * Math.pow(policy.factor, exponent));
  return Math.round(cap * (1 - policy.jitter * random()));
}

/**
 * Milliseconds a `Retry-After` header asks to wait (RFC 9110 §10.2.3: delay-seconds or an
 * HTTP-date), or undefined when absent or unreadable.
 */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
