import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import {
  isSteadySocketError,
  SteadySocket,
  type CloseInfo,
  type DropInfo,
  type OpenInfo,
  type ReconnectingInfo,
  type SteadySocketError,
  type SteadySocketOptions,
  type WebSocketConstructor,
  type WireData,
} from '../index';
import { createProxyAgent, proxyAgentFor } from '../node';
import { UsageError, type CliOptions } from './args';
import { ExitCode, exitCodeFor } from './exit-codes';
import { describeClose, encodeInput } from './messages';

/** Where a session's events go: the terminal UI, plain pipe output, or NDJSON. */
export interface Reporter {
  open(info: OpenInfo): void;
  message(data: unknown): void;
  /** `opened`: whether this connection had opened (false: an attempt that failed). */
  close(info: CloseInfo, opened: boolean): void;
  reconnecting(info: ReconnectingInfo): void;
  error(error: SteadySocketError): void;
  drop(info: DropInfo<WireData>): void;
  /** A ping frame arrived (only with -P). */
  ping(data: Buffer): void;
  /** A pong frame arrived (with -P, or answering /ping); rtt when it answers our /ping. */
  pong(data: Buffer, rtt: number | undefined): void;
  /** A note for humans (never on stdout in pipe or JSON mode). */
  notice(text: string): void;
}

/**
 * One connection as the CLI sees it: the SteadySocket built from the command line, the exit code
 * its ending maps to, and the few things the public API leaves to the underlying ws socket
 * (ping on demand, ping/pong frames), reached through the `WebSocket` option.
 */
export class Session {
  readonly socket: SteadySocket<unknown, WireData>;
  /** Latest round-trip time: a /ping answer or a heartbeat. */
  rtt: number | undefined;
  /** When the pending retry starts (epoch ms), and which attempt it is. */
  retry: { at: number; attempt: number } | undefined;
  /** Resolves with the exit code once the client is closed for good. */
  readonly done: Promise<number>;

  private raw: WebSocket | undefined;
  private pingSentAt: number | undefined;
  private received = 0;
  private opened = false;
  private endedBy: number | undefined;
  private closeCodeSent: number | undefined;
  private lastClose: CloseInfo | undefined;
  private lastError: SteadySocketError | undefined;

  constructor(
    private readonly options: CliOptions,
    private readonly reporter: Reporter,
  ) {
    const socketOptions = this.socketOptions();
    try {
      this.socket = new SteadySocket<unknown, WireData>(options.url, socketOptions);
    } catch (error) {
      if (isSteadySocketError(error) && error.code.startsWith('INVALID_')) throw new UsageError(error.message);
      throw error;
    }
    const socket = this.socket;
    socket.on('open', (info) => {
      this.retry = undefined;
      this.rtt = undefined; // a new connection, a new path: measure again
      this.opened = true;
      reporter.open(info);
    });
    socket.on('message', (data) => {
      const count = options.count;
      if (count !== undefined && this.received >= count) return; // closing: print no more
      reporter.message(data);
      if (count !== undefined && ++this.received === count) void this.end();
    });
    socket.on('close', (info) => {
      this.lastClose = info;
      reporter.close(info, this.opened);
      this.opened = false;
    });
    socket.on('reconnecting', (info) => {
      this.retry = { at: Date.now() + info.delay, attempt: info.attempt };
      reporter.reconnecting(info);
    });
    socket.on('error', (error) => {
      this.lastError = error;
      reporter.error(error);
    });
    socket.on('drop', (info) => reporter.drop(info));
    socket.on('state', (state) => {
      if (state !== 'waiting') this.retry = undefined;
    });
    this.done = new Promise((resolve) => {
      socket.on('state', (state) => {
        if (state === 'closed') resolve(this.exitCode());
      });
    });
  }

  /** Sends one input line (encoded per --binary/--hex/--base64). Returns false if it had to wait in the outbox. */
  send(line: string): boolean {
    this.socket.send(encodeInput(line, this.options.encoding));
    return this.socket.state === 'open' && this.socket.stats.queued === 0;
  }

  /** Sends a ping frame now; false when not connected. */
  ping(payload: string): boolean {
    const raw = this.raw;
    if (this.socket.state !== 'open' || !raw || raw.readyState !== WebSocket.OPEN) return false;
    this.pingSentAt = Date.now();
    raw.ping(payload);
    return true;
  }

  /** Closes for good, as the user asked; the session then ends with `exitCode`. */
  end(code = 1000, reason = '', exitCode: number = ExitCode.OK): Promise<void> {
    // Set first: closing while not connected reaches `closed` synchronously, inside close().
    const previous = { endedBy: this.endedBy, closeCodeSent: this.closeCodeSent };
    this.endedBy ??= exitCode;
    this.closeCodeSent ??= code;
    try {
      return this.socket.close(code, reason);
    } catch (error) {
      Object.assign(this, previous); // a bad code or reason: nothing was closed
      throw error;
    }
  }

  private exitCode(): number {
    const ending = exitCodeFor({ close: this.lastClose, error: this.lastError });
    if (this.endedBy === undefined) return ending;
    // The server closed with an error code of its own while we were finishing normally (both
    // sides closing at once): that is news the exit code should carry. An echo of our code is not.
    if (this.endedBy === ExitCode.OK && ending === ExitCode.SERVER_ERROR_CLOSE && this.lastClose?.code !== this.closeCodeSent) {
      return ending;
    }
    return this.endedBy;
  }

