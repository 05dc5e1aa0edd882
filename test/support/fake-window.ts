// A window double for page signals (pageSignals(), listenToPage): listeners by type, a document
// with visibilityState, a navigator with onLine.

type Listener = (event: { persisted?: boolean }) => void;

export class FakeWindow {
  readonly listeners = new Map<string, Set<Listener>>();
  readonly navigator = { onLine: true };
  readonly document = {
    visibilityState: 'visible',
    addEventListener: (type: string, listener: () => void) => this.addEventListener(type, listener),
    removeEventListener: (type: string, listener: () => void) => this.removeEventListener(type, listener),
  };
  addEventListener(type: string, listener: Listener): void {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(listener);
  }
  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }
  dispatch(type: string, event: { persisted?: boolean } = {}): void {
    for (const listener of [...(this.listeners.get(type) ?? [])]) listener(event);
  }
  /** Listeners attached, all types together. */
  get count(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}
