import { SteadySocketError } from './errors';
import { utf8Length, type Codec } from './codecs';

// RFC 7230 §3.2.6 token: visible ASCII except separators. Finds the first character that is not.
const NOT_TOKEN = /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * How errors and log lines name a subprotocol. Browsers cannot set handshake headers, so some
 * APIs take a token as a subprotocol (Kubernetes' `base64url.bearer.authorization.k8s.io.<token>`,
 * an API key offered beside `token`): a name longer than 24 characters — every common protocol
 * name is shorter — is shown as its length only.
 */
export function showProtocol(token: unknown): string {
  return typeof token !== 'string' ? `(${typeof token})` : token.length > 24 ? `(${token.length} characters, not shown)` : JSON.stringify(token);
}

/** Shared by every connection that offers no subprotocol; never mutated. */
const NONE: string[] = [];

/** Validates subprotocol tokens (RFC 6455 §4.1: tokens, all unique) and returns them as a list; none for null or undefined. */
export function validateProtocols(protocols: string | readonly string[] | null | undefined): string[] {
  if (protocols == null) return NONE;
  const list = typeof protocols === 'string' ? [protocols] : protocols;
  if (!Array.isArray(list)) {
    throw new SteadySocketError('INVALID_PROTOCOL', `protocols must be a string, an array of strings or null (none), not ${typeof list}.`);
  }
  const seen = new Set<string>();
  for (const token of list) {
    const at = typeof token === 'string' ? token.search(NOT_TOKEN) : -1;
    if (typeof token !== 'string' || !token || at >= 0) {
      throw new SteadySocketError(
        'INVALID_PROTOCOL',
        `Invalid subprotocol ${showProtocol(token)}: a subprotocol must be a non-empty token without spaces or separators` +
          (at < 0 ? '.' : ` (${JSON.stringify(token.charAt(at))} at position ${at}).`),
      );
    }
    if (seen.has(token)) {
      throw new SteadySocketError('INVALID_PROTOCOL', `Subprotocol ${showProtocol(token)} is offered twice: each must be unique.`);
    }
    seen.add(token);
  }
  return list.slice();
}

/**
 * Checks the server's choice (RFC 6455 §4.1 step 6): it must be one of the offered tokens,
 * and when the client offered some, choosing none is treated as a failure, as browsers and ws do.
 */
export function negotiationError(offered: readonly string[], chosen: string): SteadySocketError | undefined {
  if (chosen === '' && offered.length > 0) {
    return new SteadySocketError(
      'PROTOCOL_NOT_NEGOTIATED',
      `The server accepted none of the offered subprotocols (${offered.map(showProtocol).join(', ')}).`,
    );
  }
  if (chosen !== '' && !offered.includes(chosen)) {
    return new SteadySocketError(
      'PROTOCOL_NOT_NEGOTIATED',
      `The server chose subprotocol ${showProtocol(chosen)}, which was not offered (${offered.map(showProtocol).join(', ') || 'none'}).`,
    );
  }
  return undefined;
}

/** The codec for a negotiated subprotocol: its own entry, else the fallback, else none (raw). */
export function codecFor<In, Out>(
  protocol: string,
  codecs: Readonly<Record<string, Codec<In, Out>>> | undefined,
  fallback: Codec<In, Out> | undefined,
): Codec<In, Out> | undefined {
  return (codecs && Object.prototype.hasOwnProperty.call(codecs, protocol) ? codecs[protocol] : undefined) ?? fallback;
}

/** The arguments of `close()`: a code an application may send (RFC 6455 §7.4.2) and a reason that fits a close frame. */
export function checkClose(code: number, reason: string): void {
  // A whole number: ws would send 3000.5 as 3000, and a browser round it, a code nobody asked for.
  if ((code !== 1000 && !(code >= 3000 && code <= 4999)) || code % 1) {
    throw new SteadySocketError('INVALID_OPTION', `Close code ${code} is not allowed: use 1000 or 3000–4999.`);
  }
  if (typeof reason !== 'string' || utf8Length(reason) > 123) {
    throw new SteadySocketError('INVALID_OPTION', 'The close reason must be a string of at most 123 UTF-8 bytes.');
  }
}
