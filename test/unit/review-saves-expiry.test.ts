// Review of today's three changes, off the happy path: ttl()'s ordered look at the front of the
// outbox, persist()'s one store.save() at a time, and fileStore()'s deferred encoding. Tests named
// 'regression' failed before their fix (the comment above each says what was wrong); the others
// pin behaviour that was probed and found correct.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acks, json, persist, ttl, type OutboxStore, type StoredMessage } from '../../src/index';
import { fileStore } from '../../src/storage/file';
import { decodeOutboxFile } from '../../src/storage/file-format';
import { fakeOpener, useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';
import { heldStore } from '../support/held-store';
import { outcome } from '../support/rejection';

describe('review 2026-12-02: ttl() ordered looks (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const errors = useReportedErrors();
  // Never opens unless the test says so: messages wait in the outbox.
  const open = fakeOpener<string, string>(kit, { connectTimeout: Infinity, maxMessages: 1000 });

  // Was wrong: an entry is given its expiry by the `queued` hook, after push() reported drop-oldest's
  // evictions; a drop listener that sends there queues a message behind it whose expiry is given
  // first. If time passes in that listener, the outbox is no longer ordered by expiry, but nothing
  // tells ttl(): the front-only look misses the message behind, due first.
  it('regression: a message sent by the drop listener of a drop-oldest eviction, behind the message that evicted, still expires on time', async () => {
    const socket = await open({ use: [ttl(1000)], maxMessages: 2, overflow: 'drop-oldest' });
    const expired: { data: string; at: number }[] = [];
    const start = Date.now();
    socket.on('drop', (drop) => {
      if (drop.reason === 'expired') expired.push({ data: drop.data, at: Date.now() - start });
      if (drop.data === 'a') {
        socket.send('d'); // evicts b; queued behind c, its expiry given before c's: 100 + 1000
        kit.clock.tick(300); // the listener runs for 300 ms (nothing is due meanwhile)
      }
    });
    socket.send('a');
    socket.send('b');
    kit.clock.tick(100);
    socket.send('c'); // evicts a; c's expiry is given once the listener returned: 400 + 1000
    expect(socket.queued).to.deep.equal(['c', 'd']);
    await kit.clock.tickAsync(1100 - (Date.now() - start));
    expect(expired.map((e) => e.data), 'd, queued 1000 ms ago, has expired').to.include('d');
    await kit.clock.tickAsync(400);
    expect(expired.find((e) => e.data === 'd')?.at, 'd: a ttl after it was sent').to.equal(1100);
    // c was sent at 100 but its send() returned at 400: either counts (before this change: 1400).
    expect(expired.find((e) => e.data === 'c')?.at, 'c expired too').to.be.oneOf([1100, 1400]);
    expect(errors).to.deep.equal([]);
  });

  it('pinned: drop-oldest evictions in ordered mode (no time passing in listeners) leave every survivor expiring on time', async () => {
    const socket = await open({ use: [ttl(1000)], maxMessages: 5, overflow: 'drop-oldest' });
    const expired: { data: string; at: number }[] = [];
    const overflowed: string[] = [];
    const start = Date.now();
    socket.on('drop', (drop) => {
      if (drop.reason === 'expired') expired.push({ data: drop.data, at: Date.now() - start });
      else overflowed.push(drop.data);
    });
    for (let i = 0; i < 20; i++) {
      socket.send(`m${i}`);
      kit.clock.tick(10);
    }
    expect(overflowed).to.deep.equal(Array.from({ length: 15 }, (_, i) => `m${i}`));
    await kit.clock.tickAsync(2000);
    expect(expired).to.deep.equal(Array.from({ length: 5 }, (_, i) => ({ data: `m${15 + i}`, at: 1000 + 10 * (15 + i) })));
  });

  it('pinned: a drop listener that sends on each expiry (a chain of 50) has each message expire exactly a ttl after it was sent', async () => {
    const socket = await open({ use: [ttl(100)] });
    const expired: { data: string; at: number }[] = [];
    const sentAt = new Map<string, number>();
    const send = (data: string) => {
      sentAt.set(data, Date.now());
      socket.send(data);
    };
    socket.on('drop', (drop) => {
      expired.push({ data: drop.data, at: Date.now() });
      if (!drop.data.startsWith('m')) return;
      const n = Number(drop.data.slice(1));
      if (n < 49) send(`m${n + 1}`);
    });
    send('m0');
    kit.clock.tick(30);
    send('x'); // a second message waiting behind the chain's first
    await kit.clock.tickAsync(100 * 60);
    expect(expired.map((e) => e.data)).to.have.length(51);
    for (const e of expired) expect(e.at - sentAt.get(e.data)!, e.data).to.equal(100);
  });

  it('pinned: close() from inside an expiry drops the rest as closed, arms nothing, and resolves', async () => {
    const socket = await open({ use: [ttl(100)] });
    const drops: string[] = [];
    let closing: Promise<void> | undefined;
    socket.on('drop', (drop) => {
      drops.push(`${drop.data}:${drop.reason}`);
      if (drop.data === 'a') closing = socket.close();
    });
    socket.send('a');
    kit.clock.tick(50);
    socket.send('b');
    socket.send('c');
    await kit.clock.tickAsync(60);
    expect(drops).to.deep.equal(['a:expired', 'b:closed', 'c:closed']);
    expect(socket.state).to.equal('closed');
    await closing;
    expect(kit.clock.countTimers(), 'no timer left').to.equal(0);
  });

  it('pinned: clearOutbox() then send() from inside an expiry: the new message expires a ttl later, the withdrawn never as expired', async () => {
    const socket = await open({ use: [ttl(100)] });
    const drops: string[] = [];
    socket.on('drop', (drop) => {
      drops.push(`${drop.data}:${drop.reason}@${Date.now()}`);
      if (drop.data === 'a') {
        socket.clearOutbox();
        socket.send('n');
      }
    });
    const t0 = Date.now();
    socket.send('a');
    socket.send('b');
    kit.clock.tick(50);
    socket.send('c');
    await kit.clock.tickAsync(300);
    expect(drops).to.deep.equal([`a:expired@${t0 + 100}`, `b:withdrawn@${t0 + 100}`, `c:withdrawn@${t0 + 100}`, `n:expired@${t0 + 200}`]);
  });

  it('pinned: reconnect() from inside an expiry while connected and backed up: the rest expire on time', async () => {
    const socket = await open({ use: [ttl(100)], highWaterMark: 0, minDelay: 10, maxDelay: 10, jitter: 0 });
    FakeWebSocket.last.serverOpen();
    await kit.clock.tickAsync(0);
    FakeWebSocket.last.bufferedAmount = 1_000_000; // backed up: sends wait in the outbox
    const drops: string[] = [];
    const t0 = Date.now();
    socket.on('drop', (drop) => {
      drops.push(`${drop.data}:${drop.reason}@${Date.now() - t0}`);
      if (drop.data === 'a') socket.reconnect();
    });
    socket.send('a');
    kit.clock.tick(20);
    socket.send('b');
    kit.clock.tick(20);
    socket.send('c');
    await kit.clock.tickAsync(100);
    expect(drops).to.deep.equal(['a:expired@100', 'b:expired@120', 'c:expired@140']);
  });
});

