import { timerDelay } from './backoff';
import { defaultShouldReconnect, type CloseInfo } from './close-policy';
import { utf8Length, wireSize, type Codec, type RawMessage, type WireData } from './codecs';
import { SteadySocketError, type AnySteadySocketError, type SteadySocketErrorCode } from './errors';
import { Connection, type ConnectionHandler } from './connection';
import { SafeEmitter, type DeliverOptions, type State, type Stats, type SteadySocketEvents } from './events';
import { createLiveness, judge, sawActivity, sawPong, startInterval, startProbe } from './liveness';
import {
  resolveOptions,
  warn,
  type ReadyContext,
  type ResolvedOptions,
  type SteadySocketOptions,
  type UrlSource,
  type WebSocketConstructor,
} from './options';
import { Outbox, type DropReason, type OutboxEntry } from './outbox';
import { iterateMessages } from './iteration';
import { isOffline, listenToPage, type PageSignalHandlers, type PageTarget } from './page-signals';
import { ReadyStep } from './ready';
import { countFailure, planRetry } from './retry';
import { codecFor, negotiationError, validateProtocols } from './protocol';
import { defaultWebSocket, OPEN, type NodeSocketOptions } from './transport';
import { normalizeUrl, redactUrl, scrubCause, secretScrubber } from './url';

// `await using` support without requiring the `esnext` lib of consumers (TypeScript < 5.2 or
// `lib: ["es2022", "dom"]`): the same declaration TypeScript's own lib makes.
declare global {
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
}

const DROP_CODES: Record<DropReason, SteadySocketErrorCode> = {
  overflow: 'QUEUE_OVERFLOW',
  expired: 'MESSAGE_EXPIRED',
  withdrawn: 'MESSAGE_WITHDRAWN',
  closed: 'CLOSED',
  'encode-failed': 'ENCODE_FAILED',
};

const DROP_TEXT: Record<DropReason, string> = {
  overflow: 'The outbox is full (see maxMessages, maxBytes and overflow).',
  expired: 'The message waited longer than its ttl.',
  withdrawn: 'The message was withdrawn before it was sent.',
  closed: 'The socket was closed for good before the message could be sent.',
  'encode-failed': 'The codec of the new connection could not encode the message.',
};

/** The documented transitions; anything else is a bug and throws. */
const TRANSITIONS: Readonly<Record<State, readonly State[]>> = {
  connecting: ['open', 'closing', 'waiting', 'closed'],
  open: ['closing', 'waiting', 'closed'],
  closing: ['connecting', 'closed'],
  waiting: ['connecting', 'closed'],
  closed: [],
};

const DRAIN_POLL_MS = 10;
const CLOSE_AFTER_ERROR_MS = 1000;

/**
 * The fields that hold the client's timers: each has one meaning, and arming one clears what it
 * held. `_arm` reaches them by name, so rollup.config.mjs keeps these names out of mangling.
 */
type TimerSlot = '_attemptTimer' | '_closeTimer' | '_drainTimer' | '_expiryTimer' | '_heartbeatTimer';

/**
 * A WebSocket client that reconnects, queues what it cannot send yet, and reports every
 * failure as a typed event. `In` is what `message` delivers, `Out` what `send` accepts.
 */
export class SteadySocket<const In = RawMessage, const Out = WireData> extends SafeEmitter<SteadySocketEvents<In, Out>> {
  // Memory layout (bench/ measures heap per idle connection): a field with an initializer is
  // part of every client; a field without one appears only once it is first assigned. Give
  // initializers to what every open client sets, and leave rarely used state without.
  private readonly _opts: ResolvedOptions<In, Out>;
  /** One URL, URLs to fail over between, or a provider called per attempt. */
  private readonly _urls: string | readonly string[] | (() => string | URL | Promise<string | URL>);
  /** Created by the first message that has to wait: a client that never queues carries none. */
  private _outbox: Outbox<Out> | undefined;
  // Counters behind `stats`, kept as fields (no object of their own).
  private _attempts = 0;
  /** Connections opened, the first included. */
  private _opens = 0;
  private _messagesIn = 0;
  private _messagesOut = 0;
  private _bytesIn = 0;
  private _bytesOut = 0;
  /** Time spent open by closed connections; absent until the first one closes. */
  private _connectedTime?: number;

  private _state: State = 'connecting';
  private _conn: Connection<In> | undefined = undefined;
  /** The URL of the last connection, while waiting with none. */
  private _lastUrl: string | undefined;
  /** Identifies the current attempt; async steps of a superseded one see a different number. */
  private _attemptId = 0;
  /** Failed attempts in a row since the last stable connection. */
  private _failures = 0;
  private _urlIndex = 0;
  /** reconnect() is closing the socket to open a new one. */
  private _forceReconnect?: boolean;
  private _final: { code: number; reason: string } | undefined;
  /** Made by the first close(): what every close() returns, and how to settle it. */
  private _closed: { promise: Promise<void>; resolve(): void } | undefined;
  private _drainWaiters: { resolve(): void; reject(error: unknown): void }[] | undefined;
  /** The page went into the back/forward cache: no attempts until it is shown again. */
  private _suspended?: boolean;

  // Every timer the client owns, cleared together in _clearTimers.
  /** The retry delay while waiting, then the connect timeout while connecting (never both). */
  private _attemptTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _closeTimer: ReturnType<typeof setTimeout> | undefined;
  private _drainTimer: ReturnType<typeof setTimeout> | undefined;
  private _expiryTimer: ReturnType<typeof setTimeout> | undefined;

  /** The heartbeat's interval or probe timeout on the open connection. */
  private _heartbeatTimer: ReturnType<typeof setTimeout> | undefined;

  private _removeSignals: (() => void) | undefined;
  /** Node-only options given to a WHATWG constructor were reported once. */
  private _warnedNodeOnly?: boolean;

