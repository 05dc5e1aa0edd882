import type { CloseInfo } from './close-policy';
import type { Codec, RawMessage, WireData } from './codecs';
import { SteadySocketError } from './errors';
import type { OverflowPolicy } from './outbox';

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

/** What the readiness step can do with the connection before it is handed to the application. */
export interface ReadyContext<In, Out> {
  /** Sends at once on this connection, ahead of the outbox (encoded with this connection's codec). */
  send(data: Out): void;
  /** Resolves with the next message received on this connection; rejects if it closes first. */
  next(): Promise<In>;
  /** The negotiated subprotocol ('' when none). */
  readonly protocol: string;
  /** The URL of this connection, redacted (user name, password and query values read `***`). */
  readonly url: string;
  /** Aborted when this connection is abandoned (closed, timed out, superseded). */
  readonly signal: AbortSignal;
}

/** Liveness checking (see the guide). Off unless set. `In`/`Out` are the client's message types. */
export interface HeartbeatOptions<In = unknown, Out = unknown> {
  /**
   * Check period in ms: every `interval`, a ping is sent if nothing arrived since the last check.
   * A dead link is noticed within 2 × interval + timeout (interval + timeout for a steady silence).
   */
  interval: number;
  /** Milliseconds to wait for any sign of life after a ping before the connection is declared dead. */
  timeout: number;
  /**
   * Builds an application-level ping. Required for round-trip times in browsers; in Node the
   * protocol ping frame is used unless this is set.
   */
  ping?: () => NoInfer<Out>;
  /** Recognises the reply to `ping()`, given each decoded message. Such replies are not delivered as `message` events. */
  isPong?: (message: NoInfer<In>) => boolean;
}

/** Options for {@link SteadySocket}. Every field is optional; defaults are stated on each. */
export interface SteadySocketOptions<In = RawMessage, Out = WireData> {
  /** Subprotocols to offer, in order of preference. Default: none. */
  protocols?: Provider<string | readonly string[]>;
  /** Codec per negotiated subprotocol, e.g. `{ 'chat.v2+json': json() }`. Default: none. */
  codecs?: Readonly<Record<string, Codec<In, Out>>>;
  /** Codec used when the negotiated subprotocol has no entry in `codecs`. Default: none (raw frames). */
  codec?: Codec<In, Out>;
  /**
   * The WebSocket constructor. Default: the platform's (`ws` in Node through isomorphic-ws,
   * the global `WebSocket` elsewhere). Inject Node 22's global, undici's, or a test double.
   */
  WebSocket?: WebSocketConstructor;
  /** How binary messages arrive: `'arraybuffer'`, `'blob'` (browsers) or `'nodebuffer'` (ws). Default: `'arraybuffer'`. */
  binaryType?: 'arraybuffer' | 'blob' | 'nodebuffer';

  /** First retry waits up to this many ms. Default: 1000. */
  minDelay?: number;
  /** No wait is longer than this many ms. Default: 30000. */
  maxDelay?: number;
  /** Growth of the wait per failed attempt. Default: 2. */
  factor?: number;
  /** 0–1: share of the wait that is randomised (1 = full jitter). Default: 1. */
  jitter?: number;
  /** Retries after a failure before giving up with `RETRIES_EXHAUSTED`. Default: Infinity. */
  maxRetries?: number;
  /** Ms a connection must stay open before the backoff resets. Default: 5000. */
  stableAfter?: number;
  /** Ms an attempt may take to open (and pass `ready`) before it is abandoned; `Infinity`: never. Default: 10000. */
  connectTimeout?: number;
  /**
   * Ms `close()` and `reconnect()` wait for the closing handshake before dropping the socket, and
   * ms a socket the server started closing (its close frame arrived) may stay without closing
   * before it is dropped and the client reconnects. `Infinity`: wait as long as it takes.
   * Default: 3000.
   */
  closeTimeout?: number;
  /**
   * Decides whether to reconnect after a connection ends. Default: {@link defaultShouldReconnect}
   * (the close-code table; stop on 401/403; never after your own `close()`).
   */
  shouldReconnect?: (info: CloseInfo) => boolean;

