/**
 * Every failure steadysocket reports, as one error class with a stable `code`.
 * Switch on `code`, never on the message text.
 */
export type SteadySocketErrorCode =
  | 'INVALID_URL'
  | 'INVALID_PROTOCOL'
  | 'INVALID_OPTION'
  | 'INVALID_MESSAGE'
  | 'NO_WEBSOCKET'
  | 'CONNECT_FAILED'
  | 'CONNECT_TIMEOUT'
  | 'HANDSHAKE_REJECTED'
  | 'PROTOCOL_NOT_NEGOTIATED'
  | 'PROTOCOL_ERROR'
  | 'READY_FAILED'
  | 'HEARTBEAT_TIMEOUT'
  | 'QUEUE_OVERFLOW'
  | 'MESSAGE_EXPIRED'
  | 'MESSAGE_WITHDRAWN'
  | 'ENCODE_FAILED'
  | 'DECODE_FAILED'
  | 'RETRIES_EXHAUSTED'
  | 'CONNECTION_CLOSED'
  | 'CLOSED'
  | 'STORAGE_CORRUPT'
  | 'STORAGE_FAILED'
  | 'STORAGE_IN_USE'
  | 'ACK_TIMEOUT'
  | 'REQUEST_TIMEOUT'
  | 'REQUEST_FAILED'
  | 'REQUEST_ABORTED'
  | 'PING_TIMEOUT';

/** Extra facts some errors carry. */
export interface SteadySocketErrorDetails {
  /** HTTP status of a rejected handshake (Node only: browsers hide it). */
  status?: number;
  /** Selected response headers of a rejected handshake (`retry-after`, `www-authenticate`). */
  headers?: Record<string, string>;
  /** Close code that ended the connection, when there was one. */
  closeCode?: number;
  /**
   * Set on `HANDSHAKE_REJECTED` when the handshake was redirected more than `maxRedirects` times
   * (Node, `followRedirects`): the redirects followed before the one refused.
   */
  redirects?: number;
}

const MARK = /* @__PURE__ */ Symbol.for('steadysocket.error');

/**
 * The one error class the client and its features throw or emit (`steadysocket/node`'s proxy
 * helpers throw `TypeError` for bad arguments). `cause` holds the underlying error.
 * `Code` is its `code`; see {@link AnySteadySocketError} for the type whose `code` narrows.
 */
export class SteadySocketError<Code extends SteadySocketErrorCode = SteadySocketErrorCode> extends Error implements SteadySocketErrorDetails {
  override readonly name = 'SteadySocketError';
  /** Stable identifier of what went wrong: switch on this. */
  readonly code: Code;
  status?: number;
  headers?: Record<string, string>;
  closeCode?: number;
  redirects?: number;

  constructor(code: Code, message: string, cause?: unknown, details?: SteadySocketErrorDetails) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    if (details) Object.assign(this, details);
    // Marks every SteadySocketError, so isSteadySocketError knows one from another copy of the
    // library (its CommonJS build beside the ESM one), whose class is another class. On each
    // error, not the prototype: a module-level statement that bundlers other than rollup keep
    // (with this class) in a bundle that never makes an error.
    Object.defineProperty(this, MARK, { value: true });
  }
}

/** The error for one code, with the details that code always carries (a rejected handshake has its status and headers). */
export type SteadySocketErrorFor<Code extends SteadySocketErrorCode> = Code extends 'HANDSHAKE_REJECTED'
  ? SteadySocketError<Code> & { status: number; headers: Record<string, string> }
  : SteadySocketError<Code>;

/**
 * Any SteadySocketError, as a union over its codes: what `error` listeners receive and what
 * {@link isSteadySocketError} narrows to. Testing `code` narrows the rest:
 * `if (error.code === 'HANDSHAKE_REJECTED') error.status // number`.
 */
export type AnySteadySocketError = { [Code in SteadySocketErrorCode]: SteadySocketErrorFor<Code> }[SteadySocketErrorCode];

// Node's certificate verification failures, and TLS that failed in its protocol (EPROTO: TLS
// spoken to a plain server, no common version): a retry meets the same server.
const TLS_VERIFY = /^(?:UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_|EPROTO$)/;

/**
 * What a thrown value says, for an error's message: its `message`, else the value as text. Never
 * throws: an application's code may throw a Symbol, an object without a prototype (no
 * `toString`) or one whose `message` getter throws.
 */
export function causeText(cause: unknown): string {
  try {
    return String((cause as Error)?.message ?? cause);
  } catch {
    return typeof cause;
  }
}

/** The code of a TLS failure behind `cause` that a retry would meet again, if that is what it is. */
export function tlsVerifyCode(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && TLS_VERIFY.test(code) ? code : undefined;
}

/**
 * True when `value` is a SteadySocketError, optionally with the given code, also one made by
 * another copy of the library (its CommonJS and ESM builds side by side), which `instanceof`
 * does not see. Narrows to the error of that code (`status` is a number for
 * `HANDSHAKE_REJECTED`), or to the union of all.
 */
export function isSteadySocketError(value: unknown): value is AnySteadySocketError;
export function isSteadySocketError<Code extends SteadySocketErrorCode>(value: unknown, code: Code): value is SteadySocketErrorFor<Code>;
export function isSteadySocketError(value: unknown, code?: SteadySocketErrorCode): boolean {
  return !!(value as Record<symbol, unknown> | null)?.[MARK] && (code === undefined || (value as SteadySocketError).code === code);
}
