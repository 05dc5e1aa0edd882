// Second adversarial review of fileStore()'s append log (src/storage/file.ts). Each test below
// failed on the code before the fixes of 2026-12-03 (a80b7b3), except those named "pinned":
//   - a failed fsync of an appended change was cut off or kept by the wrong rule (whether the
//     store's state object had been replaced), in both directions;
//   - a save with nothing to write never looked at the file (deleted or replaced by hand, it
//     resolved with nothing on the disk, or failed with STORAGE_FAILED after a load);
//   - what a snapshot's save "saw" was a stat of the name after the rename (another writer's
//     file, if one came in between), not of the file it wrote;
//   - a file rewritten in place to the same size with its mtime put back passed the check, as
//     did one whose timestamps are too coarse to tell (now: ctime, and the fingerprint of the last
//     committed line).
// Real files in a temporary directory; disk failures and coarse timestamps are simulated by
// patching node:fs in this process (its ESM exports follow syncBuiltinESMExports()).
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs, { mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSteadySocketError } from '../../src/errors';
import { fileStore, type FileStore } from '../../src/storage/file';
import { encodeOutboxFile } from '../../src/storage/file-format';
import type { StoredMessage } from '../../src/storage/types';
import { failFs, ioError, loadFresh, patchFs, range } from '../support/outbox-files';
import { rejection } from '../support/rejection';


type Fs = typeof fs;

type FsyncCallback = (error: NodeJS.ErrnoException | null) => void;

