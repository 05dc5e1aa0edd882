/**
 * Acknowledged delivery: a written message is not delivered until the server says so. Messages
 * that carry an id stay in the outbox's accounting after they are written; an acknowledgement
 * releases one; when the connection ends, every unacknowledged message goes back to the front of
 * the outbox, in its original order, and is sent again first on the next connection
 * (at-least-once). With `dedupe`, incoming messages whose id was seen recently are not delivered
 * again (effectively once, for a server that re-sends).
 */
import type { Connection } from '../connection';
import { SteadySocketError } from '../errors';
import { feature, type Feature, type FeatureHooks } from '../feature';
import { checkNumber, invalidOption } from '../options';
import { Outbox, type OutboxEntry } from '../outbox';

/** An id that correlates a message with its acknowledgement or reply. */
export type MessageId = string | number;

/** How acknowledgements work in your protocol. `In`/`Out` are the client's message types. */
export interface AckOptions<In, Out> {
  /** The id of an outgoing message, or undefined for one that needs no acknowledgement. */
  id: (message: NoInfer<Out>) => MessageId | undefined;
  /** The id an incoming message acknowledges, or undefined when it is not an acknowledgement. Acknowledgements are not delivered as `message` events. */
  ack: (message: NoInfer<In>) => MessageId | undefined;
  /**
   * Ms to wait for the acknowledgement of a written message; then its `deliver()` rejects with
   * `ACK_TIMEOUT` and a `drop` event (reason `ack-timeout`) reports it. Time spent disconnected
   * does not count: the wait starts again at every write. Default: 30000. `Infinity`: never.
   */
  timeout?: number;
  /**
   * De-duplicates incoming messages: `id` reads an incoming message's id (undefined: never a
   * duplicate), and a message whose id is among the last `window` ids seen is not delivered.
   */
  dedupe?: { id: (message: NoInfer<In>) => MessageId | undefined; window?: number };
}

/** A written message waiting for its acknowledgement. */
interface Held<Out> extends OutboxEntry<Out> {
  /** An earlier write of the same id, superseded by this one: it settles with this one. */
  ackPrev?: Held<Out>;
}

/** Calls `fn` for `entry` and every earlier write of its id it superseded. */
function eachWrite<Out>(entry: Held<Out>, fn: (write: Held<Out>) => void): void {
  for (let write: Held<Out> | undefined = entry; write; write = write.ackPrev) fn(write);
}

/**
 * Written and not yet acknowledged, oldest first, in a ring of slots (parallel arrays, a power
 * of two long), with the slot of each id's latest write in `slots`. Writes are appended in the
 * order written, so with one timeout for all the oldest also has the earliest deadline.
 *
 * Not one `Map` of id → entry: with a thousand messages in flight, V8 keeps such a Map's hash
 * table in the old generation, and the tables a rehash leaves behind still point at entries
 * acknowledged since; every young-generation collection then keeps those alive and promotes
 * them, so each message ends up copied, promoted and collected again with the old generation
 * (bench/, `delivery`: most of what acks() cost). Here the Map holds slot numbers, a released
 * slot is emptied at once, and arrays that are replaced are emptied first.
 */
class Unacknowledged<Out> {
  private readonly slots = new Map<MessageId, number>();
  private entries: (Held<Out> | undefined)[] = [];
  private ids: (MessageId | undefined)[] = [];
  private deadlines = new Float64Array(0);
  /** The slot of the oldest write. */
  private head = 0;
  /** Slots in use from `head` on, released ones between held ones included. */
  private used = 0;

  get size(): number {
    return this.slots.size;
  }

  /** Holds `entry` as the latest write of `id`; returns the write of `id` it supersedes, released. */
  add(id: MessageId, entry: Held<Out>, deadline: number): Held<Out> | undefined {
    const earlier = this.take(id);
    if (this.used === this.entries.length) this.rebuild();
    const slot = (this.head + this.used++) & (this.entries.length - 1);
    this.entries[slot] = entry;
    this.ids[slot] = id;
    this.deadlines[slot] = deadline;
    this.slots.set(id, slot);
    return earlier;
  }

