import type { CloseInfo } from './close-policy';
import type { Codec, RawMessage, WireData } from './codecs';
import { SteadySocketError } from './errors';
import type { OverflowPolicy } from './outbox';
import { FEATURE, type FeatureFor } from './feature';
import { checkNodeOptions, emitWarning } from './platform';

/** The part of a WHATWG `WebSocket` instance steadysocket uses. */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** The negotiated subprotocol. */
  readonly protocol: string;
  /** Bytes queued by `send` and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** How binary messages are delivered. */
  binaryType: string;
  /** Queues data for sending. */
  send(data: never): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Called once open. */
  onopen: ((event: never) => void) | null;
  /** Called per message, with `event.data`. */
  onmessage: ((event: never) => void) | null;
  /** Called once closed, with `code`, `reason`, `wasClean`. */
  onclose: ((event: never) => void) | null;
  /** Called on failure. */
  onerror: ((event: never) => void) | null;
}

/** A WHATWG-compatible `WebSocket` constructor: browsers, Deno, Bun, workers, React Native, undici, ws. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: never) => WebSocketLike;

/** A value, or a function (sync or async) that produces it before every attempt. */
export type Provider<T> = T | (() => T | Promise<T>);

/** Where to connect: a URL, a list tried in turn (failover), or a function called before each attempt. */
export type UrlSource = string | URL | readonly (string | URL)[] | (() => string | URL | Promise<string | URL>);

/** Options for {@link SteadySocket}. Every field is optional; defaults are stated on each. */
export interface SteadySocketOptions<In = RawMessage, Out = WireData> {
  /** Subprotocols to offer, in order of preference. Default: none (also `null`, or a function returning `null` or `undefined`). */
  protocols?: Provider<string | readonly string[] | null | undefined> | undefined;
  /** Codec per negotiated subprotocol, e.g. `{ 'chat.v2+json': json() }`. Default: none. */
  codecs?: Readonly<Record<string, Codec<In, Out>>> | undefined;
  /** Codec used when the negotiated subprotocol has no entry in `codecs`. Default: none (raw frames). */
  codec?: Codec<In, Out> | undefined;
  /**
   * The WebSocket constructor. Default: the platform's (`ws` in Node through isomorphic-ws,
   * the global `WebSocket` elsewhere). Inject Node 22's global, undici's, or a test double.
   */
  WebSocket?: WebSocketConstructor | undefined;
  /** How binary messages arrive: `'arraybuffer'`, `'blob'` (browsers) or `'nodebuffer'` (ws); a type the runtime lacks (`'nodebuffer'` in a browser) gives ArrayBuffers. Default: `'arraybuffer'`. */
  binaryType?: 'arraybuffer' | 'blob' | 'nodebuffer' | undefined;

  /** First retry waits up to this many ms. Default: 1000. */
  minDelay?: number | undefined;
  /** No wait is longer than this many ms. Default: 30000. */
  maxDelay?: number | undefined;
  /** Growth of the wait per failed attempt. Default: 2. */
  factor?: number | undefined;
  /** 0–1: share of the wait that is randomised (1 = full jitter). Default: 1. */
  jitter?: number | undefined;
  /** Retries after a failure before giving up with `RETRIES_EXHAUSTED`. Default: Infinity. */
  maxRetries?: number | undefined;
  /** Ms a connection must stay open before the backoff resets. Default: 5000. */
  stableAfter?: number | undefined;
  /** Ms an attempt may take to open (and pass `ready`) before it is abandoned; `Infinity`: never. Default: 10000. */
  connectTimeout?: number | undefined;
  /**
   * Ms `close()` and `reconnect()` wait for the closing handshake before dropping the socket, and
   * ms a socket the server started closing (its close frame arrived) may stay without closing
   * before it is dropped and the client reconnects. `Infinity`: wait as long as it takes.
   * Default: 3000.
   */
  closeTimeout?: number | undefined;
  /**
   * Decides whether to reconnect after a connection or attempt ends; not asked after your own
   * `close()` or `reconnect()`. Default: {@link defaultShouldReconnect} (the close-code table;
   * stop on a 401, 403 or 407 handshake, a failed subprotocol negotiation, and a TLS failure a
   * retry would meet again).
   * Must return true or false: a throw, or a promise (an `async` function), ends the client with
   * `INVALID_OPTION`.
   */
  shouldReconnect?: ((info: CloseInfo) => boolean) | undefined;