describe('review 2026-12-02: ttl() with acks() and persist() (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  useReportedErrors();
  type Msg = { id?: number; data?: string; ack?: number };
  const open = fakeOpener<Msg, Msg>(kit, { codec: json<Msg, Msg>(), minDelay: 10_000, maxDelay: 10_000, jitter: 0, connectTimeout: Infinity });
  const ackOptions = { id: (m: Msg) => m.id, ack: (m: Msg) => m.ack, timeout: Infinity };

  it('pinned: unacknowledged messages back at the front at a disconnect expire on their own time, ahead of those queued since', async () => {
    const socket = await open({ use: [acks(ackOptions), ttl(1000)], highWaterMark: 0 });
    const drops: { data: string; reason: string; at: number }[] = [];
    const t0 = Date.now();
    socket.on('drop', (drop) => drops.push({ data: drop.data.data!, reason: drop.reason, at: Date.now() - t0 }));
    socket.send({ id: 1, data: 'q1' }); // queued at 0 (connecting)
    kit.clock.tick(100);
    FakeWebSocket.last.serverOpen();
    await kit.clock.tickAsync(0); // q1 written at 100, kept: expires at 1000 (queued at 0)
    kit.clock.tick(100);
    socket.send({ id: 2, data: 'w2' }); // written at once at 200: expires at 1200
    FakeWebSocket.last.bufferedAmount = 1_000_000;
    kit.clock.tick(100);
    socket.send({ id: 3, data: 'q3' }); // queued (backed up) at 300: 1300
    kit.clock.tick(100);
    FakeWebSocket.last.serverClose(1006); // at 400: q1 and w2 back at the front
    await kit.clock.tickAsync(0);
    expect(socket.queued.map((m) => m.data)).to.deep.equal(['q1', 'w2', 'q3']);
    await kit.clock.tickAsync(1400 - (Date.now() - t0));
    expect(drops).to.deep.equal([
      { data: 'q1', reason: 'expired', at: 1000 },
      { data: 'w2', reason: 'expired', at: 1200 },
      { data: 'q3', reason: 'expired', at: 1300 },
    ]);
  });

  it('pinned: restored messages (persist) and one sent before the restore each expire ttl after their first queue time', async () => {
    const now = Date.now();
    const stored: StoredMessage[] = [
      { data: JSON.stringify({ data: 's1' }), queuedAt: now - 800 },
      { data: JSON.stringify({ data: 's2' }), queuedAt: now - 500 },
    ];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const store: OutboxStore = {
      load: async () => {
        await gate;
        return stored;
      },
      save: async () => {},
      clear: async () => {},
    };
    const t0 = Date.now();
    const socket = await open({ use: [persist(store), ttl(1000)] });
    const drops: string[] = [];
    socket.on('drop', (drop) => drops.push(`${drop.data.data}:${drop.reason}@${Date.now() - t0}`));
    socket.send({ data: 'live' }); // at 0: expires at 1000
    kit.clock.tick(100);
    release();
    await kit.clock.tickAsync(0);
    expect(socket.queued.map((m) => m.data)).to.deep.equal(['s1', 's2', 'live']);
    await kit.clock.tickAsync(1100);
    expect(drops).to.deep.equal(['s1:expired@200', 's2:expired@500', 'live:expired@1000']);
  });
});

