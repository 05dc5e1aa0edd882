import type { Codec, RawMessage } from './codecs';
import type { SteadySocketError } from './errors';
import type { WebSocketConstructor } from './options';
import { Transport, type NodeSocketOptions } from './transport';

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

/** One socket and what belongs to it alone: one object per attempt. */
export class Connection<In> extends Transport {
  // As in SteadySocket: fields without an initializer exist only once assigned (rare state).
  codec: Codec<In, unknown> | undefined = undefined;
  opened = false;
  openedAt = 0;
  /** The first failure of this connection. */
  error?: SteadySocketError;
  /** A drain listener is on this socket (ws); set on the first wait for a drain. */
  drainListening?: boolean;
  /** Handshake headers of this attempt (Node), kept to scrub their values from errors. */
  headers?: Record<string, string>;

  constructor(
    /** The client (platform.ts reports ws's ping and pong frames to it). */
    readonly handler: ConnectionHandler<In>,
    ctor: WebSocketConstructor,
    url: string,
    readonly offered: string[],
    nodeOptions: NodeSocketOptions | undefined,
    binaryType: string,
  ) {
    super(ctor, url, offered, nodeOptions, binaryType);
  }

  handleOpen(): void {
    this.handler._onOpen(this);
  }
  handleMessage(data: RawMessage, bytes: number): void {
    this.handler._onMessage(this, data, bytes);
  }
  handleClose(code: number, reason: string, wasClean: boolean): void {
    this.handler._onClose(this, code, reason, wasClean);
  }
  handleError(error: SteadySocketError): void {
    this.handler._onError(this, error);
  }
  handlePong(data: Uint8Array): void {
    this.handler._onPong(this, data);
  }
}
