/**
 * The heartbeat's rules, given the time: what a tick of the heartbeat timer means, and what a
 * pong or any other sign of life changes. The client owns the timer and the socket; this room
 * only decides.
 */

/** One connection's heartbeat bookkeeping. */
export interface Liveness {
  /** Anything arrived since the last check. */
  seen: boolean;
  /** A ping is out and unanswered. */
  probing: boolean;
  /** When the current ping was sent. */
  pingAt: number;
  /** When the armed timer is due (a much later tick means a stalled loop or a sleeping machine). */
  due: number;
  /** The current probe already got one more window because its timer ran late. */
  graced: boolean;
  /** The last round trip on this connection, in ms. */
  rtt: number | undefined;
}

/** The heartbeat's two periods, in ms. */
export interface HeartbeatTiming {
  interval: number;
  timeout: number;
}

/**
 * What to do on a tick: `rearm` the interval (all is well), `probe` (send a ping and wait
 * `timeout`), `grace` (wait `timeout` more for a pong that may be queued behind a late timer),
 * or declare the connection `dead`.
 */
export type Verdict = 'rearm' | 'probe' | 'grace' | 'dead';

/** A timer this much later than asked ran behind a stalled event loop: what arrived meanwhile may still be queued. */
export const LATE_TIMER_MS = 50;

export function createLiveness(): Liveness {
  return { seen: false, probing: false, pingAt: 0, due: 0, graced: false, rtt: undefined };
}

/** Starts a new interval (after open, after a pong, or after a quiet check that saw traffic). */
export function startInterval(state: Liveness, now: number, timing: HeartbeatTiming): void {
  state.seen = false;
  state.probing = false;
  state.due = now + timing.interval;
}

/** A ping went out at `now`. */
export function startProbe(state: Liveness, now: number, timing: HeartbeatTiming): void {
  state.seen = false;
  state.probing = true;
  state.graced = false;
  state.pingAt = now;
  state.due = now + timing.timeout;
}

/**
 * The heartbeat timer ran at `now`. Liveness is judged by what arrived, not by how late the
 * timer ran: after a stall (a busy app, a throttled tab, a sleeping machine) a pong may be
 * queued right behind this timer, so an overdue probe gets one more window before `dead`.
 * A quiet check far later than asked means the machine slept: whatever was seen before the
 * sleep proves nothing, so it probes.
 */
export function judge(state: Liveness, now: number, timing: HeartbeatTiming): Verdict {
  const late = now - state.due;
  if (state.probing) {
    if (state.seen) return 'rearm';
    if (!state.graced && late > LATE_TIMER_MS) {
      state.graced = true;
      state.due = now + timing.timeout;
      return 'grace';
    }
    return 'dead';
  }
  const slept = late > Math.max(timing.interval, 1000);
  return state.seen && !slept ? 'rearm' : 'probe';
}

/** Something arrived on the connection. */
export function sawActivity(state: Liveness): void {
  state.seen = true;
}

/** A pong (protocol or application) arrived at `now`; returns true when it answered the current ping. */
export function sawPong(state: Liveness, now: number): boolean {
  state.seen = true;
  if (!state.probing) return false;
  state.rtt = now - state.pingAt;
  return true;
}