  /** Why the session failed, in one line, for exit codes 3–5. */
  failure(code: number): string | undefined {
    const close = this.lastClose;
    const status = close?.status ?? close?.error?.status;
    switch (code) {
      case ExitCode.HANDSHAKE_REJECTED:
        return `handshake rejected with HTTP ${status}`;
      case ExitCode.SERVER_ERROR_CLOSE:
        return `the server closed the connection: ${describeClose(close!.code, close!.reason)}`;
      case ExitCode.CONNECTION_FAILED: {
        const error = this.lastError;
        if (error?.code === 'RETRIES_EXHAUSTED') {
          const cause = error.cause as SteadySocketError | undefined;
          return `${error.message}${cause?.message ? ` Last error: ${cause.message}` : ''}`;
        }
        return error ? `connection failed: ${error.message}` : `connection lost: ${describeClose(close?.code ?? 1006, close?.reason ?? '')}`;
      }
      default:
        return undefined;
    }
  }

  get ended(): boolean {
    return this.socket.state === 'closed';
  }

  private socketOptions(): SteadySocketOptions<unknown, WireData> {
    const o = this.options;
    const options: SteadySocketOptions<unknown, WireData> = {
      WebSocket: this.instrumentedWebSocket(),
      binaryType: 'nodebuffer',
      protocols: o.subprotocols,
      headers: Object.keys(o.headers).length ? o.headers : undefined,
      origin: o.origin,
      ca: o.ca === undefined ? undefined : readPem(o.ca, '--ca'),
      cert: o.cert === undefined ? undefined : readPem(o.cert, '--cert'),
      key: o.key === undefined ? undefined : readKey(o.key, o.passphrase),
      passphrase: o.passphrase,
      rejectUnauthorized: o.insecure ? false : undefined,
      agent: this.proxyAgent(),
      connectTimeout: o.connectTimeout,
      maxRetries: o.maxRetries,
      minDelay: o.minDelay,
      maxDelay: o.maxDelay,
      heartbeat: o.heartbeat === undefined ? undefined : { interval: o.heartbeat, timeout: o.heartbeat },
      debug: o.debug ? (line) => process.stderr.write(`${line}\n`) : undefined,
    };
    if (o.minDelay !== undefined && o.maxDelay === undefined && o.minDelay > 30_000) options.maxDelay = o.minDelay;
    if (o.maxDelay !== undefined && o.minDelay === undefined && o.maxDelay < 1000) options.minDelay = o.maxDelay;
    if (!o.reconnect) options.shouldReconnect = () => false;
    if (o.preamble.length) {
      const preamble = o.preamble.map((message) => encodeInput(message, o.encoding));
      // The readiness step runs on every open, before the outbox flushes: the preamble goes first.
      options.ready = (context) => {
        for (const message of preamble) context.send(message);
      };
    }
    return options;
  }

  private proxyAgent(): unknown {
    const proxy = this.options.proxy;
    if (proxy === false) return undefined;
    if (proxy !== undefined) {
      try {
        return createProxyAgent(proxy);
      } catch (error) {
        throw new UsageError(`--proxy ${proxy}: ${(error as Error).message}`);
      }
    }
    try {
      return proxyAgentFor(this.options.url, process.env);
    } catch (error) {
      throw new UsageError(`the proxy from the environment (HTTPS_PROXY/HTTP_PROXY/ALL_PROXY): ${(error as Error).message}`);
    }
  }

  /**
   * ws, subclassed to see each socket the client creates: the public API has no ping() and no
   * ping/pong events, and -L needs ws's redirect options.
   */
  private instrumentedWebSocket(): WebSocketConstructor {
    const session = this;
    const { followRedirects, maxRedirects } = this.options;
    class InstrumentedWebSocket extends WebSocket {
      constructor(url: string, protocols: string[], options: WebSocket.ClientOptions) {
        super(url, protocols, { ...options, followRedirects, maxRedirects });
        session.attach(this);
      }
    }
    return InstrumentedWebSocket as unknown as WebSocketConstructor;
  }

  private attach(raw: WebSocket): void {
    this.raw = raw;
    this.pingSentAt = undefined;
    raw.on('ping', (data: Buffer) => {
      if (this.options.showPingPong) this.reporter.ping(data);
    });
    raw.on('pong', (data: Buffer) => {
      const rtt = this.pingSentAt === undefined ? undefined : Date.now() - this.pingSentAt;
      this.pingSentAt = undefined;
      if (rtt !== undefined) this.rtt = rtt;
      // The client records heartbeat RTTs on its own pong listener, which runs after this one.
      else queueMicrotask(() => (this.rtt = this.socket.stats.rtt ?? this.rtt));
      if (this.options.showPingPong || rtt !== undefined) this.reporter.pong(data, rtt);
    });
  }
}

/** Reads the client key and checks --passphrase now, rather than failing every connection attempt. */
function readKey(file: string, passphrase: string | undefined): Buffer {
  const key = readPem(file, '--key');
  try {
    createPrivateKey({ key, passphrase });
  } catch (error) {
    const hint = passphrase === undefined ? ' (encrypted? give --passphrase)' : ' (wrong --passphrase?)';
    throw new UsageError(`--key ${file}: ${(error as Error).message}${hint}`);
  }
  return key;
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
