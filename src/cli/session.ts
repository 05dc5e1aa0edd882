import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type WebSocket from 'ws';
import {
  debug,
  defaultShouldReconnect,
  heartbeat,
  isSteadySocketError,
  ping,
  ready,
  stats,
  SteadySocket,
  SteadySocketError,
  type CloseInfo,
  type DropInfo,
  type Feature,
  type OpenInfo,
  type ReconnectingInfo,
  type SteadySocketOptions,
  type WireData,
} from '../index';
import { feature } from '../feature';
import { createProxyAgent, proxyAgentFor } from '../node';
import { UsageError, type CliOptions } from './args';
import { ExitCode, exitCodeFor } from './exit-codes';
import { describeClose, encodeInput, visible } from './messages';
import { redactUrl, type Scrubber } from './redact';

/** How a Session differs between the modes. */
export interface SessionMode {
  /**
   * Give up when the first connection has not opened after this many attempts (pipe and execute
   * modes: a script must not hang on a server that is not there). 0 or undefined: no limit.
   */
  firstConnectAttempts?: number;
  /** Scrubs --debug lines (the library redacts them too; this is the second layer). */
  scrubber?: Scrubber;
}

/** What the CLI found out about a failure that the library's error does not say. */
type Diagnosis = { kind: 'proxy-refused' } | { kind: 'not-tls' } | { kind: 'first-connect'; attempts: number };

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
  /** A pong frame arrived (with -P), or the answer to our /ping (rtt set). */
  pong(data: Buffer, rtt: number | undefined): void;
  /** A note for humans (never on stdout in pipe or JSON mode). */
  notice(text: string): void;
}

/**
 * One connection as the CLI sees it: the SteadySocket built from the command line and the exit
 * code its ending maps to.
 */
export class Session {
  readonly socket: SteadySocket<unknown, WireData>;
  /** The client's counters (the stats feature). */
  readonly counters = stats();
  /** When the pending retry starts (epoch ms), and which attempt it is. */
  retry: { at: number; attempt: number } | undefined;
  /** Resolves with the exit code once the client is closed for good. */
  readonly done: Promise<number>;

  /**
   * Set once the input is sent and the session only waits for replies (-w, --count): a close
   * with 1000 (or 1005, no status) from the server then ends the session instead of reconnecting.
   */
  finishing = false;
  /** Messages received (all connections). */
  received = 0;

  /** The current connection's socket (ws: it can stop reading), from the moment it is open. */
  private conn: { pause?(): void; resume?(): void } | undefined;
  /** Reading stopped by pauseReading(): a connection that opens meanwhile starts stopped too. */
  private readingPaused = false;

  /** The latest round trip on this connection: a /ping answer or the heartbeat's. */
  private latestRtt: number | undefined;
  /** The heartbeat's RTT when last read: a change means a newer measurement than a /ping's. */
  private heartbeatRtt: number | undefined;
  /** /pings waiting for their pong: -P leaves their pongs to the /ping answer. */
  private pinging = 0;
  private opened = false;
  private everOpened = false;
  /** The proxy (host:port) in use, when there is one. */
  private proxyName: string | undefined;
  /** The proxy URL carried credentials (a 407 then means they were refused, not missing). */
  private proxyHasCredentials = false;
  /** The proxy's port, to tell a proxy that cannot be reached from a server that cannot. */
  private proxyPort: string | undefined;
  /** The proxy's answer to this attempt's CONNECT. */
  private proxyStatus: number | undefined;
  /** Why the session stopped, when the CLI knows better than the library's error. */
  private diagnosis: Diagnosis | undefined;
  private endedBy: number | undefined;
  private closeCodeSent: number | undefined;
  private lastClose: CloseInfo | undefined;
  /** The last close when the session was ended: a close from before is history, not news. */
  private closeBeforeEnd: CloseInfo | undefined;
  private lastError: SteadySocketError | undefined;
  /** The last error of a connection or attempt, as shown (reworded where the CLI knows more). */
  private lastAttemptError: SteadySocketError | undefined;

