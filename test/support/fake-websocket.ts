/**
 * A WHATWG-shaped WebSocket double for state-machine tests. Time passes only through the
 * fake clock; the test drives the "server" side by hand.
 */
export class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;

  readyState = 0;
  protocol = '';
  bufferedAmount = 0;
  binaryType = 'blob';
  readonly sent: unknown[] = [];
  /** Messages sent while not OPEN (a browser drops them silently). */
  readonly lost: unknown[] = [];
  closeCalls: { code?: number; reason?: string }[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: unknown) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  /** When it was made (Date.now(): the fake clock's time where a test fakes it). */
  readonly createdAt = Date.now();

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    FakeWebSocket.instances.push(this);
  }

  static get last(): FakeWebSocket {
    return FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
  }

  static reset(): void {
    FakeWebSocket.instances = [];
  }

  /** Listening and not finished: what "a live transport" means. */
  get live(): boolean {
    return this.readyState !== FakeWebSocket.CLOSED && (this.onopen !== null || this.onmessage !== null || this.onclose !== null);
  }

  send(data: unknown): void {
    if (this.readyState === FakeWebSocket.CONNECTING) throw new Error('InvalidStateError');
    if (this.readyState !== FakeWebSocket.OPEN) this.lost.push(data);
    else this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closeCalls.push({ code, reason });
    if (this.readyState >= FakeWebSocket.CLOSING) return;
    const wasConnecting = this.readyState === FakeWebSocket.CONNECTING;
    this.readyState = FakeWebSocket.CLOSING;
    // The closing handshake completes a little later, as on a real network.
    setTimeout(() => {
      if (wasConnecting) this.onerror?.({ type: 'error' });
      this.finish(wasConnecting ? 1006 : (code ?? 1005), reason ?? '', !wasConnecting);
    }, 5);
  }

  // ---- the server side, driven by tests

  serverOpen(protocol = ''): void {
    if (this.readyState !== FakeWebSocket.CONNECTING) return;
    this.protocol = protocol;
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.({ type: 'open' });
  }

  serverMessage(data: unknown): void {
    if (this.readyState === FakeWebSocket.OPEN) this.onmessage?.({ type: 'message', data });
  }

  /**
   * The server's close frame arrived; the close event has not (Chromium keeps the socket
   * CLOSING until TCP ends). `send()` now discards, as WHATWG says.
   */
  serverCloseFrame(): void {
    if (this.readyState === FakeWebSocket.OPEN) this.readyState = FakeWebSocket.CLOSING;
  }

  serverClose(code: number, reason = ''): void {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.finish(code, reason, code !== 1006);
  }

  fail(): void {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.onerror?.({ type: 'error' });
    this.finish(1006, '', false);
  }

  private finish(code: number, reason: string, wasClean: boolean): void {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.({ type: 'close', code, reason, wasClean });
  }
}