  /** Most messages the outbox holds. Default: 10000. */
  maxMessages?: number;
  /** Most bytes the outbox holds. Default: 16 MiB. */
  maxBytes?: number;
  /** What happens when the outbox is full. Default: `'error'` (send throws `QUEUE_OVERFLOW`). */
  overflow?: OverflowPolicy;
  /** Ms a queued message may wait before it is dropped as expired. Default: none (no expiry). */
  ttl?: number;
  /** Bytes buffered in the socket above which new messages wait in the outbox. Default: 1 MiB. */
  highWaterMark?: number;
  /**
   * Runs on every open, before anything queued is sent (hello, auth, resubscribe). If it throws
   * or rejects, the connection is closed and retried under the normal policy.
   */
  ready?: (context: ReadyContext<In, Out>) => void | Promise<void>;

  /** Liveness checking. Default: off. */
  heartbeat?: HeartbeatOptions<In, Out>;

  /** Extra handshake headers (Node only), or a function called before each attempt. */
  headers?: Provider<Record<string, string>>;
  /** `Origin` header (Node only; browsers set it themselves). */
  origin?: string;
  /** An `http.Agent`, e.g. a CONNECT proxy agent from `steadysocket/node` (Node only). */
  agent?: unknown;
  /** Trusted CA certificates for wss:// (Node only). */
  ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  /** Client certificate (Node only). */
  cert?: string | Uint8Array;
  /** Client key (Node only). */
  key?: string | Uint8Array;
  /** Passphrase of `key` (Node only). */
  passphrase?: string;
  /** Verify the server certificate. Default: true. Turn off only for local testing. */
  rejectUnauthorized?: boolean;
  /** permessage-deflate (Node only). Default: false. */
  perMessageDeflate?: boolean | Record<string, unknown>;
  /** Largest message accepted, in bytes (Node only). Default: ws's 100 MiB. */
  maxPayload?: number;
  /** Let the process exit while connected or waiting (Node only). Default: false. */
  unref?: boolean;
  /**
   * Ignore the browser's network and page signals: `navigator.onLine`, `online`/`offline`,
   * `visibilitychange` and `pagehide`/`pageshow`. Default: false.
   */
  ignoreNetworkSignals?: boolean;

  /** Receives one line per lifecycle event. URLs are redacted; headers are never printed. */
  debug?: (line: string) => void;
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
  ttl: number;
  highWaterMark: number;
  ignoreNetworkSignals: boolean;
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
  maxBytes: 16 * 1024 * 1024,
  overflow: 'error',
  ttl: Infinity,
  highWaterMark: 1024 * 1024,
  ignoreNetworkSignals: false,
} as const;

function invalid(message: string): never {
  throw new SteadySocketError('INVALID_OPTION', message);
}

/**
 * Reports a likely mistake that is not an error: as a process warning in Node
 * (`process.emitWarning`, visible on stderr and to `process.on('warning')`), with
 * `console.warn` elsewhere, and as a debug line.
 */
export function warn(message: string, debug?: (line: string) => void): void {
  debug?.(`warning: ${message}`);
  const proc = (globalThis as { process?: { emitWarning?: (message: string, options: { code: string }) => void } }).process;
  if (typeof proc?.emitWarning === 'function') proc.emitWarning(`steadysocket: ${message}`, { code: 'STEADYSOCKET_OPTION' });
  else if (typeof console !== 'undefined') console.warn(`steadysocket: ${message}`);
}

/** Every option this version knows. */
const KNOWN = new Set([
  'protocols', 'codecs', 'codec', 'WebSocket', 'binaryType', 'minDelay', 'maxDelay', 'factor', 'jitter', 'maxRetries',
  'stableAfter', 'connectTimeout', 'closeTimeout', 'shouldReconnect', 'maxMessages', 'maxBytes', 'overflow', 'ttl',
  'highWaterMark', 'ready', 'heartbeat', 'headers', 'origin', 'agent', 'ca', 'cert', 'key', 'passphrase',
  'rejectUnauthorized', 'perMessageDeflate', 'maxPayload', 'unref', 'ignoreNetworkSignals', 'debug',
]);

/** Option names of other reconnecting clients (reconnecting-websocket, partysocket, sockette, websocket-ts), and ours. */
const PEER_NAMES: Readonly<Record<string, string>> = {
  minReconnectionDelay: 'minDelay',
  maxReconnectionDelay: 'maxDelay',
  reconnectionDelayGrowFactor: 'factor',
  minUptime: 'stableAfter',
  connectionTimeout: 'connectTimeout',
  timeout: 'connectTimeout',
  maxEnqueuedMessages: 'maxMessages',
  reconnectInterval: 'minDelay',
  maxReconnectInterval: 'maxDelay',
  reconnectDecay: 'factor',
  maxAttempts: 'maxRetries',
  maxReconnectAttempts: 'maxRetries',
  retries: 'maxRetries',
  startClosed: 'no option: create the client when you want it to connect',
  query: 'no option: put it in the URL, or pass a url function',
  onopen: "socket.on('open', ...)",
  onmessage: "socket.on('message', ...)",
  onclose: "socket.on('close', ...)",
  onerror: "socket.on('error', ...)",
  onreconnect: "socket.on('reconnecting', ...)",
};

