/**
 * The ready step's promise plumbing: the messages `next()` waits for, and the abort signal of
 * the connection it runs on. The client creates one per connection that has a ready step.
 */
export class ReadyStep<In> {
  /** Aborted when the connection is abandoned (closed, timed out, superseded). */
  readonly abort = new AbortController();
  private waiters: { resolve(value: In): void; reject(error: unknown): void }[] | undefined;
  private over = false;

  /** Resolves with the next message; rejects with `closed()` at once if the step is over. */
  next(closed: () => unknown): Promise<In> {
    return new Promise<In>((resolve, reject) => {
      if (this.over) reject(closed());
      else (this.waiters ??= []).push({ resolve, reject });
    });
  }

  /** Hands a message to the oldest `next()`; false when none waits (the message is not consumed). */
  offer(value: In): boolean {
    const waiter = this.waiters?.shift();
    if (!waiter) return false;
    waiter.resolve(value);
    return true;
  }

  /** The step succeeded: later messages go to the application only. */
  finish(): void {
    this.waiters = undefined;
  }

  /** The connection ended: abort the signal and reject every pending `next()` with `error`. */
  fail(error: () => unknown): void {
    this.over = true;
    this.abort.abort();
    const waiters = this.waiters;
    this.waiters = undefined;
    if (waiters) for (const waiter of waiters) waiter.reject(error());
  }
}
