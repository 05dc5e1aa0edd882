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
import { feature, type FeatureHooks, type FeatureHost, type ReadsOutbound } from '../feature';
import { checkNumber, invalidOption } from '../options';
import { Outbox, type DropReason, type OutboxDropReason, type OutboxEntry } from '../outbox';
import { DROP_CODES } from '../send';
import { InFlight } from './in-flight';

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
  timeout?: number | undefined;
  /**
   * De-duplicates incoming messages: a message whose id is among the last `window` ids seen is
   * not delivered.
   */
  dedupe?:
    | {
        /** Reads an incoming message's id (undefined: never a duplicate). */
        id: (message: NoInfer<In>) => MessageId | undefined;
        /** How many of the latest ids are remembered. Default: 1000. */
        window?: number | undefined;
      }
    | undefined;
}

/** A written message waiting for its acknowledgement. */
interface Held<Out> extends OutboxEntry<Out> {
  /** An earlier write of the same id, superseded by this one: it settles with this one. */
  ackPrev?: Held<Out>;
}

/**
 * Calls `fn` for `entry` and every earlier write of its id it superseded, oldest first (so their
 * `drop` events come in the order they were sent, however the writes are given up).
 */
function eachWrite<Out>(entry: Held<Out>, fn: (write: Held<Out>) => void): void {
  if (!entry.ackPrev) return fn(entry);
  const writes: Held<Out>[] = [];
  for (let write: Held<Out> | undefined = entry; write; write = write.ackPrev) writes.push(write);
  for (let i = writes.length - 1; i >= 0; i--) fn(writes[i]);
}

/** A write's `deliver()` resolves: it was acknowledged. */
function delivered<Out>(write: Held<Out>): void {
  write.done?.();
  write.resolve?.();
}

/**
 * `entry` leaves acks()' keeping (back to the outbox, where the client settles it alone): the
 * earlier writes it superseded now settle when it does, however it ends (sent again and
 * acknowledged, dropped, withdrawn, closed), each with its own `drop` event when given up.
 */
function handOver<In, Out>(client: FeatureHost<In, Out>, entry: Held<Out>): void {
  const earlier = entry.ackPrev;
  if (!earlier) return;
  entry.ackPrev = undefined;
  const { resolve, reject } = entry;
  entry.resolve = () => {
    resolve?.();
    eachWrite(earlier, delivered);
  };
  entry.reject = (error) => {
    reject?.(error);
    // The client's drop reason behind this error: its code, or else acks()' own timeout.
    const code = (error as SteadySocketError).code;
    const reason: DropReason = (Object.keys(DROP_CODES) as OutboxDropReason[]).find((key) => DROP_CODES[key] === code) ?? 'ack-timeout';
    eachWrite(earlier, (write) => {
      write.done?.();
      write.reject?.(error);
      client.emit('drop', { data: write.value, reason, error: error as SteadySocketError });
    });
  };
}

/**
 * Turns on acknowledged delivery (see {@link AckOptions}). `deliver()` then resolves when the
 * message is acknowledged, and `flushed()` when everything written is. Unacknowledged messages
 * count in the outbox limits. The feature reads every outgoing message (`id`) and writes none of
 * its own: it fits a client whose every outgoing message is an `Out`.
 */
