// persist() asks its store for one save at a time, through a store double whose saves settle when
// the test says: what changes while a save runs goes into one snapshot once it is done (a snapshot
// per turn cost O(outbox) per turn for saves the store then merged away), and saved() and close()
// wait for that follow-up.
import { expect } from 'chai';
import { persist } from '../../src/index';
import { fakeOpener, useFakeClock, useReportedErrors } from '../support/fake-clock';
import { heldStore } from '../support/held-store';

describe('persist(): one save at a time (store double, fake clock)', () => {
  const kit = useFakeClock();
  const errors = useReportedErrors();
  const open = fakeOpener<string, string>(kit, { connectTimeout: Infinity, maxMessages: 1000 });
  const turns = kit.turns;

  it('while a save runs, 100 turns of sends make no save; once it settles, one save holds them all', async () => {
    const { store, saves, running } = heldStore();
    const saving = persist(store);
    const socket = await open({ use: [saving] });
    await turns();
    saves.forEach((save) => save.finish()); // the save after the restore (nothing stored)
    await turns();
    const first = saves.length;
    socket.send('m0');
    await turns();
    expect(saves.length, 'the send was saved').to.equal(first + 1);
    expect(saves[saves.length - 1].data).to.deep.equal(['m0']);
    for (let i = 1; i <= 100; i++) {
      socket.send(`m${i}`);
      await turns(1);
    }
    expect(saves.length, 'no save asked for while one ran').to.equal(first + 1);
    let saved = false;
    const waiting = saving.saved().then(() => (saved = true));
    saves[first].finish();
    await turns();
    expect(saves.length, 'one follow-up save').to.equal(first + 2);
    expect(saves[first + 1].data, 'with every message sent meanwhile').to.deep.equal(Array.from({ length: 101 }, (_, i) => `m${i}`));
    expect(running().length, 'never two at once').to.equal(1);
    expect(saved, 'saved() waits for the follow-up').to.equal(false);
    saves[first + 1].finish();
    await turns();
    await waiting;
    expect(saved).to.equal(true);
    expect(errors).to.deep.equal([]);
  });

  it('while messages keep coming, saved() resolves once the save that holds its message is done, not when sending stops', async () => {
    // A saved() chained through every later save: a page sending every 10 ms never saw one resolve
    // (Firefox, test/browser/persist-reload), and they resolved newest first once sending stopped.
    const { store, saves } = heldStore();
    const saving = persist(store);
    const socket = await open({ use: [saving] });
    await turns();
    saves.forEach((save) => save.finish());
    await turns();
    const durable: string[] = [];
    for (let i = 0; i < 30; i++) {
      const data = `m${i}`;
      socket.send(data);
      void saving.saved().then(() => durable.push(data));
      await turns(1);
      // The store finishes a save every third turn; sending never stops.
      if (i % 3 === 2) saves.filter((save) => !save.settled).forEach((save) => save.finish());
      await turns(1);
      // Every message of a finished save is durable by now, in the order sent.
      const done = saves.filter((save) => save.settled).flatMap((save) => save.data);
      const inDone = Array.from({ length: i + 1 }, (_, k) => `m${k}`).filter((m) => done.includes(m));
      expect(durable, `after m${i}`).to.deep.equal(inDone);
    }
    expect(durable.length, 'most messages confirmed while sending went on').to.be.greaterThan(20);
  });

  it('a failed save is reported, and the follow-up is still made; close() waits for the save of what it dropped', async () => {
    const { store, saves } = heldStore();
    const saving = persist(store);
    const socket = await open({ use: [saving] });
    const reported: string[] = [];
    socket.on('error', (error) => reported.push(error.code));
    await turns();
    saves.forEach((s) => s.finish());
    await turns();
    const before = saves.length;
    socket.send('a');
    await turns();
    socket.send('b');
    await turns();
    expect(saves.length).to.equal(before + 1);
    saves[before].finish(new Error('disk full'));
    await turns();
    expect(reported, 'the failure, as an error event').to.deep.equal(['STORAGE_FAILED']);
    expect(saves.length, 'the follow-up save of b').to.equal(before + 2);
    expect(saves[before + 1].data).to.deep.equal(['a', 'b']);
    // close() drops a and b while that save runs: its own save follows, and close() waits for it.
    let closed = false;
    const closing = socket.close().then(() => (closed = true));
    await kit.clock.tickAsync(10); // the fake socket's closing handshake: 5 ms
    await turns();
    expect(socket.queued, 'dropped').to.deep.equal([]);
    expect(saves.length, 'the drop waits behind the running save').to.equal(before + 2);
    saves[before + 1].finish();
    await turns();
    expect(saves.length).to.equal(before + 3);
    expect(saves[before + 2].data, 'the outbox after close(): empty').to.deep.equal([]);
    expect(closed, 'close() waits for that save').to.equal(false);
    saves[before + 2].finish();
    await turns();
    await closing;
    expect(closed).to.equal(true);
    await saving.saved();
  });
});