describe('review 2026-12-02: persist() one save at a time (store double, fake clock)', () => {
  const kit = useFakeClock();
  const errors = useReportedErrors();
  const open = fakeOpener<string, string>(kit, { connectTimeout: Infinity, maxMessages: 1000 });
  const turns = kit.turns;

  // Was wrong: saveNow() calls `.then` on what `store.save(...).then(...)` returned outside its
  // try/catch. A store returning a thenable whose then() returns nothing (a promise-like that is
  // not a Promise) throws there: a TypeError in a promise job, and `saving` stays true, so persist()
  // never calls the store again. Before this change, lastSave was merely undefined.
  it('regression: a store whose save() returns a bare thenable still gets every later save (saving is not left stuck)', async () => {
    const asked: string[][] = [];
    const store: OutboxStore = {
      load: async () => [],
      save: (messages) => {
        asked.push(messages.map((m) => String(m.data)));
        // A minimal promise-like: calls back at once, returns nothing (as some hand-written ones do).
        return { then: (ok: () => void) => void ok() } as unknown as Promise<void>;
      },
      clear: async () => {},
    };
    const saving = persist(store);
    const socket = await open({ use: [saving] });
    await turns();
    const first = asked.length;
    socket.send('a');
    await turns();
    socket.send('b');
    await turns();
    expect(asked.slice(first), 'each change saved').to.deep.equal([['a'], ['a', 'b']]);
  });

  const failingStores: [string, (count: () => void) => OutboxStore][] = [
    ['throws synchronously', (count) => ({ load: async () => [], save: () => (count(), failNow()), clear: async () => {} })],
    ['returns undefined (no promise)', (count) => ({ load: async () => [], save: () => void count(), clear: async () => {} }) as unknown as OutboxStore],
  ];
  function failNow(): never {
    throw new Error('sync boom');
  }
  for (const [how, make] of failingStores) {
    it(`pinned: a store whose save() ${how}: STORAGE_FAILED each time, the next change is saved again, saved() rejects`, async () => {
      let calls = 0;
      const saving = persist(make(() => calls++));
      const socket = await open({ use: [saving] });
      const codes: string[] = [];
      socket.on('error', (e) => codes.push(e.code));
      await turns();
      const first = calls;
      socket.send('a');
      await turns();
      socket.send('b');
      await turns();
      expect(calls - first).to.equal(2);
      expect(codes, "one report per save (the restore's included)").to.deep.equal(Array(calls).fill('STORAGE_FAILED'));
      const outcome = await saving.saved().then(
        () => 'resolved',
        (e: { code: string }) => e.code,
      );
      expect(outcome).to.equal('STORAGE_FAILED');
    });
  }

  it('pinned: a store that never settles: one save asked, none more; close() resolves after closeTimeout', async () => {
    const { store, saves } = heldStore();
    const saving = persist(store);
    const socket = await open({ use: [saving], closeTimeout: 500 });
    await turns();
    expect(saves.length, 'the save after the restore, never settled').to.equal(1);
    for (let i = 0; i < 10; i++) {
      socket.send(`m${i}`);
      await turns(1);
    }
    expect(saves.length).to.equal(1);
    let closed = false;
    const closing = socket.close().then(() => (closed = true));
    await kit.clock.tickAsync(499);
    expect(closed).to.equal(false);
    await kit.clock.tickAsync(20);
    await closing;
    expect(closed).to.equal(true);
    expect(saves.length).to.equal(1);
  });

  it('pinned: close() while a save runs and nothing changed since: waits for it, asks for no other save', async () => {
    const { store, saves } = heldStore();
    const saving = persist(store);
    const socket = await open({ use: [saving] });
    await turns();
    saves[0].finish();
    await turns();
    socket.send('a');
    await turns();
    expect(saves.length).to.equal(2);
    socket.clearOutbox(); // the outbox empty; a follow-up save of []
    await turns();
    saves[1].finish();
    await turns();
    expect(saves.length).to.equal(3);
    expect(saves[2].data).to.deep.equal([]);
    let closed = false;
    const closing = socket.close().then(() => (closed = true));
    await kit.clock.tickAsync(20);
    expect(closed, 'waits for the running save').to.equal(false);
    saves[2].finish();
    await turns();
    await closing;
    expect(closed).to.equal(true);
    expect(saves.length, 'nothing to drop: no save of its own').to.equal(3);
  });

  it('pinned: a second client on the store key, made right after close() (not awaited) while a save runs, loads only after the follow-up save of the drops', async () => {
    const { store, saves, state } = heldStore('memory:review');
    const first = persist(store);
    const a = await open({ use: [first] });
    await turns();
    saves[0].finish();
    await turns();
    a.send('x');
    await turns();
    a.send('y');
    await turns();
    expect(saves.length).to.equal(2); // ['x'] running; y waits
    let closed = false;
    void a.close().then(() => (closed = true));
    await kit.clock.tickAsync(10); // the fake socket's closing handshake
    expect(a.state).to.equal('closed');
    expect(closed, 'close() waits for the saves').to.equal(false);
    const b = open.create({ use: [persist(store)] });
    await turns(10);
    expect(state.loads, 'the second client waits for the first one\'s saves').to.equal(1);
    saves[1].finish();
    await turns(10);
    expect(saves.length, 'the follow-up: the outbox after close(), empty').to.equal(3);
    expect(saves[2].data).to.deep.equal([]);
    expect(state.loads).to.equal(1);
    saves[2].finish();
    await turns(10);
    expect(state.loads).to.equal(2);
    expect(b.queued, 'close() dropped x and y: not restored').to.deep.equal([]);
    expect(closed).to.equal(true);
    await turns(10);
    saves.slice(3).forEach((s) => s.finish());
  });

  it('pinned: saved() in many states: before use, during the restore, with a save running, after a failed then a good follow-up, after close()', async () => {
    const { store, saves } = heldStore();
    const saving = persist(store);
    const beforeUse = outcome(saving.saved());
    await turns();
    expect(beforeUse.v).to.equal('resolved');
    const socket = await open({ use: [saving] });
    const duringRestore = outcome(saving.saved());
    await turns();
    expect(saves.length).to.equal(1);
    expect(duringRestore.v, 'waits for the save after the restore').to.equal('pending');
    saves[0].finish();
    await turns();
    expect(duringRestore.v).to.equal('resolved');
    socket.send('a');
    await turns();
    const running = outcome(saving.saved());
    socket.send('b');
    const withChange = outcome(saving.saved());
    await turns();
    saves[1].finish(new Error('disk full'));
    await turns();
    expect(saves.length, 'the follow-up with b').to.equal(3);
    expect(running.v, 'b was sent before it returned: waits for the follow-up').to.equal('pending');
    expect(withChange.v).to.equal('pending');
    saves[2].finish();
    await turns();
    expect(running.v, 'the follow-up succeeded').to.equal('resolved');
    expect(withChange.v).to.equal('resolved');
    socket.send('c');
    await turns();
    saves[3].finish(new Error('disk full'));
    await turns();
    const afterFailure = outcome(saving.saved());
    await turns();
    expect(afterFailure.v, 'the last save failed, nothing since').to.equal('STORAGE_FAILED');
    const closing = socket.close();
    await kit.clock.tickAsync(10);
    saves.slice(4).forEach((s) => s.finish());
    await turns();
    await closing;
    const afterClose = outcome(saving.saved());
    await turns();
    expect(afterClose.v, 'the save of the drops succeeded').to.equal('resolved');
    expect(errors).to.deep.equal([]);
  });

  it('pinned: { sync: true } never calls save(): each send is saved with saveSync before send() returns', async () => {
    let asyncSaves = 0;
    const syncSaves: string[][] = [];
    const store = {
      load: async () => [],
      loadSync: () => [],
      save: async () => void asyncSaves++,
      saveSync: (messages: readonly StoredMessage[]) => void syncSaves.push(messages.map((m) => String(m.data))),
      clear: async () => {},
    };
    const saving = persist(store, { sync: true });
    const socket = await open({ use: [saving] });
    socket.send('a');
    expect(syncSaves[syncSaves.length - 1]).to.deep.equal(['a']);
    socket.send('b');
    expect(syncSaves[syncSaves.length - 1]).to.deep.equal(['a', 'b']);
    socket.clearOutbox();
    await turns();
    expect(syncSaves[syncSaves.length - 1]).to.deep.equal([]);
    await saving.saved();
    const closing = socket.close();
    await kit.clock.tickAsync(10);
    await closing;
    expect(asyncSaves).to.equal(0);
  });
});

