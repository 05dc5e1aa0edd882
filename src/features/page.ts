/**
 * The page-signals feature (browsers): reconnects at once when the network or the page comes
 * back, holds attempts while offline, probes an open connection when the network changes, and
 * lets the page into the back/forward cache. Where there is no page (Node, workers) it does
 * nothing. The subscriptions are in page-signals.ts.
 */
import { timerDelay } from '../backoff';
import { feature, type Feature } from '../feature';
import { invalidOption } from '../options';
import { isOffline, listenToPage, type PageTarget } from '../page-signals';

const PAGE_HIDDEN = 'page hidden';

/**
 * Follows the page's network and lifecycle signals:
 * - `online`, or the page becoming visible, while waiting: try at once;
 * - `offline` while waiting: hold attempts until `online` (at most `maxDelay`: `navigator.onLine`
 *   has false negatives); while open: probe the connection (with {@link heartbeat}), new messages
 *   waiting until it answers or is found dead (never for a loopback host, which stays reachable);
 * - entering the back/forward cache: close with 1000 `'page hidden'` and make no attempt until
 *   the page is shown again (an open socket keeps a page out of that cache).
 *
 * `target` is the window (default `globalThis`); tests pass a double.
 * @throws {SteadySocketError} `INVALID_OPTION` when `target` is not an object (`null`, say).
 */
export function pageSignals(target: PageTarget = globalThis as PageTarget): Feature {
  // pageSignals(null) (no window during server rendering) failed with a TypeError in the constructor.
  if (!target || typeof target != 'object') invalidOption('pageSignals() takes the window, or nothing.');
  return feature((client) => {
    let suspended = false;
    /** When the current wait ends (a server's Retry-After may make it longer than maxDelay). */
    let until = 0;
    /** Holds attempts while offline: at most maxDelay (`navigator.onLine` has false negatives), never cutting a longer wait short. */
    const hold = () => {
      const wait = fallback();
      if (Date.now() + wait <= until) return;
      until = Date.now() + wait;
      client._retryIn(wait);
    };
    /** The fallback attempt's wait: maxDelay, but finite (`maxDelay: Infinity` caps no backoff, and holds no attempt for good). */
    const fallback = () => timerDelay(client._opts.maxDelay);
    const offline = () => isOffline(target, client._currentUrl);
    const wake = (why: string) => {
      if (client.state !== 'waiting' || offline()) return;
      client._log?.(`${why}: trying at once`);
      suspended = false;
      client._wake();
    };
    const remove = listenToPage(target, {
      online: () => wake('back online'),
      visible: () => wake('page visible again'),
      resume: () => {
        if (!suspended) return;
        // Restored: whatever the client is doing (an attempt the app started may be under way),
        // its next wait is an ordinary one.
        suspended = false;
        if (client.state === 'waiting' && offline()) {
          // Shown again while offline: wait as offline does, not for good.
          until = 0;
          hold();
        } else wake('page restored');
      },
      offline: () => {
        if (client.state === 'waiting' && !suspended && offline()) {
          client._log?.('offline: holding attempts until the network returns');
          hold();
        } else if (client.state === 'open' && offline()) for (const hooks of client._hooks) hooks.probe?.();
      },
      // Script may close only with 1000 or 3000–4999 (WHATWG close() step 1), so the server and
      // the app both see 1000 'page hidden'.
      suspend: () => {
        if (client.state === 'closed') return;
        suspended = true;
        if (client.state === 'waiting') client._retryIn(Infinity);
        else client._drop(1000, PAGE_HIDDEN);
      },
    });
    if (!remove) return;
    return {
      // A reconnect that was closing when the page entered the cache opens no socket in it.
      holds: () => (suspended ? { code: 1000, reason: PAGE_HIDDEN, wasClean: true, attempt: 0 } : undefined),
      open() {
        suspended = false;
      },
      waiting(info) {
        if (suspended) {
          client._log?.('page hidden: waiting for it to be shown again');
          info.delay = Infinity;
        } else if (offline()) {
          // The `online` event triggers the attempt; a slow fallback attempt still happens.
          info.offline = true;
          info.delay = Math.max(info.delay, fallback());
        }
        until = Date.now() + info.delay;
      },
      finish: remove,
    };
  });
}
