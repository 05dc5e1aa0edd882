import { provide, socketOptions, type AttemptParts } from './attempt';
import { ClientBase } from './client-base';
import { askShouldReconnect, type CloseInfo } from './close-policy';
import type { Codec, RawMessage, WireData } from './codecs';
import { causeText, SteadySocketError } from './errors';
import { abortSocket, clock, closeSocket, detach, openSocket, protocolOf } from './connection';
import { TRANSITIONS, type ReconnectingInfo, type State } from './events';
import type { Feature, FeatureHooks } from './feature';
import { forgetOptions, resolveOptions, type ResolvedOptions, type SteadySocketOptions, type UrlSource } from './options';
import { countFailure, planRetry } from './retry';
import { checkClose, codecFor, negotiationError, validateProtocols } from './protocol';
import { defaultWebSocket, inspectable, providerError, scrubbed, unref } from './platform';
import { closedError } from './send';
import { OPEN, released, type Transport } from './transport';
import { normalizeSource, redactUrl } from './url';

const CLOSE_AFTER_ERROR_MS = 1000;
/** Shared by every attempt that offers no subprotocol; never mutated. */
const NONE: readonly string[] = [];

/** What close() returns and records: the promise, settled by `resolve` once the client is done. */
function finalClose(code: number, reason: string): NonNullable<ClientBase<unknown, unknown>['_final']> {
  let resolve!: () => void;
  const promise = new Promise<void>((settle) => (resolve = settle));
  return { code, reason, promise, resolve };
}

/** The attempt's socket closed (or was given up on while closing) before it opened. */
function closedBeforeOpen(code: number): SteadySocketError {
  return new SteadySocketError('CONNECT_FAILED', `The connection closed before it opened (code ${code}).`, undefined, { closeCode: code });
}

/**
 * A WebSocket client that reconnects, queues what it cannot send yet, and reports every
 * failure as a typed event. `In` is what `message` delivers, `Out` what `send` accepts.
 * Heartbeat, page signals, the ready step and the rest are opt-in features (the `use` option).
 */
export class SteadySocket<const In = RawMessage, const Out = WireData> extends ClientBase<In, Out> {
  // Fields: see the memory-layout note in client-base.ts (the state, the socket and the outbox are there).
  /** One URL, URLs to fail over between, or a provider called per attempt. */
  private readonly _urls: string | readonly string[] | (() => string | URL | Promise<string | URL>);
  /** @internal Set by the debug feature. */
  _log?: (line: string) => void;

  /** When the current connection opened (`clock()`, a small integer); absent until it does. */
  private _openedAt?: number;
  /** The URL of the current or last connection, when it is not `_urls` itself (a list or a provider). */
  private _url?: string;
  /** Identifies the current attempt; async steps of a superseded one see a different number. */
  private _attemptId = 0;
  /** Failed attempts in a row since the last stable connection (absent: none yet). */
  private _failures?: number;
  /** Which of the listed URLs the next attempt uses (absent: the first). */
  private _urlIndex?: number;
  /** reconnect() is closing the socket to open a new one. */
  private _forceReconnect?: boolean;

  /**
   * Creates the client and starts connecting at once. Throws a {@link SteadySocketError}
   * synchronously for a bad URL, bad subprotocols or bad options.
   */
  constructor(url: UrlSource, options?: SteadySocketOptions<In, Out>) {
    // Other clients' (url, protocols, options) would lose the options without a word: refused as a bad second argument.
    const opts = resolveOptions(arguments[2] === undefined ? options : (0 as never));
    super(opts);
    this._urls = normalizeSource(url);
    if (typeof opts.protocols !== 'function') validateProtocols(opts.protocols);
    if (!opts.WebSocket) defaultWebSocket(); // throws NO_WEBSOCKET now rather than at the first attempt
    if (opts.use?.length) {
      const hooks: FeatureHooks<In, Out>[] = [];
      this._hooks = hooks;
      try {
        for (const feature of opts.use) {
          const made = (feature as Feature<In, Out>)(this);
          if (made) hooks.push(made);
          if (made?.holdsWrites) this._track = true;
        }
      } catch (error) {
        // The constructor throws: what the features before took (page listeners) is given back,
        // and the client that never was counts as closed (persist() lets the next client have its
        // store, and never loads or saves it for this one).
        this._state = 'closed';
        forgetOptions(opts);
        for (const made of hooks) made.finish?.();
        throw error;
      }
    }
    // Start on the next microtask so listeners attached right after `new` see every event. A
    // promise job, not queueMicrotask: the same queue and order, but a test's fake clock that fakes
    // queueMicrotask (Jest's does) does not hold the first attempt until the test moves the clock.
    // It is feature.ts's `later` written out: importing it made the core bundle 6 B bigger.
    void Promise.resolve().then(() => {
      if (this._state === 'connecting' && !this._attemptId) this._connect();
    });
  }