  /** Releases the latest write of `id` and returns it (undefined when none is held). */
  take(id: MessageId): Held<Out> | undefined {
    const slot = this.slots.get(id);
    if (slot === undefined) return undefined;
    this.slots.delete(id);
    const entries = this.entries;
    const entry = entries[slot];
    entries[slot] = this.ids[slot] = undefined;
    if (slot === this.head) {
      const mask = entries.length - 1;
      do {
        this.head = (this.head + 1) & mask;
        this.used--;
      } while (this.used > 0 && entries[this.head] === undefined);
    }
    return entry;
  }

  /** The oldest held write, its id and deadline; undefined when none is held. */
  oldest(): { entry: Held<Out>; id: MessageId; deadline: number } | undefined {
    const head = this.head;
    return this.used ? { entry: this.entries[head]!, id: this.ids[head]!, deadline: this.deadlines[head] } : undefined;
  }

  /** The held writes, oldest first. */
  values(): Held<Out>[] {
    const held: Held<Out>[] = [];
    const mask = this.entries.length - 1;
    for (let i = 0; i < this.used; i++) {
      const entry = this.entries[(this.head + i) & mask];
      if (entry) held.push(entry);
    }
    return held;
  }

  /** Releases every held write and returns them, oldest first. */
  clear(): Held<Out>[] {
    const held = this.values();
    this.slots.clear();
    this.entries.fill(undefined);
    this.ids.fill(undefined);
    this.head = this.used = 0;
    return held;
  }

  /**
   * Every slot is in use: moves the held writes, in order, to the front of new arrays at least
   * twice their number long (so the next rebuild is as many writes away; out-of-order
   * acknowledgements leave gaps that this drops).
   */
  private rebuild(): void {
    let capacity = 16;
    while (capacity < this.slots.size * 2) capacity *= 2;
    const entries = new Array<Held<Out> | undefined>(capacity).fill(undefined);
    const ids = new Array<MessageId | undefined>(capacity).fill(undefined);
    const deadlines = new Float64Array(capacity);
    const mask = this.entries.length - 1;
    let kept = 0;
    for (let i = 0; i < this.used; i++) {
      const from = (this.head + i) & mask;
      if (this.entries[from] === undefined) continue;
      entries[kept] = this.entries[from];
      ids[kept] = this.ids[from];
      deadlines[kept] = this.deadlines[from];
      this.slots.set(this.ids[from]!, kept++);
    }
    // Emptied before they go: until collected, they would keep their entries alive (see above).
    this.entries.fill(undefined);
    this.ids.fill(undefined);
    this.entries = entries;
    this.ids = ids;
    this.deadlines = deadlines;
    this.head = 0;
    this.used = kept;
  }
}

/**
 * Turns on acknowledged delivery (see {@link AckOptions}). `deliver()` then resolves when the
 * message is acknowledged, and `flushed()` when everything written is. Unacknowledged messages
 * count in the outbox limits.
 */
