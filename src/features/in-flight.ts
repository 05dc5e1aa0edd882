/**
 * Messages in flight, by id, oldest first: acks() keeps written messages here until they are
 * acknowledged, requests() its requests until they are answered.
 *
 * One array of [id, value, deadline] triples in the order added; a value taken out leaves an
 * empty slot behind until the array is compacted. Replies mostly come in order and ids mostly
 * count up: the oldest is then the one taken, and an id above every id added so far cannot be in
 * flight yet, so neither needs a lookup. Anything else (a reply out of order, an id written again,
 * ids that are strings) finds its slot in a Map, made when first needed and dropped when the
 * array is compacted.
 *
 * Not a `Map` of id → value: with a thousand messages in flight, V8 keeps such a Map's hash
 * table in the old generation, and a young-generation collection then keeps values alive that
 * were taken out since (most likely through the tables a rehash leaves behind) and promotes
 * them (`--trace-gc-nvp` in bench/ `delivery`: ~560 KB promoted per scavenge, against ~22 KB
 * with slots).
 */
export class InFlight<K, V> {
  /** How many values are in flight. */
  size = 0;
  /** id, value (undefined once taken), deadline; from `_head` on. */
  private _slots: unknown[] = [];
  /** The oldest value's slot (never empty), or the array's length. */
  private _head = 0;
  /** The greatest number ever added as an id. */
  private _max = -Infinity;
  /** The last slot of each id (a taken slot holds no value): made by the first lookup, dropped when the slots move. */
  private _index?: Map<unknown, number>;
  /** Running `each` calls: slots stay where they are meanwhile. */
  private _walking = 0;

  /** Adds `value` as the newest, under `id`; returns what `id` held before, taken out. */
  add(id: K, value: V, deadline: number): V | undefined {
    const earlier = typeof id === 'number' && id > this._max ? ((this._max = id), undefined) : this.take(id);
    const slot = this._slots.push(id, value, deadline) - 3;
    this.size++;
    this._index?.set(id, slot);
    if (!this._walking && slot > 6 * this.size + 96) this._compact();
    return earlier;
  }

  /** Takes out and returns what `id` holds (undefined: nothing). */
  take(id: K): V | undefined {
    const slots = this._slots;
    let slot: number | undefined = this._head;
    if (slots[slot] !== id) {
      if (!this._index) {
        this._index = new Map();
        for (let at = slot; at < slots.length; at += 3) this._index.set(slots[at], at);
      }
      slot = this._index.get(id);
    }
    const value = slot === undefined ? undefined : (slots[slot + 1] as V | undefined);
    if (value !== undefined) {
      slots[slot! + 1] = undefined;
      this.size--;
      while (this._head < slots.length && slots[this._head + 1] === undefined) this._head += 3;
    }
    return value;
  }

  /**
   * Calls `fn` with every value, its id and deadline, oldest first, until it returns false. `fn`
   * may add and take: it is called for what is added meanwhile, not for what is taken before its
   * turn; a clear() ends the walk.
   */
  each(fn: (value: V, id: K, deadline: number) => boolean | void): void {
    const slots = this._slots;
    this._walking++;
    try {
      for (let slot = this._head; slot < slots.length; slot += 3) {
        const value = slots[slot + 1] as V | undefined;
        if (value !== undefined && fn(value, slots[slot] as K, slots[slot + 2] as number) === false) return;
      }
    } finally {
      this._walking--;
    }
  }

  /** Takes out every value. */
  clear(): void {
    // A new array, the old one emptied: a walk in progress ends.
    this._slots.length = this._head = this.size = 0;
    this._slots = [];
    this._index = undefined;
  }

  /** Moves what is in flight to the front, in order (once more than half the slots are empty). */
  private _compact(): void {
    const slots = this._slots;
    let to = 0;
    for (let slot = this._head; slot < slots.length; slot += 3) {
      if (slots[slot + 1] === undefined) continue;
      slots[to++] = slots[slot];
      slots[to++] = slots[slot + 1];
      slots[to++] = slots[slot + 2];
    }
    slots.length = to;
    this._head = 0;
    this._index = undefined;
  }
}