  /** The current state. */
  get state(): State {
    return this._state;
  }

  /** The negotiated subprotocol of the open connection ('' when none or not open). */
  get protocol(): string {
    return this._state === 'open' ? protocolOf(this._conn!) : '';
  }

  /** The URL of the current or last connection, redacted (user name, password and query values read `***`): safe to log. */
  get url(): string | undefined {
    const url = this._currentUrl;
    return url === undefined ? undefined : redactUrl(url);
  }

  /** @internal The URL of the current or last connection, unredacted. */
  get _currentUrl(): string | undefined {
    return this._url ?? this._listedUrl();
  }

  /**
   * What `JSON.stringify(socket)` gives (a logger, a store's devtools, an error reporter's
   * context): the state, the redacted URL, the subprotocol and the number of queued messages.
   * Never a field of its own: they hold the URL, the options and the messages, secrets included.
   */
  toJSON(): { state: State; url: string | undefined; protocol: string; queued: number } {
    return { state: this._state, url: this.url, protocol: this.protocol, queued: this._outbox?.size ?? 0 };
  }

  /**
   * Drops the current connection (closing it with 1000 `'reconnect'`) and connects again at once,
   * with the backoff reset; while waiting, skips the rest of the wait. Throws `CLOSED` once
   * `close()` was called (or the client ended by itself).
   */
  reconnect(): void {
    this._checkLive();
    this._failures = undefined;
    const socket = this._conn;
    const state = this._state;
    if (state === 'closing') return; // a reconnect is already under way
    if (socket && (state === 'open' || state === 'connecting')) {
      this._forceReconnect = true;
      // Called while the end of this connection is being handled (a close or error listener):
      // _afterClose starts the new attempt once the listeners have run.
      if (released(socket)) return;
      this._clearTimers();
      if (this._transition('closing')) this._closeConn(socket, 1000, 'reconnect');
    } else {
      // Waiting, or connecting while a URL/protocol provider runs: start over at once.
      this._wake();
    }
  }

  /**
   * Closes for good: no reconnects, queued messages are dropped (`CLOSED`). The promise settles
   * once the socket is closed and every timer is cleared (with `persist()`, once the store saved
   * what was dropped, or after `closeTimeout`). Calling it again returns the same promise. Throws
   * `INVALID_OPTION` for a code other than 1000 or 3000–4999, or a reason over 123 UTF-8 bytes.
   */
  close(code = 1000, reason = ''): Promise<void> {
    checkClose(code, reason);
    // Once closed (by itself too), _finish has made it: the same promise.
    if (this._final) return this._final.promise;
    const { promise } = (this._final = finalClose(code, reason));
    this._clearTimers();
    const socket = this._conn;
    // State first: a socket that fires `close` synchronously (test doubles, some polyfills)
    // must find the client already closing.
    if (socket && !released(socket) && this._state !== 'waiting') {
      if (this._transition('closing')) this._closeConn(socket, code, reason);
    } else {
      this._finish();
    }
    return promise;
  }

  /** `await using socket = new SteadySocket(...)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------- state machine

  /**
   * Moves to `next` and emits `state`. Returns false when a listener moved the client on (e.g.
   * called close()), in which case the caller must stop what it was doing.
   */
  private _transition(next: State): boolean {
    const previous = this._state;
    if (previous === next) return true;
    if (!TRANSITIONS[previous].includes(next)) throw new Error(`steadysocket internal error: ${previous} -> ${next}`);
    this._state = next;
    this.emit('state', next, previous);
    return this._state === next;
  }