  /**
   * Creates the client and starts connecting at once. Throws a {@link SteadySocketError}
   * synchronously for a bad URL, bad subprotocols or bad options.
   */
  constructor(url: UrlSource, options?: SteadySocketOptions<In, Out>) {
    super();
    this._opts = resolveOptions(options);
    if (typeof url === 'function') {
      this._urls = url;
    } else if (Array.isArray(url)) {
      if (url.length === 0) throw new SteadySocketError('INVALID_URL', 'The list of URLs is empty.');
      this._urls = url.map(normalizeUrl);
    } else {
      this._urls = normalizeUrl(url as string | URL);
    }
    if (typeof this._opts.protocols !== 'function') validateProtocols(this._opts.protocols);
    if (!this._opts.WebSocket) defaultWebSocket(); // throws NO_WEBSOCKET now rather than at the first attempt
    if (!this._opts.ignoreNetworkSignals) {
      const remove = listenToPage(globalThis as PageTarget, this._pageHandlers());
      if (remove) this._removeSignals = remove; // browsers only: no field elsewhere
    }
    // Start on the next microtask so listeners attached right after `new` see every event.
    const start = () => {
      if (this._state === 'connecting' && this._attempts === 0) this._connect();
    };
    if (typeof queueMicrotask === 'function') queueMicrotask(start);
    else void Promise.resolve().then(start);
  }

  /** The current state. */
  get state(): State {
    return this._state;
  }

  /** The negotiated subprotocol of the open connection ('' when none or not open). */
  get protocol(): string {
    return this._state === 'open' ? this._conn!.protocol : '';
  }

  /** The URL of the current or last connection, redacted (user name, password and query values read `***`): safe to log. */
  get url(): string | undefined {
    const url = this._conn?.url ?? this._lastUrl;
    return url === undefined ? undefined : redactUrl(url);
  }

  /** Bytes waiting in the socket plus bytes waiting in the outbox. */
  get bufferedAmount(): number {
    return (this._conn ? this._conn.bufferedAmount : 0) + (this._outbox?.bytes ?? 0);
  }

  /** A snapshot of the counters. */
  get stats(): Stats {
    const open = this._state === 'open' && this._conn;
    return {
      attempts: this._attempts,
      reconnects: Math.max(0, this._opens - 1),
      messagesIn: this._messagesIn,
      messagesOut: this._messagesOut,
      bytesIn: this._bytesIn,
      bytesOut: this._bytesOut,
      rtt: this._conn?.liveness?.rtt,
      connectedTime: (this._connectedTime ?? 0) + (open ? Date.now() - open.openedAt : 0),
      queued: this._outbox?.size ?? 0,
    };
  }

  /** The queued messages, oldest first (a copy). */
  get queued(): Out[] {
    return this._outbox ? [...this._outbox] : [];
  }

  /**
   * Sends now if the socket is open and nothing is waiting; otherwise queues the message for the
   * next connection. Throws `CLOSED` after the final close, `INVALID_MESSAGE` / `ENCODE_FAILED`
   * for data that cannot be sent, and `QUEUE_OVERFLOW` when the outbox is full under the
   * `'error'` overflow policy.
   */
  send(data: Out): void {
    const conn = this._writable();
    if (conn && !this._outbox?.size && conn.bufferedAmount <= this._opts.highWaterMark) {
      const codec = conn.codec as Codec<In, Out> | undefined;
      const wire = codec ? this._encode(codec, data) : (data as unknown as WireData);
      const size = typeof wire === 'string' ? stringBytes(wire) : wireSize(wire);
      if (size < 0) throw invalidMessage(wire);
      conn.send(wire);
      this._messagesOut++;
      this._bytesOut += size;
      return;
    }
    this._enqueue(data, undefined, undefined);
  }

  /**
   * Like {@link send}, but returns a promise that resolves once the message is written to an open
   * socket, or rejects with the typed reason it never will be (`QUEUE_OVERFLOW`,
   * `MESSAGE_EXPIRED`, `MESSAGE_WITHDRAWN`, `ENCODE_FAILED`, `CLOSED`). Bad input is still thrown
   * synchronously, as by `send`: `CLOSED` after the final close, `INVALID_MESSAGE`, and
   * `ENCODE_FAILED` when the message can be encoded at once.
   */
  deliver(data: Out, options: DeliverOptions = {}): Promise<void> {
    if (this._state === 'closed' || this._final) throw closedError();
    const conn = this._writable();
    if (conn && !this._outbox?.size && conn.bufferedAmount <= this._opts.highWaterMark) {
      this.send(data);
      return Promise.resolve();
    }
    let settle!: { resolve(): void; reject(error: unknown): void };
    const promise = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const entry = this._enqueue(data, settle, options.signal);
    if (entry && options.signal) {
      const signal = options.signal;
      const withdraw = () => {
        if (this._outbox?.remove(entry)) this._dropped(entry, 'withdrawn');
      };
      if (signal.aborted) withdraw();
      else {
        signal.addEventListener('abort', withdraw, { once: true });
        const done = () => signal.removeEventListener('abort', withdraw);
        promise.then(done, done);
      }
    }
    return promise;
  }

