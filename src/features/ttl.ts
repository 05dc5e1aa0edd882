/** The TTL feature: queued messages that wait too long are dropped as expired. */
import { feature, later, type Feature, type FeatureHooks } from '../feature';
import { checkNumber } from '../options';
import { expireEntries } from '../outbox';

/**
 * Drops a queued message once it has waited `ms` in the outbox: a `drop` event with reason
 * `expired`, and its `deliver()` rejects with `MESSAGE_EXPIRED`. Messages sent at once never wait.
 */
export function ttl(ms: number): Feature {
  checkNumber('ttl', ms, 1);
  return feature((client) => {
    /**
     * Messages are given expiries in the order they are sent, so the outbox is ordered by expiry
     * and a look needs only its front, until an expiry comes out earlier than one given before (a
     * message persist() restored, a wall clock set back): then every look walks the whole outbox,
     * until it holds nothing again.
     */
    let ordered = true;
    let latest = -Infinity;
    const given = (expires: number) => {
      if (expires < latest) ordered = false;
      else latest = expires;
    };
    /** Drops what has expired, then arms the timer for the earliest expiry left (replacing the one armed). */
    const look = () => {
      const outbox = client._outbox;
      const next = outbox ? expireEntries(outbox, Date.now(), (entry) => client._dropped(entry, 'expired'), ordered) : Infinity;
      if (!outbox || (!outbox.size && !outbox.held)) {
        ordered = true;
        latest = -Infinity;
      }
      // A drop listener may have closed the client, or queued a message that armed the timer for
      // later than the next expiry: `next` is the earliest of all, so it wins.
      if (next !== Infinity && client.state !== 'closed') client._arm(hooks, expire, Math.max(1, next - Date.now()));
    };
    const expire = () => {
      hooks.timer = undefined;
      look();
    };
    /** Looks once every feature has had its turn (one look for any number of calls in a turn). */
    let soon = false;
    const lookSoon = () => {
      if (soon) return;
      soon = true;
      later(() => {
        soon = false;
        look();
      });
    };
    const hooks: FeatureHooks<unknown, unknown> = {
      queued(entry) {
        if (ms === Infinity) return;
        const now = Date.now();
        // A message persist() restored counts from when it was first queued (never from later: a
        // clock set back since then).
        entry.expires = Math.min(entry.queuedAt ?? now, now) + ms;
        given(entry.expires);
        // Something came in behind it before this hook ran (a drop listener of the eviction it
        // caused sent a message, which got its expiry first): the outbox may be out of order.
        const items = client._outbox!['items'];
        if (items[items.length - 1] !== entry) ordered = false;
        // Due before the timer armed, or already: look (once, for all the restored messages).
        if (entry.expires < now + ms) lookSoon();
        else if (hooks.timer === undefined) client._arm(hooks, expire, ms);
      },
      // A message written at once (nothing queued) but kept for its acknowledgement (acks) may come
      // back to the outbox: it expires as if it had been queued when it was written.
      written(entry) {
        if (ms !== Infinity && entry.expires === Infinity) given((entry.expires = Date.now() + ms));
      },
      // Messages written and not acknowledged (acks) come back to the outbox when their connection
      // ends, with the expiry of when they were queued, maybe while no timer was armed: look
      // again once every feature has handled the close (whether the client waits or reconnects at
      // once): a microtask. Not a 0 ms timer: replacing a timer due this very millisecond with
      // one, which runs a turn later, made a queued message expire late.
      closed: lookSoon,
    };
    return hooks;
  });
}
