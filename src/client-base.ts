/**
 * What the client writes, and the timers it owns: the base of {@link SteadySocket}. It holds the
 * state and the current socket, and everything between `send()` and that socket: the public
 * methods of the outbox (`send`, `deliver`, `flushed`, `clearOutbox`, `queued`,
 * `bufferedAmount`), the outbox itself, the backpressure check, the flush, the wait for a drain,
 * the close watchdog of a socket that left OPEN, and the one way a timer is armed. The state
 * machine that opens, closes and replaces sockets is the subclass (client.ts); its one part
 * needed here is `_abandon`.
 */
import { timerDelay } from './backoff';
import { wireSize, type Codec, type WireData } from './codecs';
import { SteadySocketError, type AnySteadySocketError } from './errors';
import type { DeliverOptions, State, SteadySocketEvents } from './events';
import type { FeatureHooks, TimerHolder } from './feature';
import { invalidOption, type ResolvedOptions } from './options';
import { Outbox, type OutboxDropReason, type OutboxEntry, type Settle } from './outbox';
import { ClientEmitter, onDrain } from './platform';
import { closedError, dropError, likelyCodec, own, toWire, withdrawOnAbort } from './send';
import { OPEN, released, type Transport } from './transport';

const DRAIN_POLL_MS = 10;
/** Shared by every client without features; never mutated. */
const NO_HOOKS: FeatureHooks<never, never>[] = [];

/*
 * HOT_PATH: the code that runs per message loops over `_hooks` by index, never `for...of`, and
 * keeps its locals out of closures. Until V8's top tier takes over (in Chromium, some ten thousand
 * messages after connecting), `for...of` allocates an iterator and a result object per loop, and
 * a local that any closure captures lives on the heap: about 100 B of garbage per echoed message
 * over an empty feature list (bench/alloc-chromium.mjs).
 */

/** Whether a feature keeps `this` entry once written (`some`'s thisArg: no closure per write). */
function keepsThis(this: OutboxEntry<unknown>, hooks: FeatureHooks<unknown, unknown>): boolean {
  return !!hooks.keeps?.(this);
}

/** What an attempt has beyond its socket, in the few clients whose attempts have any of it. @internal */
export interface AttemptExtras extends TimerHolder {
  /** The subprotocols offered (absent: none). */
  offered?: string[];
  /** Handshake headers (Node), kept to scrub their values from errors. */
  headers?: Record<string, string>;
  /** The first failure of this attempt's connection. */
  error?: SteadySocketError;
  /** A drain listener is on this attempt's socket (ws); set on the first wait for a drain. */
  drainListening?: boolean;
  // `timer` (TimerHolder): an error came without a close event; the attempt ends soon after.
}

/**
 * The fields that hold the client's own timers, and arming one clears what it held: the state's
 * timer (connect timeout while connecting, retry delay while waiting, the close watchdog while
 * open or closing: a transition clears it) and the drain poll. `_arm` reaches them by name, so
 * rollup.config.mjs keeps these names out of mangling. Features hold theirs in their hooks
 * object's `timer`.
 */
type TimerSlot = '_stateTimer' | '_drainTimer';

/** The state, the current socket, the send path and the timers of a {@link SteadySocket}: its base, not used on its own (its public members are documented on SteadySocket). */
export abstract class ClientBase<In, Out> extends ClientEmitter<SteadySocketEvents<In, Out>> {
  // Memory layout (bench/ measures heap per idle connection): a field with an initializer is
  // part of every client; a field without one appears only once it is first assigned. Give
  // initializers to what every open client sets, and leave rarely used state without.
  // There is no object per connection: the client holds the socket of the current attempt and
  // what belongs to it (`_openedAt`, `_codec`, `_attempt`), and forgets all of it in `_forget`
  // before the next attempt. A socket names its client while attached (transport.ts `OWNER`);
  // events of a superseded socket are told apart by identity.
  /** @internal */
  protected _state: State = 'connecting';
  /** @internal The socket of the current connection or attempt, or of the last one once closed (platform.ts watches its frames). */
  override _conn: Transport | undefined = undefined;
  /**
   * @internal Set by close() (or as the client ends by itself): the client is closing for good,
   * and what every close() returns. `cause`: the error that ended it by itself, the cause of every
   * CLOSED it throws from then on. `dropped`: the final close dropped messages (or left some
   * unacknowledged or unrestored), so flushed() rejects.
   */
  _final: { code: number; reason: string; promise: Promise<void>; resolve(): void; cause?: SteadySocketError | undefined; dropped?: boolean } | undefined;
  /** @internal What flushed() waits on. */
  protected _drainWaiters: { resolve(): void; reject(error: unknown): void }[] | undefined;

