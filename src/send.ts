/**
 * The send path's pure parts: encoding a message for the wire, the errors of a message that
 * cannot go, and the codec a message queued before any connection will most likely need.
 */
import { wireSize, type Codec, type WireData } from './codecs';
import { causeText, SteadySocketError, type SteadySocketErrorCode } from './errors';
import type { ResolvedOptions } from './options';
import type { OutboxDropReason, OutboxEntry } from './outbox';

/** The code of each drop the client reports itself (`ack-timeout` is reported by acks()). */
export const DROP_CODES: Record<OutboxDropReason, SteadySocketErrorCode> = {
  overflow: 'QUEUE_OVERFLOW',
  expired: 'MESSAGE_EXPIRED',
  withdrawn: 'MESSAGE_WITHDRAWN',
  closed: 'CLOSED',
  'encode-failed': 'ENCODE_FAILED',
};

/** The error a dropped message's `deliver()` rejects with. */
export function dropError(reason: OutboxDropReason, cause?: unknown): SteadySocketError {
  return new SteadySocketError(DROP_CODES[reason], `The message was not sent (${reason}).`, cause);
}

export function closedError(cause?: unknown): SteadySocketError {
  return new SteadySocketError('CLOSED', 'The socket is closed for good: create a new SteadySocket to connect again.', cause);
}

export function invalidMessage(data: unknown): SteadySocketError {
  const type = Array.isArray(data) ? 'array' : typeof data;
  return new SteadySocketError('INVALID_MESSAGE', `Cannot send ${data == null ? data : `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`}: send a string, ArrayBuffer, typed array or Blob, or set a codec.`);
}

/** `data` as it goes on the wire through `codec` (as given without one); throws ENCODE_FAILED or INVALID_MESSAGE. */
export function toWire<Out>(codec: Codec<unknown, Out> | undefined, data: Out): WireData {
  let wire: WireData;
  try {
    wire = codec ? codec.encode(data) : (data as WireData);
  } catch (cause) {
    throw new SteadySocketError('ENCODE_FAILED', `The codec could not encode the message: ${causeText(cause)}`, cause);
  }
  if (typeof wire !== 'string' && wireSize(wire) < 0) throw invalidMessage(wire);
  return wire;
}

/**
 * A binary message that waits, in bytes of its own as they are now: a WebSocket's send() copies
 * what it is given, so the application may refill, reuse or transfer its buffer at once. The copy
 * is never shared memory either, which browsers' send() refuses (it would throw in the flush).
 */
export function own(wire: WireData): WireData {
  return typeof wire == 'object' && 'byteLength' in wire ? (ArrayBuffer.isView(wire) ? new Uint8Array(wire.buffer, wire.byteOffset, wire.byteLength) : new Uint8Array(wire)).slice() : wire;
}

/** The codec of the first offered subprotocol that has one when protocols are static, else `codec`. */
export function likelyCodec<In, Out>({ codecs, codec, protocols }: ResolvedOptions<In, Out>): Codec<In, Out> | undefined {
  if (codecs) {
    // A protocols provider answers per attempt: then the default codec, or else the first of `codecs`.
    const offered = typeof protocols === 'string' ? [protocols] : Array.isArray(protocols) ? protocols : typeof protocols === 'function' && !codec ? Object.keys(codecs) : [];
    // Own entries only, as codecFor() reads them: `constructor` and `__proto__` are tokens too.
    for (const protocol of offered) if (Object.prototype.hasOwnProperty.call(codecs, protocol)) return codecs[protocol];
  }
  return codec;
}

/** Withdraws `entry` when `signal` aborts (`withdraw` reports it); stops watching once the entry is done. */
export function withdrawOnAbort(entry: OutboxEntry<unknown>, signal: AbortSignal, withdraw: () => void): void {
  // Aborted while it was being queued (by a drop listener): withdrawn at once.
  if (signal.aborted) return withdraw();
  signal.addEventListener('abort', withdraw, { once: true });
  entry.done = () => signal.removeEventListener('abort', withdraw);
}
