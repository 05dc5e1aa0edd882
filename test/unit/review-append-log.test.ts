// Adversarial review of fileStore()'s append log (format version 2: src/storage/file.ts,
// src/storage/file-format.ts). Real files in a temporary directory; failures of the disk (EIO at
// fsync, ENOSPC mid-write, EACCES of a read-only file for a process that is not root) are
// simulated by patching node:fs in this process (its ESM exports follow syncBuiltinESMExports()).
// Tests whose names say what should hold and that fail on the reviewed code expose a defect;
// the others are regression probes.
import { expect } from 'chai';
import fc from 'fast-check';
import fs, { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, truncateSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSteadySocketError } from '../../src/errors';
import { fileStore } from '../../src/storage/file';
import { decodeOutboxFile, encodeChange, encodeOutboxFile } from '../../src/storage/file-format';
import type { StoredMessage } from '../../src/storage/types';
import { changeAndSave, changeLine, ioError, loadFresh, patchFs, range, text, type OutboxChange, type SaveMode } from '../support/outbox-files';
import { rejection } from '../support/rejection';

type Fs = typeof fs;

describe('review: fileStore append log (format version 2)', () => {
  let dir: string;
  let file: string;
  const undo: (() => void)[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steadysocket-review-append-'));
    file = join(dir, 'outbox.json');
  });

  afterEach(() => {
    for (const restore of undo.splice(0).reverse()) restore();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What a fresh store (a new process, as far as the file is concerned) loads. */
  const reload = (): Promise<StoredMessage[]> => loadFresh(file);

  describe('failed writes: "Rejects with STORAGE_FAILED when the write failed (the old contents stay)"', () => {
    it('a save() whose fsync of the appended change fails rejects, and load() still returns the old contents', async () => {
      const store = fileStore(file);
      await store.save(range(0, 5));
      let failures = 0;
      undo.push(
        patchFs('fsync', (real) => ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
          if (failures++ === 0) return void setImmediate(() => callback(ioError('EIO')));
          return real(fd, callback);
        }) as Fs['fsync']),
      );
      const error = await rejection(store.save(range(1, 6)));
      expect(isSteadySocketError(error, 'STORAGE_FAILED'), String(error)).to.equal(true);
      expect(failures, 'the append path was taken').to.equal(1);
      undo.pop()!();
      store.release();
      // The save was reported as failed: what the file holds must be what it held before it.
      expect(await reload()).to.deep.equal(range(0, 5));
    });

    it('a saveSync() whose fsync of the appended change fails throws, and loadSync() still returns the old contents', () => {
      const store = fileStore(file);
      store.saveSync(range(0, 5));
      let failures = 0;
      undo.push(
        patchFs('fsyncSync', (real) => ((fd: number) => {
          if (failures++ === 0) throw ioError('EIO');
          return real(fd);
        }) as Fs['fsyncSync']),
      );
      let thrown: unknown;
      try {
        store.saveSync(range(1, 6));
      } catch (error) {
        thrown = error;
      }
      expect(isSteadySocketError(thrown, 'STORAGE_FAILED'), String(thrown)).to.equal(true);
      undo.pop()!();
      store.release();
      const other = fileStore(file);
      expect(other.loadSync()).to.deep.equal(range(0, 5));
      other.release();
    });

    it('after a save whose fsync failed, the file holds the old contents, and a save of contents the store only read makes them durable', async () => {
      const store = fileStore(file);
      await store.save(range(0, 5));
      let fsyncs = 0;
      let fail = true;
      undo.push(
        patchFs('fsync', (real) => ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
          fsyncs++;
          if (fail) {
            fail = false;
            return void setImmediate(() => callback(ioError('EIO')));
          }
          return real(fd, callback);
        }) as Fs['fsync']),
      );
      await rejection(store.save(range(1, 6)));
      // The change that was not made durable is cut off again: a load (persist() restoring) reads the old contents.
      expect(await store.load()).to.deep.equal(range(0, 5));
      // Contents another writer left, perhaps in the page cache only (it crashed before its fsync),
      // then read: a save of those same contents has nothing to write, and still fsyncs the file.
      store.release();
      writeFileSync(file, encodeOutboxFile(range(7, 9)));
      expect(await store.load()).to.deep.equal(range(7, 9));
      fsyncs = 0;
      await store.save(range(7, 9));
      expect(fsyncs, 'fsync calls made by the save that resolved').to.equal(1);
      fsyncs = 0;
      await store.save(range(7, 9));
      expect(fsyncs, 'once durable, a save of the same contents writes nothing').to.equal(0);
      store.release();
    });

    it('a save() whose write runs out of space (ENOSPC after part of the change) rejects; load() returns the old contents; the next save works', async () => {
      const store = fileStore(file);
      await store.save(range(0, 5));
      let armed = true;
      undo.push(
        patchFs('writeSync', (real) => ((fd: number, buffer: Buffer, offset: number, length: number, position: number) => {
          if (armed && typeof position === 'number' && length > 20) {
            armed = false;
            real(fd, buffer, offset, 20, position); // part of it reaches the file
            throw ioError('ENOSPC');
          }
          return real(fd, buffer, offset, length, position);
        }) as Fs['writeSync']),
      );
      const error = await rejection(store.save(range(1, 6)));
      expect(isSteadySocketError(error, 'STORAGE_FAILED'), String(error)).to.equal(true);
      expect(error.message).not.to.include('message 5');
      undo.pop()!();
      expect(await reload()).to.deep.equal(range(0, 5));
      await store.save(range(2, 7));
      expect(await reload()).to.deep.equal(range(2, 7));
      store.release();
    });

    it('a store with mode 0o400 (accepted by fileStore) saves every time for a process that is not root, as the rewriting store did', async () => {
      // Root ignores the permission bits: the EACCES a non-root process gets from open(file, 'r+')
      // on a file without the owner's write bit is simulated.
      undo.push(
        patchFs('openSync', (real) => ((path: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode) => {
          if (String(path) === file && flags === 'r+' && (statSync(file).mode & 0o200) === 0) throw ioError('EACCES');
          return real(path, flags as fs.OpenMode, mode);
        }) as Fs['openSync']),
      );
      const store = fileStore(file, { mode: 0o400 });
      await store.save(range(0, 5));
      expect(statSync(file).mode & 0o777).to.equal(0o400);
      const outcomes: string[] = [];
      for (let i = 1; i <= 4; i++) {
        try {
          await store.save(range(i, i + 5));
          outcomes.push('ok');
        } catch (error) {
          outcomes.push((error as { code: string }).code);
        }
      }
      expect(outcomes).to.deep.equal(['ok', 'ok', 'ok', 'ok']);
      store.release();
    });
  });

  describe('the file changed under the store: "the last call\'s contents win"', () => {
    it('two store objects on one path in one process: the last save wins (the other wrote a smaller snapshot in between)', async () => {
      const a = fileStore(file);
      const b = fileStore(file);
      await a.save(range(0, 20));
      await b.save([{ data: 'from b' }]); // b knows nothing of the file: a snapshot, renamed over a's
      await a.save(range(1, 21)); // a appends at the end of the file it wrote, which is gone
      expect(await reload()).to.deep.equal(range(1, 21));
      a.release();
    });

    it('two store objects on one path in one process: the last save wins (the other wrote a larger snapshot in between)', async () => {
      const a = fileStore(file);
      const b = fileStore(file);
      await a.save(range(0, 3));
      await b.save(range(100, 140));
      await a.save(range(1, 4));
      const loaded = await reload().catch((error: Error) => `rejected: ${String(error)}`);
      expect(loaded).to.deep.equal(range(1, 4));
      a.release();
    });

    it('a file truncated by someone else between saves: the next save writes the new contents, not a corrupt file', async () => {
      const store = fileStore(file);
      await store.save(range(0, 10));
      truncateSync(file, 0); // e.g. `: > outbox.json`, or a tool that empties it
      await store.save(range(1, 11));
      const loaded = await reload().catch((error: Error) => `rejected: ${String(error)}`);
      expect(loaded).to.deep.equal(range(1, 11));
      store.release();
    });

    it('a file replaced by someone else (renamed over) between saves: the next save writes the new contents', async () => {
      const store = fileStore(file);
      await store.save(range(0, 10));
      writeFileSync(`${file}.backup`, encodeOutboxFile(range(50, 52)));
      renameSync(`${file}.backup`, file);
      await store.save(range(1, 11));
      const loaded = await reload().catch((error: Error) => `rejected: ${String(error)}`);
      expect(loaded).to.deep.equal(range(1, 11));
      store.release();
    });

    it('regression: after release(), another store that wrote the file in between does not make the next save append at a stale offset', async () => {
      const a = fileStore(file);
      await a.save(range(0, 3));
      a.release();
      const b = fileStore(file);
      await b.save(range(100, 140));
      b.release();
      await a.save(range(1, 4));
      expect(await reload()).to.deep.equal(range(1, 4));
      a.release();
    });

    it('regression: a file deleted by hand between saves is written again (save() and saveSync())', async () => {
      const store = fileStore(file);
      await store.save(range(0, 4));
      rmSync(file);
      await store.save(range(1, 5));
      expect(await reload()).to.deep.equal(range(1, 5));
      rmSync(file);
      store.saveSync(range(2, 6));
      expect(await reload()).to.deep.equal(range(2, 6));
      store.release();
    });
  });

  describe('what is stored is what was given', () => {
    it('binary views with offsets, Buffers and Uint8Arrays of the same bytes, mutated by the caller after save() returns', async () => {
      const store = fileStore(file);
      const pool = Buffer.alloc(64, 7);
      pool.write('abcdef', 10);
      const view = new Uint8Array(pool.buffer, pool.byteOffset + 10, 6); // 'abcdef'
      const first: StoredMessage[] = [{ data: view, id: 'v' }, { data: Buffer.from('xyz'), id: 1 }];
      const saving = store.save(first);
      view.fill(0); // the caller reuses its buffers at once
      (first[1].data as Buffer).fill(0);
      await saving;
      // Same bytes as a plain Uint8Array (not a Buffer): still the same message, so this is a change.
      const inode = statSync(file).ino;
      await store.save([{ data: new Uint8Array(Buffer.from('xyz')), id: 1 }, { data: new Uint8Array(0) }, { data: '' }]);
      expect(statSync(file).ino, 'appended').to.equal(inode);
      const loaded = await reload();
      expect(loaded).to.have.length(3);
      expect(loaded[0].data).to.be.instanceOf(Uint8Array);
      expect(Buffer.from(loaded[0].data as Uint8Array).toString()).to.equal('xyz');
      expect(loaded[0].id).to.equal(1);
      expect((loaded[1].data as Uint8Array).byteLength).to.equal(0);
      expect(loaded[2]).to.deep.equal({ data: '' });
      store.release();
    });

    it('ids (string vs number), queuedAt absent or 0, empty strings, lone surrogates, U+2028 and control characters survive changes', async () => {
      const store = fileStore(file);
      const odd: StoredMessage[] = [
        { data: '1', id: 1 },
        { data: '1', id: '1' },
        { data: '', queuedAt: 0 },
        { data: '\ud800 lone \udfff', id: -0 },
        { data: 'line\u2028sep\u2029\r\n\u0000\u001f"\\' },
        { data: '😀 ü 中文', id: 1e21, queuedAt: 1.5 },
      ];
      await store.save(odd.slice(0, 2));
      for (let i = 2; i < odd.length; i++) await store.save(odd.slice(0, i + 1)); // each adds one at the back
      await store.save(odd.slice(2));
      const expected = odd.slice(2).map((m) => ({ ...m }));
      expected[1].id = 0; // -0 is written as 0 by JSON
      expect(await reload()).to.deep.equal(expected);
      const lines = readFileSync(file, 'utf8').split('\n');
      expect(lines.length, 'changes were appended').to.be.above(3);
      store.release();
    });

    it('duplicate messages (same contents, no id) leaving and arriving: load() returns what the last save was given', async () => {
      const store = fileStore(file);
      const a = (): StoredMessage => ({ data: 'same' });
      const b = (): StoredMessage => ({ data: 'other' });
      const steps: StoredMessage[][] = [[a(), a(), a()], [a(), a()], [a(), a(), b()], [a(), b(), a()], [b(), a()], [a(), a(), a(), a()], [a()], [a(), b(), b()], [b(), b()]];
      for (const step of steps) {
        await store.save(step);
        expect(await reload()).to.deep.equal(step);
      }
      store.release();
    });

    it('a message of 8 MB is appended and dropped; the file stays within twice its messages plus 64 KiB', async function () {
      this.timeout(30_000);
      const store = fileStore(file, { fsync: false });
      const big: StoredMessage = { data: 'B'.repeat(8 * 1024 * 1024), queuedAt: 1 };
      await store.save(range(0, 3));
      await store.save([...range(0, 3), big]);
      await store.save([...range(1, 3), big, text(3)]);
      await store.save([big, text(3), text(4)]);
      await store.save([text(3), text(4)]);
      expect(await reload()).to.deep.equal([text(3), text(4)]);
      expect(statSync(file).size).to.be.below(2 * encodeOutboxFile([text(3), text(4)]).length + 64 * 1024 + 1024);
      store.release();
    });

    it('text made mostly of JSON escapes (sizes under-counted 6x): the file still stays within twice its snapshot plus 64 KiB', async function () {
      this.timeout(30_000);
      const store = fileStore(file, { fsync: false });
      const escaped = (n: number): StoredMessage => ({ data: `${n}:${'\u0001'.repeat(2000)}` });
      let window = range(0, 30, escaped);
      await store.save(window);
      let worst = 0;
      for (let i = 30; i < 400; i++) {
        window = [...window.slice(1), escaped(i)];
        await store.save(window);
        worst = Math.max(worst, statSync(file).size / (2 * encodeOutboxFile(window).length + 64 * 1024));
      }
      expect(worst).to.be.at.most(1);
      expect(await reload()).to.deep.equal(window);
      store.release();
    });

    it('the error of a corrupt file names no message contents (bad entry in a change whose SHA-256 matches)', async () => {
      writeFileSync(file, Buffer.concat([encodeOutboxFile([{ data: 'top-secret-1' }]), changeLine('{"drop":0,"add":[{"text":"top-secret-2","queuedAt":"top-secret-3"}]}')]));
      const error = await rejection(fileStore(file).load());
      expect(isSteadySocketError(error, 'STORAGE_CORRUPT'), String(error)).to.equal(true);
      expect(`${error.message} ${String(error.cause ?? '')}`).not.to.match(/top-secret/);
      fileStore(file).release();
    });
  });

  describe('decoder edge cases', () => {
    const base = (): Buffer => encodeOutboxFile(range(0, 3));

    it('a change whose SHA-256 matches with bad entries, a negative or fractional drop, or a drop larger than the count is corrupt (first or middle line)', () => {
      const good = changeLine('{"drop":1,"add":[]}');
      for (const json of ['{"drop":0,"add":[{"text":1}]}', '{"drop":-1,"add":[]}', '{"drop":0.5,"add":[]}', '{"drop":4,"add":[]}', '{"add":[]}', '{"drop":0}', '[]', '{"drop":0,"add":[{"base64":"@@@"}]}', '{"drop":0,"add":[{"text":"a","base64":"AA=="}]}']) {
        for (const file of [Buffer.concat([base(), changeLine(json)]), Buffer.concat([base(), good, changeLine(json), good])]) {
          const decoded = decodeOutboxFile(file);
          expect(decoded.ok, json).to.equal(false);
        }
      }
    });

    it('a file converted to CRLF is corrupt (not loaded as fewer messages)', () => {
      const file = Buffer.concat([base(), changeLine('{"drop":1,"add":[]}'), changeLine('{"drop":1,"add":[]}')]);
      const crlf = Buffer.from(file.toString('utf8').replace(/\n/g, '\r\n'));
      expect(decodeOutboxFile(crlf).ok).to.equal(false);
    });

    it('trailing garbage (several bad lines, no good line after them) loads as the good part, and the next append removes it all', async () => {
      const good = changeLine('{"drop":1,"add":[]}');
      writeFileSync(file, Buffer.concat([base(), good, Buffer.from('garbage\nmore garbage\n\0\0\0 and half a line')]));
      const store = fileStore(file);
      expect(await store.load()).to.deep.equal(range(1, 3));
      await store.save([...range(2, 3), text(9)]);
      const after = readFileSync(file);
      expect(after.includes('garbage')).to.equal(false);
      expect(decodeOutboxFile(after)).to.deep.include({ ok: true, committed: after.length });
      expect(await reload()).to.deep.equal([text(2), text(9)]);
      store.release();
    });

    it('a crash while a change is written over a longer torn tail: every prefix of the new change loads the old contents, the whole one the new', () => {
      const committed = Buffer.concat([base(), changeLine('{"drop":1,"add":[]}')]);
      const torn = changeLine(JSON.stringify({ drop: 0, add: range(10, 20).map((m) => ({ text: m.data })) }));
      const tornTail = torn.subarray(0, torn.length - 5);
      const next = encodeChange(1, [text(5)]);
      expect(tornTail.length).to.be.above(next.length);
      for (let k = 0; k <= next.length; k++) {
        // The write reached the disk up to byte k; the ftruncate did not.
        const state = Buffer.concat([committed, next.subarray(0, k), tornTail.subarray(k)]);
        const decoded = decodeOutboxFile(state);
        expect(decoded.ok, `k=${k}`).to.equal(true);
        expect(decoded.ok && decoded.messages, `k=${k}`).to.deep.equal(k === next.length ? [text(2), text(5)] : range(1, 3));
      }
    });

    it('a file of 100,000 changes decodes to what its last change leaves', function () {
      this.timeout(20_000);
      const many: Buffer[] = [encodeOutboxFile([])];
      for (let i = 0; i < 100_000; i++) many.push(encodeChange(i ? 1 : 0, [{ data: `m${i}` }]));
      const decoded = decodeOutboxFile(Buffer.concat(many));
      expect(decoded.ok && decoded.messages).to.deep.equal([{ data: 'm99999' }]);
    });

    it('a version 1 file with a change line after its snapshot is corrupt; a version 1 file loads and the next save writes version 2', async () => {
      const v2 = encodeOutboxFile(range(0, 2));
      const newline = v2.indexOf(0x0a);
      const header = JSON.parse(v2.subarray(0, newline).toString()) as Record<string, unknown>;
      const v1 = Buffer.concat([Buffer.from(JSON.stringify({ ...header, version: 1 }) + '\n'), v2.subarray(newline + 1)]);
      expect(decodeOutboxFile(Buffer.concat([v1, changeLine('{"drop":1,"add":[]}')])).ok).to.equal(false);
      writeFileSync(file, v1);
      const store = fileStore(file);
      expect(await store.load()).to.deep.equal(range(0, 2));
      await store.save(range(1, 3));
      expect(JSON.parse(readFileSync(file, 'utf8').split('\n')[0]).version).to.equal(2);
      expect(await reload()).to.deep.equal(range(1, 3));
      store.release();
    });
  });

  describe('durability and interleavings', () => {
    it('save() resolves only after the fsync of its appended change completed', async () => {
      const store = fileStore(file);
      await store.save(range(0, 3));
      const events: string[] = [];
      undo.push(
        patchFs('fsync', (real) => ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
          setTimeout(() => real(fd, (error) => {
            events.push('fsynced');
            callback(error);
          }), 30);
        }) as Fs['fsync']),
      );
      await store.save(range(1, 4)).then(() => events.push('resolved'));
      expect(events).to.deep.equal(['fsynced', 'resolved']);
      store.release();
    });

    it('saveSync() of what an async save appended while that fsync is pending fsyncs the file before returning', async () => {
      const store = fileStore(file);
      await store.save(range(0, 3));
      let release!: () => void;
      undo.push(
        patchFs('fsync', (real) => ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
          release = () => real(fd, callback);
        }) as Fs['fsync']),
      );
      let syncs = 0;
      undo.push(patchFs('fsyncSync', (real) => ((fd: number) => (syncs++, real(fd))) as Fs['fsyncSync']));
      const pending = store.save(range(1, 4)); // appended at once; its fsync waits
      store.saveSync(range(1, 4)); // nothing to write: but it must not return before it is durable
      expect(syncs).to.be.above(0);
      release();
      await pending;
      expect(await reload()).to.deep.equal(range(1, 4));
      store.release();
    });

    it('loadSync() while an async snapshot is being written, then more saves: load() returns the last save', async () => {
      const store = fileStore(file);
      await store.save(range(0, 3));
      const snapshot = store.save(range(10, 13)); // not a change: a snapshot, written asynchronously
      expect(store.loadSync()).to.deep.equal(range(0, 3));
      await snapshot;
      await store.save(range(11, 14));
      expect(await reload()).to.deep.equal(range(11, 14));
      store.saveSync(range(12, 15));
      expect(await reload()).to.deep.equal(range(12, 15));
      store.release();
    });

    describe('property: random interleavings of save, saveSync, load, loadSync, clear and release', () => {
      type Step =
        | Exclude<OutboxChange, { kind: 'pop' }>
        | { kind: 'clear' }
        | { kind: 'release' }
        | { kind: 'load' }
        | { kind: 'loadSync' };
      const step: fc.Arbitrary<Step> = fc.oneof(
        { weight: 5, arbitrary: fc.record({ kind: fc.constant('push' as const), count: fc.integer({ min: 1, max: 5 }), binary: fc.boolean() }) },
        { weight: 4, arbitrary: fc.record({ kind: fc.constant('shift' as const), count: fc.integer({ min: 1, max: 4 }) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('edit' as const), at: fc.nat() }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('empty' as const) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('load' as const) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('loadSync' as const) }) },
      );
      const how = fc.constantFrom<SaveMode>('await', 'sync', 'queued');

      it('over 60 sequences of up to 40 steps: a fresh store loads what the last save or clear left', async function () {
        this.timeout(120_000);
        let run = 0;
        await fc.assert(
          fc.asyncProperty(fc.array(fc.tuple(step, how), { minLength: 1, maxLength: 40 }), async (steps) => {
            file = join(dir, `p${run++}.json`);
            const store = fileStore(file, { fsync: false });
            let model: StoredMessage[] = [];
            let next = 0;
            const running: Promise<unknown>[] = [];
            for (const [change, mode] of steps) {
              if (change.kind === 'release') {
                store.release();
                continue;
              }
              if (change.kind === 'load') {
                if (mode === 'queued') running.push(store.load());
                else {
                  const loaded = await store.load();
                  expect(loaded).to.deep.equal(model);
                }
                continue;
              }
              if (change.kind === 'loadSync') {
                // Only meaningful when nothing is queued: otherwise the file may still hold an older save.
                if (!running.length) expect(store.loadSync()).to.deep.equal(model);
                continue;
              }
              if (change.kind === 'clear') {
                model = [];
                const clearing = store.clear();
                if (mode === 'queued') running.push(clearing);
                else await clearing;
                continue;
              }
              ({ model, next } = await changeAndSave(store, model, next, change, mode, running));
            }
            await Promise.all(running);
            expect(await store.load()).to.deep.equal(model);
            store.release();
            const decoded = (() => {
              try {
                return decodeOutboxFile(readFileSync(file));
              } catch {
                return { ok: true as const, messages: [] };
              }
            })();
            expect(decoded.ok && decoded.messages).to.deep.equal(model);
          }),
          { numRuns: 60 },
        );
      });
    });
  });
});
