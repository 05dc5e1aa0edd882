// indexedDbStore() writes what changed, over the IndexedDB double: with a slot of its own (Web
// Locks) a save deletes the records of messages that left and puts those that came, instead of
// clearing the store and putting every message (10,000 waiting messages meant 10,000 puts per
// save); what is stored always equals the last snapshot saved, in order.
import { expect } from 'chai';
import fc from 'fast-check';
import type { StoredMessage } from '../../src/index';
import { indexedDbStore } from '../../src/storage/indexeddb';
import { FakeIndexedDB, FakeLocks, slotContents } from '../support/fake-indexeddb';

const text = (n: number): StoredMessage => ({ data: `message ${n}`, queuedAt: 1_700_000_000_000 + n });

describe('storage: indexedDbStore writes what changed (IndexedDB double)', () => {
  function make(withLocks = true) {
    const factory = new FakeIndexedDB();
    const locks = new FakeLocks();
    const store = indexedDbStore('outbox', { indexedDB: factory as unknown as IDBFactory, locks: withLocks ? locks.tab() : undefined });
    const requests = () => ({ ...factory.requests });
    const since = (before: { puts: number; deletes: number; clears: number }) => {
      const now = factory.requests;
      return { puts: now.puts - before.puts, deletes: now.deletes - before.deletes, clears: now.clears - before.clears };
    };
    return { factory, store, requests, since, contents: () => slotContents(factory, 'outbox') };
  }

  it('1,000 stored, 10 leave from the front and 10 from the middle, 10 come: 20 deletes and 10 puts, no clear', async () => {
    const { factory, store, requests, since, contents } = make();
    expect(await store.load()).to.deep.equal([]);
    let snapshot = Array.from({ length: 1000 }, (_, i) => text(i));
    await store.save(snapshot);
    expect(contents()).to.deep.equal(snapshot);
    const before = requests();
    snapshot = [...snapshot.slice(10, 500), ...snapshot.slice(510), ...Array.from({ length: 10 }, (_, i) => text(1000 + i))];
    await store.save(snapshot.map((m) => ({ ...m }))); // new objects, as persist() makes for each save
    expect(since(before), 'write requests of the second save').to.deep.equal({ puts: 10, deletes: 20, clears: 0 });
    expect(contents()).to.deep.equal(snapshot);
    // Read back by a store made later (the next page): the same messages, in order.
    expect(await indexedDbStore('outbox', { indexedDB: factory as unknown as IDBFactory }).load()).to.deep.equal(snapshot);
  });

  it('binary messages are compared by their bytes; a save that changes nothing writes nothing', async () => {
    const { store, requests, since, contents } = make();
    await store.load();
    const bytes = (n: number) => ({ data: new Uint8Array([n, n + 1, n + 2]), id: `b${n}` });
    await store.save([bytes(1), bytes(2), bytes(3)]);
    const before = requests();
    await store.save([bytes(1), bytes(2), bytes(3)]);
    expect(since(before)).to.deep.equal({ puts: 0, deletes: 0, clears: 0 });
    await store.save([bytes(2), { data: new Uint8Array([2, 3, 9]), id: 'b3' }]);
    expect(since(before), 'the changed bytes are a new message').to.deep.equal({ puts: 1, deletes: 2, clears: 0 });
    expect(contents()).to.deep.equal([bytes(2), { data: new Uint8Array([2, 3, 9]), id: 'b3' }]);
  });

  it('without Web Locks (tabs share one database) every save rewrites it whole, as before', async () => {
    const { store, requests, since, contents } = make(false);
    await store.load();
    await store.save([text(1), text(2)]);
    const before = requests();
    await store.save([text(2), text(3)]);
    expect(since(before)).to.deep.equal({ puts: 2, deletes: 0, clears: 1 });
    expect(contents()).to.deep.equal([text(2), text(3)]);
  });

  it('after a save that aborted (quota), the next one rewrites the store whole and it holds that snapshot', async () => {
    const { factory, store, requests, since, contents } = make();
    await store.load();
    await store.save([text(1), text(2)]);
    factory.abortNext = 'QuotaExceededError';
    const failed = await store.save([text(2), text(3)]).then(() => undefined, (error: { code: string }) => error.code);
    expect(failed).to.equal('STORAGE_FAILED');
    expect(contents(), 'the old contents stay').to.deep.equal([text(1), text(2)]);
    const before = requests();
    await store.save([text(2), text(4)]);
    expect(since(before).clears, 'rewritten whole').to.equal(1);
    expect(contents()).to.deep.equal([text(2), text(4)]);
  });

  it('loads a database whose keys are 0…n-1 and then writes only changes; refuses keys that are not whole and increasing', async () => {
    const factory = new FakeIndexedDB();
    factory.databases.set('outbox', { version: 1, stores: new Map([['outbox', new Map<number, unknown>([[0, text(0)], [1, text(1)], [2, text(2)]])]]) });
    const store = indexedDbStore('outbox', { indexedDB: factory as unknown as IDBFactory, locks: new FakeLocks().tab() });
    expect(await store.load()).to.deep.equal([text(0), text(1), text(2)]);
    const before = { ...factory.requests };
    await store.save([text(1), text(2), text(3)]);
    expect({ puts: factory.requests.puts - before.puts, deletes: factory.requests.deletes - before.deletes }).to.deep.equal({ puts: 1, deletes: 1 });
    expect([...factory.databases.get('outbox')!.stores.get('outbox')!.keys()].sort((a, b) => a - b), 'the new one after every key').to.deep.equal([1, 2, 3]);
    for (const key of [-1, 0.5, Number.MAX_SAFE_INTEGER + 2]) {
      factory.databases.set(`odd${key}`, { version: 1, stores: new Map([['outbox', new Map<number, unknown>([[key, text(0)]])]]) });
      const odd = indexedDbStore(`odd${key}`, { indexedDB: factory as unknown as IDBFactory });
      expect(await odd.load().then(() => 'loaded', (error: { code: string }) => error.code), `key ${key}`).to.equal('STORAGE_CORRUPT');
    }
  });

  it('for any sequence of snapshots (messages leaving anywhere, coming, moving, repeated, aborted saves), the store holds the last one saved, in order', async () => {
    type Op = { kind: 'drop'; at: number } | { kind: 'add'; n: number } | { kind: 'move'; from: number; to: number } | { kind: 'repeat'; at: number } | { kind: 'save'; abort: boolean };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('drop' as const), at: fc.nat(50) }),
      fc.record({ kind: fc.constant('add' as const), n: fc.nat(8) }),
      fc.record({ kind: fc.constant('move' as const), from: fc.nat(50), to: fc.nat(50) }),
      fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(50) }),
      fc.record({ kind: fc.constant('save' as const), abort: fc.boolean() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const { factory, store, contents } = make();
        await store.load();
        let snapshot: StoredMessage[] = [];
        let saved: StoredMessage[] = [];
        let n = 0;
        const message = (k: number): StoredMessage => (k % 3 === 0 ? { data: new Uint8Array([k % 256, 7]), id: k } : { data: `m${k % 5}`, queuedAt: k % 4 }); // repeats of one content too
        for (const o of ops) {
          if (o.kind === 'drop' && snapshot.length) snapshot.splice(o.at % snapshot.length, 1);
          else if (o.kind === 'add') for (let i = 0; i < o.n; i++) snapshot.push(message(n++));
          else if (o.kind === 'move' && snapshot.length) snapshot.splice(o.to % snapshot.length, 0, ...snapshot.splice(o.from % snapshot.length, 1));
          else if (o.kind === 'repeat' && snapshot.length) snapshot.push({ ...snapshot[o.at % snapshot.length] });
          else if (o.kind === 'save') {
            if (o.abort) factory.abortNext = 'QuotaExceededError';
            const ok = await store.save(snapshot.map((m) => ({ ...m }))).then(() => true, () => false);
            expect(ok, 'a save fails only when aborted').to.equal(!o.abort);
            if (ok) saved = snapshot.slice();
            expect(contents()).to.deep.equal(saved);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('storage: indexedDbStore, a load() and a save asked for in one turn (IndexedDB double)', () => {
  it('a read made before a save began never becomes what the store thinks is stored', async () => {
    // The double completes a read and a write made in one turn in one round, with no promise
    // jobs between them (browsers run them after each event): load() then took the contents from
    // before the write for what is stored, and the next save, diffing against them, lost m1.
    const m = (n: number): StoredMessage => ({ data: `m${n}`, queuedAt: n });
    const factory = new FakeIndexedDB();
    const store = indexedDbStore('outbox', { indexedDB: factory as unknown as IDBFactory, locks: new FakeLocks().tab() });
    await store.save([m(1)]);
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    await Promise.all([store.load(), store.save([m(2)])]);
    expect(slotContents(factory, 'outbox')).to.deep.equal([m(2)]);
    await store.save([m(1), m(3)]);
    expect(slotContents(factory, 'outbox')).to.deep.equal([m(1), m(3)]);
  });
});
