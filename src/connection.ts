import type { Codec, RawMessage } from './codecs';
import type { SteadySocketError } from './errors';
import type { Liveness } from './liveness';
import type { WebSocketConstructor } from './options';
import type { ReadyStep } from './ready';
import { Transport, type NodeSocketOptions } from './transport';

/**
 * The client's side of a connection: what its socket reports, with the connection it came from
 * (one handler per client, no closures per connection).
 */
export interface ConnectionHandler<In> {
  opened(conn: Connection<In>): void;
  message(conn: Connection<In>, data: RawMessage, bytes: number): void;
  closed(conn: Connection<In>, code: number, reason: string, wasClean: boolean): void;
  failed(conn: Connection<In>, error: SteadySocketError): void;
  pong(conn: Connection<In>): void;
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
  /** The ready step running on this connection, if the client has one. */
  ready?: ReadyStep<In>;
  /** The heartbeat's bookkeeping for this connection, when the heartbeat is on. */
  liveness?: Liveness;

  constructor(
    private readonly handler: ConnectionHandler<In>,
    ctor: WebSocketConstructor,
    url: string,
    readonly offered: string[],
    nodeOptions: NodeSocketOptions | undefined,
    binaryType: string,
  ) {
    super(ctor, url, offered, nodeOptions, binaryType);
  }

  handleOpen(): void {
    this.handler.opened(this);
  }
  handleMessage(data: RawMessage, bytes: number): void {
    this.handler.message(this, data, bytes);
  }
  handleClose(code: number, reason: string, wasClean: boolean): void {
    this.handler.closed(this, code, reason, wasClean);
  }
  handleError(error: SteadySocketError): void {
    this.handler.failed(this, error);
  }
  handlePong(): void {
    this.handler.pong(this);
  }
}

