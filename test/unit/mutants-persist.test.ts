// From mutation testing (Stryker) of src/features/persist.ts and src/storage/indexeddb.ts: each
// test pins behaviour that a surviving mutant changed without any unit or integration test
// failing. persist() through the fake transport and clock with store doubles (persist itself does
// no I/O: the store does); indexedDbStore() over the IndexedDB and Web Locks doubles of
// test/support/fake-indexeddb.ts, as its other unit tests.
import type { Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { acks, json, persist, requests, SteadySocketError, ttl, type Codec, type DropReason, type StoredMessage } from '../../src/index';
import type { SyncStore } from '../../src/features/persist';
import { indexedDbStore } from '../../src/storage/indexeddb';
import { fakeOpener, useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeIndexedDB, FakeLocks, listing, slotContents } from '../support/fake-indexeddb';
import { FakeWebSocket } from '../support/fake-websocket';
import { rejection } from '../support/rejection';

/** A store double whose saves are promise jobs (and saveSync at once): `contents` is what it holds. */
function memoryStore(initial: StoredMessage[] = []) {
  const state = { contents: initial.slice(), saves: 0, syncSaves: 0 };
  const store: SyncStore = {
    load: async () => state.contents.slice(),
    loadSync: () => state.contents.slice(),
    save: async (messages) => void (state.saves++, (state.contents = messages.slice())),
    saveSync: (messages) => void (state.syncSaves++, (state.contents = messages.slice())),
    clear: async () => void (state.contents = []),
  };
  return { store, state };
}

describe('mutants: persist() (fake transport, fake clock, store doubles)', () => {
  const kit = useFakeClock();
  const errors = useReportedErrors();
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));
  afterEach(() => expect(errors, 'nothing reported by a throwing listener').to.deep.equal([]));
  const open = fakeOpener<unknown, unknown>(kit, { connectTimeout: Infinity, maxMessages: 1000 });
  const turns = kit.turns;

  describe('options', () => {
    it('refuses something that is not a store with INVALID_OPTION naming the stores to use', () => {
      for (const bad of [undefined, {}, { load: async () => [] }, { save: async () => undefined }]) {
        expect(() => persist(bad as never), JSON.stringify(bad))
          .to.throw(SteadySocketError, /persist\(\) takes a store: fileStore\(path\) or indexedDbStore\(name\)/)
          .with.property('code', 'INVALID_OPTION');
      }
    });

    it('with { sync: true }, refuses a store without saveSync, without loadSync, or without both', () => {
      const { store } = memoryStore();
      const { saveSync, loadSync, ...async } = store;
      for (const [name, partial] of [
        ['neither', async],
        ['no saveSync', { ...async, loadSync }],
        ['no loadSync', { ...async, saveSync }],
      ] as const) {
        expect(() => persist(partial as SyncStore, { sync: true }), name)
          .to.throw(SteadySocketError, /needs a store with saveSync and loadSync/)
          .with.property('code', 'INVALID_OPTION');
      }
      expect(() => persist(store, { sync: true })).to.not.throw();
      expect(() => persist(async)).to.not.throw();
    });
    it('sees the store keys a client of another copy of the library uses (its ESM and CommonJS builds side by side) under the global symbol steadysocket.store-users', () => {
      const global = globalThis as unknown as Record<symbol, Map<string, { host: { state: string } }> | undefined>;
      const users = (global[Symbol.for('steadysocket.store-users')] ??= new Map());
      users.set('memory:another-copy', { host: { state: 'open' } }); // what another copy's client leaves there
      try {
        const { store } = memoryStore();
        expect(() => open.create({ use: [persist({ ...store, key: 'memory:another-copy' })] }))
          .to.throw(SteadySocketError, /Another client still uses the store memory:another-copy/)
          .with.property('code', 'INVALID_OPTION');
      } finally {
        users.delete('memory:another-copy');
      }
    });
  });

  describe('restore', () => {
    it('reports the stored messages that do not fit as overflow, oldest first', async () => {
      const { store } = memoryStore(['s0', 's1', 's2', 's3'].map((data) => ({ data, queuedAt: 1 })));
      const saving = persist(store);
      const socket = open.create({ maxMessages: 2, use: [saving] });
      const drops: [unknown, DropReason][] = [];
      socket.on('drop', ({ data, reason }) => drops.push([data, reason]));
      await saving.restored;
      await turns();
      expect(socket.queued, 'the newest that fit').to.deep.equal(['s2', 's3']);
      expect(drops).to.deep.equal([
        ['s0', 'overflow'],
        ['s1', 'overflow'],
      ]);
    });

    it('sends a message restored with its codec exactly as it was stored, not re-encoded', async () => {
      const stored = '{ "d": 1,  "e": [ 2 ] }'; // JSON, but not as json() would write it
      const { store } = memoryStore([{ data: stored, queuedAt: 1 }]);
      const saving = persist(store);
      const socket = await open({ codec: json(), use: [saving] });
      await saving.restored;
      expect(socket.queued, 'decoded').to.deep.equal([{ d: 1, e: [2] }]);
      FakeWebSocket.last.serverOpen();
      await turns();
      expect(socket.state).to.equal('open');
      expect(FakeWebSocket.last.sent).to.deep.equal([stored]);
    });

    it('sends a stored message its codec cannot decode as it was stored, not encoded again as a value', async () => {
      // Stored by a run without the codec (or with another one): its wire form is what was asked to go out.
      const bytes = new Uint8Array([0xff, 0x00, 0x7b]); // not UTF-8: json() cannot decode it
      const { store } = memoryStore([
        { data: 'not json', queuedAt: 1 },
        { data: bytes, queuedAt: 1 },
      ]);
      const saving = persist(store);
      const socket = await open({ codec: json(), use: [saving] });
      await saving.restored;
      expect(socket.queued, 'kept as stored').to.deep.equal(['not json', bytes]);
      FakeWebSocket.last.serverOpen();
      await turns();
      expect(socket.state).to.equal('open');
      const sent = FakeWebSocket.last.sent;
      expect(sent).to.have.length(2);
      expect(sent[0]).to.equal('not json'); // re-encoded, it went out as "\"not json\""
      expect(new Uint8Array(sent[1] as ArrayBufferLike)).to.deep.equal(bytes); // and the bytes as {"0":255,"1":0,"2":123}
    });

    it('with codecs per subprotocol, sends one its codec cannot decode as stored also when the server picks another codec, and encodes a decoded one with it', async () => {
      // v1's codec (the likely one: first offered) decodes what it can; the server then picks v2.
      const v2: Codec<unknown, unknown> = { encode: (value) => `v2:${JSON.stringify(value)}`, decode: (data) => JSON.parse(String(data).slice(3)) };
      const { store } = memoryStore([
        { data: 'not json', queuedAt: 1 },
        { data: '{"a":1}', queuedAt: 1 },
      ]);
      const saving = persist(store);
      const socket = await open({ protocols: ['v1', 'v2'], codecs: { v1: json(), v2 }, use: [saving] });
      await saving.restored;
      expect(socket.queued).to.deep.equal(['not json', { a: 1 }]);
      FakeWebSocket.last.serverOpen('v2');
      await turns();
      expect(socket.state).to.equal('open');
      // Encoded again by v2, the first went out as v2:"not json".
      expect(FakeWebSocket.last.sent).to.deep.equal(['not json', 'v2:{"a":1}']);
    });

    it('keeps sending one its codec cannot decode as stored after a graceful close mid-stream, with a throwing open listener that sends, reconnecting at once into another codec (acks)', async () => {
      // The flag that keeps it as stored lives on its outbox entry: it must survive being written,
      // kept unacknowledged, put back by the close and written again on the next connection.
      const v2: Codec<unknown, unknown> = { encode: (value) => `v2:${JSON.stringify(value)}`, decode: (data) => JSON.parse(String(data).slice(3)) };
      const { store } = memoryStore([
        { data: 'not json', queuedAt: 1 },
        { data: '{"id":1}', queuedAt: 1 },
      ]);
      const saving = persist(store);
      const idOf = (message: unknown) => (typeof message === 'string' ? message : (message as { id?: unknown }).id) as string;
      const socket = await open({
        protocols: ['v1', 'v2'],
        codecs: { v1: json(), v2 },
        minDelay: 0,
        maxDelay: 0,
        use: [saving, acks({ id: idOf, ack: (message) => (message as { ack?: string }).ack })],
      });
      await saving.restored;
      let opens = 0;
      socket.on('open', () => {
        socket.send({ id: `open-${++opens}` }); // a call from inside a listener
        throw new Error('listener bug');
      });
      FakeWebSocket.last.serverOpen('v1');
      await turns();
      const first = FakeWebSocket.last;
      expect(first.sent).to.deep.equal(['not json', '{"id":1}', '{"id":"open-1"}']);
      first.serverCloseFrame(); // the server closes gracefully: what is sent now is discarded
      socket.send({ id: 'during-close' });
      first.serverClose(1001);
      await turns();
      clock.tick(0); // the retry delay is 0
      await turns();
      expect(FakeWebSocket.last, 'a new attempt').to.not.equal(first);
      FakeWebSocket.last.serverOpen('v2');
      await turns();
      expect(socket.state).to.equal('open');
      // Unacknowledged first, in order (the undecodable one as stored, the others by v2), then
      // what waited, then what the listener sent on this open.
      expect(FakeWebSocket.last.sent).to.deep.equal(['not json', 'v2:{"id":1}', 'v2:{"id":"open-1"}', 'v2:{"id":"during-close"}', 'v2:{"id":"open-2"}']);
      expect(errors.map((error) => (error as Error).message), 'the listener threw on each open').to.deep.equal(['listener bug', 'listener bug']);
      errors.length = 0;
    });

    it('with { sync: true }, restoring saves nothing: the store already holds what it restored', async () => {
      const { store, state } = memoryStore(['a', 'b', 'c'].map((data) => ({ data, queuedAt: 1 })));
      const saving = persist(store, { sync: true });
      const socket = open.create({ use: [saving] });
      await turns();
      expect(socket.queued).to.deep.equal(['a', 'b', 'c']);
      expect(state.syncSaves, 'no saveSync').to.equal(0);
      expect(state.saves).to.equal(0);
      socket.send('d');
      expect(state.syncSaves, 'a send is saved at once').to.equal(1);
      expect(state.contents.map((m) => m.data)).to.deep.equal(['a', 'b', 'c', 'd']);
    });

    it('with { sync: true } and ttl(), restored messages withdrawn right after new() get no expiry timer', async () => {
      // Restored in the constructor; the other features see them as queued a promise job later,
      // only those still queued then.
      const { store } = memoryStore(['a', 'b'].map((data) => ({ data, queuedAt: Date.now() })));
      const socket = open.create({ use: [persist(store, { sync: true }), ttl(100)] });
      const drops: [unknown, DropReason][] = [];
      socket.on('drop', ({ data, reason }) => drops.push([data, reason]));
      socket.clearOutbox();
      expect(drops).to.deep.equal([
        ['a', 'withdrawn'],
        ['b', 'withdrawn'],
      ]);
      await turns();
      expect(clock.countTimers(), 'no expiry timer armed for what was withdrawn').to.equal(0);
      await clock.tickAsync(500);
      expect(drops, 'no expiry of what was withdrawn').to.have.length(2);
    });
  });

  describe('a client whose constructor threw', () => {
    it('restores nothing into it: no expiry timer is armed for the stored messages', async () => {
      const { store, state } = memoryStore([{ data: 'a', queuedAt: Date.now() }]);
      const rpc = requests();
      open.create({ use: [rpc] }); // rpc is this client's: a second client given it throws
      expect(() => open.create({ use: [ttl(100), persist(store), rpc] })).to.throw(/One requests\(\) per client/);
      await turns();
      expect(clock.countTimers(), 'no timer').to.equal(0);
      expect(state.contents.map((m) => m.data), 'the store left as it was').to.deep.equal(['a']);
    });
  });

  describe('saves', () => {
    it('saves when a queued message is written, and not for messages written at once after it (kept by nobody)', async () => {
      const { store, state } = memoryStore();
      const saving = persist(store);
      const socket = await open({ use: [saving] });
      await saving.restored;
      socket.send('queued');
      await saving.saved();
      expect(state.contents.map((m) => m.data)).to.deep.equal(['queued']);
      FakeWebSocket.last.serverOpen();
      await turns();
      await saving.saved();
      expect(FakeWebSocket.last.sent).to.deep.equal(['queued']);
      expect(state.contents, 'it left the store').to.deep.equal([]);
      const saves = state.saves;
      for (let i = 0; i < 3; i++) {
        socket.send(`at once ${i}`);
        await turns();
      }
      await saving.saved();
      expect(FakeWebSocket.last.sent).to.have.length(4);
      expect(state.saves, 'nothing more saved').to.equal(saves);
    });

    it('with { sync: true }, a saveSync that throws is an error event (STORAGE_FAILED with its cause) and saved() rejects with it until a save succeeds', async () => {
      const { store } = memoryStore();
      const failure = new Error('disk full');
      let fail = true;
      const saveSync = store.saveSync;
      store.saveSync = (messages) => {
        if (fail) throw failure;
        saveSync(messages);
      };
      const saving = persist(store, { sync: true });
      const socket = open.create({ use: [saving] });
      const reported: SteadySocketError[] = [];
      socket.on('error', (error) => reported.push(error));
      socket.send('a');
      expect(reported.map((error) => [error.code, error.message, error.cause])).to.deep.equal([['STORAGE_FAILED', 'Saving the outbox failed.', failure]]);
      expect((await rejection(saving.saved())).cause).to.equal(failure);
      fail = false;
      socket.send('b');
      await saving.saved();
    });
  });
});