describe('review 2026-12-02: fileStore() deferred encoding (real files)', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steadysocket-review-'));
    file = join(dir, 'outbox.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const onDisk = () => {
    const decoded = decodeOutboxFile(readFileSync(file));
    if (!decoded.ok) throw new Error(decoded.problem);
    return decoded.messages.map((m) => (typeof m.data === 'string' ? m.data : Array.from(m.data).join(',')));
  };

  it('pinned: async saves asked before a saveSync (one running, one queued) never overwrite it', async () => {
    const store = fileStore(file);
    const running = store.save([{ data: 'old-1' }]);
    const queued = store.save([{ data: 'old-2' }]);
    store.saveSync([{ data: 'sync' }]);
    await Promise.all([running, queued]);
    expect(onDisk()).to.deep.equal(['sync']);
    // One asked after it wins, merged into nothing older.
    await store.save([{ data: 'new' }]);
    expect(onDisk()).to.deep.equal(['new']);
  });

  it('pinned: a save merged into one queued before a saveSync, but asked after it, is written', async () => {
    const store = fileStore(file);
    const running = store.save([{ data: 'r' }]);
    const before = store.save([{ data: 'before' }]);
    store.saveSync([{ data: 'sync' }]);
    const after = store.save([{ data: 'after' }]); // merged into `before`'s operation
    await Promise.all([running, before, after]);
    expect(onDisk()).to.deep.equal(['after']);
  });

  it('pinned: what the caller changes after save() returns (array, message, bytes) is not what is written, also for a merged save', async () => {
    const store = fileStore(file);
    const running = store.save([{ data: 'first' }]);
    const bytes = new Uint8Array([1, 2, 3]);
    const message: StoredMessage = { data: 'text', queuedAt: 5 };
    const array: StoredMessage[] = [message, { data: bytes }];
    const queued = store.save(array);
    array.push({ data: 'added' });
    message.data = 'changed';
    bytes[0] = 9;
    await Promise.all([running, queued]);
    expect(onDisk()).to.deep.equal(['text', '1,2,3']);
    const loaded = await store.load();
    expect(loaded[0].queuedAt).to.equal(5);
  });

  it('pinned: clear() asked after save() (running or queued) leaves no file; a save asked after clear() settled is written', async () => {
    const store = fileStore(file);
    const a = store.save([{ data: 'a' }]);
    const b = store.save([{ data: 'b' }]);
    const cleared = store.clear();
    await Promise.all([a, b, cleared]);
    expect(existsSync(file)).to.equal(false);
    expect(await store.load()).to.deep.equal([]);
    await store.save([{ data: 'c' }]);
    expect(onDisk()).to.deep.equal(['c']);
  });

  // Was wrong (before these changes too): clear()
  // removes the temporary files after its queued operation settled, outside the queue, while the
  // next operation (a save asked after clear()) is already writing its temporary file: that file is
  // unlinked under it and the save's rename fails with ENOENT (STORAGE_FAILED), its contents lost.
  it('regression (before 2026-12-02): a save asked after clear() while clear() runs is written, not failed by clear() removing its temporary file', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      const store = fileStore(join(dir, `outbox-${i}.json`), { fsync: false });
      const first = store.save([{ data: 'a' }]);
      const cleared = store.clear();
      await first; // clear()'s operation is running now
      const after = store.save([{ data: 'c' }]).then(
        () => 'saved',
        (e: { code?: string }) => `rejected ${e.code}`,
      );
      await cleared;
      const outcome = await after;
      const loaded = await store.load();
      outcomes.push(`${outcome}, stored ${JSON.stringify(loaded.map((m) => m.data))}`);
    }
    expect(outcomes).to.deep.equal(Array(20).fill('saved, stored ["c"]'));
  });

  it('pinned: an invalid message still rejects at once with INVALID_MESSAGE, and does not disturb the queue', async () => {
    const store = fileStore(file);
    const good = store.save([{ data: 'good' }]);
    let code: string | undefined;
    await store.save([{ data: 42 as unknown as string }]).catch((e: { code: string }) => (code = e.code));
    expect(code).to.equal('INVALID_MESSAGE');
    await good;
    expect(onDisk()).to.deep.equal(['good']);
  });
});
