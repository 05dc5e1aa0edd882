// fileStore() appends what changed (format version 2): a save that only drops messages from the
// front and adds some at the back is one line at the end of the file, not a new file. What this
// file checks: the file really is appended to (same inode, the snapshot line untouched); what a
// power loss leaves (a last change cut short or garbled) loads as the contents before it, and the
// next save writes over it; a garbled change with a good one after it is corruption; sent messages
// leave the disk; the file stays within twice its messages' size; a version 1 file still loads;
// and, as a property over random sequences of saves, load() returns what the last save was given.
import { expect } from 'chai';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { isSteadySocketError } from '../../src/errors';
import { persist, SteadySocket } from '../../src/index';
import { fileStore } from '../../src/storage/file';
import { liveWeight, ownCopies, planSave, SLACK, type OnDisk } from '../../src/storage/file-changes';
import { decodeOutboxFile, encodeChange, encodeOutboxFile, fingerprint } from '../../src/storage/file-format';
import type { StoredMessage } from '../../src/storage/types';
import { FakeWebSocket } from '../support/fake-websocket';
import { bytes, changeAndSave, range, text, type OutboxChange, type SaveMode } from '../support/outbox-files';
import { rejection } from '../support/rejection';

const lines = (file: string): string[] => readFileSync(file, 'utf8').split('\n');

