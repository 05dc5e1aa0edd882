import type { RawMessage } from './codecs';
import { SteadySocketError } from './errors';
import type { WebSocketConstructor } from './options';
import { attachWs, constructorError, wsOf } from './platform';
import { OWNER, released, type NodeSocketOptions, type Transport } from './transport';

/**
 * A connection, as the client and its features see it: its socket. Each attempt has its own, so
 * identity tells connections apart. There is no object per connection (bench/ measures heap per
 * idle connection): the client holds the socket and what belongs to the current attempt, and
 * the socket names its client while attached (`OWNER`). `In` is the client's message type.
 */
export type Connection<_In = unknown> = Transport;

/**
 * The client's side of a connection: what its socket reports, with the socket it came from.
 * The client implements it itself (its members are marked internal and kept out of the
 * published types).
 */
export interface ConnectionHandler<In> {
  _onOpen(socket: Connection<In>): void;
  _onMessage(socket: Connection<In>, data: RawMessage, bytes: number): void;
  _onClose(socket: Connection<In>, code: number, reason: string, wasClean: boolean): void;
  _onError(socket: Connection<In>, error: SteadySocketError): void;
  _onPong(socket: Connection<In>, data: Uint8Array): void;
}

/**
 * Opens a socket whose events go to `owner` until it is detached. ws instances are driven
 * through their EventEmitter API by platform.ts (Node builds only: no event object per message,
 * handshake responses, pongs); everything else through the WHATWG handlers.
 */
export function openSocket(
  owner: ConnectionHandler<any>,
  ctor: WebSocketConstructor,
  url: string,
  offered: string[],
  nodeOptions: NodeSocketOptions | undefined,
  binaryType: string,
): Transport {
  let created: Transport;
  try {
    created = nodeOptions ? new ctor(url, offered, nodeOptions as never) : offered.length ? new ctor(url, offered) : new ctor(url);
  } catch (cause) {
    throw constructorError(cause);
  }
  const socket = created;
  try {
    socket.binaryType = binaryType;
    // A type the runtime lacks is ignored without an error (a browser given 'nodebuffer' keeps
    // its Blobs): ArrayBuffers then, the default, which codecs decode.
    if (socket.binaryType != binaryType) socket.binaryType = 'arraybuffer';
  } catch {
    // Some runtimes (React Native) do not support every binaryType; keep theirs.
  }
  socket[OWNER] = owner;
  if (attachWs(socket)) return socket;
  socket.onopen = () => socket[OWNER]?._onOpen(socket);
  socket.onmessage = ((event: { data: RawMessage }) => {
    const data = event.data;
    socket[OWNER]?._onMessage(socket, data, typeof data === 'string' ? -1 : byteLength(data));
  }) as never;
  socket.onclose = ((event: { code: number; reason: string; wasClean: boolean }) =>
    // Some runtimes (Deno) report 0 for a dropped connection; RFC 6455 §7.1.5 calls it 1006.
    socket[OWNER]?._onClose(socket, event.code >= 1000 && event.code <= 4999 ? event.code : 1006, event.reason ?? '', event.wasClean)) as never;
  socket.onerror = ((event: { error?: unknown; message?: string }) =>
    socket[OWNER]?._onError(
      socket,
      new SteadySocketError('CONNECT_FAILED', `WebSocket error${event?.message ? `: ${event.message}` : ' (see the close code)'}`, event?.error ?? event),
    )) as never;
  return socket;
}

/** The negotiated subprotocol ('' when none). */
export function protocolOf(socket: Transport): string {
  return socket.protocol ?? '';
}

/** Starts the closing handshake. */
export function closeSocket(socket: Transport, code?: number, reason?: string): void {
  try {
    socket.close(code, reason);
  } catch {
    abortSocket(socket);
  }
}

/** Drops the connection without a closing handshake where the runtime allows it. */
export function abortSocket(socket: Transport): void {
  const ws = wsOf(socket);
  if (ws) ws.terminate();
  else {
    try {
      socket.close();
    } catch {
      // Already closing.
    }
  }
}

/** Stops listening for good. A ws socket keeps a no-op error listener so a late error cannot crash. */
export function detach(socket: Transport): void {
  if (released(socket)) return;
  socket[OWNER] = undefined;
  const ws = wsOf(socket);
  if (ws) {
    ws.removeAllListeners();
    ws.on('error', ignore);
  } else {
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
  }
}

function ignore(): void {}

/**
 * A millisecond clock whose readings are small integers: stored in a field they take no heap
 * number (16 B) per client. `Date.now() - START` alone is a double to V8; Math.floor hands
 * back a small integer (for about 24 days after this module loaded, then a double again).
 */
const START = /* @__PURE__ */ Date.now();
export function clock(): number {
  return Math.floor(Date.now() - START);
}

function byteLength(data: RawMessage): number {
  return typeof (data as { byteLength?: number }).byteLength === 'number' ? (data as ArrayBuffer).byteLength : (data as { size: number }).size;
}