  // The client's own timers (see TimerSlot), cleared together in _finish.
  /** @internal */
  protected _stateTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** @internal */
  protected _drainTimer: ReturnType<typeof setTimeout> | undefined;

  /** @internal The codec of the negotiated subprotocol; absent for raw frames. */
  protected _codec?: Codec<In, unknown>;
  /** @internal The rest of what the current attempt has, when it has any (see AttemptExtras). */
  protected _attempt?: AttemptExtras;
  /** @internal Created by the first message that has to wait: a client that never queues carries none. */
  _outbox: Outbox<Out> | undefined;
  /**
   * @internal Every feature's hooks, in the order given. A client without features reads the
   * shared empty list through this accessor (no field per client); assigning gives the client
   * its own list. An accessor rather than a prototype property: assigning one at module level
   * is a side effect, and would keep the class in bundles that never use it.
   */
  get _hooks(): readonly FeatureHooks<In, Out>[] {
    return NO_HOOKS;
  }
  /** @internal */
  set _hooks(hooks: readonly FeatureHooks<In, Out>[]) {
    Object.defineProperty(this, '_hooks', { value: hooks, writable: true, configurable: true });
  }
  /** @internal A feature keeps written messages until acknowledged (acks()): direct writes get an entry too, and deliver() queues. */
  _track?: boolean;
  /** @internal A feature's check of every new message's wire form (persist(): no Blob); throws to refuse it. */
  _check?: (wire: WireData) => void;
  /** @internal Writes wait in the outbox (heartbeat, after the page went offline, until a sign of life). */
  _held?: boolean;

  /** @internal The options the client was given (defaults applied). */
  readonly _opts: ResolvedOptions<In, Out>;

  /** @internal */
  constructor(opts: ResolvedOptions<In, Out>) {
    super();
    this._opts = opts;
  }

  /** @internal Drops a connection without waiting for its close event and carries on as if it had closed. */
  abstract _abandon(socket: Transport, code: number, reason: string): void;

  /** @internal Throws CLOSED once close() was called (or the client ended by itself: with why as its cause). */
  protected _checkLive(): void {
    if (this._final || this._state === 'closed') throw closedError(this._final?.cause);
  }

  /** @internal The socket a new message may go to at once: open, nothing waiting, socket not backed up. */
  _direct(): Transport | undefined {
    this._checkLive();
    const socket = this._writable();
    return socket && !this._held && !this._outbox?.size && socket.bufferedAmount <= this._opts.highWaterMark ? socket : undefined;
  }

  /**
   * @internal Encodes `data` with the connection's codec and writes it to `socket`, the current
   * one (only it is ever attached). `bounded`: an application's message (send(), deliver()), which
   * a feature may keep until acknowledged (acks), and which goes through the queue instead when
   * unacknowledged messages leave no room for it, so the limits and the overflow policy apply as
   * to any queued message. Without it (a feature's message) nothing keeps it.
   */
  _write(socket: Transport, data: Out, bounded?: boolean, settle?: Settle): OutboxEntry<Out> | undefined {
    const codec = this._codec as Codec<In, Out> | undefined;
    const wire = toWire(codec, data);
    this._check?.(wire);
    // Written past the outbox: a feature that keeps written messages (acks) still gets an entry,
    // for the application's own messages only. A feature's (the ready step's, a ping, a request)
    // belongs to this connection: never kept, so never sent again on another one.
    let entry: OutboxEntry<Out> | undefined;
    let kept = false;
    if (this._track && bounded) {
      const size = wireSize(wire);
      entry = { value: data, wire, codec, size, expires: Infinity, resolve: settle?.resolve, reject: settle?.reject, queued: false };
      // A message a feature will keep until acknowledged must fit beside those it keeps already.
      if ((this._outbox ? this._outbox.isFull(size) : size > this._opts.maxBytes || this._opts.maxMessages < 1) && this._hooks.some(keepsThis, entry)) {
        return this._enqueue(data, settle);
      }
    }
    socket.send(wire as never);
    // Whoever keeps the message (acks) first, then whoever watches writes (persist saves what is kept).
    // Per message: indexed loops (see HOT_PATH above).
    const hooks = this._hooks;
    if (entry) for (let i = 0; i < hooks.length; i++) if (hooks[i].written?.(entry, socket)) kept = true;
    // Kept to be written again after a reconnect: its bytes as they are now (own()); one nobody keeps is not copied.
    if (kept) entry!.wire = own(wire);
    for (let i = 0; i < hooks.length; i++) hooks[i].sent?.(wire);
    if (!kept) settle?.resolve();
    return undefined;
  }