/** Unknown keys already reported: a warning per key per process, not per client. */
const reported = new Set<string>();

function warnUnknown(options: object, debug: ((line: string) => void) | undefined): void {
  for (const key of Object.keys(options)) {
    if (KNOWN.has(key) || reported.has(key)) continue;
    reported.add(key);
    const ours = Object.prototype.hasOwnProperty.call(PEER_NAMES, key) ? PEER_NAMES[key] : undefined;
    warn(`unknown option ${key} is ignored${ours ? ` (steadysocket: ${ours})` : ''}. Options are listed in the guide.`, debug);
  }
}

function checkNumber(name: string, value: number, min: number, max = Infinity): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    invalid(`Option ${name} must be a number between ${min} and ${max}, got ${String(value)}.`);
  }
}

/** Applies defaults once and validates every option, throwing INVALID_OPTION at once. */
export function resolveOptions<In, Out>(options: SteadySocketOptions<In, Out> = {}): ResolvedOptions<In, Out> {
  if (Array.isArray(options) || typeof options === 'string') {
    invalid(
      'The second argument is the options object: pass subprotocols as { protocols: [...] } ' +
        '(reconnecting-websocket takes them as a second argument; steadysocket does not).',
    );
  }
  if (options === null || typeof options !== 'object') invalid('Options must be an object.');
  warnUnknown(options, typeof options.debug === 'function' ? options.debug : undefined);
  // Defaults stay on a shared prototype: a client keeps only the options it was given.
  const resolved = Object.create(DEFAULTS) as ResolvedOptions<In, Out>;
  for (const key of Object.keys(options) as (keyof SteadySocketOptions)[]) {
    if (options[key] !== undefined) (resolved as unknown as Record<string, unknown>)[key] = options[key];
  }
  checkNumber('minDelay', resolved.minDelay, 0);
  // A large minDelay alone raises the default cap rather than contradicting it.
  if (options.maxDelay === undefined) resolved.maxDelay = Math.max(resolved.maxDelay, resolved.minDelay);
  checkNumber('maxDelay', resolved.maxDelay, resolved.minDelay);
  checkNumber('factor', resolved.factor, 1);
  checkNumber('jitter', resolved.jitter, 0, 1);
  checkNumber('maxRetries', resolved.maxRetries, 0);
  checkNumber('stableAfter', resolved.stableAfter, 0);
  checkNumber('connectTimeout', resolved.connectTimeout, 1);
  checkNumber('closeTimeout', resolved.closeTimeout, 0);
  checkNumber('maxMessages', resolved.maxMessages, 0);
  checkNumber('maxBytes', resolved.maxBytes, 0);
  checkNumber('ttl', resolved.ttl, 1);
  checkNumber('highWaterMark', resolved.highWaterMark, 0);
  if (!['drop-oldest', 'drop-newest', 'error'].includes(resolved.overflow)) {
    invalid(`Option overflow must be 'drop-oldest', 'drop-newest' or 'error', got ${String(resolved.overflow)}.`);
  }
  if (!['arraybuffer', 'blob', 'nodebuffer'].includes(resolved.binaryType)) {
    invalid(`Option binaryType must be 'arraybuffer', 'blob' or 'nodebuffer', got ${String(resolved.binaryType)}.`);
  }
  for (const name of ['shouldReconnect', 'ready', 'debug', 'WebSocket'] as const) {
    if (resolved[name] !== undefined && typeof resolved[name] !== 'function') invalid(`Option ${name} must be a function.`);
  }
  const heartbeat = resolved.heartbeat;
  if (heartbeat !== undefined) {
    if (heartbeat === null || typeof heartbeat !== 'object') invalid('Option heartbeat must be { interval, timeout }.');
    checkNumber('heartbeat.interval', heartbeat.interval, 1);
    checkNumber('heartbeat.timeout', heartbeat.timeout, 1);
    if ((heartbeat.ping === undefined) !== (heartbeat.isPong === undefined)) {
      invalid('Options heartbeat.ping and heartbeat.isPong go together: give both or neither.');
    }
  }
  return resolved;
}
