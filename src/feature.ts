/**
 * The feature seam. The core client knows no feature by name: each opt-in module (heartbeat,
 * page signals, the ready step, TTL, stats, debug) is a function the client calls once, from
 * its constructor, with itself; the function returns the hooks the client calls at fixed
 * points of a connection's life. A bundler drops every module an application never imports.
 */
import type { RawMessage, WireData } from './codecs';
import type { Connection } from './connection';
import type { SteadySocketError } from './errors';
import type { ReconnectingInfo, SafeEmitter, State, SteadySocketEvents } from './events';
import type { ResolvedOptions } from './options';
import type { OutboxDropReason, Outbox, OutboxEntry, Settle } from './outbox';
import type { CloseInfo } from './close-policy';

/**
 * What a feature may call on the client. The client implements it (the members are internal:
 * features are part of steadysocket, and this interface may change between minor versions).
 * @internal
 */
export interface FeatureHost<In, Out> extends Pick<SafeEmitter<SteadySocketEvents<In, Out>>, 'on' | 'emit'> {
  /** The open connection, when there is one and it may be written to. */
  _writable(): Connection<In> | undefined;
  /** The connection a new message may be written to at once: open, nothing queued, not backed up. */
  _direct(): Connection<In> | undefined;
  /**
   * Encodes with the connection's codec, writes to `conn` (the current connection: no other is
   * attached), and tells every feature (`sent`). A feature's own message (not `bounded`) belongs
   * to this connection: no feature keeps it (acks). `settle` is resolved once written unless a
   * feature keeps the message.
   */
  _write(conn: Connection<In>, data: Out, bounded?: boolean, settle?: Settle): void;
  /** Gives up on `conn` because of a local decision; the client carries on under its policy. */
  _fail(conn: Connection<In>, error: SteadySocketError): void;
  /** Closes the current connection or attempt with `code`/`reason` and carries on as after a close. */
  _drop(code: number, reason: string): void;
  /** While waiting: arms the next attempt `delay` ms from now (`Infinity`: none until woken). */
  _retryIn(delay: number): void;
  /** While waiting: starts the next attempt now, with the backoff reset. */
  _wake(): void;
  /** Arms `holder.timer`, clearing what it held (`Infinity`: no timer). Cleared by `_finish` too. */
  _arm(holder: TimerHolder, fn: () => void, ms: number): void;
  _disarm(holder: TimerHolder): void;
  /** Reports an error as the `error` event. */
  _emitError(error: SteadySocketError): void;
  /** One debug line, when the debug feature is on. */
  _log?: (line: string) => void;
  /** The URL the client connects to now (for features that care about the host). */
  readonly _currentUrl: string | undefined;
  /** Set once close() was called (or the client ended by itself): closing for good; `cause`, why it ended by itself. */
  readonly _final: { code: number; reason: string; cause?: SteadySocketError | undefined } | undefined;
  /** The options the client was given (defaults applied). */
  readonly _opts: Readonly<ResolvedOptions<In, Out>>;
  /** A check of every new message's wire form, run before it is written or queued; throws to refuse it. */
  _check?: (wire: WireData) => void;
  /** The outbox, once a message had to wait (a feature may create it). */
  _outbox: Outbox<Out> | undefined;
  /** Queues a message (written at once when open and nothing waits); its entry, unless refused. */
  _enqueue(data: Out, settle?: Settle, signal?: AbortSignal): OutboxEntry<Out> | undefined;
  /** Sends `data` now, or queues it (as `send()`). */
  send(data: Out): void;
  /** Resolves the pending flushed() calls if nothing is left to wait for (call when `pending()` turns false). */
  _settleFlushed(): void;
  /**
   * New messages wait in the outbox, and the outbox is not written, while set (heartbeat: the page
   * went offline and its probe has seen no sign of life yet). Cleared by the connection's end.
   */
  _held?: boolean;
  /** Writes what the outbox holds, if the connection is open and takes it. */
  _flush(): void;
  /** Drops an entry the outbox no longer holds, as `drop` with `reason`. */
  _dropped(entry: OutboxEntry<Out>, reason: OutboxDropReason, cause?: unknown): void;
  /** Every feature's hooks, in the order given (one feature may read another's, e.g. `rtt`). Replaced, never mutated, when hooks come or go (ping). */
  _hooks: readonly FeatureHooks<In, Out>[];
  readonly state: State;
  /** The redacted URL of the current or last connection. */
  readonly url: string | undefined;
}

