// persist() calls its store's release() (the file store lets go of its claim on the file) once the
// client has closed, its last save is done and its load too: never while a save or the load the
// client started may still touch the store, and before the next client on the key loads. Store
// doubles whose saves and loads settle when the test says; fake transport and clock.
import { expect } from 'chai';
import { persist, SteadySocketError, type OutboxStore, type StoredMessage } from '../../src/index';
import type { SyncStore } from '../../src/features/persist';
import { fakeOpener, useFakeClock, useReportedErrors } from '../support/fake-clock';
import { heldStore } from '../support/held-store';

describe('persist(): the store released once its client is done with it (store doubles, fake clock)', () => {
  const kit = useFakeClock();
  useReportedErrors();
  const open = fakeOpener<string, string>(kit, { connectTimeout: Infinity, maxMessages: 1000 });
  const turns = kit.turns;

  it('after close(), once the save of its drops settled; the next client on the key loads only after that', async () => {
    const held = heldStore('k');
    const log: string[] = [];
    const store: OutboxStore = { ...held.store, release: () => void log.push(held.running().length ? 'release while a save runs' : 'release') };
    const load = store.load;
    store.load = () => (log.push('load'), load());
    const socket = await open({ use: [persist(store)] });
    await turns();
    held.saves.forEach((save) => save.finish());
    socket.send('a');
    await turns();
    const closing = socket.close();
    await kit.clock.tickAsync(10); // the fake socket's closing handshake: 5 ms
    await turns();
    expect(socket.state).to.equal('closed');
    expect(log, 'not while a save runs').to.deep.equal(['load']);
    const next = await open({ use: [persist(store)] });
    await turns();
    expect(log, 'the next client waits too').to.deep.equal(['load']);
    // The save of the drops, and whatever follows it (the next client's saves are held too).
    for (let i = 0; i < 5; i++) {
      held.running().forEach((save) => save.finish());
      await turns();
    }
    await closing;
    await turns();
    expect(log).to.deep.equal(['load', 'release', 'load']);
    expect(next.state).to.not.equal('closed');
  });

  it('a client closed before its load finished releases the store after that load, not before, and close() resolves after the release', async () => {
    const log: string[] = [];
    let finishLoad!: (messages: StoredMessage[]) => void;
    const store: OutboxStore = {
      load: () => (log.push('load'), new Promise<StoredMessage[]>((resolve) => (finishLoad = resolve))),
      save: async () => void log.push('save'),
      clear: async () => undefined,
      release: () => void log.push('release'),
    };
    const socket = await open({ use: [persist(store)] });
    await turns();
    let closed = false;
    const closing = socket.close().then(() => (closed = true));
    await kit.clock.tickAsync(10);
    await turns();
    expect(log, 'the load still runs').to.deep.equal(['load']);
    expect(closed, 'close() waits for the release: once it resolves, another process may have the file').to.equal(false);
    finishLoad([{ data: 'stored' }]);
    await turns();
    expect(log, 'released after it, and nothing saved: the stored message stays for the next run').to.deep.equal(['load', 'release']);
    await closing;
  });

  it('with sync: true, released inside close(), after its last save', async () => {
    const log: string[] = [];
    const store: SyncStore = {
      load: async () => [],
      loadSync: () => (log.push('loadSync'), []),
      save: async () => undefined,
      saveSync: (messages) => void log.push(`saveSync ${messages.length}`),
      clear: async () => undefined,
      release: () => void log.push('release'),
    };
    const socket = await open({ use: [persist(store, { sync: true })] });
    socket.send('a');
    log.length = 0;
    let closed = false;
    const closing = socket.close().then(() => (closed = true));
    // The client ends as the fake socket's closing handshake completes (5 ms): the drop of 'a'
    // is saved, then the store released, in that one synchronous stretch.
    await kit.clock.tickAsync(10);
    expect(log).to.deep.equal(['saveSync 0', 'release']);
    await closing;
    expect(closed).to.equal(true);
  });

  it('a release() that throws is an error event (STORAGE_FAILED), and close() still resolves', async () => {
    const failure = new Error('cannot let go');
    const store: OutboxStore = {
      load: async () => [],
      save: async () => undefined,
      clear: async () => undefined,
      release: () => {
        throw failure;
      },
    };
    const socket = await open({ use: [persist(store)] });
    const errors: SteadySocketError[] = [];
    socket.on('error', (error) => errors.push(error));
    await turns();
    const closing = socket.close();
    await kit.clock.tickAsync(10);
    await closing;
    await turns();
    expect(errors.map((error) => [error.code, error.cause])).to.deep.equal([['STORAGE_FAILED', failure]]);
  });
});