  /** Resolves when the outbox is empty and the socket has handed every byte to the network. */
  flushed(): Promise<void> {
    if (this._state === 'closed') return this._outbox?.size ? Promise.reject(closedError()) : Promise.resolve();
    if (this._isDrained()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      (this._drainWaiters ??= []).push({ resolve, reject });
      this._watchDrain();
    });
  }

  /** Withdraws every queued message (each reported as a `drop` with reason `withdrawn`). */
  clearOutbox(): void {
    if (this._outbox) for (const entry of this._outbox.drain()) this._dropped(entry, 'withdrawn');
  }

  /** Drops the current connection and connects again at once, with the backoff reset. */
  reconnect(): void {
    if (this._state === 'closed' || this._final) throw closedError();
    this._failures = 0;
    const conn = this._conn;
    if (this._state === 'closing') return; // a reconnect is already under way
    if (conn && conn.released && (this._state === 'open' || this._state === 'connecting')) {
      // Called while the end of this connection is being handled (a close or error listener):
      // _afterClose starts the new attempt once the listeners have run.
      this._forceReconnect = true;
    } else if (conn && (this._state === 'open' || this._state === 'connecting')) {
      this._forceReconnect = true;
      this._clearConnectionTimers();
      if (!this._transition('closing')) return;
      conn.close(1000, 'reconnect');
      if (conn === this._conn && !conn.released) this._arm('_closeTimer', () => this._abandon(conn, 1006, 'close timed out'), this._opts.closeTimeout);
    } else {
      // Waiting, or connecting while a URL/protocol provider runs: start over at once.
      this._clearConnectionTimers();
      if (this._transition('connecting')) this._connect();
    }
  }

  /**
   * Closes for good: no reconnects, queued messages are dropped (`CLOSED`). The promise settles
   * once the socket is closed and every timer is cleared. Calling it again returns the same promise.
   */
  close(code = 1000, reason = ''): Promise<void> {
    if (code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new SteadySocketError('INVALID_OPTION', `Close code ${code} is not allowed: use 1000 or 3000–4999.`);
    }
    if (typeof reason !== 'string' || utf8Length(reason) > 123) {
      throw new SteadySocketError('INVALID_OPTION', 'The close reason must be a string of at most 123 UTF-8 bytes.');
    }
    if (this._closed) return this._closed.promise;
    if (this._state === 'closed') return (this._closed = { promise: Promise.resolve(), resolve() {} }).promise;
    let resolve!: () => void;
    const promise = new Promise<void>((settle) => (resolve = settle));
    this._closed = { promise, resolve };
    this._final = { code, reason };
    this._log(`close(${code}) requested in state ${this._state}`);
    this._clearTimers();
    const conn = this._conn;
    if (conn && !conn.released && (this._state === 'open' || this._state === 'connecting' || this._state === 'closing')) {
      // State first: a socket that fires `close` synchronously (test doubles, some polyfills)
      // must find the client already closing.
      if (!this._transition('closing')) return promise;
      conn.close(code, reason);
      if (this._state === 'closing' && conn === this._conn && !conn.released) {
        this._arm('_closeTimer', () => this._abandon(conn, 1006, 'close timed out'), this._opts.closeTimeout);
      }
    } else {
      this._finish();
    }
    return promise;
  }

  /** `await using socket = new SteadySocket(...)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this._state === 'closed' && !this._closed ? Promise.resolve() : this.close();
  }

  /**
   * Iterates over incoming messages across reconnects; ends after the final close. Messages are
   * buffered while the loop body runs.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<In> {
    return this.messages();
  }

  /** The same as iterating the socket itself. */
  messages(): AsyncIterableIterator<In> {
    return iterateMessages<In>(this);
  }

  // ---------------------------------------------------------------- state machine

  /**
   * Moves to `next` and emits `state`. Returns false when a listener moved the client on (e.g.
   * called close()), in which case the caller must stop what it was doing.
   */
  private _transition(next: State): boolean {
    const previous = this._state;
    if (previous === next) return true;
    if (!TRANSITIONS[previous].includes(next)) {
      throw new Error(`steadysocket internal error: transition ${previous} -> ${next} is not allowed`);
    }
    this._state = next;
    this._log(`state ${previous} -> ${next}`);
    this.emit('state', next, previous);
    return this._state === next;
  }

  /** Starts an attempt: resolves URL, protocols and headers (maybe async), then opens a transport. */
  private _connect(): void {
    const id = ++this._attemptId;
    const previous = this._conn;
    if (previous && !previous.released) {
      // Normally released already; make sure no superseded socket stays attached or open.
      this._release(previous);
      previous.abort();
    }
    this._conn = undefined;
    this._attempts++;
    this._arm('_attemptTimer', () => this._connectTimedOut(id), this._opts.connectTimeout);
    const opts = this._opts;
    let url, protocols, headers;
    try {
      url = typeof this._urls === 'function' ? this._urls() : this._listedUrl()!;
      protocols = typeof opts.protocols === 'function' ? opts.protocols() : opts.protocols;
      headers = typeof opts.headers === 'function' ? opts.headers() : opts.headers;
    } catch (cause) {
      this._providerFailed(cause);
      return;
    }
    if (isPromise(url) || isPromise(protocols) || isPromise(headers)) {
      Promise.all([url, protocols, headers]).then(
        ([u, p, h]) => {
          if (id === this._attemptId && this._state === 'connecting') this._open(u, p, h);
        },
        (cause) => {
          if (id === this._attemptId && this._state === 'connecting') this._providerFailed(cause);
        },
      );
    } else {
      this._open(url as string | URL, protocols as string | readonly string[] | undefined, headers as Record<string, string>);
    }
  }

  private _open(rawUrl: string | URL, rawProtocols: string | readonly string[] | undefined, headers: Record<string, string> | undefined): void {
    let url: string;
    let offered: string[];
    try {
      url = typeof this._urls === 'function' ? normalizeUrl(rawUrl) : (rawUrl as string);
      offered = validateProtocols(rawProtocols);
    } catch (error) {
      this._providerFailed(error);
      return;
    }
    this._log(`connecting to ${redactUrl(url)}${offered.length ? ` offering ${offered.join(', ')}` : ''}`);
    try {
      const ctor = this._opts.WebSocket ?? defaultWebSocket();
      // The client is the connection's handler (ConnectionHandler, checked here by its shape).
      const handler: ConnectionHandler<In> = this;
      this._conn = new Connection<In>(handler, ctor, url, offered, this._nodeOptions(ctor, headers), this._opts.binaryType);
      if (headers) this._conn.headers = headers;
    } catch (error) {
      // The constructor refused the URL itself (a browser's SecurityError for mixed content or a
      // blocked port, a SyntaxError): the same call will fail again, so this ends the client.
      const failure = scrubbed(error as SteadySocketError, url, headers);
      this._emitError(failure);
      this._finish(failure);
    }
  }

  private _nodeOptions(ctor: WebSocketConstructor, headers: Record<string, string> | undefined): NodeSocketOptions | undefined {
    const o = this._opts;
    // Node settings go to ws only (its constructor takes a third argument).
    if (typeof (ctor.prototype as { terminate?: unknown } | undefined)?.terminate !== 'function') {
      if (!this._warnedNodeOnly) {
        const ignored = NODE_ONLY.filter((name) => o[name] !== undefined);
        if (ignored.length) {
          this._warnedNodeOnly = true;
          warn(
            `the option${ignored.length > 1 ? 's' : ''} ${ignored.join(', ')} work${ignored.length > 1 ? '' : 's'} only with ws in Node; this WebSocket ` +
              'ignores them. In a browser, send a token in the URL (a url function refreshes it per attempt) or in the ready step.',
            (line) => this._log(line),
          );
        }
      }
      return undefined;
    }
    // ws waits closeTimeout for the server to end TCP after a close frame (its default is 30 s).
    const options: NodeSocketOptions = { perMessageDeflate: o.perMessageDeflate ?? false, closeTimeout: timerDelay(o.closeTimeout) };
    if (headers) options.headers = headers;
    if (o.origin !== undefined) options.origin = o.origin;
    if (o.agent !== undefined) options.agent = o.agent;
    if (o.ca !== undefined) options.ca = o.ca;
    if (o.cert !== undefined) options.cert = o.cert;
    if (o.key !== undefined) options.key = o.key;
    if (o.passphrase !== undefined) options.passphrase = o.passphrase;
    if (o.rejectUnauthorized !== undefined) options.rejectUnauthorized = o.rejectUnauthorized;
    if (o.maxPayload !== undefined) options.maxPayload = o.maxPayload;
    return options;
  }

  /** A URL/protocol/header provider threw or gave something invalid. */
  private _providerFailed(cause: unknown): void {
    if (cause instanceof SteadySocketError && cause.code.startsWith('INVALID_')) {
      // A provider that returns nonsense will not get better by retrying.
      this._emitError(cause);
      this._finish(cause);
      return;
    }
    this._attemptFailed(
      cause instanceof SteadySocketError
        ? cause
        : new SteadySocketError('CONNECT_FAILED', `The url, protocols or headers provider failed: ${String((cause as Error)?.message ?? cause)}`, cause),
    );
  }

  /** An attempt that never produced a transport failed. */
  private _attemptFailed(error: SteadySocketError): void {
    const id = this._attemptId;
    this._emitError(error);
    // An error listener may have closed the client or started another attempt.
    if (this._superseded(id)) return;
    this._afterClose({ code: 1006, reason: '', wasClean: false, attempt: 0, error });
  }

  private _connectTimedOut(id: number): void {
    this._attemptTimer = undefined;
    if (id !== this._attemptId || this._state !== 'connecting') return;
    const error = new SteadySocketError(
      'CONNECT_TIMEOUT',
      `No connection within ${this._opts.connectTimeout} ms (connectTimeout).`,
    );
    const conn = this._conn;
    if (conn) this._fail(conn, error);
    else {
      this._attemptId++;
      this._attemptFailed(error);
    }
  }

  /** @internal The connection seam (connection.ts). */
  _onOpen(conn: Connection<In>): void {
    if (conn !== this._conn || this._state !== 'connecting') return;
    if (this._opts.unref) conn.unref();
    const protocol = conn.protocol;
    const mismatch = negotiationError(conn.offered, protocol);
    if (mismatch) {
      this._fail(conn, mismatch);
      return;
    }
    conn.codec = codecFor(protocol, this._opts.codecs, this._opts.codec) as Codec<In, unknown> | undefined;
    const ready = this._opts.ready;
    if (!ready) {
      this._becomeOpen(conn);
      return;
    }
    const step = (conn.ready = new ReadyStep<In>());
    const context: ReadyContext<In, Out> = {
      send: (data) => {
        // Never into a socket that left OPEN (a close frame arrived): the write would be lost.
        if (conn !== this._conn || conn.released || conn.socket.readyState !== OPEN) throw connectionClosed();
        const wire = conn.codec ? this._encode(conn.codec as Codec<In, Out>, data) : (data as unknown as WireData);
        conn.send(wire);
        this._messagesOut++;
        this._bytesOut += Math.max(0, typeof wire === 'string' ? stringBytes(wire) : wireSize(wire));
      },
      next: () => step.next(connectionClosed),
      protocol,
      url: redactUrl(conn.url),
      signal: step.abort.signal,
    };
    let result: void | Promise<void>;
    try {
      result = ready(context);
    } catch (error) {
      this._readyFailed(conn, error);
      return;
    }
    Promise.resolve(result).then(
      () => {
        if (conn === this._conn && this._state === 'connecting') this._becomeOpen(conn);
      },
      (error) => this._readyFailed(conn, error),
    );
  }

  private _readyFailed(conn: Connection<In>, cause: unknown): void {
    if (conn !== this._conn || this._state !== 'connecting') return;
    const message = cause instanceof Error ? cause.message : String(cause);
    this._fail(conn, new SteadySocketError('READY_FAILED', `The ready step failed: ${message}`, cause));
  }

  private _becomeOpen(conn: Connection<In>): void {
    this._disarm('_attemptTimer');
    conn.opened = true;
    conn.openedAt = Date.now();
    conn.ready?.finish();
    const attempt = this._failures;
    this._opens++;
    if (!this._transition('open')) return;
    this._armHeartbeat(conn);
    this._flush();
    if (conn === this._conn && this._state === 'open') {
      this.emit('open', { url: redactUrl(conn.url), protocol: conn.protocol, attempt });
    }
  }

  /** @internal The connection seam (connection.ts). */
  _onMessage(conn: Connection<In>, data: RawMessage, bytes: number): void {
    if (conn !== this._conn) return;
    if (conn.liveness) sawActivity(conn.liveness);
    this._messagesIn++;
    this._bytesIn += bytes >= 0 ? bytes : stringBytes(data as string);
    let value: In;
    const codec = conn.codec;
    if (codec) {
      try {
        value = codec.decode(data);
      } catch (cause) {
        this._emitError(new SteadySocketError('DECODE_FAILED', `A message could not be decoded: ${(cause as Error)?.message ?? cause}`, cause));
        return;
      }
    } else value = data as unknown as In;
    const heartbeat = this._opts.heartbeat;
    if (heartbeat?.isPong && this._isPong(heartbeat.isPong, value)) {
      this._onPong(conn);
      return;
    }
    conn.ready?.offer(value);
    this.emit('message', value);
  }

  private _isPong(isPong: (message: In) => boolean, value: In): boolean {
    try {
      return isPong(value);
    } catch {
      return false;
    }
  }

  /** @internal The connection seam (connection.ts). */
  _onError(conn: Connection<In>, raw: SteadySocketError): void {
    if (conn !== this._conn) return;
    // Runtimes put the URL (token included) or a header value into their messages.
    const error = scrubbed(raw, conn.url, conn.headers);
    conn.error ??= error;
    // An error during the final close (e.g. closing while still connecting) is expected.
    if (!this._final) this._emitError(error);
    // A close event should follow at once; some runtimes (Node 22's undici) never send it for a
    // refused connection, which would stall the attempt until connectTimeout.
    if (!conn.opened && conn === this._conn && !conn.released && this._closeTimer === undefined) {
      this._arm('_closeTimer', () => this._abandon(conn, 1006, ''), CLOSE_AFTER_ERROR_MS);
    }
  }

  /** @internal The connection seam (connection.ts). */
  _onClose(conn: Connection<In>, code: number, reason: string, wasClean: boolean): void {
    if (conn !== this._conn) return;
    this._release(conn);
    const error =
      conn.error ??
      (conn.opened || this._final || this._forceReconnect
        ? undefined
        : new SteadySocketError('CONNECT_FAILED', `The connection closed before it opened (code ${code}).`, undefined, { closeCode: code }));
    if (error && !conn.error && !this._final) this._emitError(error);
    this._afterClose({ code, reason, wasClean, attempt: 0, error, status: error?.status });
  }

  /**
   * The socket left OPEN while the client is still `open`: a close frame arrived (or TCP is
   * going) and its close event has not come yet. Nothing more is written to it; if the server
   * never ends TCP, the socket is dropped after closeTimeout (RFC 6455 §7.1.1 lets the client
   * close the TCP connection).
   */
  private _onSocketClosing(conn: Connection<In>): void {
    if (this._closeTimer !== undefined || conn.released) return;
    this._log('the server started closing: holding new messages for the next connection');
    this._arm('_closeTimer', () => this._abandon(conn, 1006, 'close timed out'), this._opts.closeTimeout);
  }

  /** Gives up on a connection because of a local decision (timeout, bad negotiation, failed ready step). */
  private _fail(conn: Connection<In>, error: SteadySocketError): void {
    conn.error = error;
    this._emitError(error);
    this._abandon(conn, 1006, error.message);
  }

  /** Drops a connection without waiting for its close event and carries on as if it had closed. */
  private _abandon(conn: Connection<In>, code: number, reason: string): void {
    if (conn !== this._conn || conn.released) return;
    this._release(conn);
    conn.abort();
    this._afterClose({ code, reason, wasClean: false, attempt: 0, error: conn.error, status: conn.error?.status });
  }

  /** Detaches a finished connection and everything that belonged to it. */
  private _release(conn: Connection<In>): void {
    conn.detach();
    this._clearConnectionTimers();
    this._disarm('_closeTimer');
    if (conn.opened) this._connectedTime = (this._connectedTime ?? 0) + Date.now() - conn.openedAt;
    conn.ready?.fail(connectionClosed);
  }

  /** Decides what follows the end of a connection or attempt. */
  private _afterClose(info: CloseInfo): void {
    if (this._state === 'closed') return;
    if (info.error && info.error.closeCode === undefined) info.error.closeCode = info.code;
    if (this._final) {
      this.emit('close', info);
      this._finish();
      return;
    }
    if (!this._forceReconnect) info.attempt = this._failures = countFailure(this._failures, this._conn, Date.now(), this._opts.stableAfter);
    const id = this._attemptId;
    this.emit('close', info);
    if (this._tookOver(id)) return;

    let retry: boolean;
    try {
      retry = (this._opts.shouldReconnect ?? defaultShouldReconnect)(info);
    } catch (cause) {
      this._emitError(new SteadySocketError('INVALID_OPTION', 'shouldReconnect threw; not reconnecting.', cause));
      retry = false;
    }
    if (this._tookOver(id)) return;
    const plan = planRetry(info, retry, this._opts, Date.now());
    if (plan.kind === 'stop') {
      this._log(`not reconnecting after code ${info.code}${info.status ? ` (HTTP ${info.status})` : ''}`);
      this._finish(info.error);
    } else if (plan.kind === 'exhausted') {
      const error = new SteadySocketError(
        'RETRIES_EXHAUSTED',
        `Gave up after ${info.attempt} failed attempt${info.attempt === 1 ? '' : 's'} (maxRetries ${this._opts.maxRetries}).`,
        info.error,
      );
      this._emitError(error);
      this._finish(error);
    } else {
      if (!this._conn?.opened) this._urlIndex++; // fail over to the next URL; stay on one that worked
      this._scheduleRetry(plan.delay, info);
    }
  }

  /** A listener or hook closed the client, or started another attempt, since attempt `id` ended. */
  private _superseded(id: number): boolean {
    return this._state === 'closed' || id !== this._attemptId || this._final !== undefined;
  }

  /**
   * After user code ran (a listener, shouldReconnect): true when it decided what happens next,
   * by closing the client, starting another attempt, or asking for a reconnect (started here).
   */
  private _tookOver(id: number): boolean {
    if (this._superseded(id)) return true;
    if (!this._forceReconnect) return false;
    this._forceReconnect = false;
    if (this._state === 'open' && !this._transition('closing')) return true;
    if (this._transition('connecting')) this._connect();
    return true;
  }

  private _scheduleRetry(delay: number, cause: CloseInfo): void {
    if (!this._transition('waiting')) return;
    // Keep no part of the finished attempt while waiting: its socket, request and error would
    // otherwise stay on the heap until the next attempt.
    if (this._conn) {
      this._lastUrl = this._conn.url;
      this._conn = undefined;
    }
    if (this._suspended) {
      this._log('page hidden: waiting for it to be shown again');
      this.emit('reconnecting', { attempt: cause.attempt, delay: Infinity, offline: false, cause });
      return;
    }
    const offline = this._isOffline();
    // Offline, the `online` event triggers the attempt; navigator.onLine has false negatives
    // (VMs, captive setups), so a slow fallback attempt still happens after maxDelay.
    if (offline) delay = Math.max(delay, this._opts.maxDelay);
    this._log(offline ? `offline: waiting for the network (at most ${delay} ms)` : `retry ${cause.attempt} in ${delay} ms`);
    this._armRetry(delay);
    this.emit('reconnecting', { attempt: cause.attempt, delay, offline, cause });
  }

  private _armRetry(delay: number): void {
    this._arm(
      '_attemptTimer',
      () => {
        this._attemptTimer = undefined;
        if (this._transition('connecting')) this._connect();
      },
      delay,
    );
  }

  /**
   * Enters `closed` for good: timers cleared, socket dropped, listeners of ours removed, then
   * every queued message rejected with `CLOSED` (its cause saying why the client ended). The
   * state changes first, so a listener that sends meanwhile is refused instead of refilling
   * the outbox.
   */
  private _finish(cause?: SteadySocketError): void {
    if (this._state === 'closed') return;
    this._clearTimers();
    this._removeSignals?.();
    this._removeSignals = undefined;
    const conn = this._conn;
    if (conn) {
      conn.detach();
      conn.abort();
    }
    // From here every method refuses or returns: no listener can arm a timer again.
    this._transition('closed');
    const left = this._outbox ? this._outbox.drain() : [];
    for (const entry of left) this._dropped(entry, 'closed', cause);
    if (this._drainWaiters) for (const waiter of this._drainWaiters.splice(0)) waiter.reject(closedError(cause));
    if (this._closed) this._closed.resolve();
    else this._closed = { promise: Promise.resolve(), resolve() {} };
  }

  // ---------------------------------------------------------------- outbox

  private _enqueue(
    data: Out,
    settle: { resolve(): void; reject(error: unknown): void } | undefined,
    signal: AbortSignal | undefined,
  ): OutboxEntry<Out> | undefined {
    if (this._state === 'closed' || this._final) throw closedError();
    if (signal?.aborted) {
      settle?.reject(new SteadySocketError('MESSAGE_WITHDRAWN', DROP_TEXT.withdrawn, signal.reason));
      return undefined;
    }
    // Encode now with the codec the next connection most likely uses: it validates the message
    // at once and sizes it. A different codec at flush time encodes it again.
    const codec = (this._writable()?.codec as Codec<In, Out> | undefined) ?? this._likelyCodec();
    const wire = codec ? this._encode(codec, data) : data;
    const size = wireSize(wire);
    if (size < 0) throw invalidMessage(wire);
    const ttl = this._opts.ttl;
    const entry: OutboxEntry<Out> = {
      value: data,
      wire,
      codec,
      size,
      expires: ttl === Infinity ? Infinity : Date.now() + ttl,
      resolve: settle?.resolve,
      reject: settle?.reject,
      queued: false,
    };
    // The resolved options carry maxMessages, maxBytes and overflow: no limits object per client.
    this._outbox ??= new Outbox<Out>(this._opts, (dropped, reason) => this._dropped(dropped, reason));
    // drop-oldest reports what it evicted after `entry` is in: a drop listener that closes the
    // client then finds (and rejects) this message too.
    if (!this._outbox.push(entry)) {
      if (this._opts.overflow === 'error') {
        const error = new SteadySocketError('QUEUE_OVERFLOW', DROP_TEXT.overflow);
        if (settle) {
          settle.reject(error);
          return undefined;
        }
        throw error;
      }
      this._dropped(entry, 'overflow');
      return undefined;
    }
    if (!entry.queued || this.state === 'closed') return undefined;
    if (ttl !== Infinity && this._expiryTimer === undefined) this._scheduleExpiry(ttl);
    if (this._state === 'open') this._flush();
    return entry;
  }

  /**
   * The connection messages go to now: open, not yet released, and its socket still OPEN.
   * Between a socket closing and the state leaving `open`, `close` listeners run; and a socket
   * turns CLOSING as soon as the server's close frame arrives, long before its close event
   * (WHATWG: `send()` then discards the data). What is sent meanwhile must be queued.
   */
  private _writable(): Connection<In> | undefined {
    const conn = this._conn;
    if (this._state !== 'open' || !conn || conn.released) return undefined;
    if (conn.socket.readyState === OPEN) return conn;
    this._onSocketClosing(conn);
    return undefined;
  }

  /** The codec of the first offered subprotocol that has one, when protocols are static. */
  private _likelyCodec(): Codec<In, Out> | undefined {
    const { codecs, codec, protocols } = this._opts;
    if (!codecs) return codec;
    const list = typeof protocols === 'string' ? [protocols] : Array.isArray(protocols) ? protocols : [];
    for (const protocol of list) if (codecs[protocol]) return codecs[protocol];
    return codec;
  }

  private _flush(): void {
    const conn = this._writable();
    if (!conn) return;
    const outbox = this._outbox;
    const limit = this._opts.highWaterMark;
    const now = Date.now();
    while (outbox && outbox.size > 0) {
      if (conn.bufferedAmount > limit) {
        this._watchDrain();
        return;
      }
      const entry = outbox.shift(now);
      if (!entry) break;
      if (this._state !== 'open' || this._conn !== conn) {
        // A drop listener (an expired message) closed or reconnected: keep this one for later.
        // (Only our own calls change the socket's readyState within this loop; it was OPEN above.)
        outbox.restore(entry);
        return;
      }
      let wire = entry.wire as WireData;
      let size = entry.size;
      const codec = conn.codec as Codec<In, Out> | undefined;
      if (entry.codec !== codec) {
        try {
          wire = codec ? this._encode(codec, entry.value) : (entry.value as unknown as WireData);
          size = wireSize(wire);
          if (size < 0) throw invalidMessage(wire);
        } catch (cause) {
          this._dropped(entry, 'encode-failed', cause);
          if (this._writable() !== conn) return;
          continue;
        }
      }
      conn.send(wire);
      this._messagesOut++;
      this._bytesOut += size;
      entry.resolve?.();
    }
    if (this._drainWaiters?.length) this._watchDrain();
  }

  private _isDrained(): boolean {
    return !this._outbox?.size && (!this._conn || this._state !== 'open' || this._conn.bufferedAmount === 0);
  }

  /**
   * Waits until bufferedAmount is low again: polls (browsers have no drain event for WebSockets),
   * and where the transport reports its socket draining (ws), resumes at once on that.
   */
  private _watchDrain(): void {
    if (this._drainTimer !== undefined) return;
    const check = () => {
      this._disarm('_drainTimer');
      if (this._state === 'open' && this._outbox?.size) this._flush();
      if (this._isDrained() && this._state === 'open') {
        if (this._drainWaiters) for (const waiter of this._drainWaiters.splice(0)) waiter.resolve();
      } else if (this._state === 'open') this._watchDrain();
    };
    this._arm('_drainTimer', check, DRAIN_POLL_MS);
    const conn = this._conn;
    if (conn && !conn.drainListening) {
      conn.drainListening = conn.onDrain(() => {
        conn.drainListening = false;
        if (conn === this._conn && this._drainTimer !== undefined) check();
      });
    }
  }

  private _scheduleExpiry(delay: number): void {
    this._arm(
      '_expiryTimer',
      () => {
        this._expiryTimer = undefined;
        const next = this._outbox ? this._outbox.expire(Date.now()) : Infinity;
        // A drop listener may have closed the client, or queued a message that armed a timer.
        if (next !== Infinity && this._state !== 'closed' && this._expiryTimer === undefined) {
          this._scheduleExpiry(Math.max(1, next - Date.now()));
        }
      },
      delay,
    );
  }

  private _dropped(entry: OutboxEntry<Out>, reason: DropReason, cause?: unknown): void {
    const error = new SteadySocketError(DROP_CODES[reason], DROP_TEXT[reason], cause);
    entry.reject?.(error);
    this._log(`dropped a queued message: ${reason}`);
    if (reason === 'encode-failed') this._emitError(error);
    this.emit('drop', { data: entry.value, reason, error });
  }

  private _encode(codec: Codec<In, Out>, data: Out): WireData {
    try {
      return codec.encode(data);
    } catch (cause) {
      throw new SteadySocketError('ENCODE_FAILED', `The codec could not encode the message: ${(cause as Error)?.message ?? cause}`, cause);
    }
  }

  // ---------------------------------------------------------------- liveness

  /** Starts the heartbeat's interval on `conn` (the rules are in liveness.ts). */
  private _armHeartbeat(conn: Connection<In>): void {
    const heartbeat = this._opts.heartbeat;
    if (!heartbeat) return;
    startInterval((conn.liveness ??= createLiveness()), Date.now(), heartbeat);
    this._arm('_heartbeatTimer', () => this._heartbeatTick(), heartbeat.interval);
  }

  private _heartbeatTick(): void {
    this._heartbeatTimer = undefined;
    const heartbeat = this._opts.heartbeat!;
    const conn = this._conn;
    if (!conn || !conn.liveness || this._state !== 'open') return;
    const now = Date.now();
    const late = now - conn.liveness.due;
    switch (judge(conn.liveness, now, heartbeat)) {
      case 'rearm':
        this._armHeartbeat(conn);
        return;
      case 'grace':
        this._log(`heartbeat timeout ran ${late} ms late: waiting ${heartbeat.timeout} ms more for the pong`);
        this._arm('_heartbeatTimer', () => this._heartbeatTick(), heartbeat.timeout);
        return;
      case 'dead':
        this._fail(conn, new SteadySocketError('HEARTBEAT_TIMEOUT', `No sign of life for ${now - conn.liveness.pingAt} ms after a ping (heartbeat).`));
        return;
      case 'probe':
        if (late > heartbeat.interval) this._log(`timer fired ${late} ms late: the machine slept; checking the connection`);
        this._probe(conn);
    }
  }

  private _probe(conn: Connection<In>): void {
    const heartbeat = this._opts.heartbeat!;
    startProbe((conn.liveness ??= createLiveness()), Date.now(), heartbeat);
    try {
      if (this._writable() !== conn) {
        // Closing: no ping; the timeout below ends it if its close event never comes.
      } else if (heartbeat.ping) {
        const codec = conn.codec as Codec<In, Out> | undefined;
        const ping = heartbeat.ping();
        conn.send(codec ? this._encode(codec, ping) : (ping as unknown as WireData));
      } else if (conn.canPing) conn.ping();
    } catch (error) {
      this._emitError(error instanceof SteadySocketError ? error : new SteadySocketError('HEARTBEAT_TIMEOUT', 'Sending a ping failed.', error));
      if (conn !== this._conn || this._state !== 'open') return; // a listener closed or reconnected
    }
    this._arm('_heartbeatTimer', () => this._heartbeatTick(), heartbeat.timeout);
  }

  /** @internal The connection seam (connection.ts). */
  _onPong(conn: Connection<In>): void {
    if (conn !== this._conn || !conn.liveness) return;
    if (sawPong(conn.liveness, Date.now())) this._armHeartbeat(conn);
  }

  // ---------------------------------------------------------------- browser signals

  /** The URL the next attempt uses, unless a provider picks it. */
  private _listedUrl(): string | undefined {
    const urls = this._urls;
    return typeof urls === 'string' ? urls : typeof urls === 'function' ? undefined : urls[this._urlIndex % urls.length];
  }

  /** navigator.onLine says offline, for a host that needs the network (loopback never does). */
  private _isOffline(): boolean {
    return !this._opts.ignoreNetworkSignals && isOffline(globalThis as PageTarget, this._conn?.url ?? this._listedUrl());
  }

  /** Starts an attempt at once when waiting (the wait was for a network or a page that is back). */
  private _wake(why: string): void {
    if (this._state !== 'waiting' || this._isOffline()) return;
    this._log(`${why}: trying at once`);
    this._suspended = false;
    this._failures = 0;
    this._disarm('_attemptTimer');
    if (this._transition('connecting')) this._connect();
  }

  /** What the client does on each page signal (page-signals.ts subscribes them where a page exists). */
  private _pageHandlers(): PageSignalHandlers {
    return {
      online: () => this._wake('back online'),
      visible: () => this._wake('page visible again'),
      resume: () => {
        if (this._suspended) this._wake('page restored');
      },
      offline: () => {
        if (this._state === 'waiting' && !this._suspended && this._isOffline()) {
          this._armRetry(this._opts.maxDelay);
          this._log('offline: holding attempts until the network returns');
        } else if (this._state === 'open' && this._opts.heartbeat && this._conn && !this._conn.liveness?.probing) {
          this._probe(this._conn);
        }
      },
      // An open socket keeps a page out of the back/forward cache; let it go and come back on
      // pageshow. Script may close only with 1000 or 3000–4999 (WHATWG close() step 1), so the
      // server and the app both see 1000 'page hidden'.
      suspend: () => {
        if (this._final) return;
        this._suspended = true;
        const conn = this._conn;
        if (conn && !conn.released && (this._state === 'open' || this._state === 'connecting')) {
          this._release(conn);
          conn.close(1000, PAGE_HIDDEN);
          this._afterClose({ code: 1000, reason: PAGE_HIDDEN, wasClean: true, attempt: 0 });
        } else {
          this._disarm('_attemptTimer');
        }
      },
    };
  }

  // ---------------------------------------------------------------- plumbing

  /**
   * The one way a timer is made: armed in `slot`, clearing the one it held. `Infinity` leaves the
   * slot empty (never fires); any other delay is clamped to what timers can take (a larger one
   * would fire after ~1 ms). Unref'd when asked.
   */
  private _arm(slot: TimerSlot, fn: () => void, ms: number): void {
    clearTimeout(this[slot]);
    if (ms === Infinity) {
      this[slot] = undefined;
      return;
    }
    const timer = setTimeout(fn, timerDelay(ms));
    if (this._opts.unref) (timer as { unref?: () => void }).unref?.();
    this[slot] = timer;
  }

  private _disarm(slot: TimerSlot): void {
    // Only a slot that held a timer is written: a client never given one carries no field for it.
    if (this[slot] === undefined) return;
    clearTimeout(this[slot]);
    this[slot] = undefined;
  }

  private _clearConnectionTimers(): void {
    this._disarm('_attemptTimer');
    this._disarm('_drainTimer');
    this._disarm('_heartbeatTimer');
  }

  private _clearTimers(): void {
    this._clearConnectionTimers();
    this._disarm('_closeTimer');
    this._disarm('_expiryTimer');
  }

  private _emitError(error: SteadySocketError): void {
    this._log(`error ${error.code}: ${error.message}`);
    this.emit('error', error as AnySteadySocketError);
  }

  private _log(line: string): void {
    this._opts.debug?.(`[steadysocket] ${line}`);
  }
}

