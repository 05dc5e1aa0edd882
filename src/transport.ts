import DefaultWebSocket from 'isomorphic-ws';
import type { RawMessage, WireData } from './codecs';
import { SteadySocketError } from './errors';
import type { WebSocketConstructor, WebSocketLike } from './options';
import { attachWs, constructorError, type WsSocket } from './platform';

/** Node-only settings handed to ws as its third constructor argument. */
export type NodeSocketOptions = Record<string, unknown>;

export const OPEN = 1;

/** The default constructor, or a typed error explaining what to inject. */
export function defaultWebSocket(): WebSocketConstructor {
  const ctor = (DefaultWebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket) as WebSocketConstructor | undefined;
  if (typeof ctor !== 'function') throw new SteadySocketError('NO_WEBSOCKET', 'No WebSocket found: pass one as the WebSocket option.');
  return ctor;
}

/**
 * One socket and its listeners. ws instances are driven through their EventEmitter API by
 * platform.ts (Node builds only: no event object per message, handshake responses, pongs);
 * everything else through the WHATWG handlers. A subclass receives the events.
 */
export abstract class Transport {
  readonly socket: WebSocketLike;
  /** Detached and done: nothing of this socket reaches the subclass any more. */
  released = false;
  /** A ws socket (Node): protocol pings, drain events, terminate(). */
  readonly ws: WsSocket | undefined;
  /** Set from a non-101 handshake response: the rejection replaces ws's generic error. */
  rejection: SteadySocketError | undefined;
  /** The status ws failed the connection with after a protocol violation by the server. */
  failCode: number | undefined;
  /** Pongs matter only after our own ping: listen from the first one. */
  pongs?: boolean;

  constructor(ctor: WebSocketConstructor, readonly url: string, protocols: string[], nodeOptions: NodeSocketOptions | undefined, binaryType: string) {
    let socket: WebSocketLike;
    try {
      socket = nodeOptions ? new ctor(url, protocols, nodeOptions as never) : protocols.length ? new ctor(url, protocols) : new ctor(url);
    } catch (cause) {
      throw constructorError(cause);
    }
    this.socket = socket;
    try {
      socket.binaryType = binaryType;
    } catch {
      // Some runtimes (React Native) do not support every binaryType; keep theirs.
    }
    this.ws = attachWs(this, socket);
    if (this.ws) return;
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

  abstract handleOpen(): void;
  abstract handleMessage(data: RawMessage, bytes: number): void;
  abstract handleClose(code: number, reason: string, wasClean: boolean): void;
  abstract handleError(error: SteadySocketError): void;
  /** A protocol pong arrived (ws only), with its payload. */
  abstract handlePong(data: Uint8Array): void;

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  get protocol(): string {
    return this.socket.protocol ?? '';
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
    if (this.ws) this.ws.terminate();
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
    this.released = true;
    const ws = this.ws;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => {});
    } else {
      const socket = this.socket;
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    }
  }
}

function byteLength(data: RawMessage): number {
  return typeof (data as { byteLength?: number }).byteLength === 'number' ? (data as ArrayBuffer).byteLength : (data as { size: number }).size;
}