  /** @internal Queues `data` (sent at once when open and nothing waits); returns its entry unless it was refused. */
  _enqueue(data: Out, settle?: Settle, signal?: AbortSignal): OutboxEntry<Out> | undefined {
    // Encode now with the codec of the connection that will carry it (the open one, codec or
    // none), else the one the next connection most likely uses: it validates the message at once
    // and sizes it. A different codec at flush time encodes it again.
    const codec = (this._writable() ? this._codec : likelyCodec(this._opts)) as Codec<In, Out> | undefined;
    // Its bytes as they are now, as a WebSocket's send() takes them (own()).
    const wire = own(toWire(codec, data));
    this._check?.(wire);
    // Withdrawn before it was queued: after the checks, so bad input still throws, as from send().
    if (signal?.aborted) {
      settle?.reject(new SteadySocketError('MESSAGE_WITHDRAWN', 'Withdrawn before it was sent.', signal.reason));
      return undefined;
    }
    const size = wireSize(wire);
    const entry: OutboxEntry<Out> = { value: data, wire, codec, size, expires: Infinity, resolve: settle?.resolve, reject: settle?.reject, queued: false };
    // A request and its entry know each other before any listener runs (a drop listener may
    // abort it, or write it, before this call returns).
    if (settle?.request) {
      entry.request = settle;
      settle.entry = entry as OutboxEntry<unknown>;
    }
    // The resolved options carry maxMessages, maxBytes and overflow: no limits object per client.
    this._outbox ??= new Outbox<Out>(this._opts, (dropped, reason) => this._dropped(dropped, reason));
    // drop-oldest reports what it evicted after `entry` is in: a drop listener that closes the
    // client then finds (and rejects) this message too.
    if (!this._outbox.push(entry)) {
      if (this._opts.overflow !== 'error') this._dropped(entry, 'overflow');
      else {
        const error = new SteadySocketError('QUEUE_OVERFLOW', 'The outbox is full (see maxMessages, maxBytes and overflow).');
        if (!settle) throw error;
        settle.reject(error);
      }
      return undefined;
    }
    if (!entry.queued || this._state === 'closed') return undefined;
    for (const hooks of this._hooks) hooks.queued?.(entry);
    if (this._state === 'open') this._flush();
    return entry;
  }

  /**
   * @internal The connection messages go to now: open, not yet released, and its socket still
   * OPEN. Between a socket closing and the state leaving `open`, `close` listeners run; and a
   * socket turns CLOSING as soon as the server's close frame arrives, long before its close event
   * (WHATWG: `send()` then discards the data). What is sent meanwhile must be queued. A socket
   * that left OPEN is dropped after closeTimeout if its close event never comes (RFC 6455
   * §7.1.1 lets the client close the TCP connection).
   */
  _writable(): Transport | undefined {
    const socket = this._conn;
    if (this._state !== 'open' || !socket || released(socket)) return undefined;
    if (socket.readyState === OPEN) return socket;
    this._watchClosing(socket);
    return undefined;
  }

  /**
   * @internal `socket` left OPEN (the server's close frame came) and its close event has not:
   * it is dropped closeTimeout ms from now. While open the state's timer is free, so armed it is
   * this watchdog already; while connecting, an armed one is connectTimeout's, which bounds the wait.
   */
  protected _watchClosing(socket: Transport): void {
    if (this._stateTimer === undefined) this._arm(this, () => this._abandon(socket, 1006, 'close timed out'), this._opts.closeTimeout, '_stateTimer');
  }

  // ---------------------------------------------------------------- the outbox's public methods

  /** Bytes waiting in the socket plus bytes waiting in the outbox. */
  get bufferedAmount(): number {
    return (this._conn && this._state !== 'closed' ? this._conn.bufferedAmount : 0) + (this._outbox?.bytes ?? 0);
  }

  /** The queued messages, oldest first (a copy). */
  get queued(): Out[] {
    return this._outbox ? Array.from(this._outbox.entries(), (entry) => entry.value) : [];
  }

  /**
   * Sends now if the socket is open and nothing is waiting; otherwise queues the message for the
   * next connection. Throws `CLOSED` from the moment `close()` is called (or the client ended by
   * itself), `INVALID_MESSAGE` / `ENCODE_FAILED` for data that cannot be sent, and
   * `QUEUE_OVERFLOW` when the outbox is full under the `'error'` overflow policy.
   */
  send(data: Out): void {
    const socket = this._direct();
    if (socket) this._write(socket, data, true);
    else this._enqueue(data);
  }

