import { EventEmitter } from 'eventemitter3';
import type { CloseInfo } from './close-policy';
import type { AnySteadySocketError, SteadySocketError } from './errors';
import type { DropReason } from './outbox';

/** The client's states. `closed` is terminal. */
export type State = 'connecting' | 'open' | 'closing' | 'waiting' | 'closed';

/** The documented transitions (each state: the states it may move to); anything else is a bug and throws. @internal */
export const TRANSITIONS: Readonly<Record<State, string>> = {
  connecting: 'open closing waiting closed',
  open: 'closing waiting closed',
  closing: 'connecting closed',
  waiting: 'connecting closed',
  closed: '',
};

// `await using` support without requiring the `esnext` lib of consumers (TypeScript < 5.2 or
// `lib: ["es2022", "dom"]`): the same declaration TypeScript's own lib makes.
declare global {
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
}

/** Passed to `open` listeners. */
export interface OpenInfo {
  /** The URL this connection was opened to, redacted: user name, password and query values read `***`. */
  url: string;
  /** The negotiated subprotocol, '' when none. */
  protocol: string;
  /** Failed attempts before this one since the last stable connection. */
  attempt: number;
}

/** Passed to `reconnecting` listeners. */
export interface ReconnectingInfo {
  /** The retry about to be made (1 for the first; 0 after a close that was no failure: the page entering the back/forward cache). */
  attempt: number;
  /** Milliseconds until it starts, unless the `online` event comes first (Infinity while the page is in the back/forward cache). */
  delay: number;
  /** True when the browser reports it is offline (with `pageSignals()`): the attempt starts as soon as it is back online. */
  offline: boolean;
  /** Why the previous connection ended. */
  cause: CloseInfo;
}

/** Passed to `drop` listeners: a message that will never be sent. */
export interface DropInfo<Out> {
  /** The message as it was given to `send`/`deliver`. */
  data: Out;
  /** Why it left the outbox. */
  reason: DropReason;
  /** The typed error a `deliver()` promise for it rejected with. */
  error: SteadySocketError;
}

/** Counters since the client was created. */
export interface Stats {
  /** Connection attempts started. */
  attempts: number;
  /** Connections opened after the first. */
  reconnects: number;
  /** Messages received (heartbeat pongs matched by `isPong` included). */
  messagesIn: number;
  /** Messages written to an open socket (readiness-step sends included). */
  messagesOut: number;
  /** Bytes received (UTF-8 for text), not counting frame headers. */
  bytesIn: number;
  /** Bytes written (UTF-8 for text), not counting frame headers. */
  bytesOut: number;
  /** Last heartbeat round-trip time in ms on the current connection, if any. */
  rtt: number | undefined;
  /** Total ms spent open. */
  connectedTime: number;
  /** Messages waiting in the outbox. */
  queued: number;
}

/** The typed event map (eventemitter3). */
export interface SteadySocketEvents<In, Out> {
  /** The socket is open and the `ready` step (if any) succeeded; the outbox has been flushed (as far as backpressure allows). */
  open: (info: OpenInfo) => void;
  /** A message arrived, decoded by the connection's codec (raw without one). */
  message: (data: In) => void;
  /**
   * A connection or attempt ended; emitted before the decision to reconnect is carried out. An
   * attempt that failed before it had a socket (a URL, `protocols` or `headers` function that
   * threw, rejected or gave something invalid; a `WebSocket` constructor that refused the URL)
   * gets one too, with code 1006 and the error in `info.error`, on a timer of its own after the
   * attempt started.
   */
  close: (info: CloseInfo) => void;
  /** Something failed; never thrown, and listening is optional. Testing `error.code` narrows its details. */
  error: (error: AnySteadySocketError) => void;
  /** Every state transition. */
  state: (state: State, previous: State) => void;
  /** A wait before the next attempt begins. */
  reconnecting: (info: ReconnectingInfo) => void;
  /** A queued message will never be sent (with `acks()`, reason `ack-timeout`: a written one was never acknowledged). */
  drop: (info: DropInfo<Out>) => void;
  /**
   * A protocol ping frame arrived, with its payload (a Buffer; empty when it carried none). Node
   * with `ws` only: browsers never show control frames to scripts. `ws` has already answered it
   * with a pong.
   */
  ping: (data: Uint8Array) => void;
  /**
   * A protocol pong frame arrived, with its payload: the answer to a ping of the heartbeat or of
   * `ping()`, or one the server sent unasked. Node with `ws` only, as `ping`.
   */
  pong: (data: Uint8Array) => void;
}

/** Options for {@link SteadySocket.deliver}. */
export interface DeliverOptions {
  /** Aborting withdraws the message if it is still queued (rejects with `MESSAGE_WITHDRAWN`). */
  signal?: AbortSignal | undefined;
}


/** How eventemitter3 stores one listener (index.js `EE`). */
interface StoredListener {
  fn: (...args: unknown[]) => void;
  context: unknown;
  once: boolean;
}

type StoredListeners = StoredListener | StoredListener[] | undefined;

/**
 * Reports an exception thrown by an application listener without letting it change what the
 * client does next. Where the platform has `reportError` (browsers, Deno, Bun, workers) it is
 * used, as the DOM does for a throwing event listener ("report the exception"): the page's
 * `error` event and the console see it. Elsewhere (Node) the exception is rethrown on a fresh
 * microtask, as Node's own `EventTarget` does: it reaches `process.on('uncaughtException')`.
 */
export function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (typeof report === 'function') {
    report(error);
    return;
  }
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * An EventEmitter whose `emit` calls every listener even when one throws: each exception is
 * reported (see {@link reportListenerError}) and the rest of the listeners still run, so no
 * listener can stop the client. Same cost as eventemitter3's own emit on the hot path (one
 * listener, no arguments array).
 */
export class SafeEmitter<Events extends EventEmitter.ValidEventTypes> extends EventEmitter<Events> {
  override emit<T extends EventEmitter.EventNames<Events>>(event: T, ...args: EventEmitter.EventArgs<Events, T>): boolean;
  // Every event of ours carries at most two arguments: named parameters (the unused rest only
  // satisfies the generic signature).
  override emit(event: EventEmitter.EventNames<Events>, a?: unknown, b?: unknown, ..._rest: unknown[]): boolean {
    const key = EventEmitter.prefixed ? `${EventEmitter.prefixed as string}${String(event)}` : event;
    const stored = (this as unknown as { _events: Record<string | symbol, StoredListeners> })._events[key as string];
    if (!stored) return false;
    if (!Array.isArray(stored)) {
      if (stored.once) this.removeListener(event as never, stored.fn as never, undefined, true);
      call(stored, a, b);
      return true;
    }
    // eventemitter3 replaces the array when a listener is removed and appends when one is
    // added: with the length read first, exactly the listeners present at emit time run.
    for (let i = 0, length = stored.length; i < length; i++) {
      const listener = stored[i];
      if (listener.once) this.removeListener(event as never, listener.fn as never, undefined, true);
      call(listener, a, b);
    }
    return true;
  }
}

// Every event of ours carries at most two arguments.
function call(listener: StoredListener, a: unknown, b: unknown): void {
  try {
    listener.fn.call(listener.context, a, b);
  } catch (error) {
    reportListenerError(error);
  }
}