describe('storage: fileStore appends changes (format version 2)', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steadysocket-changes-'));
    file = join(dir, 'outbox.json');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('appends one line for a save that drops from the front and adds at the back: same file, its snapshot untouched', async () => {
    const store = fileStore(file);
    await store.save(range(0, 1000));
    const before = readFileSync(file);
    const inode = statSync(file).ino;
    await store.save(range(3, 1002));
    const after = readFileSync(file);
    expect(statSync(file).ino, 'not replaced by a new file').to.equal(inode);
    expect(after.subarray(0, before.length).equals(before), 'what was there is unchanged').to.equal(true);
    const change = after.subarray(before.length).toString('utf8');
    expect(change.endsWith('\n') && change.split('\n').length, 'one line').to.equal(2);
    expect(change).to.match(/^[0-9a-f]{64} \{"drop":3,"add":\[\{"text":"message 1000 x+","queuedAt":1795000001000\},\{"text":"message 1001 x+","queuedAt":1795000001001\}\]\}\n$/);
    expect(after.length - before.length).to.be.below(400);
    expect(await store.load()).to.deep.equal(range(3, 1002));
    store.release();
  });

  it('writes nothing for a save of what the file holds already, and a snapshot for a save that is not a change at the ends', async () => {
    const store = fileStore(file);
    await store.save(range(0, 10));
    const first = readFileSync(file);
    const inode = statSync(file).ino;
    await store.save(range(0, 10));
    store.saveSync(range(0, 10));
    expect(readFileSync(file).equals(first), 'the same contents again: nothing written').to.equal(true);
    // A message in the middle changed: not a change at the ends, so a new snapshot.
    const edited = range(0, 10);
    edited[4] = text(99);
    await store.save(edited);
    expect(statSync(file).ino, 'replaced by rename').not.to.equal(inode);
    expect(lines(file)).to.have.length(3);
    expect(await store.load()).to.deep.equal(edited);
    store.release();
  });

  it('drops a save queued before a saveSync(), also when what it has would be a change to append (a message withdrawn since)', async () => {
    const store = fileStore(file);
    await store.save(range(0, 1));
    const running = store.save(range(0, 2)); // written at once; its fsync is awaited
    const queued = store.save(range(0, 3)); // waits behind it
    store.saveSync(range(0, 2)); // message 2 was withdrawn: newer than the queued save
    await Promise.all([running, queued]);
    expect(await store.load()).to.deep.equal(range(0, 2));
    store.release();
  });

  it('writes a snapshot when the file was deleted by hand since the last save (save() and saveSync())', async () => {
    const store = fileStore(file);
    await store.save(range(0, 5));
    rmSync(file);
    await store.save(range(1, 6));
    expect(await store.load()).to.deep.equal(range(1, 6));
    rmSync(file);
    store.saveSync(range(2, 7));
    expect(lines(file), 'a snapshot').to.have.length(3);
    expect(store.loadSync()).to.deep.equal(range(2, 7));
    store.release();
  });

  it('loads the contents before a last change cut short at any byte, and the next save writes over what was cut short', async () => {
    const store = fileStore(file);
    await store.save(range(0, 5));
    await store.save(range(1, 7, bytes));
    await store.save([...range(1, 7, bytes).slice(2), text(7), text(10), text(11)]);
    store.release();
    // Both are changes: range(1, 7, bytes) shares no message with range(0, 5), so it is a snapshot.
    const full = readFileSync(file);
    const parts = full.toString('utf8').split('\n');
    expect(parts, 'header, snapshot, one change').to.have.length(4);
    const lastStart = full.length - Buffer.byteLength(parts[2]) - 1;
    for (let length = lastStart; length < full.length; length++) {
      const decoded = decodeOutboxFile(full.subarray(0, length));
      expect(decoded.ok, `cut at ${length}`).to.equal(true);
      if (!decoded.ok) continue;
      expect(decoded.messages, `cut at ${length}`).to.deep.equal(range(1, 7, bytes));
      expect(decoded.committed).to.equal(lastStart);
    }
    expect(decodeOutboxFile(full)).to.deep.include({ ok: true, committed: full.length });

    // A power loss cut the last change short: the next process loads what was before it, and
    // its next change is written where the cut one began (nothing of it is left).
    // (Cut late: what is left of it is longer than the next change, which must not leave its end behind.)
    writeFileSync(file, full.subarray(0, full.length - 5));
    const next = fileStore(file);
    const loaded = await next.load();
    expect(loaded).to.deep.equal(range(1, 7, bytes));
    await next.save([...loaded.slice(1), text(8)]);
    const repaired = readFileSync(file);
    expect(decodeOutboxFile(repaired)).to.deep.include({ ok: true, committed: repaired.length });
    expect(repaired.includes('message 11'), 'the cut change is gone').to.equal(false);
    expect(await next.load()).to.deep.equal([...range(2, 7, bytes), text(8)]);
    next.release();
  });

  it('ignores a last change garbled by a power loss; a garbled change with a good change after it is STORAGE_CORRUPT', async () => {
    const store = fileStore(file);
    await store.save(range(0, 4));
    await store.save(range(1, 5));
    await store.save(range(2, 6));
    store.release();
    const full = readFileSync(file);
    const parts = full.toString('utf8').split('\n');
    expect(parts, 'header, snapshot, two changes').to.have.length(5);
    const secondStart = full.length - Buffer.byteLength(parts[3]) - 1;
    const firstStart = secondStart - Buffer.byteLength(parts[2]) - 1;

    for (const at of [secondStart + 3, secondStart + 70, full.length - 3]) {
      const garbled = Buffer.from(full);
      garbled[at] ^= 0x04;
      expect(decodeOutboxFile(garbled), `byte ${at} of the last change`).to.deep.include({ ok: true, messages: range(1, 5), committed: secondStart });
    }
    // Zeros where the last change's first block never reached the disk, its end did.
    const zeroed = Buffer.from(full);
    zeroed.fill(0, secondStart, secondStart + 40);
    expect(decodeOutboxFile(zeroed)).to.deep.include({ ok: true, messages: range(1, 5) });

    const middle = Buffer.from(full);
    middle[firstStart + 80] ^= 0x04;
    const decoded = decodeOutboxFile(middle);
    expect(decoded.ok).to.equal(false);
    expect(!decoded.ok && decoded.problem).to.match(/change 1 does not match its SHA-256, and changes follow it/);
    writeFileSync(file, middle);
    const error = await rejection(fileStore(file).load());
    expect(isSteadySocketError(error, 'STORAGE_CORRUPT'), String(error)).to.equal(true);
  });

  it('refuses a change whose SHA-256 matches but whose contents are wrong (it drops more than there is), as STORAGE_CORRUPT', () => {
    const base = encodeOutboxFile(range(0, 2));
    const change = '{"drop":3,"add":[]}';
    const line = `${createHash('sha256').update(change).digest('hex')} ${change}\n`;
    const decoded = decodeOutboxFile(Buffer.concat([base, Buffer.from(line)]));
    expect(decoded.ok).to.equal(false);
    expect(!decoded.ok && decoded.problem).to.equal('its change 1 drops 3 messages of 2');
  });

  it('leaves no sent message on the disk once the outbox is empty', async () => {
    const store = fileStore(file);
    await store.save([{ data: 'secret-one' }, { data: 'secret-two' }, { data: 'secret-three' }]);
    await store.save([{ data: 'secret-two' }, { data: 'secret-three' }, { data: 'secret-four' }]);
    expect(lines(file), 'a change was appended').to.have.length(4);
    await store.save([]);
    expect(readFileSync(file, 'utf8')).not.to.include('secret');
    expect(await store.load()).to.deep.equal([]);
    store.release();
  });

  it('keeps the file within twice its messages and 64 KiB: a window sliding over 3,000 saves', async function () {
    this.timeout(60_000);
    const store = fileStore(file, { fsync: false });
    let largest = 0;
    for (let k = 0; k < 3000; k++) {
      await store.save(range(k, k + 50, (n) => text(n, 200)));
      largest = Math.max(largest, statSync(file).size);
    }
    const snapshotSize = encodeOutboxFile(range(2999, 3049, (n) => text(n, 200))).length;
    // Each save appends about 300 B: without compaction the file would pass 900 KB.
    expect(largest).to.be.at.most(2 * snapshotSize + 64 * 1024 + 2 * 50 * 48);
    expect(largest, 'changes were appended').to.be.above(snapshotSize * 2);
    expect(await store.load()).to.deep.equal(range(2999, 3049, (n) => text(n, 200)));
    store.release();
  });

  it('appends for text that is not ASCII as for ASCII (sizes are counted in UTF-8 bytes)', async () => {
    // 100 messages of 2,000 CJK characters: 600 KB in the file, 200,000 characters.
    const cjk = (n: number): StoredMessage => ({ data: `${n} ${'消息'.repeat(1000)}`, queuedAt: n });
    const store = fileStore(file, { fsync: false });
    await store.save(range(0, 100, cjk));
    const inode = statSync(file).ino;
    for (let k = 1; k <= 10; k++) await store.save(range(k, k + 100, cjk));
    expect(statSync(file).ino, 'appended to, not replaced').to.equal(inode);
    expect(lines(file)).to.have.length(3 + 10);
    expect(await store.load()).to.deep.equal(range(10, 110, cjk));
    store.release();
  });

  it('loads a version 1 file, then writes version 2 and appends to it', async () => {
    const body = JSON.stringify([{ text: 'a', queuedAt: 1 }, { text: 'b', queuedAt: 2 }]);
    const header = { format: 'steadysocket-outbox', version: 1, count: 2, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
    writeFileSync(file, `${JSON.stringify(header)}\n${body}\n`);
    const store = fileStore(file);
    const loaded = await store.load();
    expect(loaded).to.deep.equal([
      { data: 'a', queuedAt: 1 },
      { data: 'b', queuedAt: 2 },
    ]);
    await store.save([...loaded.slice(1), { data: 'c', queuedAt: 3 }]);
    expect(JSON.parse(lines(file)[0])).to.include({ version: 2 });
    expect(lines(file), 'a snapshot first').to.have.length(3);
    await store.save([{ data: 'c', queuedAt: 3 }, { data: 'd', queuedAt: 4 }]);
    expect(lines(file), 'then a change').to.have.length(4);
    expect(await store.load()).to.deep.equal([
      { data: 'c', queuedAt: 3 },
      { data: 'd', queuedAt: 4 },
    ]);
    store.release();
  });

  it('persist(): a client offline and sending appends a change per save, and the next process restores every message', async () => {
    const store = fileStore(file);
    const outbox = persist(store);
    const client = new SteadySocket('ws://127.0.0.1:9/', { WebSocket: FakeWebSocket as never, use: [outbox], minDelay: 60_000 });
    try {
      await outbox.restored;
      client.send('first');
      await outbox.saved();
      const inode = statSync(file).ino;
      for (let i = 0; i < 20; i++) {
        client.send(`message ${i}`);
        await outbox.saved();
      }
      expect(statSync(file).ino, 'appended to, never replaced').to.equal(inode);
      expect(lines(file)).to.have.length(3 + 20);
    } finally {
      await client.close();
    }
    // close() dropped them (CLOSED), and saved that: the file holds none.
    expect(await fileStore(file).load()).to.deep.equal([]);
  });

  describe('property: load() returns what the last save was given', () => {
    type Step = OutboxChange | { kind: 'reopen' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('push' as const), count: fc.integer({ min: 1, max: 6 }), binary: fc.boolean() }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('shift' as const), count: fc.integer({ min: 1, max: 5 }) }) },
      // The newest withdrawn (clearOutbox(), an abort signal): what a save queued before still has.
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('pop' as const), count: fc.integer({ min: 1, max: 3 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('edit' as const), at: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('empty' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
    );
    const how = fc.constantFrom<SaveMode>('await', 'sync', 'queued');

    it('over 60 random sequences of up to 40 saves, with save(), saveSync() and saves left running', async function () {
      this.timeout(120_000);
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(step, how), { minLength: 1, maxLength: 40 }), async (steps) => {
          const path = join(dir, `p${run++}.json`);
          let store = fileStore(path, { fsync: false });
          let model: StoredMessage[] = [];
          let next = 0;
          const running: Promise<unknown>[] = [];
          for (const [change, mode] of steps) {
            if (change.kind === 'reopen') {
              await Promise.all(running.splice(0));
              store.release();
              store = fileStore(path, { fsync: false });
              expect(await store.load()).to.deep.equal(model);
              continue;
            }
            // Saved from the caller's own objects (a copy of the model): the store must not keep them.
            ({ model, next } = await changeAndSave(store, model, next, change, mode, running));
          }
          await Promise.all(running);
          expect(await store.load()).to.deep.equal(model);
          store.release();
          expect(await fileStore(path).load()).to.deep.equal(model);
          fileStore(path).release();
        }),
        { numRuns: 60 },
      );
    });
  });
});