const PAGE_HIDDEN = 'page hidden';

/** Options only ws (Node) understands: a WHATWG constructor has no way to take them. */
const NODE_ONLY = ['headers', 'origin', 'agent', 'ca', 'cert', 'key', 'passphrase', 'rejectUnauthorized', 'perMessageDeflate', 'maxPayload'] as const;

/** The error with every secret of its connection (URL userinfo and query values, header values) scrubbed. */
function scrubbed(error: SteadySocketError, url: string, headers: Record<string, string> | undefined): SteadySocketError {
  const scrub = secretScrubber(url, headers);
  error.message = scrub(error.message);
  if (error.stack) error.stack = scrub(error.stack);
  if (error.cause !== undefined) (error as { cause?: unknown }).cause = scrubCause(error.cause, scrub);
  return error;
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

function closedError(cause?: unknown): SteadySocketError {
  return new SteadySocketError('CLOSED', 'The socket is closed for good: create a new SteadySocket to connect again.', cause);
}

function connectionClosed(): SteadySocketError {
  return new SteadySocketError('CONNECTION_CLOSED', 'This connection closed before the ready step finished.');
}

function invalidMessage(data: unknown): SteadySocketError {
  return new SteadySocketError(
    'INVALID_MESSAGE',
    `Cannot send ${describeValue(data)}: send a string, ArrayBuffer, typed array or Blob, or configure a codec.`,
  );
}

function describeValue(data: unknown): string {
  if (data === null || data === undefined) return String(data);
  if (Array.isArray(data)) return 'an array';
  const type = typeof data;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

const NON_ASCII = /[^\x00-\x7f]/;

/** UTF-8 bytes of a string, with a native fast path for ASCII. */
function stringBytes(text: string): number {
  return NON_ASCII.test(text) ? utf8Length(text) : text.length;
}
