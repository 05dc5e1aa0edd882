import DefaultWebSocket from 'isomorphic-ws';
import type { RawMessage, WireData } from './codecs';
import { SteadySocketError, tlsVerifyCode } from './errors';
import type { WebSocketConstructor, WebSocketLike } from './options';

/** Node-only settings handed to ws as its third constructor argument. */
export type NodeSocketOptions = Record<string, unknown>;

/** The subset of ws's EventEmitter API used when the socket is a ws instance. */
interface WsSocket extends WebSocketLike {
  on(event: string, listener: (...args: never[]) => void): void;
  removeListener(event: string, listener: (...args: never[]) => void): void;
  removeAllListeners(): void;
  terminate(): void;
  ping(data?: unknown, mask?: boolean, cb?: (error?: Error) => void): void;
  _socket?: { unref?(): void; ref?(): void; once?(event: 'drain', listener: () => void): void } | null;
}

const HEADERS_OF_INTEREST = ['retry-after', 'www-authenticate'];
const noop = () => {};

export const OPEN = 1;

/** The default constructor, or a typed error explaining what to inject. */
export function defaultWebSocket(): WebSocketConstructor {
  const ctor = (DefaultWebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket) as WebSocketConstructor | undefined;
  if (typeof ctor !== 'function') {
    throw new SteadySocketError('NO_WEBSOCKET', 'No WebSocket implementation found: pass one as the WebSocket option.');
  }
  return ctor;
}

/**
 * One socket and its listeners. ws instances are driven through their EventEmitter API (no
 * event object per message, access to handshake responses and pongs) with listeners shared by
 * every socket; everything else through the WHATWG handlers. A subclass receives the events.
 *
 * An idle ws socket carries three listeners (close, error, and open before it opens, message
 * after): Node keeps an emitter's listeners in a dictionary that doubles past three names.
 */
export abstract class Transport {
  readonly socket: WebSocketLike;
  /** Detached and done: nothing of this socket reaches the subclass any more. */
  released = false;
  /** Pongs matter only after our own ping: listen from the first one. */
  private pongs?: boolean;
  /** Set from a non-101 handshake response: the rejection replaces ws's generic error. */
  rejection: SteadySocketError | undefined;
  /** The status ws failed the connection with after a protocol violation by the server. */
  failCode: number | undefined;

  constructor(
    ctor: WebSocketConstructor,
    readonly url: string,
    protocols: string[],
    nodeOptions: NodeSocketOptions | undefined,
    binaryType: string,
  ) {
    let socket: WebSocketLike;
    try {
      socket = nodeOptions
        ? new ctor(url, protocols, { ...nodeOptions, finishRequest } as never)
        : protocols.length
          ? new ctor(url, protocols)
          : new ctor(url);
    } catch (cause) {
      throw new SteadySocketError('CONNECT_FAILED', `Could not create a WebSocket for this URL: ${errorText(cause)}`, cause);
    }
    this.socket = socket;
    const isWs = isWsSocket(socket);
    try {
      socket.binaryType = binaryType;
    } catch {
      // Some runtimes (React Native) do not support every binaryType; keep theirs.
    }
    if (isWs) {
      const ws = socket as WsWithTransport;
      ws[TRANSPORT] = this;
      ws.on('open', wsOpen);
      ws.on('close', wsClose);
      ws.on('error', wsError);
    } else {
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
          new SteadySocketError(
            'CONNECT_FAILED',
            `WebSocket error${event?.message ? `: ${event.message}` : ' (browsers give no details; see the close code)'}`,
            event?.error ?? event,
          ),
        )) as never;
    }
  }

  abstract handleOpen(): void;
  abstract handleMessage(data: RawMessage, bytes: number): void;
  abstract handleClose(code: number, reason: string, wasClean: boolean): void;
  abstract handleError(error: SteadySocketError): void;
  /** A protocol pong arrived (ws only). */
  abstract handlePong(): void;

  /** A ws socket (EventEmitter API, protocol pings). Bun's WebSocket has terminate() but no on(). */
  private get isWs(): boolean {
    return isWsSocket(this.socket);
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  get protocol(): string {
    return this.socket.protocol ?? '';
  }

  /** Whether protocol-level pings are available (ws only). */
  get canPing(): boolean {
    return this.isWs;
  }

  send(data: WireData): void {
    this.socket.send(data as never);
  }

  /**
   * Calls `listener` once when the socket's own write buffer has emptied (ws: the TCP socket's
   * `drain`). Returns false where no such event exists (browsers): poll bufferedAmount there.
   */
  onDrain(listener: () => void): boolean {
    const socket = this.isWs ? (this.socket as WsSocket)._socket : undefined;
    if (!socket || typeof socket.once !== 'function') return false;
    socket.once('drain', listener);
    return true;
  }

  /** Sends a protocol ping frame (ws only). */
  ping(): void {
    if (!this.isWs) return;
    const ws = this.socket as WsSocket;
    if (!this.pongs && !this.released) {
      this.pongs = true;
      ws.on('pong', wsPong);
    }
    ws.ping();
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
    if (this.isWs) (this.socket as WsSocket).terminate();
    else {
      try {
        this.socket.close();
      } catch {
        // Already closing.
      }
    }
  }

  /** Lets the process exit while this socket is open (ws only). */
  unref(): void {
    if (this.isWs) (this.socket as WsSocket)._socket?.unref?.();
  }

  /** Stops listening for good. A ws socket keeps a no-op error listener so a late error cannot crash. */
  detach(): void {
    if (this.released) return;
    this.released = true;
    if (this.isWs) {
      const ws = this.socket as WsSocket;
      ws.removeAllListeners();
      ws.on('error', noop);
    } else {
      const socket = this.socket;
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    }
  }
}

