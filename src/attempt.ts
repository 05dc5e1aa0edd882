/**
 * What one connection attempt connects with: the URL, the subprotocols offered and the handshake
 * headers, each a value or a provider the application gives (called before every attempt), and
 * the options handed to the WebSocket constructor.
 */
import { warn, type ResolvedOptions, type WebSocketConstructor } from './options';
import { SteadySocketError } from './errors';
import { nodeOptions, providerError } from './platform';
import { validateProtocols } from './protocol';
import type { NodeSocketOptions } from './transport';
import { normalizeUrl } from './url';

/** An attempt's URL, offered subprotocols and handshake headers, validated. */
export interface AttemptParts {
  url: string;
  offered: string[];
  headers: Record<string, string> | undefined;
}

type Part = unknown;
const call = (value: Part): Part => (typeof value === 'function' ? value() : value);
const isThenable = (value: Part): boolean => typeof (value as Promise<unknown> | undefined)?.then === 'function';
/**
 * What a provider threw. Its own SteadySocketError (another client's: a `deliver()` rejecting
 * CLOSED, a `close(1234)`) is a failed provider, CONNECT_FAILED, not a verdict on its answer:
 * the client ends on an INVALID_* error, which only the validation of the answers gives.
 */
const failed = (error: unknown): never => {
  throw error instanceof SteadySocketError ? providerError(error) : error;
};

/**
 * Asks the providers for this attempt and validates their answers. Synchronous unless a provider
 * returned a promise (no extra turn per attempt). A provider that throws, rejects or answers
 * nonsense (INVALID_URL, INVALID_PROTOCOL) throws or rejects.
 * @param source the client's URL source: a provider, or undefined when `listed` is the URL
 * @param listed the (already normalised) URL to use when there is no provider
 */
export function provide(source: (() => unknown) | undefined, listed: string | undefined, opts: ResolvedOptions<unknown, unknown>): AttemptParts | Promise<AttemptParts> {
  const parts: Part[] = [];
  try {
    for (const provider of [source ?? listed, opts.protocols, opts.headers]) parts.push(call(provider));
  } catch (error) {
    // A promise an earlier provider gave is not awaited now: its rejection must not go unhandled.
    for (const part of parts) if (isThenable(part)) (part as Promise<unknown>).then(undefined, () => {});
    failed(error);
  }
  const validate = ([url, protocols, headers]: Part[]): AttemptParts => ({
    url: source ? normalizeUrl(url as string | URL) : (url as string),
    offered: validateProtocols(protocols as string | readonly string[] | null | undefined),
    headers: headers as Record<string, string> | undefined,
  });
  return parts.some(isThenable) ? Promise.all(parts).then(validate, failed) : validate(parts);
}

/** The constructor's third argument (ws), with a warning when Node-only options meet a WHATWG WebSocket. */
export function socketOptions(ctor: WebSocketConstructor, opts: ResolvedOptions<unknown, unknown>, headers: Record<string, string> | undefined): NodeSocketOptions | undefined {
  return nodeOptions(ctor, opts as never, headers, (names) =>
    warn(`${names.join(', ')}: Node-only options (ws); this WebSocket ignores them. In a browser, send a token in the URL (a url function refreshes it per attempt) or in the ready step.`),
  );
}
