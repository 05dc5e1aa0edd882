// Shared by the Outbox's tests (test/unit/outbox, mutants-delivery): entries, an outbox that
// records its drops, and reads of its internal array (to bound its memory).
import { Outbox, type DropReason, type OutboxEntry, type OverflowPolicy } from '../../src/outbox';

export function entry(value: number, size = 1, expires = Infinity): OutboxEntry<number> {
  return { value, wire: value, codec: undefined, size, expires, queued: false };
}

/** The outbox's array from its head on: live entries and tombstones (internal, read to bound memory). */
export function slots<T>(outbox: Outbox<T>): number {
  const inside = outbox as unknown as { items: unknown[]; head: number };
  return inside.items.length - inside.head;
}

/** The outbox's whole array, the emptied slots before its head included. */
export function arrayLength<T>(outbox: Outbox<T>): number {
  return (outbox as unknown as { items: unknown[] }).items.length;
}

/** The queued values, oldest first. */
export function values<T>(outbox: Outbox<T>): T[] {
  return [...outbox.entries()].map((e) => e.value);
}

export function make(maxMessages: number, maxBytes: number, overflow: OverflowPolicy) {
  const drops: [number, DropReason][] = [];
  const outbox = new Outbox<number>({ maxMessages, maxBytes, overflow }, (e, reason) => drops.push([e.value, reason]));
  return { outbox, drops };
}