  constructor(
    private readonly options: CliOptions,
    private readonly reporter: Reporter,
    private readonly mode: SessionMode = {},
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
      this.latestRtt = this.heartbeatRtt = undefined; // a new connection, a new path: measure again
      this.opened = true;
      this.everOpened = true;
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
    socket.on('error', (original) => {
      const error = this.explain(original);
      this.lastError = error;
      if (error.code !== 'RETRIES_EXHAUSTED') this.lastAttemptError = error;
      reporter.error(error);
    });
    socket.on('drop', (info) => reporter.drop(info));
    if (options.showPingPong) {
      // ws answers the server's pings itself; the client reports them, and every pong.
      socket.on('ping', (data) => reporter.ping(asBuffer(data)));
      socket.on('pong', (data) => {
        // The answer to a /ping is shown with its RTT when ping() resolves.
        if (this.pinging === 0) reporter.pong(asBuffer(data), undefined);
      });
    }
    socket.on('state', (state) => {
      if (state !== 'waiting') this.retry = undefined;
      if (state === 'connecting') this.newAttempt();
    });
    this.done = new Promise((resolve) => {
      socket.on('state', (state) => {
        if (state === 'closed') resolve(this.exitCode());
      });
    });
  }

  /** Sends one input line (encoded per --binary/--hex/--base64). Returns false if it had to wait in the outbox. */
  send(line: string, bytes = false): boolean {
    this.socket.send(encodeInput(line, this.options.encoding, bytes));
    return this.socket.state === 'open' && this.socket.queued.length === 0;
  }

  /**
   * Measures one round trip now (the library's ping(), with `data` as the frame's payload) and
   * resolves with it in ms. Rejects with its typed error: CONNECTION_CLOSED (not connected, or
   * the connection ended first), PING_TIMEOUT, CLOSED, INVALID_OPTION (data over 125 bytes).
   */
  async ping(data?: string): Promise<number> {
    this.pinging++;
    try {
      const rtt = await ping(this.socket, { data });
      this.latestRtt = rtt;
      return rtt;
    } finally {
      this.pinging--;
    }
  }

  /** Latest round-trip time on this connection: a /ping answer or a heartbeat's (the stats feature's `rtt`). */
  get rtt(): number | undefined {
    // The heartbeat reports no event per pong: a changed value is a newer measurement.
    const heartbeat = this.counters.snapshot().rtt;
    if (heartbeat !== this.heartbeatRtt) {
      this.heartbeatRtt = heartbeat;
      if (heartbeat !== undefined) this.latestRtt = heartbeat;
    }
    return this.latestRtt;
  }

  /**
   * Stops (true) or resumes reading from the connection. While stopped, the server's messages
   * wait in TCP (ws pauses its socket): the server is held back instead of the CLI buffering them.
   */
  pauseReading(paused: boolean): void {
    this.readingPaused = paused;
    if (paused) this.conn?.pause?.();
    else this.conn?.resume?.();
  }

  /** Closes for good, as the user asked; the session then ends with `exitCode`. */
  end(code = 1000, reason = '', exitCode: number = ExitCode.OK): Promise<void> {
    // The closing handshake needs the server's close frame read: it is not held back.
    if (this.readingPaused) this.pauseReading(false);
    // Set first: closing while not connected reaches `closed` synchronously, inside close().
    const previous = { endedBy: this.endedBy, closeCodeSent: this.closeCodeSent, closeBeforeEnd: this.closeBeforeEnd };
    if (this.endedBy === undefined) this.closeBeforeEnd = this.lastClose;
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
    let ending = exitCodeFor({ close: this.lastClose, error: this.lastError });
    if (this.diagnosis?.kind === 'proxy-refused' && (ending === ExitCode.HANDSHAKE_REJECTED || ending === ExitCode.CONNECTION_FAILED)) {
      ending = ExitCode.PROXY_REFUSED;
    }
    if (this.endedBy === undefined) return ending;
    // The server closed with an error code of its own while we were finishing normally (both
    // sides closing at once): that is news the exit code should carry. An echo of our code is not,
    // nor the close that came before a /quit while waiting to reconnect (already reported).
    const closedWhileEnding = this.lastClose !== this.closeBeforeEnd;
    if (this.endedBy === ExitCode.OK && ending === ExitCode.SERVER_ERROR_CLOSE && closedWhileEnding && this.lastClose?.code !== this.closeCodeSent) {
      return ending;
    }
    return this.endedBy;
  }