describe('storage: planning a file store save (pure, file-changes.ts)', () => {
  /** What the store knows of a file holding a snapshot of `messages`, plus `extra` bytes of changes. */
  function onDisk(messages: StoredMessage[], extra = 0): OnDisk {
    const bytes = encodeOutboxFile(messages);
    const seen = { dev: 1n, ino: 2n, size: BigInt(bytes.length + extra), mtimeNs: 3n, ctimeNs: 4n };
    return { messages, length: bytes.length + extra, live: liveWeight(messages), snapshot: extra === 0, seen, tail: fingerprint(bytes, bytes.length), synced: true };
  }

  it('reuses the copies of messages that did not change, and copies the rest', () => {
    const own = range(0, 5);
    const copies = ownCopies(own, [...range(2, 5).map((m) => ({ ...m })), text(5), { data: new Uint8Array([1, 2]) }]);
    expect(copies.slice(0, 3).every((m, i) => m === own[2 + i]), 'the same objects').to.equal(true);
    expect(copies[3]).to.deep.equal(text(5));
    expect(copies[4].data).to.deep.equal(new Uint8Array([1, 2]));
    expect(ownCopies(own, [])).to.deep.equal([]);
  });

  it('plans nothing, a change, or a snapshot (undefined) as the rules say', () => {
    const old = range(0, 10);
    const disk = onDisk(old);
    expect(planSave(undefined, old), 'state unknown').to.equal(undefined);
    expect(planSave(disk, old.slice()), 'same messages').to.equal('nothing');
    expect(planSave(disk, []), 'empty: a snapshot of nothing').to.equal(undefined);
    expect(planSave(onDisk([]), []), 'empty, and the file holds a snapshot of nothing').to.equal('nothing');
    expect(planSave(disk, [old[0], old[2]]), 'a message gone from the middle').to.equal(undefined);
    expect(planSave(disk, range(10, 12)), 'none kept').to.equal(undefined);
    expect(planSave(onDisk([]), range(0, 3)), 'all of it new: a change as large as a snapshot').to.equal(undefined);
    const next = [...old.slice(3), text(10)];
    const plan = planSave(disk, next);
    if (!plan || plan === 'nothing') throw new Error('expected a change');
    expect(plan.change.equals(encodeChange(3, [text(10)]))).to.equal(true);
    expect(plan.after.length).to.equal(disk.length + plan.change.length);
    expect(plan.after.live).to.equal(liveWeight(next));
    expect(plan.after.tail).to.deep.equal({ at: disk.length, bytes: plan.change.subarray(0, 64) });
    // A file already holding twice its messages (and SLACK) in sent ones gets a snapshot.
    expect(planSave(onDisk(old, 2 * liveWeight(old) + SLACK), next)).to.equal(undefined);
  });

  it('fingerprints a snapshot by its header line and a file with changes by the SHA-256 of its last committed change', () => {
    const snapshot = encodeOutboxFile(range(0, 2));
    const header = snapshot.subarray(0, snapshot.indexOf(0x0a) + 1);
    expect(fingerprint(snapshot, snapshot.length)).to.deep.equal({ at: 0, bytes: header });
    const first = encodeChange(1, [text(2)]);
    const second = encodeChange(0, [text(3)]);
    const file = Buffer.concat([snapshot, first, second, Buffer.from('torn')]);
    const committed = snapshot.length + first.length + second.length;
    expect(fingerprint(file, committed)).to.deep.equal({ at: snapshot.length + first.length, bytes: second.subarray(0, 64) });
    expect(fingerprint(file, snapshot.length + first.length)).to.deep.equal({ at: snapshot.length, bytes: first.subarray(0, 64) });
    expect(fingerprint(file, snapshot.length)).to.deep.equal({ at: 0, bytes: header });
  });
});
