import { expect } from 'chai';
import fc from 'fast-check';
import { expireEntries, type OutboxEntry, type OverflowPolicy } from '../../src/outbox';
import { entry, make, slots, values } from '../support/outbox';

describe('outbox', () => {
  it('is first in, first out', () => {
    const { outbox } = make(10, 100, 'error');
    for (let i = 0; i < 5; i++) outbox.push(entry(i));
    expect(values(outbox)).to.deep.equal([0, 1, 2, 3, 4]);
    expect(outbox.shift(0)?.value).to.equal(0);
    expect(outbox.shift(0)?.value).to.equal(1);
    expect(outbox.size).to.equal(3);
  });

  it('drop-oldest evicts from the front and announces it', () => {
    const { outbox, drops } = make(3, 100, 'drop-oldest');
    for (let i = 0; i < 5; i++) expect(outbox.push(entry(i))).to.equal(true);
    expect(values(outbox)).to.deep.equal([2, 3, 4]);
    expect(drops).to.deep.equal([[0, 'overflow'], [1, 'overflow']]);
  });

  it('drop-newest and error refuse the new message and keep the old ones', () => {
    for (const policy of ['drop-newest', 'error'] as const) {
      const { outbox, drops } = make(2, 100, policy);
      outbox.push(entry(1));
      outbox.push(entry(2));
      expect(outbox.push(entry(3))).to.equal(false);
      expect(values(outbox)).to.deep.equal([1, 2]);
      expect(drops).to.deep.equal([]);
    }
  });

  it('bounds bytes as well as messages, and refuses a message bigger than the whole outbox', () => {
    const { outbox, drops } = make(100, 10, 'drop-oldest');
    outbox.push(entry(1, 4));
    outbox.push(entry(2, 4));
    outbox.push(entry(3, 4));
    expect(values(outbox)).to.deep.equal([2, 3]);
    expect(outbox.bytes).to.equal(8);
    expect(drops).to.deep.equal([[1, 'overflow']]);
    expect(outbox.push(entry(4, 11))).to.equal(false);
  });

  it('drops expired messages on shift and on expireEntries(), reporting the next expiry', () => {
    const { outbox, drops } = make(10, 100, 'error');
    outbox.push(entry(1, 1, 100));
    outbox.push(entry(2, 1, 300));
    outbox.push(entry(3, 1, 200));
    expect(expireEntries(outbox, 150, (e) => drops.push([e.value, 'expired']))).to.equal(200);
    expect(drops).to.deep.equal([[1, 'expired']]);
    expect(outbox.shift(250)?.value).to.equal(2);
    expect(outbox.shift(250)).to.equal(undefined);
    expect(drops).to.deep.equal([[1, 'expired'], [3, 'expired']]);
  });

  it('expireEntries(ordered) looks at the expired entries at the front and the first one left, and keeps the order', () => {
    const { outbox } = make(100_000, Infinity, 'error');
    let reads = 0;
    const entries = Array.from({ length: 50_000 }, (_, i) => {
      const e = entry(i, 1, i + 1);
      let expires = e.expires;
      Object.defineProperty(e, 'expires', { get: () => (reads++, expires), set: (v: number) => (expires = v) });
      return e;
    });
    entries.forEach((e) => outbox.push(e));
    outbox.remove(entries[10]); // a tombstone on the way
    const reported: number[] = [];
    const arrays = new Set<unknown>(); // each a copy of the live entries: a few in all, not one per look
    // One expiry at a time, as ttl()'s timer fires: 50,000 looks, each at one or two entries.
    for (let now = 1; now <= 50_000; now++) {
      const next = expireEntries(outbox, now, (e) => reported.push(e.value), true);
      arrays.add(outbox['items']);
      expect(next).to.equal(now === 10 ? 12 : now < 50_000 ? now + 1 : Infinity); // 10 (expiring at 11) was withdrawn
      if (now === 100) expect(values(outbox).slice(0, 2), 'the first one left stays first').to.deep.equal([100, 101]);
    }
    expect(reported).to.deep.equal(entries.filter((_, i) => i !== 10).map((e) => e.value));
    expect(reads, 'expiries read (a walk of the whole outbox each time: about 1.25 billion)').to.be.at.most(10 * 50_000);
    expect(outbox.size).to.equal(0);
    expect(arrays.size, 'arrays the outbox made').to.be.at.most(20);
  });

  it('withdraws from the middle in O(1) and never yields a withdrawn entry', () => {
    const { outbox } = make(10, 100, 'error');
    const entries = [1, 2, 3].map((v) => entry(v));
    entries.forEach((e) => outbox.push(e));
    expect(outbox.remove(entries[1])).to.equal(true);
    expect(outbox.remove(entries[1])).to.equal(false);
    expect(values(outbox)).to.deep.equal([1, 3]);
    expect(outbox.shift(0)?.value).to.equal(1);
    expect(outbox.shift(0)?.value).to.equal(3);
    expect(outbox.size).to.equal(0);
  });

  it('keeps order, bounds and accounting for any sequence of operations (model-based)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), size: fc.integer({ min: 0, max: 12 }), ttl: fc.option(fc.integer({ min: 1, max: 50 })) }),
      fc.record({ kind: fc.constant('shift' as const) }),
      fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('expire' as const) }),
      // A drop listener that sends while expired messages are reported (the walk is running).
      fc.record({ kind: fc.constant('expire-and-push' as const), size: fc.integer({ min: 0, max: 12 }) }),
      fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 30 }) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom<OverflowPolicy>('drop-oldest', 'drop-newest', 'error'),
        fc.array(op, { maxLength: 120 }),
        (maxMessages, maxBytes, overflow, ops) => {
          const { outbox, drops } = make(maxMessages, maxBytes, overflow);
          let model: OutboxEntry<number>[] = [];
          let now = 0;
          let next = 0;
          const out: number[] = [];
          for (const o of ops) {
            if (o.kind === 'push') {
              const e = entry(next++, o.size, o.ttl === null ? Infinity : now + o.ttl);
              const accepted = outbox.push(e);
              if (accepted) {
                model = model.filter((m) => m.queued);
                model.push(e);
              }
              if (o.size > maxBytes) expect(accepted).to.equal(false);
            } else if (o.kind === 'shift') {
              const e = outbox.shift(now);
              const live = model.filter((m) => m.queued || m === e);
              if (e) {
                out.push(e.value);
                expect(e.expires).to.be.greaterThan(now);
              }
              model = live.filter((m) => m !== e && m.queued);
            } else if (o.kind === 'remove' && model.length) {
              const victim = model[o.pick % model.length];
              outbox.remove(victim);
              model = model.filter((m) => m.queued);
            } else if (o.kind === 'expire') {
              // Ordered (what ttl() knows when expiries were given in send order) or not, the same
              // entries expire and the same next expiry comes back.
              const ordered = model.every((m, i) => i === 0 || m.expires >= model[i - 1].expires);
              const expired = model.filter((m) => m.expires <= now).map((m) => m.value);
              const reported: number[] = [];
              const soonest = expireEntries(outbox, now, (e) => reported.push(e.value), ordered);
              model = model.filter((m) => m.queued);
              expect(reported, ordered ? 'ordered' : 'unordered').to.deep.equal(expired);
              expect(soonest).to.equal(Math.min(Infinity, ...model.map((m) => m.expires)));
            } else if (o.kind === 'expire-and-push') {
              const pushed: OutboxEntry<number>[] = [];
              expireEntries(outbox, now, () => {
                const e = entry(next++, o.size);
                if (outbox.push(e)) pushed.push(e);
              });
              model = [...model, ...pushed].filter((m) => m.queued);
            } else if (o.kind === 'tick') {
              now += o.ms;
            }
            model = model.filter((m) => m.queued);
            // Bounds hold, accounting matches, and order is insertion order.
            expect(outbox.size).to.be.at.most(maxMessages);
            expect(outbox.bytes).to.be.at.most(maxBytes);
            expect(outbox.size).to.equal(model.length);
            expect(outbox.bytes).to.equal(model.reduce((n, m) => n + m.size, 0));
            expect(values(outbox)).to.deep.equal(model.map((m) => m.value));
            // Memory follows the limits: after a push, the tombstones are at most the live entries plus 64.
            if (o.kind === 'push') expect(slots(outbox)).to.be.at.most(2 * outbox.size + 64);
          }
          // Shifted values come out in increasing order, each at most once; nothing is both sent and dropped.
          for (let i = 1; i < out.length; i++) expect(out[i]).to.be.greaterThan(out[i - 1]);
          const dropped = new Set(drops.map(([v]) => v));
          for (const v of out) expect(dropped.has(v)).to.equal(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps memory within its limits while nothing is written: drop-oldest evicting on every push, withdrawals, expiry', () => {
    // Offline for a long time, a producer keeps sending: drop-oldest evicts one per push, and
    // nothing is shifted. The evicted (their data too) must not pile up, nor be scanned again.
    const { outbox, drops } = make(100, Infinity, 'drop-oldest');
    for (let i = 0; i < 20_000; i++) outbox.push(entry(i));
    expect(drops.length).to.equal(19_900);
    expect(values(outbox)).to.deep.equal(Array.from({ length: 100 }, (_, i) => 19_900 + i));
    expect(slots(outbox), 'slots for 100 live messages').to.be.at.most(2 * 100 + 64);
    // Withdrawn from the middle (deliver() signals) while new ones come.
    const withdrawing = make(100, Infinity, 'error').outbox;
    const live: OutboxEntry<number>[] = [];
    for (let i = 0; i < 100; i++) {
      live.push(entry(i));
      withdrawing.push(live[i]);
    }
    for (let i = 100; i < 20_000; i++) {
      withdrawing.remove(live.splice(i % 2 ? 0 : 50, 1)[0]);
      live.push(entry(i));
      withdrawing.push(live[live.length - 1]);
    }
    expect(values(withdrawing)).to.deep.equal(live.map((e) => e.value));
    expect(slots(withdrawing)).to.be.at.most(2 * 100 + 64);
    // Expired by ttl() between pushes.
    const expiring = make(100, Infinity, 'error').outbox;
    for (let i = 0; i < 20_000; i++) {
      expiring.push(entry(i, 1, i + 50));
      expireEntries(expiring, i, () => {});
    }
    expect(expiring.size).to.equal(50);
    expect(slots(expiring)).to.be.at.most(2 * 50 + 64);
  });

  it('puts back 50,000 unacknowledged entries (newest first) ahead of the queue, in order, without unshift', () => {
    // acks() at a disconnect: every message written and not acknowledged goes back to the front.
    // unshift() made that O(n²): 100,000 took 2 s. Room is made at the front instead.
    const { outbox } = make(1_000_000, Infinity, 'error');
    for (let i = 0; i < 10; i++) outbox.push(entry(100_000 + i));
    const held = Array.from({ length: 50_000 }, (_, i) => entry(i));
    const unshift = Array.prototype.unshift;
    let unshifts = 0;
    Array.prototype.unshift = function (this: unknown[], ...items: unknown[]) {
      unshifts++;
      return unshift.apply(this, items);
    };
    try {
      for (let i = held.length - 1; i >= 0; i--) outbox.restore(held[i]);
    } finally {
      Array.prototype.unshift = unshift;
    }
    expect(unshifts, 'unshift calls').to.equal(0);
    expect(outbox.size).to.equal(50_010);
    expect(slots(outbox), 'slots from the head on').to.equal(50_010);
    const out: number[] = [];
    let e: OutboxEntry<number> | undefined;
    while ((e = outbox.shift(0))) out.push(e.value);
    expect(out).to.deep.equal([...held.map((h) => h.value), ...Array.from({ length: 10 }, (_, i) => 100_000 + i)]);
    // An entry taken and put back (a flush that could not write it) keeps its place.
    outbox.push(entry(1));
    outbox.push(entry(2));
    outbox.restore(outbox.shift(0)!);
    expect(values(outbox)).to.deep.equal([1, 2]);
  });

  it('handles 100,000 messages with O(1) push and shift', () => {
    const { outbox } = make(200_000, Infinity, 'error');
    for (let i = 0; i < 100_000; i++) outbox.push(entry(i));
    let expected = 0;
    let e: OutboxEntry<number> | undefined;
    while ((e = outbox.shift(0))) expect(e.value).to.equal(expected++);
    expect(expected).to.equal(100_000);
  });
});
