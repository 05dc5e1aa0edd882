/** The stats feature: counters of a client's traffic and connections. */
import { wireSize } from '../codecs';
import type { Stats } from '../events';
import { feature, type Feature, type FeatureHost } from '../feature';
import { invalidOption } from '../options';

/** A {@link stats} feature: give it to one client's `use`, then read it. */
export interface StatsFeature extends Feature {
  /** The counters now (zeros before the client is created). */
  snapshot(): Stats;
}

/** UTF-8 bytes of a message (wireSize has the ASCII fast path). */
function bytesOf(data: unknown): number {
  return Math.max(0, wireSize(data));
}

/**
 * Counts attempts, reconnects, messages and bytes each way, and time connected; with
 * {@link heartbeat} also the round-trip time. One `stats()` per client:
 * `const counters = stats(); new SteadySocket(url, { use: [counters] }); counters.snapshot()`.
 */
export function stats(): StatsFeature {
  let client: FeatureHost<unknown, unknown> | undefined;
  const c = { attempts: 0, opens: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, connectedTime: 0, openedAt: -1 };
  const made = feature((host) => {
    if (client) invalidOption('One stats() per client: call stats() again for another client.');
    client = host;
    return {
      connecting() {
        c.attempts++;
      },
      open() {
        c.opens++;
        c.openedAt = Date.now();
      },
      received(_conn, raw, bytes) {
        c.messagesIn++;
        c.bytesIn += bytes >= 0 ? bytes : bytesOf(raw);
      },
      sent(wire) {
        c.messagesOut++;
        c.bytesOut += bytesOf(wire);
      },
      // Every connection that reached `open` ends here before the next one opens.
      closed() {
        if (c.openedAt >= 0) c.connectedTime += Date.now() - c.openedAt;
        c.openedAt = -1;
      },
    };
  }) as StatsFeature;
  made.snapshot = () => {
    let rtt: number | undefined;
    for (const hooks of client?._hooks ?? []) rtt ??= hooks.rtt;
    return {
      attempts: c.attempts,
      reconnects: Math.max(0, c.opens - 1),
      messagesIn: c.messagesIn,
      messagesOut: c.messagesOut,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      rtt,
      connectedTime: c.connectedTime + (c.openedAt >= 0 ? Date.now() - c.openedAt : 0),
      queued: client?._outbox?.size ?? 0,
    };
  };
  return made;
}
