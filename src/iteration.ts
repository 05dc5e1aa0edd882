/**
 * Async iteration over a client's messages. Messages that arrive while the loop body runs are
 * buffered (without bound: a loop that falls behind for good holds every message), in order;
 * the iterator ends when the client closes for good, or when the loop breaks.
 */

import type { SteadySocket } from './client';

/** The part of the client iteration needs. */
export interface MessageSource<In> {
  readonly state: string;
  on(event: 'message', listener: (data: In) => void): unknown;
  on(event: 'state', listener: (state: string) => void): unknown;
  off(event: 'message', listener: (data: In) => void): unknown;
  off(event: 'state', listener: (state: string) => void): unknown;
}

/**
 * Iterates over a client's incoming messages across reconnects:
 * `for await (const message of messages(socket))`. Ends after the final close, or when the loop
 * breaks; messages that arrive while the loop body runs are buffered, in order.
 */
export function messages<In>(source: SteadySocket<In, any>): AsyncIterableIterator<In>;
export function messages<In>(source: MessageSource<In>): AsyncIterableIterator<In>;
export function messages<In>(source: MessageSource<In>): AsyncIterableIterator<In> {
  /** Messages not yet taken, from `head` on (taken slots are emptied; shift() is O(n) on a large array). */
  const buffer: (In | undefined)[] = [];
  let head = 0;
  /** Calls of next() waiting for a message, oldest first (a caller may ask again before an answer). */
  const waiting: ((result: IteratorResult<In>) => void)[] = [];
  let done = source.state === 'closed';
  const onMessage = (data: In) => {
    const resolve = waiting.shift();
    if (resolve) resolve({ value: data, done: false });
    else buffer.push(data);
  };
  const onState = (state: string) => {
    if (state === 'closed') stop();
  };
  const stop = () => {
    done = true;
    source.off('message', onMessage);
    source.off('state', onState);
    for (const resolve of waiting.splice(0)) resolve({ value: undefined, done: true });
  };
  if (!done) {
    source.on('message', onMessage);
    source.on('state', onState);
  }
  const iterator: AsyncIterableIterator<In> = {
    next: () => {
      if (head < buffer.length) {
        const value = buffer[head] as In;
        buffer[head++] = undefined;
        // Once more than half of it (and over 1,024) is taken: at most twice what is buffered.
        if (head > 1024 && head * 2 > buffer.length) {
          buffer.splice(0, head);
          head = 0;
        }
        return Promise.resolve({ value, done: false });
      }
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => waiting.push(resolve));
    },
    return: () => {
      stop();
      buffer.length = head = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