  /**
   * Like {@link send}, but returns a promise that resolves once the message is written to an open
   * socket (with `acks()`, once it is acknowledged), or rejects with the typed reason it never
   * will be (`QUEUE_OVERFLOW`, `MESSAGE_EXPIRED`, `MESSAGE_WITHDRAWN`, `ENCODE_FAILED`, `CLOSED`;
   * with `acks()`, `ACK_TIMEOUT`). What `send` throws is still thrown synchronously (bad input,
   * `CLOSED` once `close()` was called), and so is `INVALID_OPTION` for a `signal` that is not an
   * `AbortSignal`.
   */
  deliver(data: Out, options: DeliverOptions = {}): Promise<void> {
    const signal = options?.signal;
    if (signal != null && typeof signal.addEventListener !== 'function') invalidOption('deliver() takes { signal } with an AbortSignal.');
    const direct = this._direct();
    // An aborted signal withdraws the message before anything is written.
    const socket = signal?.aborted ? undefined : direct;
    if (socket && !this._track) {
      this._write(socket, data);
      return Promise.resolve();
    }
    let settle!: { resolve(): void; reject(error: unknown): void };
    const promise = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    // Outside the executor: bad input still throws synchronously, as from send(). With
    // acknowledgements (_track) the write's entry carries the promise, settled on the ack.
    const entry = socket ? this._write(socket, data, true, settle) : this._enqueue(data, settle, signal);
    // Still queued (not written at once by the flush _enqueue may run): withdrawn if the signal aborts.
    if (entry?.queued && signal) withdrawOnAbort(entry, signal, () => this._outbox?.remove(entry) && this._dropped(entry, 'withdrawn'));
    return promise;
  }