  /** Why the session failed, in one line, for exit codes 3–5. */
  failure(code: number): string | undefined {
    const close = this.lastClose;
    const status = close?.status ?? close?.error?.status;
    const diagnosis = this.diagnosis;
    switch (code) {
      case ExitCode.HANDSHAKE_REJECTED:
        return `the server rejected the handshake with HTTP ${status}`;
      case ExitCode.PROXY_REFUSED:
        return this.lastError?.message ?? `the proxy refused the tunnel with HTTP ${status}`;
      case ExitCode.SERVER_ERROR_CLOSE:
        return `the server closed the connection: ${describeClose(close!.code, close!.reason)}`;
      case ExitCode.CONNECTION_FAILED: {
        const error = this.lastError;
        if (diagnosis?.kind === 'first-connect') {
          const cause = error?.message ? ` Last error: ${error.message}` : '';
          return `could not connect: the first connection did not open after ${diagnosis.attempts} attempt${diagnosis.attempts === 1 ? '' : 's'} (--connect-attempts).${cause}`;
        }
        if (diagnosis?.kind === 'not-tls' && error) return error.message;
        if (error?.code === 'RETRIES_EXHAUSTED') {
          const cause = this.lastAttemptError ?? (error.cause as SteadySocketError | undefined);
          return `${error.message}${cause?.message ? ` Last error: ${cause.message}` : ''}`;
        }
        return error ? `connection failed: ${error.message}` : `connection lost: ${describeClose(close?.code ?? 1006, close?.reason ?? '')}`;
      }
      default:
        return undefined;
    }
  }

  /** The first connection never opened and --connect-attempts ran out. */
  get gaveUpFirstConnect(): boolean {
    return this.diagnosis?.kind === 'first-connect';
  }

  /** The CLI ended the session (the input done, --count, a signal, stdout gone), not the connection. */
  get endedByCli(): boolean {
    return this.endedBy !== undefined;
  }

  get ended(): boolean {
    return this.socket.state === 'closed';
  }

  private socketOptions(): SteadySocketOptions<unknown, WireData> {
    const o = this.options;
    const options: SteadySocketOptions<unknown, WireData> = {
      binaryType: 'nodebuffer',
      protocols: o.subprotocols,
      headers: Object.keys(o.headers).length ? o.headers : undefined,
      origin: o.origin,
      ca: o.ca === undefined ? undefined : readCertificates(o.ca, '--ca'),
      cert: o.cert === undefined ? undefined : readCertificates(o.cert, '--cert'),
      key: o.key === undefined ? undefined : readKey(o.key, o.passphrase),
      passphrase: o.passphrase === true ? undefined : o.passphrase,
      rejectUnauthorized: o.insecure ? false : undefined,
      agent: this.proxyAgent(),
      followRedirects: o.followRedirects || undefined,
      maxRedirects: o.followRedirects ? o.maxRedirects : undefined,
      connectTimeout: o.connectTimeout,
      maxRetries: o.maxRetries,
      minDelay: o.minDelay,
      maxDelay: o.maxDelay,
    };
    const use: Feature[] = [
      this.counters,
      // `open`, not `opening`: an opening hook would make every open wait a turn, as a ready step does.
      feature(() => ({
        open: (conn) => {
          this.conn = conn as Session['conn'];
          if (this.readingPaused) this.conn?.pause?.();
        },
        closed: (conn) => {
          if (this.conn === conn) this.conn = undefined;
        },
      })),
    ];
    if (o.heartbeat !== undefined) use.push(heartbeat({ interval: o.heartbeat, timeout: o.heartbeat }));
    // A debug line quotes the server (a close reason): control characters shown as escapes, as in every diagnostic.
    if (o.debug) use.push(debug((line) => process.stderr.write(`${visible(this.mode.scrubber?.scrub(line) ?? line)}\n`)));
    if (o.minDelay !== undefined && o.maxDelay === undefined && o.minDelay > 30_000) options.maxDelay = o.minDelay;
    if (o.maxDelay !== undefined && o.minDelay === undefined && o.maxDelay < 1000) options.minDelay = o.maxDelay;
    options.shouldReconnect = (info) => this.shouldReconnect(info);
    if (o.preamble.length) {
      const preamble = o.preamble.map((message) => encodeInput(message, o.encoding));
      // The readiness step runs on every open, before the outbox flushes: the preamble goes first.
      use.push(
        ready((context) => {
          for (const message of preamble) context.send(message);
        }),
      );
    }
    options.use = use;
    return options;
  }