function isWsSocket(socket: WebSocketLike): boolean {
  return typeof (socket as WsSocket).on === 'function' && typeof (socket as WsSocket).terminate === 'function';
}

const TRANSPORT = Symbol('steadysocket.transport');
type WsWithTransport = WsSocket & { [TRANSPORT]: Transport };

// Listeners shared by every ws socket: ws calls them with `this` = the socket.

function wsOpen(this: WsWithTransport): void {
  // Swap open for message, so an open socket carries three listeners, not four.
  this.removeListener('open', wsOpen);
  this.on('message', wsMessage);
  this[TRANSPORT].handleOpen();
}

function wsMessage(this: WsWithTransport, data: Uint8Array | ArrayBuffer, isBinary: boolean): void {
  if (isBinary) this[TRANSPORT].handleMessage(data, data.byteLength);
  else this[TRANSPORT].handleMessage(data.toString(), data.byteLength);
}

function wsClose(this: WsWithTransport, code: number, reason: Uint8Array): void {
  const transport = this[TRANSPORT];
  // After a frame violation ws fails the connection with a status (RFC 6455 §7.1.7); report it.
  transport.handleClose(code === 1006 && transport.failCode ? transport.failCode : code, reason.toString(), code !== 1006);
}

function wsError(this: WsWithTransport, error: Error): void {
  const transport = this[TRANSPORT];
  const failure = transport.rejection ?? classify(error);
  transport.failCode = failure.closeCode;
  transport.handleError(failure);
}

function wsPong(this: WsWithTransport): void {
  this[TRANSPORT].handlePong();
}

interface ClientRequestLike {
  on(event: 'response', listener: (response: IncomingLike) => void): void;
  end(): void;
}

/**
 * ws's `finishRequest` hook: sends the handshake request as ws would, and notes a non-101
 * response. ws handles that response first (no `unexpected-response` listener: it aborts and
 * emits error then close on a later tick), so the rejection is in place before the error.
 */
function finishRequest(request: ClientRequestLike, ws: WsWithTransport): void {
  request.on('response', (response) => {
    ws[TRANSPORT].rejection = rejectionFrom(response);
  });
  request.end();
}

interface IncomingLike {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
  resume?(): void;
}

function rejectionFrom(response: IncomingLike): SteadySocketError {
  const status = response.statusCode ?? 0;
  const headers: Record<string, string> = {};
  for (const name of HEADERS_OF_INTEREST) {
    const value = response.headers?.[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const message =
    status === 407
      ? 'The proxy refused the tunnel with HTTP 407: put credentials in the proxy URL (http://user:pass@proxy:port).'
      : `The server rejected the WebSocket handshake with HTTP ${status}.`;
  return new SteadySocketError('HANDSHAKE_REJECTED', message, undefined, { status, headers });
}

// ws reports negotiation failures and frame violations as plain errors; give them typed codes.
function classify(error: Error): SteadySocketError {
  const message = error.message ?? '';
  if (/subprotocol/i.test(message)) {
    return new SteadySocketError('PROTOCOL_NOT_NEGOTIATED', `Subprotocol negotiation failed: ${message}.`, error);
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
    // ws keeps the close status for the violation under a private symbol.
    const symbol = Object.getOwnPropertySymbols(error).find((s) => s.description === 'status-code');
    const status = symbol ? (error as unknown as Record<symbol, unknown>)[symbol] : undefined;
    const text =
      message === 'Max payload size exceeded'
        ? 'A message from the server was larger than the maxPayload option allows.'
        : `The server broke the WebSocket protocol: ${message}.`;
    return new SteadySocketError('PROTOCOL_ERROR', text, error, { closeCode: typeof status === 'number' ? status : 1002 });
  }
  const tls = tlsVerifyCode(error);
  if (tls) {
    return new SteadySocketError(
      'CONNECT_FAILED',
      `The server's TLS certificate was not accepted (${tls}: ${message}). Pass its CA with the ca option, or fix the host name.`,
      error,
    );
  }
  return new SteadySocketError('CONNECT_FAILED', `WebSocket error: ${message}`, error);
}

function byteLength(data: RawMessage): number {
  return typeof (data as { byteLength?: number }).byteLength === 'number'
    ? (data as ArrayBuffer).byteLength
    : (data as { size: number }).size;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
