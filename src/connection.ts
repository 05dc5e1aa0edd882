import type { Codec, RawMessage, WireData } from './codecs';
import { SteadySocketError } from './errors';
import type { WebSocketConstructor, WebSocketLike } from './options';
import { attachWs, constructorError, wsOf, type WsSocket } from './platform';
import type { NodeSocketOptions } from './transport';

/**
 * The client's side of a connection: what its socket reports, with the connection it came from.
 * The client implements it itself (no object or closure per client or connection; the members
 * are marked internal and kept out of the published types).
 */
export interface ConnectionHandler<In> {
  _onOpen(conn: Connection<In>): void;
  _onMessage(conn: Connection<In>, data: RawMessage, bytes: number): void;
  _onClose(conn: Connection<In>, code: number, reason: string, wasClean: boolean): void;
  _onError(conn: Connection<In>, error: SteadySocketError): void;
  _onPong(conn: Connection<In>, data: Uint8Array): void;
}

/** Shared by every connection that offers no subprotocol; never mutated. */
const NONE: readonly string[] = [];

/**
 * One socket and what belongs to it alone: one object per attempt. ws instances are driven
 * through their EventEmitter API by platform.ts (Node builds only: no event object per message,
 * handshake responses, pongs); everything else through the WHATWG handlers.
 *
 * Memory layout (bench/ measures heap per idle connection): every field costs 8 B on every
 * connection, so what can be derived is (`released`, `opened`, `ws`), and what few connections
 * need exists only once assigned (no initializer).
 */
export class Connection<In> {
  /** @internal Until detached: who receives this socket's events (the client; platform.ts reports ws's ping and pong frames to it). */
  handler: ConnectionHandler<In> | undefined;
  readonly socket: WebSocketLike;
  /** The codec of the negotiated subprotocol; absent for raw frames. */
  codec?: Codec<In, unknown>;
  /** When it opened (ms since this module loaded: a small integer); absent until then. */
  openedAt?: number;
  /** The subprotocols offered; absent when none. */
  private _offered?: string[];
  /** The first failure of this connection. */
  error?: SteadySocketError;
  /** Set from a non-101 handshake response: the rejection replaces ws's generic error. */
  rejection?: SteadySocketError;
  /** The status ws failed the connection with after a protocol violation by the server. */
  failCode?: number;
  /** Pongs matter only after our own ping: listen from the first one. */
  pongs?: boolean;
  /** A drain listener is on this socket (ws); set on the first wait for a drain. */
  drainListening?: boolean;
  /** Handshake headers of this attempt (Node), kept to scrub their values from errors. */
  headers?: Record<string, string>;

  constructor(
    handler: ConnectionHandler<In>,
    ctor: WebSocketConstructor,
    readonly url: string,
    offered: string[],
    nodeOptions: NodeSocketOptions | undefined,
    binaryType: string,
  ) {
    this.handler = handler;
    if (offered.length) this._offered = offered;
    let socket: WebSocketLike;
    try {
      socket = nodeOptions ? new ctor(url, offered, nodeOptions as never) : offered.length ? new ctor(url, offered) : new ctor(url);
    } catch (cause) {
      throw constructorError(cause);
    }
    this.socket = socket;
    try {
      socket.binaryType = binaryType;
    } catch {
      // Some runtimes (React Native) do not support every binaryType; keep theirs.
    }
    if (attachWs(this, socket)) return;
    socket.onopen = () => this.handleOpen();
    socket.onmessage = ((event: { data: RawMessage }) => {
      const data = event.data;
      this.handleMessage(data, typeof data === 'string' ? -1 : byteLength(data));
    }) as never;
    socket.onclose = ((event: { code: number; reason: string; wasClean: boolean }) =>
      // Some runtimes (Deno) report 0 for a dropped connection; RFC 6455 §7.1.5 calls it 1006.
      this.handleClose(event.code >= 1000 && event.code <= 4999 ? event.code : 1006, event.reason ?? '', event.wasClean)) as never;
    socket.onerror = ((event: { error?: unknown; message?: string }) =>
      this.handleError(
        new SteadySocketError('CONNECT_FAILED', `WebSocket error${event?.message ? `: ${event.message}` : ' (see the close code)'}`, event?.error ?? event),
      )) as never;
  }

  /** Detached and done: nothing of this socket reaches the client any more. */
  get released(): boolean {
    return this.handler === undefined;
  }

  /** Whether it ever opened. */
  get opened(): boolean {
    return this.openedAt !== undefined;
  }

  /** The subprotocols offered. */
  get offered(): readonly string[] {
    return this._offered ?? NONE;
  }

  /** The ws socket (Node): protocol pings, drain events, terminate(); undefined for any other. */
  get ws(): WsSocket | undefined {
    return wsOf(this);
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  get protocol(): string {
    return this.socket.protocol ?? '';
  }

  // What the socket reports, passed on to the client while attached.
  handleOpen(): void {
    this.handler?._onOpen(this);
  }
  handleMessage(data: RawMessage, bytes: number): void {
    this.handler?._onMessage(this, data, bytes);
  }
  handleClose(code: number, reason: string, wasClean: boolean): void {
    this.handler?._onClose(this, code, reason, wasClean);
  }
  handleError(error: SteadySocketError): void {
    this.handler?._onError(this, error);
  }
  /** A protocol pong arrived (ws only), with its payload. */
  handlePong(data: Uint8Array): void {
    this.handler?._onPong(this, data);
  }

  send(data: WireData): void {
    this.socket.send(data as never);
  }

  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void {
    try {
      this.socket.close(code, reason);
    } catch {
      this.abort();
    }
  }

  /** Drops the connection without a closing handshake where the runtime allows it. */
  abort(): void {
    const ws = this.ws;
    if (ws) ws.terminate();
    else {
      try {
        this.socket.close();
      } catch {
        // Already closing.
      }
    }
  }

  /** Stops listening for good. A ws socket keeps a no-op error listener so a late error cannot crash. */
  detach(): void {
    if (this.released) return;
    const ws = this.ws;
    this.handler = undefined;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => {});
    } else {
      const socket = this.socket;
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    }
  }
}

/**
 * A millisecond clock whose readings are small integers: stored in a field they take no heap
 * number (16 B) per connection. `Date.now() - START` alone is a double to V8; Math.floor hands
 * back a small integer (for about 24 days after this module loaded, then a double again).
 */
const START = Date.now();
export function clock(): number {
  return Math.floor(Date.now() - START);
}

function byteLength(data: RawMessage): number {
  return typeof (data as { byteLength?: number }).byteLength === 'number' ? (data as ArrayBuffer).byteLength : (data as { size: number }).size;
}
