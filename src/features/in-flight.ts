/**
 * Messages in flight, by id, oldest first: acks() keeps written messages here until they are
 * acknowledged, requests() its requests until they are answered.
 *
 * Not a `Map` of id → value: with a thousand messages in flight, V8 keeps such a Map's hash
 * table in the old generation, and a young-generation collection then keeps values alive that
 * were taken out since (most likely through the tables a rehash leaves behind) and promotes
 * them: each message is copied, promoted and collected again with the old generation
 * (`--trace-gc-nvp` in bench/ `delivery`: ~560 KB promoted per scavenge, against ~22 KB now;
 * about half of what acks() cost). Here the Map holds slot numbers (its insertion order is the
 * order added), and a slot is emptied as soon as its value is taken out.
 */
export class InFlight<K, V> {
  /** The slot of each id, oldest first. */
  private readonly _slots = new Map<K, number>();
  private readonly _values: (V | undefined)[] = [];
  private readonly _deadlines: number[] = [];
  /** Emptied slots, to be used again. */
  private readonly _free: number[] = [];

  get size(): number {
    return this._slots.size;
  }

  /** Adds `value` as the newest, under `id`; returns what `id` held before, taken out. */
  add(id: K, value: V, deadline: number): V | undefined {
    const earlier = this.take(id);
    const slot = this._free.pop() ?? this._values.length;
    this._values[slot] = value;
    this._deadlines[slot] = deadline;
    this._slots.set(id, slot);
    return earlier;
  }

  /** Takes out and returns what `id` holds (undefined: nothing). */
  take(id: K): V | undefined {
    const slot = this._slots.get(id);
    if (slot === undefined) return undefined;
    this._slots.delete(id);
    const value = this._values[slot];
    this._values[slot] = undefined;
    this._free.push(slot);
    return value;
  }

  /** Calls `fn` with every value, its id and deadline, oldest first, until it returns false. */
  each(fn: (value: V, id: K, deadline: number) => boolean | void): void {
    for (const [id, slot] of this._slots) if (fn(this._values[slot]!, id, this._deadlines[slot]) === false) return;
  }

  /** Takes out every value. */
  clear(): void {
    this._slots.clear();
    this._values.length = this._deadlines.length = this._free.length = 0;
  }
}
