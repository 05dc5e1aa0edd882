import DefaultWebSocket from 'isomorphic-ws';
import type { RawMessage, WireData } from './codecs';
import { SteadySocketError, tlsVerifyCode } from './errors';
import type { WebSocketConstructor, WebSocketLike } from './options';

/** What the client learns from one socket. */
export interface TransportHandlers {
  open(): void;
  message(data: RawMessage, bytes: number): void;
  close(code: number, reason: string, wasClean: boolean): void;
  error(error: SteadySocketError): void;
  /** A protocol pong arrived (ws only). */
  pong(): void;
}

/** Node-only settings handed to ws as its third constructor argument. */
export type NodeSocketOptions = Record<string, unknown>;

/** The subset of ws's EventEmitter API used when the socket is a ws instance. */
interface WsSocket extends WebSocketLike {
  on(event: string, listener: (...args: never[]) => void): void;
  removeAllListeners(): void;
  terminate(): void;
  ping(data?: unknown, mask?: boolean, cb?: (error?: Error) => void): void;
  _socket?: { unref?(): void; ref?(): void } | null;
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
 * event object per message, and access to handshake responses and pongs); everything else
 * through the WHATWG handlers.
 */
export class Transport {
  readonly socket: WebSocketLike;
  private readonly ws: WsSocket | undefined;
  private detached = false;
  /** Set by an `unexpected-response`: the rejection replaces ws's generic error. */
  private rejection: SteadySocketError | undefined;
  /** The status ws failed the connection with after a protocol violation by the server. */
  private failCode: number | undefined;

  constructor(
    ctor: WebSocketConstructor,
    readonly url: string,
    protocols: string[],
    nodeOptions: NodeSocketOptions | undefined,
    binaryType: string,
    private readonly handlers: TransportHandlers,
  ) {
    try {
      this.socket = nodeOptions
        ? new ctor(url, protocols, nodeOptions as never)
        : protocols.length
          ? new ctor(url, protocols)
          : new ctor(url);
    } catch (cause) {
      throw new SteadySocketError('CONNECT_FAILED', `Could not create a WebSocket for this URL: ${errorText(cause)}`, cause);
    }
    const socket = this.socket;
    const isWs = typeof (socket as WsSocket).on === 'function' && typeof (socket as WsSocket).terminate === 'function';
    try {
      socket.binaryType = binaryType;
    } catch {
      // Some runtimes (React Native) do not support every binaryType; keep theirs.
    }
    if (isWs) {
      const ws = (this.ws = socket as WsSocket);
      ws.on('open', () => handlers.open());
      ws.on('message', (data: Uint8Array | ArrayBuffer, isBinary: boolean) => {
        if (isBinary) handlers.message(data, data.byteLength);
        else handlers.message(data.toString(), data.byteLength);
      });
      ws.on('close', (code: number, reason: Uint8Array) =>
        // After a frame violation ws fails the connection with a status (RFC 6455 §7.1.7); report it.
        handlers.close(code === 1006 && this.failCode ? this.failCode : code, reason.toString(), code !== 1006),
      );
      ws.on('error', (error: Error) => {
        const failure = this.rejection ?? classify(error);
        this.failCode = failure.closeCode;
        handlers.error(failure);
      });
      ws.on('pong', () => handlers.pong());
      ws.on('unexpected-response', (request: { destroy(): void }, response: IncomingLike) => {
        this.rejection = rejectionFrom(response);
        response.resume?.();
        ws.terminate();
      });
    } else {
      socket.onopen = () => handlers.open();
      socket.onmessage = ((event: { data: RawMessage }) => {
        const data = event.data;
        handlers.message(data, typeof data === 'string' ? -1 : byteLength(data));
      }) as never;
      socket.onclose = ((event: { code: number; reason: string; wasClean: boolean }) =>
        // Some runtimes (Deno) report 0 for a dropped connection; RFC 6455 §7.1.5 calls it 1006.
        handlers.close(event.code >= 1000 && event.code <= 4999 ? event.code : 1006, event.reason ?? '', event.wasClean)) as never;
      socket.onerror = ((event: { error?: unknown; message?: string }) =>
        handlers.error(
          new SteadySocketError(
            'CONNECT_FAILED',
            `WebSocket error${event?.message ? `: ${event.message}` : ' (browsers give no details; see the close code)'}`,
            event?.error ?? event,
          ),
        )) as never;
    }
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  get protocol(): string {
    return this.socket.protocol ?? '';
  }

  /** Whether protocol-level pings are available (ws only). */
  get canPing(): boolean {
    return this.ws !== undefined;
  }

  send(data: WireData): void {
    this.socket.send(data as never);
  }

  /** Sends a protocol ping frame (ws only). */
  ping(): void {
    this.ws?.ping();
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

  /** Lets the process exit while this socket is open (ws only). */
  unref(): void {
    this.ws?._socket?.unref?.();
  }

  /** Stops listening for good. A ws socket keeps a no-op error listener so a late error cannot crash. */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    if (this.ws) {
      this.ws.removeAllListeners();
      this.ws.on('error', noop);
    } else {
      const socket = this.socket;
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    }
  }
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