  /** Most messages the outbox holds. Default: 10000. */
  maxMessages?: number | undefined;
  /** Most bytes the outbox holds. Default: 16 MiB. */
  maxBytes?: number | undefined;
  /** What happens when the outbox is full. Default: `'error'` (send throws `QUEUE_OVERFLOW`). */
  overflow?: OverflowPolicy | undefined;
  /** Bytes buffered in the socket above which new messages wait in the outbox. Default: 1 MiB. */
  highWaterMark?: number | undefined;
  /** Extra handshake headers (Node only), or a function called before each attempt. */
  headers?: Provider<Record<string, string>> | undefined;
  /** `Origin` header (Node only; browsers set it themselves). */
  origin?: string | undefined;
  /** An `http.Agent`, e.g. a CONNECT proxy agent from `steadysocket/node` (Node only). */
  agent?: unknown | undefined;
  /** Trusted CA certificates for wss:// (Node only). */
  ca?: string | Uint8Array | readonly (string | Uint8Array)[] | undefined;
  /** Client certificate (Node only). */
  cert?: string | Uint8Array | undefined;
  /** Client key (Node only). */
  key?: string | Uint8Array | undefined;
  /** Passphrase of `key` (Node only). */
  passphrase?: string | undefined;
  /** Verify the server certificate (Node only). Default: true. Turn off only for local testing. */
  rejectUnauthorized?: boolean | undefined;
  /** permessage-deflate (Node only). Default: false. */
  perMessageDeflate?: boolean | Record<string, unknown> | undefined;
  /** Largest message accepted, in bytes (Node only); `0`, as in ws, or 2^31 and more (`Infinity` too): no limit. Default: ws's 100 MiB. */
  maxPayload?: number | undefined;
  /** Follow HTTP redirects of the handshake (Node only: browsers never follow them). Default: false. */
  followRedirects?: boolean | undefined;
  /** Most redirects followed with `followRedirects` (Node only). Default: 10. */
  maxRedirects?: number | undefined;
  /** Let the process exit whatever the client is doing: connecting, open, closing or waiting (Node only). Default: false. */
  unref?: boolean | undefined;

  /**
   * Opt-in features, e.g. `[heartbeat({ interval: 30_000, timeout: 10_000 }), pageSignals()]`.
   * A feature the application never imports costs no bytes. Default: none.
   */
  use?: readonly FeatureFor<NoInfer<In>, NoInfer<Out>>[] | undefined;
}

/** Options after defaults, read by the client. */
export interface ResolvedOptions<In, Out> extends SteadySocketOptions<In, Out> {
  binaryType: 'arraybuffer' | 'blob' | 'nodebuffer';
  minDelay: number;
  maxDelay: number;
  factor: number;
  jitter: number;
  maxRetries: number;
  stableAfter: number;
  connectTimeout: number;
  closeTimeout: number;
  maxMessages: number;
  maxBytes: number;
  overflow: OverflowPolicy;
  highWaterMark: number;
}

const DEFAULTS = {
  binaryType: 'arraybuffer',
  minDelay: 1000,
  maxDelay: 30_000,
  factor: 2,
  jitter: 1,
  maxRetries: Infinity,
  stableAfter: 5000,
  connectTimeout: 10_000,
  closeTimeout: 3000,
  maxMessages: 10_000,
  maxBytes: 16_777_216, // 16 MiB (numbers, not products: esbuild keeps an unused object holding a product)
  overflow: 'error',
  highWaterMark: 1_048_576, // 1 MiB
} as const;

/** Numeric options and their least legal value (maxDelay: at least minDelay, checked apart). */
const NUMBERS: Readonly<Record<string, number>> = {
  minDelay: 0,
  factor: 1,
  maxRetries: 0,
  stableAfter: 0,
  connectTimeout: 1,
  closeTimeout: 0,
  maxMessages: 0,
  maxBytes: 0,
  highWaterMark: 0,
};

/** Options whose value is one of a few strings. */
const CHOICES: Readonly<Record<string, readonly string[]>> = {
  overflow: ['drop-oldest', 'drop-newest', 'error'],
  binaryType: ['arraybuffer', 'blob', 'nodebuffer'],
};

/**
 * Options of 0.1 that became features. Ignored, the first three would leave an application
 * without what it relies on (its liveness check, its ready step — authentication, say — or its
 * expiry) without an error: they throw. The last two only warn: without them nothing is lost but
 * log lines, and page signals are off unless `pageSignals()` is used.
 */
const MOVED: Readonly<Record<string, string>> = {
  heartbeat: 'heartbeat({...})',
  ready: 'ready(fn)',
  ttl: 'ttl(ms)',
  debug: 'debug()',
  ignoreNetworkSignals: 'pageSignals() (signals are off unless it is used)',
};
const MOVED_AND_NEEDED = ['heartbeat', 'ready', 'ttl'];

/** Every other option this version knows. */
const KNOWN = /* @__PURE__ */ 'protocols codecs codec WebSocket maxDelay jitter shouldReconnect headers origin agent ca cert key passphrase rejectUnauthorized perMessageDeflate maxPayload followRedirects maxRedirects unref use'.split(' ');

/** Unknown keys already reported: a warning per key per process, not per client. */
const reported = new Set<string>();