/** A timer the client arms for a feature: each feature owns at most one slot per holder. */
export interface TimerHolder {
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The points of a client's life a feature can act on. Every hook is optional; the client calls
 * them in the order the features were given. A hook's `conn` is the connection's socket: compare
 * it by identity (each attempt has its own); connection.ts has `released` and `protocolOf`.
 * @internal
 */
export interface FeatureHooks<In, Out> extends TimerHolder {
  /**
   * Asked as an attempt would start: return a close to hold it (a page in the back/forward
   * cache), and the client waits instead, as after that close, until the feature wakes it.
   */
  holds?(): CloseInfo | void;
  /** An attempt is starting. */
  connecting?(): void;
  /**
   * The socket opened and its subprotocol was accepted; the client is still `connecting`.
   * A promise holds `open` until it settles (the ready step); a rejection fails the attempt
   * with its reason (a SteadySocketError).
   */
  opening?(conn: Connection<In>): void | Promise<void>;
  /** The client is `open`; the outbox has not been flushed yet. */
  open?(conn: Connection<In>): void;
  /** A frame arrived, before decoding (`bytes` is -1 for text: count it if you need it). */
  received?(conn: Connection<In>, raw: RawMessage, bytes: number): void;
  /** A message arrived, decoded. Return true to consume it: no `message` event, no later feature sees it. */
  message?(value: In, conn: Connection<In>): boolean | void;
  /** A protocol pong arrived (ws), with its payload. */
  pong?(conn: Connection<In>, data: Uint8Array): void;
  /** Something was written to the socket (called after every feature's `written`, so what is kept is kept by then). */
  sent?(wire: WireData): void;
  /**
   * A queued message was written. Return true to keep it: the feature settles it (its `deliver()`
   * promise) later, e.g. on an acknowledgement (such a feature sets `holdsWrites`).
   */
  written?(entry: OutboxEntry<Out>, conn: Connection<In>): boolean | void;
  /** Whether `written` will keep this message: one that will must fit beside those kept already. */
  keeps?(entry: OutboxEntry<Out>): boolean;
  /** This feature keeps written messages (acknowledgements): every message then goes through the outbox. */
  readonly holdsWrites?: boolean;
  /** A message entered the outbox. */
  queued?(entry: OutboxEntry<Out>): void;
  /** The connection ended (released), whether or not it had opened (`open` was called if it had). */
  closed?(conn: Connection<In>): void;
  /** About to wait before the next attempt: may change `info.delay` (Infinity: until woken) and set `info.offline`. */
  waiting?(info: ReconnectingInfo): void;
  /** Probe the open connection now (the network may have changed). */
  probe?(): void;
  /** Messages this feature keeps after writing them (acks): written, not yet acknowledged, oldest first. */
  held?(): OutboxEntry<Out>[];
  /** The application ping of the heartbeat, for `ping()`. */
  readonly appPing?: { ping(): Out; isPong(message: In): boolean };
  /** The round-trip time this feature last measured, if it measures one. */
  readonly rtt?: number;
  /** The client closed for good: remove listeners, settle what is pending. */
  finish?(): void;
  /**
   * After `finish`, once what the outbox held was dropped: a promise holds what `close()`
   * returns until it settles (persist(): the save that follows those drops). It must settle
   * within the client's `closeTimeout`.
   */
  ended?(): Promise<void> | void;
  /** Messages are still on their way into the outbox (persist() restoring them): `flushed()` waits. */
  pending?(): boolean;
}

declare const featureTypes: unique symbol;
declare const featureReadsOut: unique symbol;

/**
 * An opt-in capability: made by {@link heartbeat}, {@link pageSignals}, {@link ready}, {@link ttl},
 * {@link stats}, {@link debug}, {@link acks}, {@link requests} or {@link persist}, and given to
 * the client in its `use` option. `In`/`Out` are the
 * message types of the client it fits (any, for features that never see a message).
 */
export interface Feature<In = any, Out = any> {
  /**
   * @internal Called once by the client's constructor, with the client. Typed loosely: a feature's
   * fit to a client is what `[featureTypes]` says (it reads `In`, writes `Out`), so a feature that
   * writes `'ping'` fits a client that writes any string.
   */
  (client: FeatureHost<any, any>): FeatureHooks<any, any> | void;
  /** Features are called by the client only (this signature keeps a feature a function type, so `use` can type it from the client). */
  (host: never): unknown;
  /**
   * Type-level only: the feature reads `In` (every message received) and writes `Out`. A property,
   * not a method: a method's parameter is bivariant, which let a feature reading a field only some
   * inbound messages have fit a client that receives the others too.
   */
  readonly [featureTypes]: (input: In) => Out;
}

/**
 * A feature that reads the client's outgoing messages too ({@link acks} reads their ids) and
 * writes none of its own: it fits only a client whose every outgoing message is an `Out`.
 */
export interface ReadsOutbound<In, Out> extends Feature<In, never> {
  /** Type-level only: the outgoing messages it reads. */
  readonly [featureReadsOut]: (message: Out) => void;
}

/**
 * What `use` takes for a client of `In`/`Out`: a feature that fits it (see {@link Feature},
 * {@link ReadsOutbound}). An interface, not an intersection: a feature made in place (`use:
 * [acks({ id: (m) => m.id })]`) then takes the client's types for its callbacks.
 */
export interface FeatureFor<In, Out> extends Feature<In, Out> {
  readonly [featureReadsOut]?: (message: Out) => void;
}

/**
 * What every feature carries, so `use` tells a feature from the function that makes one
 * (`use: [pageSignals]`). From the global symbol registry: a feature made by another copy of the
 * library (its CommonJS build beside the ESM one) is a feature too. @internal
 */
export const FEATURE = /* @__PURE__ */ Symbol.for('steadysocket.feature');

/**
 * Runs `fn` on a microtask as a promise job: the queue and order of `queueMicrotask` in a real
 * runtime, but no test's fake clock takes it over (Jest's fake timers fake `queueMicrotask`: a new
 * client then never connected, and persist()'s saved() and close() never settled, until the test
 * moved the clock). `fn` must not throw: its throw would be an unhandled rejection (where there is
 * no `reportError`, events.ts throws a listener's error again on queueMicrotask, to reach
 * `uncaughtException`). @internal
 */
export const later = (fn: () => void): void => void Promise.resolve().then(fn);

/** Makes a feature from its attach function. @internal */
export function feature<In, Out>(attach: (client: FeatureHost<In, Out>) => FeatureHooks<In, Out> | void): Feature<In, Out> {
  (attach as unknown as Record<symbol, 1>)[FEATURE] = 1;
  return attach as Feature<In, Out>;
}