  /** Starts an attempt: resolves URL, protocols and headers (maybe async), then opens a socket. */
  private _connect(): void {
    const id = ++this._attemptId;
    const previous = this._conn;
    if (previous && !released(previous)) {
      // Normally released already; make sure no superseded socket stays attached or open.
      this._release(previous);
      abortSocket(previous);
    }
    this._forget();
    let held: CloseInfo | void = undefined;
    for (const hooks of this._hooks) held = hooks.holds?.() || held;
    // A feature holds attempts (the page is in the back/forward cache): wait until it wakes us.
    if (held) return this._scheduleRetry(Infinity, held);
    for (const hooks of this._hooks) hooks.connecting?.();
    this._armState(() => this._connectTimedOut(id), this._opts.connectTimeout);
    // A provider may close the client or start another attempt (reconnect()): then this one is over.
    const current = () => id === this._attemptId && this._state === 'connecting';
    const failed = (cause: unknown) => current() && this._armState(() => this._providerFailed(cause), 0);
    let parts;
    try {
      parts = provide(typeof this._urls === 'function' ? this._urls : undefined, this._listedUrl(), this._opts as ResolvedOptions<unknown, unknown>);
    } catch (cause) {
      failed(cause);
      return;
    }
    if (!(parts instanceof Promise)) {
      if (current()) this._open(parts);
      return;
    }
    parts.then((ready) => current() && this._open(ready), failed);
  }

  /**
   * Arms the state's timer (cleared by every close() and reconnect()). An attempt that failed
   * before it had a socket ends on it too (0 ms), never inside the call that started it: a
   * listener that starts another attempt at once (reconnect()) then neither recurses into it nor
   * keeps the microtask queue busy.
   */
  private _armState(fn: () => void, ms: number): void {
    this._arm(
      this,
      () => {
        this._stateTimer = undefined;
        fn();
      },
      ms,
      '_stateTimer',
    );
  }

  private _open({ url, offered, headers }: AttemptParts): void {
    try {
      const ctor = this._opts.WebSocket ?? defaultWebSocket();
      // The client receives the socket's events (its internal _on* members; checked by shape).
      this._conn = openSocket(this, ctor, url, offered, socketOptions(ctor, this._opts as ResolvedOptions<unknown, unknown>, headers), this._opts.binaryType);
      // One URL is `_urls` itself: not kept twice.
      if (url !== this._urls) this._url = url;
      this._log?.(`connecting to ${redactUrl(url)}`);
      if (offered.length || headers) this._attempt = { offered: offered.length ? offered : undefined, headers };
      // Also while connecting and closing: the handshake's TCP socket and ws's close timer.
      if (this._opts.unref) unref(this._conn);
    } catch (error) {
      // The constructor refused the URL itself (a browser's SecurityError for mixed content or a
      // blocked port, a SyntaxError): the same call will fail again, so this ends the client.
      this._armState(() => this._attemptFailed(scrubbed(error as SteadySocketError, url, headers), true), 0);
    }
  }

  /** A URL/protocol/header provider threw or gave something invalid. */
  private _providerFailed(cause: unknown): void {
    // A provider that returns nonsense will not get better by retrying.
    if (cause instanceof SteadySocketError && cause.code.startsWith('INVALID_')) return this._attemptFailed(cause, true);
    // What the provider itself threw is CONNECT_FAILED already (attempt.ts), another client's
    // SteadySocketError too; anything else is wrapped here.
    const error = cause instanceof SteadySocketError ? cause : providerError(cause);
    // The application's function may quote the URL or a header value in what it threw.
    const url = this._currentUrl;
    const headers = this._opts.headers;
    this._attemptFailed(url === undefined ? error : scrubbed(error, url, typeof headers === 'object' ? headers : undefined));
  }

  /**
   * An attempt that never produced a socket failed. `fatal`: its answer was refused (the same
   * call would fail again), so the client ends after the attempt's `close`, whatever the policy.
   */
  private _attemptFailed(error: SteadySocketError, fatal?: boolean): void {
    const id = this._attemptId;
    this._emitError(error);
    // An error listener may have closed the client or started another attempt.
    if (!this._superseded(id)) this._afterClose({ code: 1006, reason: '', wasClean: false, attempt: 0, error }, fatal);
  }

  private _connectTimedOut(id: number): void {
    if (id !== this._attemptId || this._state !== 'connecting') return;
    const error = new SteadySocketError('CONNECT_TIMEOUT', `No connection within ${this._opts.connectTimeout} ms (connectTimeout).`);
    const socket = this._conn;
    if (socket) this._fail(socket, error);
    else {
      this._attemptId++;
      this._attemptFailed(error);
    }
  }

