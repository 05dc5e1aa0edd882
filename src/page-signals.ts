/** What the client does on each page or network signal. */
export interface PageSignalHandlers {
  /** The `online` event. */
  online(): void;
  /** The `offline` event. */
  offline(): void;
  /** The page became visible again (`visibilitychange`). */
  visible(): void;
  /** The page is going into the back/forward cache (`pagehide` with `persisted`). */
  suspend(): void;
  /** The page came back from the back/forward cache (`pageshow` with `persisted`). */
  resume(): void;
}

type Listener = (event: { persisted?: boolean }) => void;

/** The part of `window` the signals come from: pass `globalThis` in a page, a double in tests. */
export interface PageTarget {
  addEventListener?(type: string, listener: Listener): void;
  removeEventListener?(type: string, listener: Listener): void;
  document?:
    | {
        visibilityState?: string | undefined;
        addEventListener(type: string, listener: () => void): void;
        removeEventListener(type: string, listener: () => void): void;
      }
    | undefined;
  navigator?: { onLine?: boolean | undefined } | undefined;
}

/**
 * Subscribes `handlers` to the page's network and lifecycle signals and returns the undo.
 * Returns undefined where there is no page (Node, Deno, workers without a document): nothing
 * is subscribed there.
 */
export function listenToPage(target: PageTarget, handlers: PageSignalHandlers): (() => void) | undefined {
  const document = target.document;
  if (typeof target.addEventListener !== 'function' || typeof document?.addEventListener !== 'function') return undefined;
  const onOnline = () => handlers.online();
  const onOffline = () => handlers.offline();
  const onVisibility = () => {
    if (document.visibilityState === 'visible') handlers.visible();
  };
  const onPageHide: Listener = (event) => {
    if (event.persisted) handlers.suspend();
  };
  const onPageShow: Listener = (event) => {
    if (event.persisted) handlers.resume();
  };
  target.addEventListener('online', onOnline);
  target.addEventListener('offline', onOffline);
  target.addEventListener('pagehide', onPageHide);
  target.addEventListener('pageshow', onPageShow);
  document.addEventListener('visibilitychange', onVisibility);
  return () => {
    target.removeEventListener?.('online', onOnline);
    target.removeEventListener?.('offline', onOffline);
    target.removeEventListener?.('pagehide', onPageHide);
    target.removeEventListener?.('pageshow', onPageShow);
    document.removeEventListener('visibilitychange', onVisibility);
  };
}

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Whether the page reports it is offline for a connection to `url`. `navigator.onLine` says
 * nothing about loopback, which works without a network: a loopback host is never offline.
 */
export function isOffline(target: PageTarget, url: string | undefined): boolean {
  return target.navigator?.onLine === false && !isLoopback(url);
}

function isLoopback(url: string | undefined): boolean {
  if (!url) return false;
  try {
    return LOOPBACK.test(new URL(url).hostname);
  } catch {
    return false;
  }
}