  /**
   * Resolves when the outbox is empty and the socket has handed every byte to the network, or the
   * connection ended with the outbox empty (with `acks()`, everything acknowledged; with
   * `persist()`, the stored messages restored and sent too). Rejects with `CLOSED` when the client
   * closes for good with messages still queued (resolves when nothing was left), also when called
   * after that close.
   */
  flushed(): Promise<void> {
    if (this._state === 'closed') return this._final?.dropped ? Promise.reject(closedError(this._final.cause)) : Promise.resolve();
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

  // ---------------------------------------------------------------- the flush and the timers

  /** @internal Writes what the outbox holds while the socket takes it; waits for a drain when it is backed up. */
  _flush(): void {
    const socket = this._writable();
    const outbox = this._outbox;
    if (!socket || this._held) return;
    // No outbox yet: still on to the drain wait below (flushed() before a reconnect waits on it).
    while (outbox && outbox.size > 0) {
      if (socket.bufferedAmount > this._opts.highWaterMark) return this._watchDrain();
      // Expiry (ttl()) is judged per message, just before it is written: a flush is not one moment
      // (a backlog takes time to write, and a busy machine may stall it), so the clock is read now.
      const entry = outbox.shift(Date.now());
      if (!entry) break;
      if (this._state !== 'open' || this._conn !== socket) {
        // A drop listener (an expired message) closed or reconnected: keep this one for later.
        // (Only our own calls change the socket's readyState within this loop; it was OPEN above.)
        return outbox.restore(entry);
      }
      let wire = entry.wire as WireData;
      const codec = this._codec as Codec<In, Out> | undefined;
      // (A codec mismatch is rare: only then is asStored read.)
      if (entry.codec !== codec && !entry.asStored) {
        try {
          wire = toWire(codec, entry.value);
        } catch (cause) {
          this._dropped(entry, 'encode-failed', cause);
          if (this._writable() !== socket) return;
          continue;
        }
      }
      socket.send(wire as never);
      let kept = false;
      const hooks = this._hooks;
      for (let i = 0; i < hooks.length; i++) if (hooks[i].written?.(entry, socket)) kept = true;
      for (let i = 0; i < hooks.length; i++) hooks[i].sent?.(wire);
      // Written: its signal can no longer withdraw it, also once it is back in the outbox unacknowledged (acks).
      entry.done?.();
      if (!kept) entry.resolve?.();
    }
    if (this._drainWaiters?.length) this._watchDrain();
  }

  /**
   * @internal Nothing waits: the outbox is empty, nothing is unacknowledged or still coming in
   * (restored), the socket has sent every byte, or is finished (released: what it had not sent
   * went with it).
   */
  protected _isDrained(): boolean {
    const socket = this._conn;
    return (
      !this._outbox?.size &&
      !this._outbox?.held &&
      !this._hooks.some((hooks) => hooks.pending?.()) &&
      (!socket || this._state !== 'open' || released(socket) || socket.bufferedAmount === 0)
    );
  }

  /**
   * Resolves what flushed() waits on (the caller checked `_isDrained()`) a microtask later, once
   * the listeners of this moment have run, if it still holds: a message a `reconnecting` or `drop`
   * listener sent meanwhile is waited for too (before, `await flushed()` could return with it
   * still queued, and a close() right after dropped it). A promise job, not queueMicrotask: a
   * test's fake clock does not hold it.
   */
  private _drained(): void {
    void Promise.resolve().then(() => {
      if (this._state !== 'closed' && this._isDrained()) for (const waiter of this._drainWaiters?.splice(0) ?? []) waiter.resolve();
    });
  }

  /**
   * Waits until bufferedAmount is low again: polls (browsers have no drain event for WebSockets),
   * and where the transport reports its socket draining (ws), resumes at once on that. @internal
   */
  protected _watchDrain(): void {
    if (this._drainTimer !== undefined) return;
    // The flush polls again while it has a backlog or a flushed() waits (nothing else needs it:
    // no poll left on a link whose buffer never empties), and notices a socket that left OPEN
    // (the server's close frame came, not its close event): dropped closeTimeout ms later.
    const check = () => {
      this._disarm(this, '_drainTimer');
      if (this._state !== 'open') return;
      this._flush();
      if (this._isDrained()) this._drained();
    };
    this._arm(this, check, DRAIN_POLL_MS, '_drainTimer');
    const socket = this._conn;
    if (socket && !this._attempt?.drainListening) {
      const listening = onDrain(socket, () => {
        // A socket once forgotten is never current again: its attempt's flag went with it.
        if (socket !== this._conn) return;
        this._attempt!.drainListening = false;
        if (this._drainTimer !== undefined) check();
      });
      if (listening) (this._attempt ??= {}).drainListening = true;
    }
  }

  /** @internal Reports an entry that left the outbox unsent, as `drop` (and rejects its `deliver()`). */
  _dropped(entry: OutboxEntry<Out>, reason: OutboxDropReason, cause?: unknown): void {
    const error = dropError(reason, cause);
    entry.done?.();
    entry.reject?.(error);
    if (reason === 'encode-failed') this._emitError(error);
    this.emit('drop', { data: entry.value, reason, error });
    // The outbox may be empty now (withdrawn, expired): flushed() has nothing left to wait for.
    this._settleFlushed();
  }

  /**
   * @internal Resolves what flushed() waits on if nothing is left to wait for: after a drop, at the
   * end of a connection, when a feature's `pending()` turned false. Not once closed: the final
   * close rejects what waits with CLOSED.
   */
  _settleFlushed(): void {
    if (this._drainWaiters?.length && this._state !== 'closed' && this._isDrained()) this._drained();
  }

  /**
   * @internal The one way a timer is made: armed in `holder[slot]`, clearing the one it held.
   * `Infinity` leaves the slot empty (never fires). A timer holds at most 2^31 - 1 ms (a larger
   * delay would fire after ~1 ms): a longer one is waited in turns, in the same slot. Unref'd
   * when asked.
   */
  _arm(holder: object, fn: () => void, ms: number, slot: TimerSlot | 'timer' = 'timer'): void {
    const slots = holder as Record<string, ReturnType<typeof setTimeout> | undefined>;
    clearTimeout(slots[slot]);
    slots[slot] = undefined;
    if (ms === Infinity) return;
    const wait = timerDelay(ms);
    const timer = setTimeout(wait < ms ? () => this._arm(holder, fn, ms - wait, slot) : fn, wait);
    if (this._opts.unref) (timer as { unref?: () => void }).unref?.();
    slots[slot] = timer;
  }

  /** @internal Clears `holder[slot]`; a slot that never held a timer is not written (no field for it). */
  _disarm(holder: TimerHolder | this, slot: TimerSlot | 'timer' = 'timer'): void {
    const slots = holder as Record<string, ReturnType<typeof setTimeout> | undefined>;
    if (slots[slot] === undefined) return;
    clearTimeout(slots[slot]);
    slots[slot] = undefined;
  }

  /** @internal The client's own timers: the state's timer and the drain poll. */
  protected _clearTimers(): void {
    this._disarm(this, '_stateTimer');
    this._disarm(this, '_drainTimer');
    if (this._attempt) this._disarm(this._attempt);
  }

  /** @internal Reports `error` as the `error` event. */
  _emitError(error: SteadySocketError): void {
    this.emit('error', error as AnySteadySocketError);
  }
}