  /** @internal The connection seam (connection.ts). */
  _onOpen(socket: Transport): void {
    if (socket !== this._conn || this._state !== 'connecting') return;
    const protocol = protocolOf(socket);
    const mismatch = negotiationError(this._attempt?.offered ?? NONE, protocol);
    if (mismatch) return this._fail(socket, mismatch);
    const codec = codecFor(protocol, this._opts.codecs, this._opts.codec);
    if (codec) this._codec = codec as Codec<In, unknown>;
    let gate: Promise<void> | undefined;
    const current = () => socket === this._conn && this._state === 'connecting';
    for (const hooks of this._hooks) {
      // The first step starts at once; a throw becomes a rejection. A later one runs only while
      // the connection is still the one opening.
      if (hooks.opening) gate = gate ? gate.then(() => (current() ? hooks.opening!(socket) : undefined)) : new Promise<void>((resolve) => resolve(hooks.opening!(socket)));
    }
    if (!gate) return this._becomeOpen(socket);
    gate.then(
      // A socket the server started closing meanwhile never opens: its close event ends the
      // attempt, or connectTimeout, or (connectTimeout Infinity) closeTimeout from now, as when open.
      () => {
        if (!current()) return;
        if (socket.readyState === OPEN) return this._becomeOpen(socket);
        this._watchClosing(socket);
      },
      (error: SteadySocketError) => current() && this._fail(socket, error),
    );
  }

  private _becomeOpen(socket: Transport): void {
    this._disarm(this, '_stateTimer');
    if (this._attempt) this._disarm(this._attempt); // an error's fallback, should a runtime open after one
    this._openedAt = clock();
    const attempt = this._failures ?? 0;
    if (!this._transition('open')) return;
    for (const hooks of this._hooks) hooks.open?.(socket);
    this._flush();
    if (socket === this._conn && this._state === 'open') this.emit('open', { url: this.url!, protocol: protocolOf(socket), attempt });
  }

