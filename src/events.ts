import { EventEmitter } from 'eventemitter3';

/** How eventemitter3 stores one listener (index.js `EE`). */
interface StoredListener {
  fn: (...args: unknown[]) => void;
  context: unknown;
  once: boolean;
}

type StoredListeners = StoredListener | StoredListener[] | undefined;

/**
 * Reports an exception thrown by an application listener without letting it change what the
 * client does next. Where the platform has `reportError` (browsers, Deno, Bun, workers) it is
 * used, as the DOM does for a throwing event listener ("report the exception"): the page's
 * `error` event and the console see it. Elsewhere (Node) the exception is rethrown on a fresh
 * microtask, as Node's own `EventTarget` does: it reaches `process.on('uncaughtException')`.
 */
export function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (typeof report === 'function') {
    report(error);
    return;
  }
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * An EventEmitter whose `emit` calls every listener even when one throws: each exception is
 * reported (see {@link reportListenerError}) and the rest of the listeners still run, so no
 * listener can stop the client. Same cost as eventemitter3's own emit on the hot path (one
 * listener, no arguments array).
 */
export class SafeEmitter<Events extends EventEmitter.ValidEventTypes> extends EventEmitter<Events> {
  override emit<T extends EventEmitter.EventNames<Events>>(event: T, ...args: EventEmitter.EventArgs<Events, T>): boolean {
    const key = EventEmitter.prefixed ? `${EventEmitter.prefixed as string}${String(event)}` : event;
    const stored = (this as unknown as { _events: Record<string | symbol, StoredListeners> })._events[key as string];
    if (!stored) return false;
    const [a, b] = args as unknown[];
    if (!Array.isArray(stored)) {
      if (stored.once) this.removeListener(event, stored.fn as never, undefined, true);
      call(stored, a, b);
      return true;
    }
    // eventemitter3 replaces the array when a listener is removed and appends when one is
    // added: with the length read first, exactly the listeners present at emit time run.
    for (let i = 0, length = stored.length; i < length; i++) {
      const listener = stored[i];
      if (listener.once) this.removeListener(event, listener.fn as never, undefined, true);
      call(listener, a, b);
    }
    return true;
  }
}

// Every event of ours carries at most two arguments.
function call(listener: StoredListener, a: unknown, b: unknown): void {
  try {
    listener.fn.call(listener.context, a, b);
  } catch (error) {
    reportListenerError(error);
  }
}
