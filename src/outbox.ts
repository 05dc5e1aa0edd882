/** What to do when a message does not fit in the outbox. */
export type OverflowPolicy = 'drop-oldest' | 'drop-newest' | 'error';

/** Why the client dropped a queued message. */
export type OutboxDropReason = 'overflow' | 'expired' | 'withdrawn' | 'closed' | 'encode-failed';

/** Why a message will never be sent (`ack-timeout`: written, never acknowledged, with acks()). */
export type DropReason = OutboxDropReason | 'ack-timeout';

export interface OutboxLimits {
  maxMessages: number;
  maxBytes: number;
  overflow: OverflowPolicy;
}

/** How a `deliver()` promise, or a request of requests(), is settled through its outbox entry. */
export interface Settle {
  resolve(): void;
  reject(error: unknown): void;
  /** A request: its entry carries it (OutboxEntry.request) and it learns its entry. */
  request?: true;
  entry?: OutboxEntry<unknown>;
}

/** One queued message. `wire`/`codec` cache an encoding made at enqueue time. */
export interface OutboxEntry<T> {
  value: T;
  wire: unknown;
  codec: unknown;
  size: number;
  /** Absolute time after which the message is dropped; Infinity without a TTL. */
  expires: number;
  /** Set for promise-form sends. */
  resolve?: () => void;
  reject?: (reason: unknown) => void;
  /** Called once the entry is written or dropped (e.g. to stop watching an abort signal). */
  done?: () => void;
  /**
   * Carries a request of requests() (this is its settle object), which its reply settles: acks()
   * does not hold it, and persist() does not store it (no promise waits for its reply after a restart).
   */
  request?: object;
  /** Written and not acknowledged (acks()), back in the queue: drop-oldest never evicts it. */
  kept?: true;
  /**
   * When it was first queued (ms since the epoch), for persist(): set when it is first saved (the
   * turn it was queued in) or restored with it. ttl() counts from it for a restored message.
   */
  queuedAt?: number;
  /**
   * A restored wire form its codec could not decode (persist()): written as stored whatever codec
   * the connection has, never encoded again as if it were a value.
   */
  asStored?: true;
  queued: boolean;
}

/**
 * A bounded FIFO with O(1) amortised push and shift. Entries withdrawn from the middle are
 * tombstoned (`queued = false`) and skipped later, so removal is O(1) too; a push clears the
 * tombstones at the front and, once they outnumber the live entries, the rest, so the array
 * follows the limits, not the number of messages ever queued (while nothing is written, as when
 * offline, `drop-oldest` evicts one per push). Knows no clock: callers pass `now`.
 */
export class Outbox<T> {
  /** Messages waiting. */
  size = 0;
  /** Their bytes on the wire. */
  bytes = 0;
  /** Messages written and kept by a feature until acknowledged (acks()): not in the queue, but within the limits. */
  held = 0;
  heldBytes = 0;
  private items: (OutboxEntry<T> | undefined)[] = [];
  private head = 0;

  constructor(
    readonly limits: OutboxLimits,
    private readonly onDrop: (entry: OutboxEntry<T>, reason: OutboxDropReason) => void,
  ) {}

  /** Whether adding a message of `size` bytes needs room to be made first. */
  isFull(size: number): boolean {
    return this.size + this.held + 1 > this.limits.maxMessages || this.bytes + this.heldBytes + size > this.limits.maxBytes;
  }

  /**
   * Adds an entry, applying the overflow policy. Returns false when the entry was not admitted
   * (`drop-newest`, `error`, or bigger than the whole outbox); the caller reports that. Entries
   * evicted by `drop-oldest` are reported once `entry` is in, so whatever the drop callback does
   * (clear the outbox, push more) sees a consistent outbox.
   */
  push(entry: OutboxEntry<T>): boolean {
    if (entry.size > this.limits.maxBytes || this.limits.maxMessages < 1) return false;
    let evicted: OutboxEntry<T>[] | undefined;
    if (this.isFull(entry.size)) {
      if (this.limits.overflow !== 'drop-oldest') return false;
      // Unacknowledged messages (held on the wire, or kept in the queue after their connection
      // ended) are never evicted: the oldest of the others make room, or none is evicted.
      evicted = [];
      let count = this.size + this.held + 1;
      let bytes = this.bytes + this.heldBytes + entry.size;
      for (let i = this.head; i < this.items.length && (count > this.limits.maxMessages || bytes > this.limits.maxBytes); i++) {
        const oldest = this.items[i];
        if (!oldest?.queued || oldest.kept) continue;
        evicted.push(oldest);
        count--;
        bytes -= oldest.size;
      }
      if (count > this.limits.maxMessages || bytes > this.limits.maxBytes) return false;
      for (const oldest of evicted) this.remove(oldest);
    }
    entry.queued = true;
    this.items.push(entry);
    this.size++;
    this.bytes += entry.size;
    this.sweep();
    if (evicted) for (const oldest of evicted) this.onDrop(oldest, 'overflow');
    return true;
  }