export function acks<In = any, Out = any>(options: AckOptions<In, Out>): Feature<In, Out> {
  if (options === null || typeof options !== 'object' || typeof options.id !== 'function' || typeof options.ack !== 'function') {
    invalidOption('acks() takes { id(message), ack(message) }: functions that read the id of an outgoing message and of an acknowledgement.');
  }
  const timeout = options.timeout ?? 30_000;
  checkNumber('acks timeout', timeout, 1);
  const dedupe = options.dedupe;
  if (dedupe !== undefined && typeof dedupe?.id !== 'function') invalidOption('acks() dedupe takes { id(message), window }.');
  const window = dedupe?.window ?? 1000;
  checkNumber('acks dedupe window', window, 1);

  return feature<In, Out>((client) => {
    const pending = new Unacknowledged<Out>();
    const seen = new Set<MessageId>();
    const seenOrder: MessageId[] = [];

    // Pending messages count in the outbox's limits (held) without being in its queue.
    const unhold = (entry: Held<Out>) => {
      const outbox = client._outbox!;
      outbox.held--;
      outbox.heldBytes -= entry.size;
    };

    const checkTimeouts = () => {
      hooks.timer = undefined;
      const now = Date.now();
      // Oldest first: the first one still in time is the next deadline (writes are numbered in time order).
      for (let oldest = pending.oldest(); oldest; oldest = pending.oldest()) {
        if (oldest.deadline > now) {
          // Also when a drop listener's write armed the timer meanwhile: this deadline is earlier.
          client._arm(hooks, checkTimeouts, Math.max(1, oldest.deadline - Date.now()));
          return;
        }
        const { entry, id } = oldest;
        pending.take(id);
        unhold(entry);
        const error = new SteadySocketError('ACK_TIMEOUT', `No acknowledgement of message ${String(id)} within ${timeout} ms.`);
        eachWrite(entry, (write) => {
          write.done?.();
          write.reject?.(error);
          client.emit('drop', { data: write.value, reason: 'ack-timeout', error });
        });
        if (client.state === 'closed') return;
      }
    };

    const hooks: FeatureHooks<In, Out> = {
      holdsWrites: true,
      held: () => pending.values(),
      written(written) {
        let id: MessageId | undefined;
        try {
          id = options.id(written.value);
        } catch {
          // An id function that throws marks a message that needs no acknowledgement.
        }
        if (id === undefined) return false;
        const entry = written as Held<Out>;
        const earlier = pending.add(id, entry, timeout === Infinity ? Infinity : Date.now() + timeout);
        if (earlier) {
          // The same id again: the newer write is the one that counts, and the earlier settles with it.
          unhold(earlier);
          entry.ackPrev = earlier;
        }
        // Written at once (nothing was queued): the outbox that holds the count may not exist yet.
        const outbox = (client._outbox ??= new Outbox<Out>(client._opts, (dropped, reason) => client._dropped(dropped, reason)));
        outbox.held++;
        outbox.heldBytes += entry.size;
        if (hooks.timer === undefined && timeout !== Infinity) client._arm(hooks, checkTimeouts, timeout);
        return true;
      },
      message(value) {
        let id: MessageId | undefined;
        try {
          id = options.ack(value);
        } catch {
          // Not an acknowledgement.
        }
        if (id !== undefined) {
          const entry = pending.take(id);
          if (entry) {
            unhold(entry);
            for (let write: Held<Out> | undefined = entry; write; write = write.ackPrev) {
              write.done?.();
              write.resolve?.();
            }
          }
          return true;
        }
        if (!dedupe) return false;
        let incoming: MessageId | undefined;
        try {
          incoming = dedupe.id(value);
        } catch {
          return false;
        }
        if (incoming === undefined) return false;
        if (seen.has(incoming)) return true;
        seen.add(incoming);
        seenOrder.push(incoming);
        if (seenOrder.length > window) seen.delete(seenOrder.shift()!);
        return false;
      },
      // The connection ended: whatever it did not acknowledge goes back to the front of the
      // outbox, oldest first, to be sent again before anything newer.
      closed(_conn: Connection<In>) {
        client._disarm(hooks);
        if (!pending.size) return;
        const unacknowledged = pending.clear();
        const outbox = client._outbox!;
        for (let i = unacknowledged.length - 1; i >= 0; i--) {
          unhold(unacknowledged[i]);
          outbox.restore(unacknowledged[i]);
        }
      },
      finish() {
        // The client closed for good with messages still unacknowledged (a close() that did not
        // wait for flushed()): each is dropped with CLOSED, as the outbox's own are.
        for (const entry of pending.clear()) {
          unhold(entry);
          eachWrite(entry, (write) => client._dropped(write, 'closed'));
        }
      },
    };
    return hooks;
  });
}