  /** @internal The connection seam (connection.ts). */
  _onMessage(socket: Transport, data: RawMessage, bytes: number): void {
    if (socket !== this._conn) return;
    // Per message: indexed loops (HOT_PATH in client-base.ts).
    let hooks = this._hooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].received?.(socket, data, bytes);
    let value: In;
    const codec = this._codec;
    if (codec) {
      try {
        value = codec.decode(data);
      } catch (cause) {
        return this._emitError(new SteadySocketError('DECODE_FAILED', `A message could not be decoded: ${causeText(cause)}`, cause));
      }
    } else value = data as unknown as In;
    hooks = this._hooks; // as it is now (ping() adds and removes its hooks)
    for (let i = 0; i < hooks.length; i++) if (hooks[i].message?.(value, socket)) return;
    this.emit('message', value);
  }

  /** @internal The connection seam (connection.ts). */
  _onPong(socket: Transport, data: Uint8Array): void {
    if (socket === this._conn) for (const hooks of this._hooks) hooks.pong?.(socket, data);
  }

  /** @internal The connection seam (connection.ts). */
  _onError(socket: Transport, raw: SteadySocketError): void {
    // Closing is our own close() or reconnect(): an error on the way (a handshake cut short) is expected.
    if (socket !== this._conn || this._state === 'closing') return;
    // Runtimes put the URL (token included) or a header value into their messages.
    const error = scrubbed(raw, this._currentUrl!, this._attempt?.headers);
    (this._attempt ??= {}).error ??= error;
    if (!this._final) this._emitError(error);
    // A close event should follow at once; some runtimes (Node 22's undici) never send it for a
    // refused connection, which would stall the attempt until connectTimeout.
    // Only while connecting, beside the connect timeout: whichever ends first ends the attempt.
    if (this._state === 'connecting' && socket === this._conn && !released(socket)) {
      this._arm(this._attempt!, () => this._abandon(socket, 1006, ''), CLOSE_AFTER_ERROR_MS);
    }
  }

  /** @internal The connection seam (connection.ts). */
  _onClose(socket: Transport, code: number, reason: string, wasClean: boolean): void {
    if (socket === this._conn) this._ended(socket, code, reason, wasClean);
  }

  /** Starts the closing handshake on `socket`; drops it if it does not finish within closeTimeout. */
  private _closeConn(socket: Transport, code: number, reason: string): void {
    closeSocket(socket, code, reason);
    if (socket === this._conn && !released(socket)) this._arm(this, () => this._abandon(socket, 1006, 'close timed out'), this._opts.closeTimeout, '_stateTimer');
  }

  /** @internal Gives up on a connection because of a local decision (timeout, bad negotiation, failed ready step). */
  _fail(socket: Transport, error: SteadySocketError): void {
    if (socket === this._conn) (this._attempt ??= {}).error = error;
    this._emitError(error);
    this._abandon(socket, 1006, error.message);
  }

  /** @internal Drops a connection without waiting for its close event and carries on as if it had closed. */
  _abandon(socket: Transport, code: number, reason: string): void {
    if (socket === this._conn && !released(socket)) this._ended(socket, code, reason, false, true);
  }

  /**
   * The current connection ended: by its close event, or abandoned (`abort`: dropped without
   * waiting for one). An attempt that ended before it opened, for no reason given yet and not by
   * our own close() or reconnect(), failed with CONNECT_FAILED.
   */
  private _ended(socket: Transport, code: number, reason: string, wasClean: boolean, abort?: boolean): void {
    const failure = this._attempt?.error;
    const opened = this._openedAt !== undefined;
    this._release(socket);
    if (abort) abortSocket(socket);
    const error = failure ?? (opened || this._final || this._forceReconnect ? undefined : closedBeforeOpen(code));
    if (error && !failure && !this._final) this._emitError(error);
    this._afterClose({ code, reason, wasClean, attempt: 0, error, status: error?.status });
  }

  /**
   * @internal Closes the current connection or attempt with `code` and waits (page signals: the
   * page entering the back/forward cache). The client's own decision, not a failure: no retry is
   * counted, and neither `shouldReconnect` nor `maxRetries` is asked.
   */
  _drop(code: number, reason: string): void {
    const socket = this._conn;
    if (this._final || !socket || released(socket) || (this._state !== 'open' && this._state !== 'connecting')) return;
    // Not a failure, but the end of this connection: one that stayed open for stableAfter ms
    // resets the count, as when it drops (the next failure is attempt 1).
    this._failures = countFailure(this._failures ?? 0, this._openedAt, clock(), this._opts.stableAfter) - 1;
    this._release(socket);
    closeSocket(socket, code, reason);
    const info: CloseInfo = { code, reason, wasClean: true, attempt: 0 };
    const id = this._attemptId;
    this.emit('close', info);
    if (!this._tookOver(id)) this._scheduleRetry(0, info);
  }

  /** Detaches a finished connection and everything that belonged to it. */
  private _release(socket: Transport): void {
    detach(socket);
    this._clearTimers();
    for (const hooks of this._hooks) hooks.closed?.(socket);
    // What acks() kept is back in the outbox: if nothing is left to write, flushed() is done now
    // (not at a drain poll on a later connection, which one that closes at once never reaches).
    this._settleFlushed();
  }

  /**
   * Forgets the current attempt: its socket and everything that belonged to it, so that nothing
   * leaks into the next attempt and nothing of a finished one stays on the heap while waiting.
   * A field is written only when set: the few clients that use one keep it (as undefined), and
   * the others never get it.
   */
  private _forget(): void {
    this._conn = undefined;
    if (this._openedAt !== undefined) this._openedAt = undefined;
    if (this._codec) this._codec = undefined;
    if (this._attempt) this._attempt = undefined;
  }

  /** Decides what follows the end of a connection or attempt. */
  private _afterClose(info: CloseInfo, fatal?: boolean): void {
    if (this._state === 'closed') return;
    if (info.error && info.error.closeCode === undefined) info.error.closeCode = info.code;
    if (this._final) {
      this.emit('close', info);
      return this._finish();
    }
    if (!this._forceReconnect) info.attempt = this._failures = countFailure(this._failures ?? 0, this._openedAt, clock(), this._opts.stableAfter);
    const id = this._attemptId;
    this.emit('close', info);
    if (this._tookOver(id)) return;
    const retry = !fatal && askShouldReconnect(this._opts.shouldReconnect, info);
    if (retry instanceof SteadySocketError) this._emitError(retry);
    if (this._tookOver(id)) return;
    const plan = planRetry(info, retry === true, this._opts, Date.now());
    // A close the policy does not reconnect after (its code, or shouldReconnect) gets an error of its
    // own when nothing failed: the cause of every CLOSED from now on says why the client ended.
    // A shouldReconnect that failed (its INVALID_OPTION, `retry` here) is what ended the client.
    if (plan.kind === 'stop') this._finish((retry as SteadySocketError | false) || info.error || new SteadySocketError('CONNECTION_CLOSED', `The connection closed with ${info.code}, which the client does not reconnect after.`, undefined, { closeCode: info.code }));
    else if (plan.kind === 'exhausted') {
      const error = new SteadySocketError('RETRIES_EXHAUSTED', `Gave up at failure ${info.attempt} (maxRetries ${this._opts.maxRetries}).`, info.error);
      this._emitError(error);
      // An error listener may have asked for a reconnect (or closed): its decision stands.
      if (!this._tookOver(id)) this._finish(error);
    } else {
      // Fail over to the next URL; stay on one that worked.
      if (Array.isArray(this._urls) && this._openedAt === undefined) this._urlIndex = (this._urlIndex ?? 0) + 1;
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
    this._startAttempt();
    return true;
  }

  /** Enters `connecting` and starts an attempt, unless a `state` listener already started one (or closed). */
  private _startAttempt(): void {
    // The finished socket goes first: a `state` listener's reconnect() then starts over (it would
    // otherwise leave its request for a close that was already handled, applied to the next one).
    if (this._conn && released(this._conn)) this._forget();
    const id = this._attemptId;
    if (this._transition('connecting') && id === this._attemptId) this._connect();
  }

  private _scheduleRetry(delay: number, cause: CloseInfo): void {
    // Keep no part of the finished attempt while waiting (its URL is in `_url` or `_urls`): its
    // socket, request and error would otherwise stay on the heap until the next attempt. Forgotten
    // before the state changes, so a `state` listener's reconnect() starts the next attempt at once.
    this._forget();
    if (!this._transition('waiting')) return;
    const info: ReconnectingInfo = { attempt: cause.attempt, delay, offline: false, cause };
    for (const hooks of this._hooks) hooks.waiting?.(info);
    this._retryIn(info.delay);
    this.emit('reconnecting', info);
  }

  /** @internal While waiting: the next attempt starts `delay` ms from now (Infinity: when woken). */
  _retryIn(delay: number): void {
    if (this._state === 'waiting') this._armState(() => this._startAttempt(), delay);
  }

  /** @internal Starts an attempt at once when waiting (or connecting without a socket yet), with the backoff reset. */
  _wake(): void {
    if (this._final || this._conn || (this._state !== 'waiting' && this._state !== 'connecting')) return;
    this._failures = undefined;
    this._clearTimers();
    this._startAttempt();
  }

  /**
   * Enters `closed` for good: timers cleared, socket dropped, features told, then every queued
   * message rejected with `CLOSED` (its cause saying why the client ended). The state changes
   * first, so a listener that sends meanwhile is refused instead of refilling the outbox.
   */
  private _finish(cause?: SteadySocketError): void {
    if (this._state === 'closed') return;
    // A client that ends by itself gets what close() returns now: a close() from a listener of
    // what follows (the state, the drops) waits as one from outside does.
    const final = (this._final ??= finalClose(1000, ''));
    final.cause ??= cause;
    // Nothing queued, unacknowledged or unwritten: what flushed() waits on is done, not dropped.
    // Kept: a flushed() called from now on says the same (the outbox is empty then either way).
    const dropped = (final.dropped = !this._isDrained());
    this._clearTimers();
    const socket = this._conn;
    if (socket) {
      detach(socket);
      abortSocket(socket);
    }
    // From here every method refuses or returns: no listener can arm a timer again.
    this._transition('closed');
    forgetOptions(this._opts);
    for (const hooks of this._hooks) {
      this._disarm(hooks);
      hooks.finish?.();
    }
    for (const entry of this._outbox ? this._outbox.drain() : []) this._dropped(entry, 'closed', cause);
    // Nothing was dropped: a flushed() still waiting (its check a microtask away) resolves.
    for (const waiter of this._drainWaiters?.splice(0) ?? []) if (dropped) waiter.reject(closedError(cause));
    else waiter.resolve();
    // What a feature still finishes (persist(): the save of those drops) holds close()'s promise.
    const ended = this._hooks.map((hooks) => hooks.ended?.()).filter(Boolean);
    if (!ended.length) final.resolve();
    else void Promise.all(ended).then(() => final.resolve());
  }

  // ---------------------------------------------------------------- plumbing

  /** The URL the next attempt uses, unless a provider picks it. */
  private _listedUrl(): string | undefined {
    const urls = this._urls;
    return typeof urls === 'string' ? urls : typeof urls === 'function' ? undefined : urls[(this._urlIndex ?? 0) % urls.length];
  }
}

inspectable(SteadySocket);