describe('mutants: indexedDbStore() (IndexedDB and Web Locks doubles)', () => {
  const text = (n: number): StoredMessage => ({ data: `message ${n}`, queuedAt: 1_700_000_000_000 + n });
  const asFactory = (fake: FakeIndexedDB) => fake as unknown as IDBFactory;
  /** Lets the double's setImmediate work (opens, deletes, transactions) and promise jobs run. */
  const settle = async (rounds = 10) => {
    for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  const code = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: SteadySocketError) => error.code);
  const since = (fake: FakeIndexedDB, before: FakeIndexedDB['requests']) => ({
    puts: fake.requests.puts - before.puts,
    deletes: fake.requests.deletes - before.deletes,
    clears: fake.requests.clears - before.clears,
  });

  describe('names and keys', () => {
    it('refuses a name ending in #<number> with a message naming the rule', () => {
      expect(() => indexedDbStore('ch#2', { indexedDB: asFactory(new FakeIndexedDB()) })).to.throw(SteadySocketError, /a name, not ending in #<number> \(the slots of other tabs\)/);
    });

    it('gives stores of one name in one page one key, and other names and other pages keys of their own', () => {
      const fake = asFactory(new FakeIndexedDB());
      const locks = new FakeLocks();
      const [page1, page2] = [locks.tab(), locks.tab()];
      const key = (name: string, tab?: ReturnType<FakeLocks['tab']>) => indexedDbStore(name, { indexedDB: fake, locks: tab }).key;
      expect(key('a', page1)).to.be.a('string').and.equal(key('a', page1));
      expect(key('a')).to.be.a('string').and.equal(key('a'));
      const keys = [key('a', page1), key('a', page2), key('b', page1), key('a'), key('b')];
      expect(new Set(keys).size, keys.join(', ')).to.equal(5);
    });
  });

  describe('slots (Web Locks)', () => {
    it('asks for each slot only if it is available: a second tab gets the database name#2', async () => {
      // Without ifAvailable the Web Locks API waits until the lock is free: for a slot another tab
      // holds for good, for ever. This view of the double waits so too.
      const fake = new FakeIndexedDB();
      const locks = new FakeLocks();
      const strict = (tab: ReturnType<FakeLocks['tab']>) => ({
        request: (name: string, options: { ifAvailable: true }, callback: (lock: unknown) => unknown) =>
          options?.ifAvailable === true ? tab.request(name, options, callback) : new Promise<unknown>(() => {}),
      });
      const first = indexedDbStore('outbox', { indexedDB: asFactory(fake), locks: strict(locks.tab()) });
      const second = indexedDbStore('outbox', { indexedDB: asFactory(fake), locks: strict(locks.tab()) });
      let saved = 0;
      const saving = Promise.all([first.save([text(1)]), second.save([text(2)])].map((save) => save.then(() => saved++)));
      for (let i = 0; i < 50 && saved < 2; i++) await settle(1);
      expect(saved, 'both tabs saved').to.equal(2);
      await saving;
      expect(slotContents(fake, 'outbox')).to.deep.equal([text(1)]);
      expect(slotContents(fake, 'outbox#2')).to.deep.equal([text(2)]);
    });

    it('gives 64 tabs a slot each and fails the 65th with STORAGE_FAILED; once a tab closes, a new store of that page gets its slot', async () => {
      const fake = new FakeIndexedDB();
      const locks = new FakeLocks();
      const tabs = Array.from({ length: 65 }, () => locks.tab());
      for (const tab of tabs.slice(0, 64)) await indexedDbStore('outbox', { indexedDB: asFactory(fake), locks: tab }).load();
      expect(fake.databases.has('outbox#64')).to.equal(true);
      const error = await rejection(indexedDbStore('outbox', { indexedDB: asFactory(fake), locks: tabs[64] }).load());
      expect(error.code).to.equal('STORAGE_FAILED');
      expect(error.message).to.equal('The IndexedDB outbox "outbox" is in use by more than 64 tabs.');
      tabs[0].close(); // its slot, outbox, is free
      await settle();
      const next = indexedDbStore('outbox', { indexedDB: asFactory(fake), locks: tabs[64] });
      await next.save([text(1)]);
      expect(slotContents(fake, 'outbox')).to.deep.equal([text(1)]);
    });
  });

  describe('adoption of what closed tabs left', () => {
    function twoTabs() {
      const fake = new FakeIndexedDB();
      const locks = new FakeLocks();
      const store = (tab = locks.tab()) => indexedDbStore('outbox', { indexedDB: listing(fake), locks: tab });
      return { fake, locks, store };
    }
    /** Writes `records` into the database `name` directly, as a tab that closed left it. */
    const leave = (fake: FakeIndexedDB, name: string, records: unknown[]) =>
      fake.databases.set(name, { version: 1, stores: new Map([['outbox', new Map(records.map((record, key) => [key, record] as [number, unknown]))]]) });

    it('adopts the last slot, name#64', async () => {
      const { fake, store } = twoTabs();
      leave(fake, 'outbox#64', [text(64)]);
      expect(await store().load()).to.deep.equal([text(64)]);
      expect(fake.databases.has('outbox#64')).to.equal(false);
    });

    it('still loads its own messages when the browser cannot list its databases', async () => {
      const fake = new FakeIndexedDB();
      leave(fake, 'outbox', [text(1)]);
      const factory = { ...listing(fake), databases: () => Promise.reject(new DOMException('no', 'UnknownError')) } as unknown as IDBFactory;
      expect(await indexedDbStore('outbox', { indexedDB: factory, locks: new FakeLocks().tab() }).load()).to.deep.equal([text(1)]);
    });

    it('leaves a corrupt orphan slot as it is and loads its own messages', async () => {
      const { fake, store } = twoTabs();
      leave(fake, 'outbox', [text(1)]);
      leave(fake, 'outbox#2', [{ data: 42 }]);
      expect(await store().load()).to.deep.equal([text(1)]);
      expect(slotContents(fake, 'outbox#2'), 'kept for a later version or inspection').to.deep.equal([{ data: 42 }]);
    });

    it('opens no database but its own and those that exist', async () => {
      const fake = new FakeIndexedDB();
      leave(fake, 'outbox#3', [text(3)]);
      const opened: string[] = [];
      const factory = { ...listing(fake), open: (name: string, version?: number) => (opened.push(name), asFactory(fake).open(name, version)) } as unknown as IDBFactory;
      expect(await indexedDbStore('outbox', { indexedDB: factory, locks: new FakeLocks().tab() }).load()).to.deep.equal([text(3)]);
      expect([...new Set(opened)].sort()).to.deep.equal(['outbox', 'outbox#3']);
    });

    it('lets go of the adopted slot: the next tab gets it', async () => {
      const { fake, locks, store } = twoTabs();
      leave(fake, 'outbox#2', [text(2)]);
      const first = store();
      expect(await first.load()).to.deep.equal([text(2)]);
      const second = store();
      await second.save([text(5)]);
      expect(slotContents(fake, 'outbox#2'), 'the second tab has slot 2').to.deep.equal([text(5)]);
      locks.closeAll();
    });
  });

  describe('transactions', () => {
    /** The double seen through a factory that records the mode and durability each transaction asks for. */
    function recording(fake: FakeIndexedDB) {
      type Db = { transaction(store: string, mode: string): unknown };
      const log: string[] = [];
      const dbs = new WeakMap<Db, Db>();
      const wrap = (db: Db): Db => {
        let proxy = dbs.get(db);
        if (!proxy) {
          proxy = new Proxy<Db>(db, {
            set: (target, prop, value) => Reflect.set(target, prop, value),
            get(target, prop) {
              if (prop === 'transaction') {
                return (store: string, mode: string, options?: { durability?: string }) => (log.push(`${mode} ${options?.durability}`), target.transaction(store, mode));
              }
              const value: unknown = Reflect.get(target, prop);
              return typeof value === 'function' ? value.bind(target) : value;
            },
          });
          dbs.set(db, proxy);
        }
        return proxy;
      };
      const factory = {
        open: (name: string, version?: number) =>
          new Proxy<{ result: unknown }>(fake.open(name, version), {
            set: (target, prop, value) => Reflect.set(target, prop, value),
            get: (target, prop) => (prop === 'result' && target.result ? wrap(target.result as Db) : Reflect.get(target, prop)),
          }),
        deleteDatabase: (name: string) => fake.deleteDatabase(name),
      };
      return { factory: factory as unknown as IDBFactory, log };
    }

    it('reads in readonly transactions and writes in readwrite ones that ask for strict durability', async () => {
      const fake = new FakeIndexedDB();
      const { factory, log } = recording(fake);
      const store = indexedDbStore('outbox', { indexedDB: factory, locks: new FakeLocks().tab() });
      expect(await store.load()).to.deep.equal([]);
      await store.save([text(1)]);
      expect(await store.load()).to.deep.equal([text(1)]);
      expect(log).to.deep.equal(['readonly default', 'readwrite strict', 'readonly default']);
    });

    it('a connection the browser is closing fails that save and that load with STORAGE_FAILED (InvalidStateError); the next ones reopen it', async () => {
      const fake = new FakeIndexedDB();
      const store = indexedDbStore('outbox', { indexedDB: asFactory(fake), locks: new FakeLocks().tab() });
      await store.save([text(1)]);
      const closing = () => {
        const [connection] = fake.connections.filter((db) => !db.closePending);
        connection.closePending = true; // no close event yet
      };
      closing();
      const failed = await rejection(store.save([text(2)]));
      expect([failed.code, failed.message]).to.deep.equal(['STORAGE_FAILED', 'The IndexedDB outbox "outbox" could not be saved (InvalidStateError).']);
      await store.save([text(3)]);
      expect(slotContents(fake, 'outbox')).to.deep.equal([text(3)]);
      closing();
      const unread = await rejection(store.load());
      expect([unread.code, unread.message]).to.deep.equal(['STORAGE_FAILED', 'The IndexedDB outbox "outbox" could not be read (InvalidStateError).']);
      expect(await store.load()).to.deep.equal([text(3)]);
    });

    it('names the error of an aborted save', async () => {
      const fake = new FakeIndexedDB();
      const store = indexedDbStore('outbox', { indexedDB: asFactory(fake), locks: new FakeLocks().tab() });
      fake.abortNext = 'QuotaExceededError';
      const error = await rejection(store.save([text(1)]));
      expect([error.code, error.message]).to.deep.equal(['STORAGE_FAILED', 'The IndexedDB outbox "outbox" could not be saved (QuotaExceededError).']);
    });
  });

  describe('corrupt contents', () => {
    const corrupt = (records: [number, unknown][]) => {
      const fake = new FakeIndexedDB();
      fake.databases.set('outbox', { version: 1, stores: new Map([['outbox', new Map(records)]]) });
      return { fake, store: indexedDbStore('outbox', { indexedDB: asFactory(fake), locks: new FakeLocks().tab() }) };
    };

    it('a record that is not a message is STORAGE_CORRUPT, naming it, and the database is cleared', async () => {
      const { fake, store } = corrupt([
        [0, text(0)],
        [1, { data: 42 }],
      ]);
      const error = await rejection(store.load());
      expect(error.code).to.equal('STORAGE_CORRUPT');
      expect(error.message).to.match(/^The IndexedDB outbox "outbox" is corrupt \(record 1 .+\)\. It was cleared: the outbox starts empty and its old messages are lost\.$/);
      expect(slotContents(fake, 'outbox'), 'cleared').to.deep.equal([]);
    });

    it('a clear of corrupt contents that fails is STORAGE_FAILED, naming it', async () => {
      const { fake, store } = corrupt([[-1, text(0)]]);
      fake.abortNext = 'QuotaExceededError';
      const error = await rejection(store.load());
      expect([error.code, error.message]).to.deep.equal(['STORAGE_FAILED', 'The IndexedDB outbox "outbox" could not be cleared (QuotaExceededError).']);
    });
  });

  describe('saves asked for while one runs', () => {
    const make = () => {
      const fake = new FakeIndexedDB();
      return { fake, store: indexedDbStore('outbox', { indexedDB: asFactory(fake), locks: new FakeLocks().tab() }) };
    };

    it('collapse into the newest: only it is written after the one under way, and each resolves', async () => {
      const { fake, store } = make();
      await store.load();
      const before = { ...fake.requests };
      await Promise.all([store.save([text(1)]), store.save([text(2)]), store.save([text(3)])]);
      expect(since(fake, before), 'text(1), then text(3) in its place; text(2) never').to.deep.equal({ puts: 2, deletes: 1, clears: 0 });
      expect(slotContents(fake, 'outbox')).to.deep.equal([text(3)]);
    });

    it('load() waits for a save waiting behind the one under way', async () => {
      const { store } = make();
      await store.load();
      const saves = [store.save([text(1)]), store.save([text(2)])];
      expect(await store.load()).to.deep.equal([text(2)]);
      await Promise.all(saves);
    });

    it('clear() drops a save waiting behind the one under way: the database stays deleted', async () => {
      const { fake, store } = make();
      await store.load();
      const saves = [store.save([text(1)]), store.save([text(2)])];
      await store.clear();
      await Promise.all(saves);
      await settle();
      expect(fake.databases.has('outbox'), 'deleted').to.equal(false);
      expect(await store.load()).to.deep.equal([]);
    });
  });

  describe('clear()', () => {
    it('of a store that has not opened its database yet deletes it', async () => {
      const fake = new FakeIndexedDB();
      fake.databases.set('outbox', { version: 1, stores: new Map([['outbox', new Map([[0, text(0)]])]]) });
      await indexedDbStore('outbox', { indexedDB: asFactory(fake), locks: new FakeLocks().tab() }).clear();
      expect(fake.databases.has('outbox')).to.equal(false);
    });

    it('rejects with STORAGE_FAILED, naming the error, when the database cannot be deleted', async () => {
      const fake = new FakeIndexedDB();
      const factory = {
        open: (name: string, version?: number) => fake.open(name, version),
        deleteDatabase: () => {
          const request = { error: new DOMException('refused by the test', 'UnknownError') } as { error: DOMException; onerror?: () => void };
          setImmediate(() => request.onerror?.());
          return request;
        },
      } as unknown as IDBFactory;
      let error: SteadySocketError | undefined;
      void rejection(indexedDbStore('outbox', { indexedDB: factory }).clear()).then((e) => (error = e));
      for (let i = 0; i < 20 && !error; i++) await settle(1);
      expect(error, 'rejected').to.not.equal(undefined);
      expect([error!.code, error!.message]).to.deep.equal(['STORAGE_FAILED', 'The IndexedDB outbox "outbox" could not be deleted (UnknownError).']);
    });
  });

  describe('what a save writes', () => {
    const make = async () => {
      const fake = new FakeIndexedDB();
      const store = indexedDbStore('outbox', { indexedDB: asFactory(fake), locks: new FakeLocks().tab() });
      await store.load();
      return { fake, store, reload: () => indexedDbStore('outbox', { indexedDB: asFactory(fake) }).load() };
    };

    it('a message whose id changed, text changed, or bytes grew is written again', async () => {
      const { store, reload } = await make();
      const cases: [StoredMessage, StoredMessage][] = [
        [{ data: 'x', id: 1, queuedAt: 5 }, { data: 'x', id: 2, queuedAt: 5 }],
        [{ data: 'a', id: 1, queuedAt: 5 }, { data: 'b', id: 1, queuedAt: 5 }],
        [{ data: new Uint8Array([1, 2]), id: 1 }, { data: new Uint8Array([1, 2, 3]), id: 1 }],
      ];
      for (const [was, now] of cases) {
        await store.save([was]);
        await store.save([now]);
        expect(await reload(), JSON.stringify(now)).to.deep.equal([now]);
      }
    });
  });
});
