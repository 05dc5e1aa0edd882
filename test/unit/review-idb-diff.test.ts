// Review of indexedDbStore()'s saves of what changed (372c985) and persist()'s one save at a time
// (4e6d815), off the happy path. Tests named 'regression:' failed before their fix (each comment
// says what was wrong and where); the others pin behaviour probed and found correct. A load()
// whose read was made before a save began no longer sets what the store thinks is stored (see
// test/unit/storage-indexeddb-changes.test.ts, which reproduces it over the double).
import { expect } from 'chai';
import { persist, SteadySocket, type OutboxStore, type StoredMessage } from '../../src/index';
import { indexedDbStore } from '../../src/storage/indexeddb';
import { fakeOpener, useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeIndexedDB, FakeLocks, listing, slotContents } from '../support/fake-indexeddb';
import { FakeWebSocket } from '../support/fake-websocket';
import { heldStore } from '../support/held-store';
import { outcome } from '../support/rejection';

const text = (n: number): StoredMessage => ({ data: `message ${n}`, queuedAt: 1_700_000_000_000 + n });
const copies = (messages: StoredMessage[]) => messages.map((m) => ({ ...m }));
/** Lets the double's setImmediate work (opens, deletes, transactions) and promise jobs run. */
const settle = async (rounds = 10) => {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('review: indexedDbStore() saves what changed (IndexedDB double)', () => {
  function make(name = 'outbox') {
    const factory = new FakeIndexedDB();
    const locks = new FakeLocks();
    const tab = locks.tab();
    const store = indexedDbStore(name, { indexedDB: factory as unknown as IDBFactory, locks: tab });
    /** What a store made later (the next page) reads: the truth on "disk". */
    const reload = () => indexedDbStore(name, { indexedDB: factory as unknown as IDBFactory }).load();
    return { factory, locks, tab, store, reload, contents: () => slotContents(factory, name) };
  }

  describe('regressions', () => {
    // Wrong: clear() sets `stored = undefined` (src/storage/indexeddb.ts:326), but a save whose
    // transaction was made before the delete commits afterwards and sets `stored = after`
    // (indexeddb.ts:261): what the deleted database held. The next save diffs against it, puts only
    // the messages not in it, and the messages that stayed are gone.
    it('regression: a save in flight when clear() is called leaves `stored` describing the deleted database: the next save loses the messages that stayed', async () => {
      const { store, contents, reload } = make();
      expect(await store.load()).to.deep.equal([]);
      const saving = store.save([text(1), text(2)]);
      const clearing = store.clear();
      await Promise.all([saving, clearing]);
      expect(contents(), 'cleared').to.deep.equal([]);
      await store.save(copies([text(1), text(2), text(3)]));
      expect(await reload(), 'what the last save asked for').to.deep.equal([text(1), text(2), text(3)]);
    });

    // Wrong: the same through versionchange (indexeddb.ts:146-150): another connection deletes the
    // database while a save's transaction is pending; the handler forgets `stored`, the pending
    // transaction still commits and sets it again (indexeddb.ts:261), then the delete runs.
    it('regression: another connection deletes the database while a save is in flight: the next save writes only what is new into the empty database', async () => {
      const { factory, store, reload } = make();
      await store.load();
      await store.save([text(1)]);
      const saving = store.save([text(1), text(2)]);
      const deleted = new Promise<void>((resolve) => {
        const request = (factory as unknown as IDBFactory).deleteDatabase('outbox');
        request.onsuccess = () => resolve();
      });
      await Promise.all([saving, deleted]);
      expect(factory.databases.has('outbox'), 'deleted').to.equal(false);
      await store.save(copies([text(1), text(2), text(3)]));
      expect(await reload()).to.deep.equal([text(1), text(2), text(3)]);
    });

    // Wrong: db.onclose = forget (indexeddb.ts:151) drops the connection but keeps `stored`. A
    // browser closes connections this way when the user clears site data (the database is gone):
    // the next save reopens an empty database and writes only what `stored` lacks.
    it('regression: a connection the browser closed (site data cleared) keeps `stored`: the next save writes only what is new', async () => {
      const { factory, store, reload } = make();
      await store.load();
      await store.save([text(1), text(2)]);
      // The browser deletes the database and force-closes the connection (a `close` event).
      const [connection] = factory.connections.filter((db) => db.name === 'outbox' && !db.closed);
      expect(connection, 'an open connection').to.not.equal(undefined);
      factory.databases.delete('outbox');
      connection.closePending = connection.closed = true;
      factory.connections.splice(factory.connections.indexOf(connection), 1);
      connection.onclose?.({ type: 'close' });
      await store.save(copies([text(1), text(2), text(3)]));
      expect(await reload()).to.deep.equal([text(1), text(2), text(3)]);
    });

    // Wrong: stores of one name in one page share the slot (claims, indexeddb.ts:58-60 and
    // slot()), but each keeps its own `stored` (indexeddb.ts:225): after the other store writes, it
    // is stale, and a save diffs against records that are no longer there (the last save does not
    // win, as it did when every save rewrote the database).
    it('regression: two stores of one name in one page share a slot, but not `stored`: after the other one saves, a save leaves a mix', async () => {
      const { factory, tab, store: first, reload } = make();
      const second = indexedDbStore('outbox', { indexedDB: factory as unknown as IDBFactory, locks: tab });
      await first.load();
      await first.save([text(1), text(2)]);
      expect(await second.load()).to.deep.equal([text(1), text(2)]);
      await second.save(copies([text(2)]));
      await first.save(copies([text(1), text(2), text(3)]));
      expect(await reload(), 'the last save wins').to.deep.equal([text(1), text(2), text(3)]);
    });

    // Wrong: toRecord() copies bytes with `data.slice()` (indexeddb.ts:354), which for a Buffer (or
    // a bundler's Buffer polyfill) is a view of the same memory; `stored` keeps that record (new
    // since 372c985), so the caller's later writes to the buffer change what the store believes is
    // stored, and the next save of the changed bytes writes nothing.
    it('regression: a Buffer saved and then changed in place: the next save of its new bytes writes nothing', async () => {
      const { store, reload } = make();
      await store.load();
      const bytes = Buffer.from([1, 2, 3]);
      await store.save([{ data: bytes, id: 'b' }]);
      bytes[0] = 9;
      await store.save([{ data: bytes, id: 'b' }]);
      const [back] = await reload();
      expect(Array.from(back.data as Uint8Array), 'the bytes of the last save').to.deep.equal([9, 2, 3]);
    });

    // Wrong: load() keeps the very objects it returns as `stored` records (indexeddb.ts:293-294;
    // adopt() returns them too): a caller that changes a loaded message and saves it changes
    // `stored` with it, so the save finds it "unchanged" and writes nothing.
    it('regression: a loaded message changed by the caller and saved: the change is not written', async () => {
      const { store, reload } = make();
      await store.load();
      await store.save([text(1), { data: new Uint8Array([1, 2]), id: 'b' }]);
      const loaded = await store.load();
      loaded[0].queuedAt = 42;
      (loaded[1].data as Uint8Array)[0] = 7;
      await store.save(loaded);
      const back = await reload();
      expect(back.map((m) => m.queuedAt), 'queuedAt as last saved').to.deep.equal([42, undefined]);
      expect(Array.from(back[1].data as Uint8Array), 'bytes as last saved').to.deep.equal([7, 2]);
    });

    // The first regression through persist(): a live client whose database another connection
    // deletes (an app's logout code, devtools) while its save is in flight. Before 372c985 its next
    // save rewrote the whole outbox; now only what came since, and a reload loses the rest.
    it('regression: persist(indexedDbStore()): the database deleted by another connection during a save; after the next saved(), a reload has only the newest message', async () => {
      const factory = new FakeIndexedDB();
      const store = indexedDbStore('outbox', { indexedDB: factory as unknown as IDBFactory, locks: new FakeLocks().tab() });
      const saving = persist(store);
      FakeWebSocket.reset();
      const socket = new SteadySocket<string, string>('ws://example.test/', { WebSocket: FakeWebSocket as never, use: [saving] }); // never opens: messages wait
      socket.on('error', () => {});
      try {
        await saving.restored;
        socket.send('a');
        socket.send('b');
        await saving.saved();
        socket.send('c');
        (factory as unknown as IDBFactory).deleteDatabase('outbox'); // its versionchange comes while the save of c runs
        await saving.saved();
        await settle();
        socket.send('d');
        await saving.saved();
        expect(socket.queued, 'the outbox').to.deep.equal(['a', 'b', 'c', 'd']);
        const back = await indexedDbStore('outbox', { indexedDB: factory as unknown as IDBFactory }).load();
        expect(back.map((m) => m.data), 'what a reload restores').to.deep.equal(['a', 'b', 'c', 'd']);
      } finally {
        await socket.close();
      }
    });
  });

  describe('pinned (probed, found correct)', () => {
    it('clear() then save() then load(), awaited one by one and called in one turn: the save is what is read; with nothing in flight the save after clear() rewrites everything', async () => {
      const { factory, store, reload } = make();
      await store.load();
      await store.save([text(1), text(2)]);
      await store.clear();
      const before = { ...factory.requests };
      await store.save(copies([text(1), text(2), text(3)]));
      expect(factory.requests.puts - before.puts, 'every message put again').to.equal(3);
      expect(await store.load()).to.deep.equal([text(1), text(2), text(3)]);
      const clearing = store.clear();
      const saving = store.save(copies([text(2), text(4)]));
      const loading = store.load();
      await Promise.all([clearing, saving]);
      expect(await loading).to.deep.equal([text(2), text(4)]);
      expect(await reload()).to.deep.equal([text(2), text(4)]);
    });

    it('the database deleted by another connection while no save runs: the next save rewrites everything', async () => {
      const { factory, store, reload } = make();
      await store.load();
      await store.save([text(1), text(2)]);
      await new Promise<void>((resolve) => ((factory as unknown as IDBFactory).deleteDatabase('outbox').onsuccess = () => resolve()));
      expect(factory.databases.has('outbox')).to.equal(false);
      await store.save(copies([text(1), text(2), text(3)]));
      expect(await reload()).to.deep.equal([text(1), text(2), text(3)]);
    });

    it('a save that aborted, then load(): the next save writes only the changes, and the store holds it', async () => {
      const { factory, store, reload } = make();
      await store.load();
      await store.save([text(1), text(2), text(3)]);
      factory.abortNext = 'QuotaExceededError';
      expect(await store.save([text(9)]).then(() => 'saved', (e: { code: string }) => e.code)).to.equal('STORAGE_FAILED');
      expect(await store.load()).to.deep.equal([text(1), text(2), text(3)]);
      const before = { ...factory.requests };
      await store.save(copies([text(2), text(3), text(4)]));
      expect({ puts: factory.requests.puts - before.puts, deletes: factory.requests.deletes - before.deletes, clears: factory.requests.clears - before.clears }).to.deep.equal({ puts: 1, deletes: 1, clears: 0 });
      expect(await reload()).to.deep.equal([text(2), text(3), text(4)]);
    });

    it('records with equal contents repeated and reordered: [A, A, B] then [A, B, A] keeps two records, deletes one, puts one, and reads back in order', async () => {
      const { factory, store, reload } = make();
      await store.load();
      const A = { data: 'same', id: 1, queuedAt: 5 };
      const B = { data: 'other', id: 2, queuedAt: 6 };
      await store.save([A, { ...A }, B]);
      const before = { ...factory.requests };
      await store.save([{ ...A }, { ...B }, { ...A }]);
      expect({ puts: factory.requests.puts - before.puts, deletes: factory.requests.deletes - before.deletes }).to.deep.equal({ puts: 1, deletes: 1 });
      expect(await reload()).to.deep.equal([A, B, A]);
      await store.save([{ ...A }]);
      expect(await reload(), 'two of three equal ones left').to.deep.equal([A]);
    });

    it('a view into a larger buffer stores only its bytes; bytes outside the view changing is no change, inside it is', async () => {
      const { factory, store, reload } = make();
      await store.load();
      const buffer = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
      const view = () => ({ data: new Uint8Array(buffer.buffer, 2, 3), id: 'v' });
      await store.save([view()]);
      const [stored] = await reload();
      expect((stored.data as Uint8Array).byteLength).to.equal(3);
      expect(Array.from(stored.data as Uint8Array)).to.deep.equal([2, 3, 4]);
      buffer[0] = 99;
      buffer[7] = 99;
      const before = { ...factory.requests };
      await store.save([view()]);
      expect(factory.requests.puts - before.puts, 'outside the view: nothing written').to.equal(0);
      buffer[3] = 42;
      await store.save([view()]);
      expect(factory.requests.puts - before.puts, 'inside the view: written').to.equal(1);
      expect(Array.from((await reload())[0].data as Uint8Array)).to.deep.equal([2, 42, 4]);
    });

    it('adoption saves the union into the own slot; the next saves write only changes; the orphan slot is gone', async () => {
      const fake = new FakeIndexedDB();
      const factory = listing(fake);
      const locks = new FakeLocks();
      const [tab1, tab2] = [locks.tab(), locks.tab()];
      const one = indexedDbStore('outbox', { indexedDB: factory, locks: tab1 });
      const two = indexedDbStore('outbox', { indexedDB: factory, locks: tab2 });
      await one.load();
      await two.load();
      await one.save([text(1), text(2)]);
      await two.save([text(3), { ...text(1) }]); // the same contents as one of slot 1's
      locks.closeAll();
      await settle(); // the double's locks are released a promise job later
      const next = indexedDbStore('outbox', { indexedDB: factory, locks: locks.tab() });
      expect(await next.load()).to.deep.equal([text(1), text(2), text(3), text(1)]);
      expect([...fake.databases.keys()], 'own slot 1 kept, adopted slot 2 deleted').to.deep.equal(['outbox']);
      const before = { ...fake.requests };
      await next.save(copies([text(2), text(3), text(1), text(4)]));
      expect({ puts: fake.requests.puts - before.puts, deletes: fake.requests.deletes - before.deletes, clears: fake.requests.clears - before.clears }).to.deep.equal({ puts: 1, deletes: 1, clears: 0 });
      expect(await indexedDbStore('outbox', { indexedDB: fake as unknown as IDBFactory }).load()).to.deep.equal([text(2), text(3), text(1), text(4)]);
    });

    it('load() called while a save runs reads after it, and a save after that load writes only the changes', async () => {
      const { factory, store, reload } = make();
      await store.load();
      await store.save([text(1)]);
      const saving = store.save(copies([text(1), text(2)]));
      const loading = store.load();
      await saving;
      expect(await loading).to.deep.equal([text(1), text(2)]);
      const before = { ...factory.requests };
      await store.save(copies([text(2), text(3)]));
      expect({ puts: factory.requests.puts - before.puts, deletes: factory.requests.deletes - before.deletes }).to.deep.equal({ puts: 1, deletes: 1 });
      expect(await reload()).to.deep.equal([text(2), text(3)]);
    });
  });
});

describe('review: persist() one save at a time, off the happy path (store double, fake clock)', () => {
  const kit = useFakeClock();
  const errors = useReportedErrors();
  const open = fakeOpener<string, string>(kit, { connectTimeout: Infinity, maxMessages: 1000 });
  const turns = kit.turns;

  it('saved() called from the error listener of a failed save, with a follow-up pending: settles with the follow-up, not with the failure', async () => {
    const { store, saves } = heldStore();
    const saving = persist(store);
    const socket = await open({ use: [saving] });
    await turns();
    saves[0].finish();
    await turns();
    socket.send('a');
    await turns();
    socket.send('b'); // while the save of a runs: a follow-up
    await turns();
    let fromListener: { v: string } | undefined;
    socket.on('error', () => (fromListener ??= outcome(saving.saved())));
    saves[1].finish(new Error('disk full'));
    await turns();
    expect(fromListener, 'the listener ran').to.not.equal(undefined);
    expect(saves.length, 'the follow-up').to.equal(3);
    expect(saves[2].data).to.deep.equal(['a', 'b']);
    expect(fromListener!.v, 'waits for the follow-up').to.equal('pending');
    saves[2].finish();
    await turns();
    expect(fromListener!.v).to.equal('resolved');
    expect(errors).to.deep.equal([]);
  });

  it('close() from the error listener of a failed save, with a follow-up pending: close() waits for the follow-up and the save of the drops, and a second client on the key made then loads after it', async () => {
    const { store, saves, state } = heldStore('memory:review-idb');
    const saving = persist(store);
    const socket = await open({ use: [saving] });
    await turns();
    saves[0].finish();
    await turns();
    socket.send('a');
    await turns();
    socket.send('b');
    await turns();
    let closing: { v: string } | undefined;
    socket.on('error', () => (closing ??= outcome(socket.close())));
    saves[1].finish(new Error('disk full'));
    await turns(10);
    await kit.clock.tickAsync(10); // the fake socket's closing handshake
    expect(socket.state).to.equal('closed');
    expect(saves.length, 'the follow-up (a, b: asked before the close ended) runs; the drops wait behind it').to.equal(3);
    expect(saves[2].data).to.deep.equal(['a', 'b']);
    const second = open.create({ use: [persist(store)] });
    await turns(10);
    expect(closing!.v, 'close() waits for the save of the drops').to.equal('pending');
    saves[2].finish();
    await turns(10);
    expect(saves.length, 'the save of the drops').to.equal(4);
    expect(saves[3].data, 'the outbox after close(): empty').to.deep.equal([]);
    expect(closing!.v).to.equal('pending');
    expect(state.loads, 'the second client has not loaded yet').to.equal(1);
    saves[3].finish();
    await turns(10);
    expect(closing!.v).to.equal('resolved');
    expect(state.loads).to.equal(2);
    expect(state.loadedAfter[1], 'after every save of the first client').to.equal(4);
    expect(second.queued, 'close() dropped a and b').to.deep.equal([]);
    saves.slice(4).forEach((save) => save.finish());
    await turns();
  });

  it('a store that fails every other save, a send and a saved() each turn for 20 turns: each saved() settles, in order, as the first save holding its message did; the store ends with the outbox', async () => {
    const { store, saves, state, running } = heldStore();
    const saving = persist(store);
    const socket = await open({ use: [saving] });
    await turns();
    saves[0].finish();
    await turns();
    const results: { v: string }[] = [];
    const order: number[] = [];
    let finished = 1;
    for (let i = 0; i < 20; i++) {
      socket.send(`m${i}`);
      const box = outcome(saving.saved());
      results.push(box);
      void saving.saved().then(() => order.push(i), () => order.push(i));
      await turns(2);
      expect(running().length, 'never two at once').to.be.at.most(1);
      // Every other turn, the running save settles: failing and succeeding by turns.
      if (i % 2 === 1) for (const save of running()) save.finish(finished++ % 2 === 1 ? new Error('disk full') : undefined);
      await turns(2);
    }
    for (let k = 0; k < 10 && running().length; k++) {
      running().forEach((save) => save.finish());
      await turns(3);
    }
    expect(running().length).to.equal(0);
    for (let i = 0; i < 20; i++) {
      const holder = saves.find((save) => save.data.includes(`m${i}`))!;
      expect(results[i].v, `saved() after m${i}`).to.equal(holder.failed ? 'STORAGE_FAILED' : 'resolved');
    }
    expect(results.some((r) => r.v === 'STORAGE_FAILED') && results.some((r) => r.v === 'resolved'), 'both outcomes happened').to.equal(true);
    expect(order, 'settled in send order').to.deep.equal([...order].sort((a, b) => a - b));
    expect(state.contents.map((m) => m.data)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(errors).to.deep.equal([]);
  });
});