  /** The reconnect decision: the SDK's default policy, plus what the command line and the CLI's diagnosis add. */
  private shouldReconnect(info: CloseInfo): boolean {
    if (!this.options.reconnect) return false;
    // The wait after the input: the server closing normally means nothing more will come.
    if (this.finishing && info.wasClean && !info.error && (info.code === 1000 || info.code === 1005)) return false;
    const diagnosis = this.diagnosis;
    // A proxy that refuses (403 by its rules, 407 credentials) will refuse again; and TLS
    // spoken to a plain server will fail the same way every time.
    if (diagnosis?.kind === 'proxy-refused' || diagnosis?.kind === 'not-tls') return false;
    const limit = this.mode.firstConnectAttempts;
    if (!this.everOpened && limit && info.attempt >= limit) {
      const retry = defaultShouldReconnect(info);
      if (retry) this.diagnosis = { kind: 'first-connect', attempts: info.attempt };
      return false;
    }
    return defaultShouldReconnect(info);
  }

  /**
   * The library's error, reworded where the CLI knows the real cause: the proxy (not the server)
   * refused the handshake, or the server does not speak TLS. A 5xx from the proxy (it could not
   * reach the server) is retried as the network failure it is; a 4xx is not.
   */
  private explain(error: SteadySocketError): SteadySocketError {
    const proxyStatus = this.proxyStatus;
    if (error.code === 'HANDSHAKE_REJECTED' && proxyStatus !== undefined && proxyStatus !== 200 && this.proxyName) {
      const proxy = this.proxyName;
      const target = targetOf(this.options.url);
      const refused = proxyStatus >= 400 && proxyStatus < 500;
      if (refused) this.diagnosis = { kind: 'proxy-refused' };
      const why =
        proxyStatus === 407
          ? this.proxyHasCredentials
            ? 'it refused the credentials in the proxy URL: check the user name and password'
            : 'it wants credentials: put them in the proxy URL (http://user:pass@proxy:port)'
          : proxyStatus === 403
            ? 'its access rules do not allow this destination'
            : refused
              ? 'it refused the request'
              : 'it could not reach the server';
      const verb = refused ? 'refused the tunnel to' : 'could not open a tunnel to';
      return reworded(error, `the proxy ${proxy} ${verb} ${target}: CONNECT answered HTTP ${proxyStatus} (${why}). The server was not reached.`, { proxy });
    }
    const status = error.status;
    if (error.code === 'HANDSHAKE_REJECTED' && status !== undefined && status >= 300 && status < 400) {
      // The Location is not shown: it may carry a token of its own.
      const redirects = error.redirects;
      return reworded(
        error,
        redirects !== undefined
          ? `too many redirects: the handshake was redirected ${redirects} time${redirects === 1 ? '' : 's'} (--max-redirects ${this.options.maxRedirects}) and the server answered with one more (HTTP ${status}). Raise --max-redirects, or connect to the final URL.`
          : this.options.followRedirects
            ? `the server answered the handshake with a redirect (HTTP ${status}) but no Location to follow.`
            : `the server redirected the handshake (HTTP ${status}): follow redirects with -L.`,
      );
    }
    // The library's own classification (platform.ts): TLS met a plain server.
    if (error.code === 'CONNECT_FAILED' && this.options.url.startsWith('wss:') && error.message.startsWith('The server did not answer in TLS')) {
      this.diagnosis = { kind: 'not-tls' };
      const plain = this.options.url.replace(/^wss:/, 'ws:');
      return reworded(error, `the server did not answer TLS; is it ws://? (try ${redactUrl(plain)}) Not retrying: it would fail the same way.`);
    }
    const cause = error.cause as { code?: unknown; port?: unknown } | undefined;
    if (error.code === 'CONNECT_FAILED' && this.proxyName && typeof cause?.code === 'string' && String(cause.port) === this.proxyPort) {
      return reworded(error, `could not reach the proxy ${this.proxyName} (${cause.code}): the server was not tried.`, { proxy: this.proxyName });
    }
    // The library names its own option; here it is a flag.
    if (error.message.includes('with the ca option')) return reworded(error, error.message.replace('with the ca option', 'with --ca <file>'));
    if (error.message.includes('with the cert and key options')) return reworded(error, error.message.replace('with the cert and key options', 'with --cert <file> and --key <file>'));
    // ...or one the CLI leaves at ws's default, with no flag to change it.
    if (error.message.includes('than the maxPayload option allows')) {
      return reworded(error, error.message.replace('than the maxPayload option allows', `than the ${MAX_PAYLOAD_MIB} MiB a message may have`));
    }
    return error;
  }

