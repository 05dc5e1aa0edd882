import { SteadySocketError, tlsVerifyCode } from './errors';

/** What the reconnect decision sees about the connection that just ended. */
export interface CloseInfo {
  /** Close code (1006 when the connection failed or dropped without a close frame). */
  code: number;
  /**
   * Close reason sent by the peer ('' when none). When the client gave the connection up itself
   * (a timeout, a failed `ready` step, a failed negotiation), the message of the error that made
   * it, or `'close timed out'`; `'page hidden'` for the back/forward cache.
   */
  reason: string;
  /** True when the closing handshake completed. */
  wasClean: boolean;
  /**
   * Failures in a row, counting this one: 1 for the first, also after a stable connection
   * dropped; 0 for closes that follow your own `close()` or `reconnect()`, and for the page
   * entering the back/forward cache (`pageSignals()`).
   */
  attempt: number;
  /** The typed error behind an abnormal close, if any (the key may be there, undefined, when none). */
  error?: SteadySocketError | undefined;
  /** HTTP status of a rejected handshake (Node only; the key may be there, undefined, when none). */
  status?: number | undefined;
}

/** What the close-code table says to do. */
export type CloseAction = 'reconnect' | 'stop';

/**
 * The default close-code table (RFC 6455 §7.4.1 and the IANA registry).
 * Codes not listed (1000, 1001, 1005, 1006, 1011–1014, 3000–4999, …) reconnect.
 */
export const STOP_CODES: ReadonlySet<number> = /* @__PURE__ */ new Set([
  1002, // protocol error: the same bytes will fail again
  1003, // unsupported data
  1007, // invalid payload (e.g. bad UTF-8)
  1008, // policy violation
  1009, // message too big
  1010, // mandatory extension missing
  1015, // TLS handshake failure
]);

/**
 * Statuses of a rejected handshake that stop by default (401, 403, and 407 from a proxy): the
 * credentials are wrong, and retrying
 * with the same ones only adds load (a `shouldReconnect` hook may retry after refreshing them).
 * Every other status backs off normally; 429 and 503 wait at least `Retry-After`.
 */
export const STOP_STATUSES: ReadonlySet<number> = /* @__PURE__ */ new Set([401, 403, 407]);

/** The table's default for a close code: `'stop'` for {@link STOP_CODES}, else `'reconnect'`. */
export function closeAction(code: number): CloseAction {
  return STOP_CODES.has(code) ? 'stop' : 'reconnect';
}

/** The default `shouldReconnect`: the close-code table, handshake statuses and fatal errors. */
export function defaultShouldReconnect(info: CloseInfo): boolean {
  if (info.status !== undefined) return !STOP_STATUSES.has(info.status);
  const error = info.error;
  if (error) {
    if (error.code === 'PROTOCOL_NOT_NEGOTIATED') return false;
    if (tlsVerifyCode(error.cause)) return false;
  }
  return closeAction(info.code) === 'reconnect';
}

/**
 * Asks `shouldReconnect` (the default table without one) whether to reconnect after `info`. A
 * throw, or a promise (an async function would read as true whatever it resolves to), is no
 * answer: the INVALID_OPTION error returned says so, and the client does not reconnect.
 */
export function askShouldReconnect(shouldReconnect: ((info: CloseInfo) => boolean) | undefined, info: CloseInfo): boolean | SteadySocketError {
  try {
    const retry = (shouldReconnect ?? defaultShouldReconnect)(info);
    if (typeof (retry as unknown as PromiseLike<unknown> | undefined)?.then !== 'function') return !!retry;
    throw new TypeError('shouldReconnect must return true or false, not a promise');
  } catch (cause) {
    return new SteadySocketError('INVALID_OPTION', 'shouldReconnect failed (it threw, or returned a promise); not reconnecting.', cause);
  }
}