describe('review 2026-12-03: fileStore append log, second pass', () => {
  let dir: string;
  let file: string;
  const undo: (() => void)[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steadysocket-review-append2-'));
    file = join(dir, 'outbox.json');
  });

  afterEach(() => {
    for (const restore of undo.splice(0).reverse()) restore();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What a fresh store (a new process, as far as the file is concerned) loads. */
  const reload = (): Promise<StoredMessage[]> => loadFresh(file);

  /** The next async fsync waits until the returned function is called with its outcome. */
  function holdNextFsync(): (error?: NodeJS.ErrnoException) => void {
    let finish: ((error?: NodeJS.ErrnoException) => void) | undefined;
    let held = false;
    undo.push(
      patchFs('fsync', (real) => ((fd: number, callback: FsyncCallback) => {
        if (held) return real(fd, callback);
        held = true;
        finish = (error) => (error ? callback(error) : real(fd, callback));
      }) as Fs['fsync']),
    );
    return (error) => finish!(error);
  }

  /**
   * Rewrites the file in place (same inode) with `bytes`, then puts its atime and mtime back to the
   * nanosecond (touch -r: utimensat), as a backup tool restoring a file may.
   */
  function rewriteInPlace(bytes: Buffer): void {
    const before = statSync(file, { bigint: true });
    execFileSync('touch', ['-r', file, `${file}.times`]);
    const fd = openSync(file, 'r+');
    try {
      writeSync(fd, bytes, 0, bytes.length, 0);
    } finally {
      closeSync(fd);
    }
    execFileSync('touch', ['-r', `${file}.times`, file]);
    const after = statSync(file, { bigint: true });
    expect([after.ino, after.size, after.mtimeNs], 'only the contents and ctime changed').to.deep.equal([before.ino, before.size, before.mtimeNs]);
  }

  /** Saves `messages` with save() (awaited) or saveSync(). */
  async function saveWith(how: 'save' | 'saveSync', store: FileStore, messages: StoredMessage[]): Promise<void> {
    if (how === 'save') await store.save(messages);
    else store.saveSync(messages);
  }

  describe('a failed fsync of an appended change', () => {
    /** A store that saved 0…2, then a save of 1…3 appended as a change, its fsync held until `finish` is called. */
    async function heldAppend() {
      const store = fileStore(file);
      await store.save(range(0, 3));
      const finish = holdNextFsync();
      const pending = rejection(store.save(range(1, 4)));
      await new Promise((resolve) => setImmediate(resolve));
      return { store, finish, pending };
    }

    it('is not cut off when a saveSync() of the same contents returned meanwhile (it relied on the change)', async () => {
      const { store, finish, pending } = await heldAppend();
      store.saveSync(range(1, 4)); // nothing to write: it fsyncs the file and returns
      finish(ioError('EIO'));
      const error = await pending;
      expect(isSteadySocketError(error) && error.code).to.equal('STORAGE_FAILED');
      expect(await reload(), 'what saveSync() returned having saved').to.deep.equal(range(1, 4));
      store.release();
    });

    it('is cut off when only a loadSync() ran meanwhile: the old contents stay, as STORAGE_FAILED promises', async () => {
      const { store, finish, pending } = await heldAppend();
      expect(store.loadSync()).to.deep.equal(range(1, 4)); // the change is in the page cache
      finish(ioError('EIO'));
      const error = await pending;
      expect(isSteadySocketError(error) && error.code).to.equal('STORAGE_FAILED');
      expect(await reload()).to.deep.equal(range(0, 3));
      // And the store goes on: its next save is written whole.
      await store.save(range(2, 6));
      expect(await reload()).to.deep.equal(range(2, 6));
      store.release();
    });

    it('is cut off when a saveSync() meanwhile failed (it saved nothing)', async () => {
      const { store, finish, pending } = await heldAppend();
      const restore = failFs('fsyncSync', 'EIO');
      expect(() => store.saveSync(range(1, 5))).to.throw().with.property('code', 'STORAGE_FAILED');
      restore();
      finish(ioError('EIO'));
      expect(((await pending) as { code?: string }).code).to.equal('STORAGE_FAILED');
      expect(await reload()).to.deep.equal(range(0, 3));
      store.release();
    });

    it('pinned: is not cut off when a saveSync() appended after it meanwhile: what that saved stands', async () => {
      const { store, finish, pending } = await heldAppend();
      store.saveSync(range(1, 5));
      finish(ioError('EIO'));
      expect(((await pending) as { code?: string }).code).to.equal('STORAGE_FAILED');
      expect(await reload()).to.deep.equal(range(1, 5));
      store.release();
    });
  });

  it('a check that cannot read the file (EIO) makes the save a snapshot; nothing of that file is cut', async () => {
    const store = fileStore(file);
    await store.save(range(0, 3));
    const inode = statSync(file).ino;
    let failed = 0;
    const restore = patchFs('readSync', (real) => ((...args: unknown[]) => {
      // Only the store's read at a position (readFileSync reads without one).
      if (args.length === 5 && typeof args[4] === 'number') {
        failed++;
        throw ioError('EIO');
      }
      return (real as (...all: unknown[]) => number)(...args);
    }) as Fs['readSync']);
    try {
      await store.save(range(1, 4));
    } finally {
      restore();
    }
    expect(failed, 'the check read the file').to.equal(1);
    expect(statSync(file).ino, 'a snapshot: a new file').to.not.equal(inode);
    expect(await reload()).to.deep.equal(range(1, 4));
    store.release();
  });

  describe('a save with nothing to write', () => {
    for (const how of ['save', 'saveSync'] as const) {
      it(`${how}(): writes a snapshot when the file was deleted by hand since the same contents were saved`, async () => {
        const store = fileStore(file);
        await store.save(range(0, 3));
        rmSync(file);
        await saveWith(how, store, range(0, 3));
        expect(await reload()).to.deep.equal(range(0, 3));
        store.release();
      });

      it(`${how}(): writes a snapshot when the file was replaced by another outbox since the same contents were saved`, async () => {
        const store = fileStore(file);
        await store.save(range(0, 3));
        writeFileSync(`${file}.other`, encodeOutboxFile(range(7, 9)));
        fs.renameSync(`${file}.other`, file);
        await saveWith(how, store, range(0, 3));
        expect(await reload()).to.deep.equal(range(0, 3));
        store.release();
      });

      it(`${how}(): after only a load, with the file deleted by hand, writes the contents instead of failing`, async () => {
        const writer = fileStore(file);
        await writer.save(range(0, 3));
        writer.release();
        const store = fileStore(file);
        expect(await store.load()).to.deep.equal(range(0, 3));
        rmSync(file);
        await saveWith(how, store, range(0, 3));
        expect(await reload()).to.deep.equal(range(0, 3));
        store.release();
      });
    }

    it('pinned: touches nothing when the file is as the store left it (no write, same inode, same bytes)', async () => {
      const store = fileStore(file);
      await store.save(range(0, 3));
      await store.save(range(1, 4));
      const before = statSync(file, { bigint: true });
      const bytes = readFileSync(file);
      await store.save(range(1, 4));
      store.saveSync(range(1, 4));
      const after = statSync(file, { bigint: true });
      expect([after.ino, after.mtimeNs, after.ctimeNs]).to.deep.equal([before.ino, before.mtimeNs, before.ctimeNs]);
      expect(readFileSync(file).equals(bytes)).to.equal(true);
      store.release();
    });
  });

  describe('what a snapshot save saw', () => {
    for (const how of ['save', 'saveSync'] as const) {
      it(`${how}(): is the file it wrote, not another writer's that took the name right after its rename`, async () => {
        const store = fileStore(file);
        const foreign = encodeOutboxFile(range(50, 60));
        let swapped = false;
        undo.push(
          patchFs('renameSync', (real) => ((from: fs.PathLike, to: fs.PathLike) => {
            real(from, to);
            if (swapped || to !== store.path) return;
            swapped = true;
            // Another writer, right after this store's rename and before anything else it does.
            writeFileSync(`${file}.foreign`, foreign);
            real(`${file}.foreign`, to);
          }) as Fs['renameSync']),
        );
        await saveWith(how, store, range(0, 3));
        expect(swapped).to.equal(true);
        // A change of the store's contents: appended to the other writer's file at the store's
        // offset, it would be corrupt or load wrong. It must be a snapshot.
        await saveWith(how, store, range(1, 4));
        expect(await reload()).to.deep.equal(range(1, 4));
        store.release();
      });
    }
  });

  describe('a file rewritten in place to the same size', () => {
    it('its header kept, one byte of a message changed, its mtime put back: the next change is a snapshot (ctime tells)', async () => {
      const store = fileStore(file);
      await store.save(range(0, 3));
      const current = readFileSync(file);
      const other = Buffer.from(current);
      const at = other.indexOf('message 1 ');
      other[at + 8] = 0x37; // "message 7": the header's SHA-256 no longer matches the body
      rewriteInPlace(other);
      await store.save(range(1, 4));
      expect(await reload()).to.deep.equal(range(1, 4));
      store.release();
    });

    it('with timestamps too coarse to tell (fstat shows what the store saw): the fingerprint tells, after a snapshot and after a change', async () => {
      for (const afterChange of [false, true]) {
        const store = fileStore(file);
        await store.save(range(0, 3));
        if (afterChange) await store.save(range(1, 4));
        const seen = statSync(file, { bigint: true });
        const current = readFileSync(file);
        // Same size, other contents: another outbox of the same shape, or the same with one line's
        // bytes changed.
        const other = afterChange ? Buffer.from(current.toString('latin1').replace(/\n([0-9a-f])/g, (_, c: string) => `\n${c === 'a' ? 'b' : 'a'}`), 'latin1') : encodeOutboxFile(range(4, 7));
        expect(other.length).to.equal(current.length);
        expect(other.equals(current)).to.equal(false);
        rewriteInPlace(other);
        const restore = patchFs('fstatSync', (real) => ((fd: number, options?: fs.StatOptions) => {
          const stats = real(fd, options as never) as fs.BigIntStats | fs.Stats;
          if (typeof stats.ino === 'bigint' && stats.ino === seen.ino) return Object.assign(stats, { mtimeNs: seen.mtimeNs, ctimeNs: seen.ctimeNs });
          return stats;
        }) as Fs['fstatSync']);
        try {
          await store.save(range(2, 5));
        } finally {
          restore();
        }
        expect(await reload(), afterChange ? 'after a change' : 'after a snapshot').to.deep.equal(range(2, 5));
        store.release();
        rmSync(file);
      }
    });
  });
});