  private proxyAgent(): unknown {
    const proxy = this.options.proxy;
    if (proxy === false) return undefined;
    let agent: (WebSocket.ClientOptions['agent'] & { proxy?: URL; on?: (event: string, listener: (connect: { statusCode: number }) => void) => void }) | undefined;
    if (proxy !== undefined) {
      try {
        agent = createProxyAgent(proxy);
      } catch (error) {
        throw new UsageError(`--proxy ${redactUrl(proxy)}: ${(error as Error).message}`);
      }
    } else {
      try {
        agent = proxyAgentFor(this.options.url, process.env);
      } catch (error) {
        throw new UsageError(`the proxy from the environment (HTTPS_PROXY/HTTP_PROXY/ALL_PROXY): ${(error as Error).message}`);
      }
    }
    if (agent?.proxy) {
      this.proxyName = agent.proxy.host;
      this.proxyHasCredentials = agent.proxy.username !== '' || agent.proxy.password !== '';
      this.proxyPort = agent.proxy.port || (agent.proxy.protocol === 'https:' ? '443' : '80');
      // https-proxy-agent reports the proxy's answer to CONNECT before ws sees any response, so
      // a refusal can be told apart from the server's own rejection of the handshake.
      agent.on?.('proxyConnect', (connect) => (this.proxyStatus = connect.statusCode));
    }
    return agent;
  }

  /** A new connection attempt is judged on its own. */
  private newAttempt(): void {
    this.proxyStatus = undefined;
    if (this.diagnosis?.kind !== 'first-connect') this.diagnosis = undefined;
  }
}

/** The largest message the CLI takes: ws's default maxPayload (the CLI sets none). */
const MAX_PAYLOAD_MIB = 100;

/** A frame's payload as a Buffer (ws gives Buffers; the client's events type them Uint8Array). */
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** `host:port` of a URL, for messages. */
function targetOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || (parsed.protocol === 'wss:' || parsed.protocol === 'https:' ? 443 : 80)}`;
}

/** The same error with a message that says what happened; the original stays as the cause. */
function reworded(error: SteadySocketError, message: string, extra: { proxy?: string } = {}): SteadySocketError {
  const copy = new SteadySocketError(error.code, message, error, {
    status: error.status,
    headers: error.headers,
    closeCode: error.closeCode,
    redirects: error.redirects,
  });
  return Object.assign(copy, extra);
}

/** Reads the client key and checks --passphrase now, rather than failing every connection attempt. */
function readKey(file: string, passphrase: string | true | undefined): Buffer {
  if (passphrase === true) throw new Error('the --passphrase prompt must run before the session starts');
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

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** --ca and --cert: a file with no readable PEM certificate would be ignored by TLS without a word. */
function readCertificates(file: string, flag: string): Buffer {
  const pem = readPem(file, flag);
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new UsageError(`${flag} ${file}: holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block).`);
  }
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new UsageError(`${flag} ${file}: a certificate in it does not parse (${(error as Error).message}).`);
    }
  }
  return pem;
}