export function invalidOption(message: string): never {
  throw new SteadySocketError('INVALID_OPTION', message);
}

/**
 * Reports a likely mistake that is not an error: as a process warning in Node
 * (`process.emitWarning`, visible on stderr and to `process.on('warning')`), with
 * `console.warn` elsewhere. Each distinct message once per process.
 */
export function warn(message: string): void {
  if (reported.has(message)) return;
  reported.add(message);
  emitWarning(message);
}

/** `value` is a number in [min, max], or INVALID_OPTION naming `name`. */
export function checkNumber(name: string, value: unknown, min: number, max = Infinity): void {
  if (typeof value !== 'number' || !(value >= min && value <= max)) invalidOption(`Option ${name} must be a number from ${min} to ${max}, got ${String(value)}.`);
}

/**
 * The last options resolved, and a copy of what they were made from: clients made with the same
 * options (equal keys and values) share one resolved object, as clients of one URL share its
 * string. It is never written to after resolving. Only values that cannot change inside (no
 * object, no array): a `use` list or `codecs` object changed since is validated again.
 */
let last: { given: Record<string, unknown>; resolved: ResolvedOptions<any, any> } | undefined;

/**
 * Forgets the shared options if they are `resolved`, as the client made with them ends: its
 * features, and the functions among its options, may hold the client, which would stay on the
 * heap until the next client is made.
 */
export function forgetOptions(resolved: object): void {
  if (last?.resolved === resolved) last = undefined;
}

function sameOptions(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.prototype.hasOwnProperty.call(b, key) && a[key] === b[key] && typeof a[key] != 'object');
}

function isCodec(value: unknown): boolean {
  return typeof (value as Codec<unknown, unknown> | null)?.encode === 'function' && typeof (value as Codec<unknown, unknown>).decode === 'function';
}

/** Applies defaults once and validates every option, throwing INVALID_OPTION at once. */
export function resolveOptions<In, Out>(options: SteadySocketOptions<In, Out> = {}): ResolvedOptions<In, Out> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    invalidOption('SteadySocket takes (url, options): pass subprotocols as { protocols: [...] } among the options.');
  }
  const given = options as Record<string, unknown>;
  if (last && sameOptions(given, last.given)) return last.resolved;
  // Defaults stay on a shared prototype: a client keeps only the options it was given.
  const resolved = Object.create(DEFAULTS) as ResolvedOptions<In, Out> & Record<string, unknown>;
  for (const key of Object.keys(options)) {
    const value = (options as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (!(key in NUMBERS || key in CHOICES || KNOWN.includes(key))) {
      if (MOVED_AND_NEEDED.includes(key)) invalidOption(`${key} is no option but a feature: use: [${MOVED[key]}].`);
      warn(`unknown option ${key} is ignored${MOVED[key] ? `: it is a feature, use: [${MOVED[key]}]` : ''}.`);
    }
    resolved[key] = value;
  }
  for (const name in NUMBERS) checkNumber(name, resolved[name], NUMBERS[name]);
  // A large minDelay alone raises the default cap rather than contradicting it (minDelay is a
  // number by now: Math.max of a bigint would throw a TypeError).
  if (options.maxDelay === undefined) resolved.maxDelay = Math.max(resolved.maxDelay, resolved.minDelay);
  checkNumber('maxDelay', resolved.maxDelay, resolved.minDelay);
  checkNumber('jitter', resolved.jitter, 0, 1);
  // Handed to ws (Node) unchecked there: a NaN maxRedirects lets a redirect loop run unbounded.
  for (const name of ['maxRedirects', 'maxPayload']) if (resolved[name] !== undefined) checkNumber(name, resolved[name], 0);
  for (const name in CHOICES) {
    if (!CHOICES[name].includes(resolved[name] as string)) invalidOption(`Option ${name} must be one of ${CHOICES[name].join(', ')}.`);
  }
  for (const name of ['shouldReconnect', 'WebSocket'] as const) {
    if (resolved[name] !== undefined && typeof resolved[name] !== 'function') invalidOption(`Option ${name} must be a function.`);
  }
  const use = resolved.use;
  if (use !== undefined && !(Array.isArray(use) && use.every((f) => typeof f === 'function' && FEATURE in f))) {
    invalidOption('Option use takes features: call their functions, e.g. use: [pageSignals()].');
  }
  if (use && new Set(use).size < use.length) invalidOption('Option use lists a feature twice.');
  const { codec, codecs } = resolved;
  if (!(codec === undefined || isCodec(codec)) || !(codecs === undefined || (codecs && typeof codecs === 'object' && Object.values(codecs).every(isCodec)))) {
    invalidOption("Options codec and codecs take codecs (encode, decode), e.g. codec: json(), codecs: { 'chat.v2+json': json() }.");
  }
  checkNodeOptions(resolved);
  last = { given: { ...given }, resolved };
  return resolved;
}
