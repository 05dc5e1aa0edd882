// From mutation testing (Stryker) of src/features/persist.ts and src/storage/indexeddb.ts: each
// test pins behaviour that a surviving mutant changed without any unit or integration test
// failing. persist() through the fake transport and clock with store doubles (persist itself does
// no I/O: the store does); indexedDbStore() over the IndexedDB and Web Locks doubles of
// test/support/fake-indexeddb.ts, as its other unit tests.
import type { Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { json, persist, requests, SteadySocketError, ttl, type DropReason, type StoredMessage } from '../../src/index';
import type { SyncStore } from '../../src/features/persist';
import { fakeOpener, useFakeClock, useReportedErrors } from '../support/fake-clock';
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
      expect(reported.map((error) => [error.code, error.cause])).to.deep.equal([['STORAGE_FAILED', failure]]);
      expect((await rejection(saving.saved())).cause).to.equal(failure);
      fail = false;
      socket.send('b');
      await saving.saved();
    });
  });
});