export function acks<In = any, Out = any>(options: AckOptions<In, Out>): ReadsOutbound<In, Out> {
  if (options === null || typeof options !== 'object' || typeof options.id !== 'function' || typeof options.ack !== 'function') {
    invalidOption('acks() takes { id(message), ack(message) }: functions that read the id of an outgoing message and of an acknowledgement.');
  }
  const timeout = options.timeout ?? 30_000;
  checkNumber('acks timeout', timeout, 1);
  const dedupe = options.dedupe;
  if (dedupe !== undefined && typeof dedupe?.id !== 'function') invalidOption('acks() dedupe takes { id(message), window }.');
  const given = dedupe?.window ?? 1000;
  checkNumber('acks dedupe window', given, 1);
  // Whole ids only: a window of 2.5 remembers 2, and the ring's slots stay indexes.
  const window = Math.floor(given);

  // Cast: feature() types a feature by the client's types; this one's type says what it reads.
  return feature<In, Out>((client) => {
    /** Written and not yet acknowledged, by id (the latest write of each), oldest first. */
    const pending = new InFlight<MessageId, Held<Out>>();
    const seen = new Set<MessageId>();
    /** The last `window` ids seen, a ring: `oldest` is the next slot to reuse once it is full (shift() is O(n) on a large array). */
    const seenOrder: MessageId[] = [];
    let oldest = 0;

    // Pending messages count in the outbox's limits (held) without being in its queue.
    const unhold = (entry: Held<Out>) => {
      const outbox = client._outbox!;
      outbox.held--;
      outbox.heldBytes -= entry.size;
    };

    /** What is held, oldest first. */
    const held = () => {
      const entries: Held<Out>[] = [];
      pending.each((entry) => {
        entries.push(entry);
      });
      return entries;
    };

    const checkTimeouts = () => {
      hooks.timer = undefined;
      // The connection is going away (the server's close frame is in, or close() or reconnect()
      // is closing it): no acknowledgement can come on it, and its end puts what it did not
      // acknowledge back in the outbox (or close() drops it). Asking arms the watchdog of a
      // socket the server started closing, so that end comes.
      if (!client._writable()) return;
      const now = Date.now();
      // Oldest first, and the first still in time has the next deadline (one timeout for all).
      pending.each((entry, id, deadline) => {
        if (deadline > now) {
          // Also when a drop listener's write armed the timer meanwhile: this deadline is earlier.
          client._arm(hooks, checkTimeouts, Math.max(1, deadline - Date.now()));
          return false;
        }
        pending.take(id);
        unhold(entry);
        const error = new SteadySocketError('ACK_TIMEOUT', `No acknowledgement of message ${String(id)} within ${timeout} ms.`);
        eachWrite(entry, (write) => {
          write.done?.();
          write.reject?.(error);
          client.emit('drop', { data: write.value, reason: 'ack-timeout', error });
        });
        return client.state !== 'closed';
      });
    };

    /** The id a written message is acknowledged by; undefined: it needs no acknowledgement. */
    const idOf = (entry: OutboxEntry<Out>): MessageId | undefined => {
      // A request is settled by its reply (requests()), not by an acknowledgement.
      if (entry.request) return undefined;
      try {
        return options.id(entry.value);
      } catch {
        return undefined; // an id function that throws marks a message that needs no acknowledgement
      }
    };

    const hooks: FeatureHooks<In, Out> = {
      holdsWrites: true,
      held,
      keeps: (entry) => idOf(entry) !== undefined,
      written(written) {
        const id = idOf(written);
        if (id === undefined) return false;
        const entry = written as Held<Out>;
        const earlier = pending.add(id, entry, Date.now() + timeout);
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
            eachWrite(entry, delivered);
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
        if (seenOrder.length < window) seenOrder.push(incoming);
        else {
          seen.delete(seenOrder[oldest]);
          seenOrder[oldest] = incoming;
          oldest = (oldest + 1) % window;
        }
        return false;
      },
      // The connection ended: whatever it did not acknowledge goes back to the front of the
      // outbox, oldest first, to be sent again before anything newer.
      closed(_conn: Connection<In>) {
        client._disarm(hooks);
        if (!pending.size) return;
        const unacknowledged = held();
        pending.clear();
        const outbox = client._outbox!;
        for (let i = unacknowledged.length - 1; i >= 0; i--) {
          unhold(unacknowledged[i]);
          handOver(client, unacknowledged[i]);
          unacknowledged[i].kept = true;
          outbox.restore(unacknowledged[i]);
        }
      },
      finish() {
        // The client closed for good with messages still unacknowledged (a close() that did not
        // wait for flushed()): each is dropped with CLOSED, as the outbox's own are.
        const unacknowledged = held();
        pending.clear();
        for (const entry of unacknowledged) {
          unhold(entry);
          eachWrite(entry, (write) => client._dropped(write, 'closed', client._final?.cause));
        }
      },
    };
    return hooks;
  }) as unknown as ReadsOutbound<In, Out>;
}