  /** Clears the tombstones at the front; compacts once they outnumber the live entries (by 64). */
  private sweep(): void {
    const items = this.items;
    while (!items[this.head]?.queued) items[this.head++] = undefined;
    if (items.length - this.head > 2 * this.size + 64) {
      this.items = this.entries();
      this.head = 0;
    }
  }

  /**
   * Puts back, at the front, an entry just taken by `shift` that could not be sent after all, or
   * one written and not acknowledged (acks(), newest first). With no room before `head`, room is
   * made for as many entries again as the array holds: restoring n entries costs O(n), not the
   * O(n²) of `unshift` (100,000 unacknowledged messages took 2 s at a disconnect).
   */
  restore(entry: OutboxEntry<T>): void {
    entry.queued = true;
    if (!this.head) this.items = new Array<OutboxEntry<T> | undefined>((this.head = this.items.length + 8)).fill(undefined).concat(this.items);
    this.items[--this.head] = entry;
    this.size++;
    this.bytes += entry.size;
  }

  /** The oldest live entry, removed; expired entries met on the way are dropped. */
  shift(now: number): OutboxEntry<T> | undefined {
    for (;;) {
      const entry = this.take();
      if (!entry || entry.expires > now) return entry;
      this.onDrop(entry, 'expired');
    }
  }

  /** Withdraws a queued entry. Returns false when it had already left. */
  remove(entry: OutboxEntry<T>): boolean {
    if (!entry.queued) return false;
    entry.queued = false;
    this.size--;
    this.bytes -= entry.size;
    if (this.size === 0) this.reset();
    return true;
  }

  /**
   * Live entries, oldest first (for features that walk the outbox, e.g. TTL): a copy, so what a
   * walk's callbacks push or remove meanwhile changes neither the walk nor the outbox's layout
   * under it. (Every slot before `head` is empty.)
   */
  entries(): OutboxEntry<T>[] {
    return this.items.filter((entry): entry is OutboxEntry<T> => !!entry?.queued);
  }

  /**
   * Removes every entry and returns them, oldest first, without reporting: the caller reports
   * each. Entries pushed while it reports them stay for the next call, so a drop listener that
   * sends again cannot keep one drain going forever.
   */
  drain(): OutboxEntry<T>[] {
    const entries: OutboxEntry<T>[] = [];
    let entry: OutboxEntry<T> | undefined;
    while ((entry = this.take())) entries.push(entry);
    return entries;
  }


  private take(): OutboxEntry<T> | undefined {
    while (this.head < this.items.length) {
      const entry = this.items[this.head];
      this.items[this.head++] = undefined;
      if (entry && entry.queued) {
        entry.queued = false;
        this.size--;
        this.bytes -= entry.size;
        if (this.size === 0) this.reset();
        else if (this.head > 1024 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        return entry;
      }
    }
    this.reset();
    return undefined;
  }

  private reset(): void {
    this.items.length = 0;
    this.head = 0;
  }
}

/**
 * Drops every entry whose `expires` has passed, reporting each as `expired`; returns the earliest
 * remaining expiry (Infinity if none). With `ordered` (the caller knows that no live entry expires
 * before the one ahead of it) only the expired entries at the front and the first one left are
 * looked at, so expiring n messages one timer at a time is O(n), not O(n²); otherwise every entry.
 * A function rather than a method, so a bundle without the TTL feature leaves it out.
 */
export function expireEntries<T>(outbox: Outbox<T>, now: number, onExpired: (entry: OutboxEntry<T>) => void, ordered?: boolean): number {
  let next = Infinity;
  if (ordered) {
    while (outbox.size) {
      // The tombstones in front cleared, the oldest live entry is at `head`.
      outbox['sweep']();
      const entry = outbox['items'][outbox['head']]!;
      if (entry.expires > now) return entry.expires;
      outbox.remove(entry);
      onExpired(entry);
    }
    return next;
  }
  for (const entry of outbox.entries()) {
    if (entry.expires > now) next = Math.min(next, entry.expires);
    else if (outbox.remove(entry)) onExpired(entry);
  }
  return next;
}
