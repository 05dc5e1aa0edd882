// Tests from mutation testing src/storage/file.ts and src/storage/file-lock.ts: what the existing
// storage and lock tests ran but never checked (the bounds of the mode option and the texts of its
// errors, fsync: false doing no fsync at all and the default doing each one, a directory that
// cannot be fsynced, the mode of a file saveSync() creates, what a STORAGE_FAILED says, the lock
// file's own mode and fields, locks naming an impossible pid or no string id, file systems
// without hard links, a takeover lock put back when another took its place). Real files in a temp
// dir; disk failures simulated by patching node:fs (test/support/outbox-files.ts).
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs, { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSteadySocketError } from '../../src/errors';
import { fileStore } from '../../src/storage/file';
import { decodeOutboxFile, encodeOutboxFile } from '../../src/storage/file-format';
import { claimFile, procStat, releaseFile } from '../../src/storage/file-lock';
import { changeLine, failFs, ioError, patchFs, range } from '../support/outbox-files';
import { rejection } from '../support/rejection';

type Fs = typeof fs;

/** The error `run` throws; fails the test if it returns. */
function thrown(run: () => unknown): Error & { code?: string; cause?: unknown } {
  try {
    run();
  } catch (error) {
    return error as Error & { code?: string; cause?: unknown };
  }
  throw new Error('expected it to throw');
}

/** Replaces FileHandle.prototype[name] (what an async save's writes and fsyncs go through) until the returned function is called. */
async function patchHandle<K extends 'sync' | 'writeFile'>(dir: string, name: K, make: (real: FileHandle[K]) => FileHandle[K]): Promise<() => void> {
  const probe = await fsp.open(dir, 'r');
  const prototype = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
  const real = prototype[name];
  prototype[name] = make(real);
  return () => {
    prototype[name] = real;
  };
}

const isDirectory = (fd: number): boolean => fs.fstatSync(fd).isDirectory();

describe('mutants: file.ts', () => {
  let dir: string;
  let file: string;
  const undo: (() => void)[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steadysocket-mutants-file-'));
    file = join(dir, 'outbox.json');
  });

  afterEach(() => {
    for (const restore of undo.splice(0).reverse()) restore();
    releaseFile(file);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('options', () => {
    it('accepts modes 0 to 0o777 and says what a bad path, options, mode or fsync should be', () => {
      expect(fileStore(file, { mode: 0 }).path).to.equal(file);
      expect(fileStore(file, { mode: 0o777 }).path).to.equal(file);
      const cases: Array<[unknown, unknown, string]> = [
        ['', undefined, 'fileStore(path): the path of the outbox file, a non-empty string.'],
        [file, 'fast', 'fileStore(path, options): options is an object ({ fsync, mode }).'],
        [file, { mode: 0o1000 }, 'fileStore mode: permission bits from 0 to 0o777 (e.g. 0o600).'],
        [file, { fsync: 1 }, 'fileStore fsync: true or false.'],
      ];
      for (const [path, options, message] of cases) {
        const error = thrown(() => fileStore(path as string, options as never));
        expect(error.code, message).to.equal('INVALID_OPTION');
        expect(error.message).to.equal(message);
      }
    });

    it('saveSync() creates the file with the mode given (0o600 by default)', () => {
      const store = fileStore(file);
      store.saveSync(range(0, 2));
      expect(statSync(file).mode & 0o777).to.equal(0o600);
      store.release();
      const other = join(dir, 'other.json');
      const open = fileStore(other, { mode: 0o640 });
      open.saveSync(range(0, 2));
      expect(statSync(other).mode & 0o777).to.equal(0o640);
      open.release();
      releaseFile(other);
    });
  });

  describe('a corrupt file', () => {
    it('that cannot be deleted: STORAGE_FAILED saying so (with the code), and the file is left', async () => {
      writeFileSync(file, 'not an outbox');
      undo.push(
        failFs('unlinkSync', 'EACCES'),
      );
      const error = await rejection(fileStore(file).load());
      expect(error.code).to.equal('STORAGE_FAILED');
      expect(error.message).to.equal(`The outbox file ${file} is corrupt (it has no header line) and could not be deleted (EACCES). Check that its directory exists and is writable.`);
      expect(readFileSync(file, 'utf8')).to.equal('not an outbox');
    });

    it('deleted by someone else before it could be: STORAGE_CORRUPT all the same (loadSync() too)', () => {
      writeFileSync(file, 'not an outbox');
      undo.push(
        patchFs('unlinkSync', (real) => ((path: fs.PathLike) => {
          real(path);
          throw ioError('ENOENT');
        }) as Fs['unlinkSync']),
      );
      const error = thrown(() => fileStore(file).loadSync());
      expect(error.code).to.equal('STORAGE_CORRUPT');
      expect(error.message).to.equal(`The outbox file ${file} is corrupt (it has no header line). It was deleted: the outbox starts empty and its old messages are lost.`);
    });

    it('read by load() while saveSync() replaced it: STORAGE_CORRUPT for what was read, and what saveSync() wrote is kept', async () => {
      writeFileSync(file, 'not an outbox');
      const store = fileStore(file);
      const real = fsp.readFile;
      let replaced = false;
      fsp.readFile = (async (...args: Parameters<typeof real>) => {
        const bytes = await real(...args);
        if (!replaced) {
          replaced = true;
          store.saveSync(range(0, 2)); // between the read and its decoding
        }
        return bytes;
      }) as typeof real;
      syncBuiltinESMExports();
      undo.push(() => {
        fsp.readFile = real;
        syncBuiltinESMExports();
      });
      expect((await rejection(store.load())).code).to.equal('STORAGE_CORRUPT');
      expect(replaced).to.equal(true);
      undo.pop()!();
      expect(await store.load()).to.deep.equal(range(0, 2));
    });
  });

  it('a file read whose changes left no message is rewritten by a save of none, so no sent message stays on the disk (load() and loadSync())', async () => {
    const sent = encodeOutboxFile([{ data: 'sent long ago' }]);
    for (const how of ['load', 'loadSync'] as const) {
      writeFileSync(file, Buffer.concat([sent, changeLine('{"drop":1,"add":[]}')]));
      const store = fileStore(file);
      expect(how === 'load' ? await store.load() : store.loadSync()).to.deep.equal([]);
      if (how === 'load') await store.save([]);
      else store.saveSync([]);
      expect(readFileSync(file, 'utf8'), how).to.not.include('sent long ago');
      expect(decodeOutboxFile(readFileSync(file))).to.deep.include({ ok: true, messages: [] });
    }
  });

  it('closes every file it opens: snapshots, changes, saves of the same, loads, clear(), and failed fsyncs', async function () {
    if (!existsSync('/proc/self/fd')) this.skip(); // open descriptors are counted in Linux's /proc
    const open = () => readdirSync('/proc/self/fd').length;
    const store = fileStore(file);
    await store.save(range(0, 1)); // claimed, and whatever a first save opens once for good
    const before = open();
    await store.save(range(0, 3)); // a change
    await store.save([range(9, 10)[0], ...range(0, 3)]); // a snapshot
    await store.save([range(9, 10)[0], ...range(0, 3)]); // nothing to write
    store.saveSync([range(9, 10)[0], ...range(0, 4)]); // a change
    store.saveSync([range(9, 10)[0], ...range(0, 4)]); // nothing to write
    store.saveSync(range(0, 4)); // a snapshot
    await store.load();
    store.loadSync();
    store.saveSync(range(0, 4)); // nothing to write, after a read
    let fail = true;
    undo.push(
      patchFs('fsync', (real) => ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
        if (fail) return void setImmediate(() => callback(ioError('EIO')));
        return real(fd, callback);
      }) as Fs['fsync']),
    );
    undo.push(
      patchFs('fsyncSync', (real) => ((fd: number) => {
        if (fail && !isDirectory(fd)) throw ioError('EIO');
        return real(fd);
      }) as Fs['fsyncSync']),
    );
    const failedAsync = await rejection(store.save(range(1, 5))); // a change whose fsync fails
    expect(failedAsync.message).to.equal(`Could not save the outbox to ${file} (EIO). Check that its directory exists and is writable.`);
    fail = false;
    store.saveSync(range(1, 5));
    fail = true;
    expect(thrown(() => store.saveSync(range(2, 6))).code, 'a sync change whose fsync fails').to.equal('STORAGE_FAILED');
    fail = false;
    await store.clear();
    expect(open()).to.equal(before);
  });

  describe('temporary files', () => {
    it('clear() removes those a crash left (.tmp and .sync.tmp)', async () => {
      writeFileSync(`${file}.tmp`, 'left by a crash');
      writeFileSync(`${file}.sync.tmp`, 'left by a crash');
      const store = fileStore(file);
      await store.clear();
      expect(readdirSync(dir)).to.deep.equal(['outbox.json.lock']);
    });

    it('a snapshot replaces one a crash left, so the file gets its own mode, not the leftover\'s (save() and saveSync())', async () => {
      writeFileSync(`${file}.tmp`, 'left by a crash', { mode: 0o644 });
      writeFileSync(`${file}.sync.tmp`, 'left by a crash', { mode: 0o644 });
      const store = fileStore(file);
      await store.save(range(0, 2));
      expect(statSync(file).mode & 0o777, 'save()').to.equal(0o600);
      store.saveSync(range(5, 6));
      expect(statSync(file).mode & 0o777, 'saveSync()').to.equal(0o600);
      expect(await store.load()).to.deep.equal(range(5, 6));
    });

    it('a snapshot whose write fails leaves none (saveSync() and save()), and the error names the code', async () => {
      const store = fileStore(file);
      expect(await store.load(), 'claimed before the lock could not be written').to.deep.equal([]);
      undo.push(
        failFs('writeSync', 'ENOSPC'),
      );
      const sync = thrown(() => store.saveSync(range(0, 2)));
      expect(sync.code).to.equal('STORAGE_FAILED');
      expect(sync.message).to.equal(`Could not save the outbox to ${file} (ENOSPC). Check that its directory exists and is writable.`);
      expect(readdirSync(dir)).to.deep.equal(['outbox.json.lock']);
      undo.pop()!();
      undo.push(
        await patchHandle(dir, 'writeFile', () => async () => {
          throw ioError('ENOSPC');
        }),
      );
      expect((await rejection(store.save(range(0, 2)))).code).to.equal('STORAGE_FAILED');
      expect(readdirSync(dir)).to.deep.equal(['outbox.json.lock']);
    });

    it('an async snapshot overtaken by saveSync() before its commit removes its temporary file and leaves what saveSync() wrote', async () => {
      const store = fileStore(file);
      let overtaken = false;
      undo.push(
        await patchHandle(dir, 'sync', (real) =>
          async function (this: FileHandle) {
            if (!overtaken && !isDirectory(this.fd)) {
              overtaken = true;
              store.saveSync(range(5, 7));
            }
            return real.call(this);
          },
        ),
      );
      await store.save(range(0, 2));
      expect(overtaken).to.equal(true);
      expect(readdirSync(dir).sort()).to.deep.equal(['outbox.json', 'outbox.json.lock']);
      expect(await store.load()).to.deep.equal(range(5, 7));
    });
  });

  describe('a process that takes the file over while a snapshot is written (its lock deleted by hand)', () => {
    let sleeper: ChildProcess | undefined;
    afterEach(() => sleeper?.kill('SIGKILL'));

    /** Replaces this store's lock with one naming a process that runs. */
    async function takenOver(): Promise<() => void> {
      sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
      await new Promise((resolve) => sleeper!.once('spawn', resolve));
      const other = JSON.stringify({ pid: sleeper.pid, host: hostname(), id: 'the-other', start: procStat(sleeper.pid!)?.start });
      return () => {
        rmSync(`${file}.lock`);
        writeFileSync(`${file}.lock`, other);
      };
    }

    it('save(): STORAGE_IN_USE at its commit; the file is not replaced and the temporary file, now the other\'s name, is not removed', async () => {
      const store = fileStore(file);
      store.saveSync(range(0, 2));
      const before = readFileSync(file);
      const takeOver = await takenOver();
      let taken = false;
      undo.push(
        await patchHandle(dir, 'sync', (real) =>
          async function (this: FileHandle) {
            if (!taken && !isDirectory(this.fd)) {
              taken = true;
              takeOver();
            }
            return real.call(this);
          },
        ),
      );
      const error = await rejection(store.save([range(7, 8)[0], ...range(0, 2)]));
      expect(taken).to.equal(true);
      expect(error.code).to.equal('STORAGE_IN_USE');
      expect(readFileSync(file).equals(before)).to.equal(true);
      expect(existsSync(`${file}.tmp`)).to.equal(true);
    });

    it('saveSync(): STORAGE_IN_USE before its rename; the file is not replaced and .sync.tmp is not removed', async () => {
      const store = fileStore(file);
      store.saveSync(range(0, 2));
      const before = readFileSync(file);
      const takeOver = await takenOver();
      let taken = false;
      undo.push(
        patchFs('fsyncSync', (real) => ((fd: number) => {
          if (!taken && !isDirectory(fd)) {
            taken = true;
            takeOver();
          }
          return real(fd);
        }) as Fs['fsyncSync']),
      );
      const error = thrown(() => store.saveSync([range(7, 8)[0], ...range(0, 2)]));
      expect(taken).to.equal(true);
      expect(error.code).to.equal('STORAGE_IN_USE');
      expect(readFileSync(file).equals(before)).to.equal(true);
      expect(existsSync(`${file}.sync.tmp`)).to.equal(true);
    });
  });

  it('a change whose write fails part way is cut off again: the file is the size it was (save() and saveSync())', async () => {
    const store = fileStore(file);
    const failing = () =>
      patchFs('writeSync', (real) => ((fd: number, buffer: Buffer, offset: number, length: number, position: number) => {
        real(fd, buffer, offset, Math.min(length, 20), position); // part of it reaches the file
        throw ioError('ENOSPC');
      }) as unknown as Fs['writeSync']);
    await store.save(range(0, 5));
    let size = statSync(file).size;
    undo.push(failing());
    expect((await rejection(store.save(range(1, 6)))).code).to.equal('STORAGE_FAILED');
    expect(statSync(file).size, 'save()').to.equal(size);
    undo.pop()!();
    store.saveSync(range(0, 5)); // a snapshot: after a failure the store does not know the file
    size = statSync(file).size;
    undo.push(failing());
    expect(thrown(() => store.saveSync(range(1, 6))).code).to.equal('STORAGE_FAILED');
    expect(statSync(file).size, 'saveSync()').to.equal(size);
  });

  it('writes the whole of each snapshot and change when the disk takes a few bytes per write', async () => {
    const store = fileStore(file);
    expect(await store.load()).to.deep.equal([]);
    let writes = 0;
    undo.push(
      patchFs('writeSync', (real) => ((fd: number, buffer: Buffer, offset = 0, length?: number, position?: number | null) => {
        writes++;
        const rest = (length ?? buffer.length - offset);
        return real(fd, buffer, offset, Math.min(rest, 7), position);
      }) as unknown as Fs['writeSync']),
    );
    const onDisk = () => {
      const decoded = decodeOutboxFile(readFileSync(file));
      return decoded.ok ? decoded.messages : decoded.problem;
    };
    store.saveSync(range(0, 3));
    expect(onDisk(), 'a snapshot').to.deep.equal(range(0, 3));
    store.saveSync(range(1, 4));
    expect(onDisk(), 'a change').to.deep.equal(range(1, 4));
    await store.save(range(2, 5));
    expect(onDisk(), 'a change').to.deep.equal(range(2, 5));
    expect(readFileSync(file, 'utf8').split('\n'), 'a snapshot and two changes').to.have.length(5);
    expect(writes).to.be.above(30);
  });

  it('a failure with no error code says what failed without one', () => {
    const store = fileStore(file);
    undo.push(
      patchFs('renameSync', () => (() => {
        throw new Error('no code');
      }) as Fs['renameSync']),
    );
    const error = thrown(() => store.saveSync(range(0, 1)));
    expect(error.message).to.equal(`Could not save the outbox to ${file}. Check that its directory exists and is writable.`);
    expect((error.cause as Error).message).to.equal('no code');
  });

  describe('fsync', () => {
    /** Counts fsyncs through node:fs (fsync, fsyncSync) and FileHandle.sync(), for this test. */
    async function countSyncs(): Promise<{ files: number; directories: number }> {
      const counts = { files: 0, directories: 0 };
      const count = (fd: number) => (isDirectory(fd) ? counts.directories++ : counts.files++);
      undo.push(patchFs('fsyncSync', (real) => ((fd: number) => (count(fd), real(fd))) as Fs['fsyncSync']));
      undo.push(patchFs('fsync', (real) => ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => (count(fd), real(fd, callback))) as Fs['fsync']));
      undo.push(
        await patchHandle(dir, 'sync', (real) =>
          async function (this: FileHandle) {
            count(this.fd);
            return real.call(this);
          },
        ),
      );
      return counts;
    }

    it('fsync: false fsyncs nothing: neither snapshots, changes, clear() nor saveSync()', async () => {
      const counts = await countSyncs();
      const store = fileStore(file, { fsync: false });
      await store.save(range(0, 3)); // a snapshot
      await store.save(range(1, 4)); // a change
      store.saveSync(range(1, 4)); // nothing to write
      store.saveSync(range(2, 5)); // a change
      store.saveSync([range(9, 10)[0], ...range(2, 5)]); // a snapshot
      await store.clear();
      store.saveSync(range(0, 1)); // a snapshot again
      expect(counts).to.deep.equal({ files: 0, directories: 0 });
    });

    it('by default each snapshot fsyncs its file and its directory, each change its file, clear() the directory, and what is durable is not fsynced again', async () => {
      const counts = await countSyncs();
      const store = fileStore(file);
      await store.save(range(0, 3));
      expect(counts, 'an async snapshot').to.deep.equal({ files: 1, directories: 1 });
      await store.save(range(0, 3));
      store.saveSync(range(0, 3));
      expect(counts, 'the same again, async and sync').to.deep.equal({ files: 1, directories: 1 });
      await store.save(range(1, 4));
      expect(counts, 'an async change').to.deep.equal({ files: 2, directories: 1 });
      await store.save(range(1, 4));
      store.saveSync(range(1, 4));
      expect(counts, 'the same again').to.deep.equal({ files: 2, directories: 1 });
      store.saveSync(range(2, 5));
      expect(counts, 'a sync change').to.deep.equal({ files: 3, directories: 1 });
      await store.save(range(2, 5));
      store.saveSync(range(2, 5));
      expect(counts, 'the same again').to.deep.equal({ files: 3, directories: 1 });
      store.saveSync([range(9, 10)[0], ...range(2, 5)]);
      expect(counts, 'a sync snapshot').to.deep.equal({ files: 4, directories: 2 });
      await store.save([range(9, 10)[0], ...range(2, 5)]);
      store.saveSync([range(9, 10)[0], ...range(2, 5)]);
      expect(counts, 'the same again').to.deep.equal({ files: 4, directories: 2 });
      await store.clear();
      expect(counts, 'clear()').to.deep.equal({ files: 4, directories: 3 });
      // Contents only read (another writer may have left them in the page cache alone) are
      // fsynced once by the first save of the same contents.
      writeFileSync(file, encodeOutboxFile(range(0, 2)));
      expect(store.loadSync()).to.deep.equal(range(0, 2));
      store.saveSync(range(0, 2));
      store.saveSync(range(0, 2));
      expect(counts, 'read, then saveSync() of the same twice').to.deep.equal({ files: 5, directories: 3 });
    });

    const noDirectorySync = ['EISDIR', 'EINVAL', 'EPERM', 'EACCES', 'ENOTSUP', 'EBADF'];

    it('a directory that cannot be fsynced on this platform (EISDIR, EINVAL, EPERM, EACCES, ENOTSUP, EBADF) does not fail a save', async () => {
      let code = '';
      undo.push(
        patchFs('fsyncSync', (real) => ((fd: number) => {
          if (isDirectory(fd)) throw ioError(code);
          return real(fd);
        }) as Fs['fsyncSync']),
      );
      undo.push(
        await patchHandle(dir, 'sync', (real) =>
          async function (this: FileHandle) {
            if (isDirectory(this.fd)) throw ioError(code);
            return real.call(this);
          },
        ),
      );
      const store = fileStore(file);
      for (const [i, each] of noDirectorySync.entries()) {
        code = each;
        // After clear() each save is a snapshot: its directory is fsynced.
        store.saveSync(range(i, i + 2));
        await store.clear();
        await store.save(range(i, i + 3));
        await store.clear();
      }
      store.saveSync(range(0, 2));
      expect(await store.load()).to.deep.equal(range(0, 2));
    });

    it('any other failure of the directory fsync fails the save with STORAGE_FAILED naming its code', async () => {
      undo.push(
        patchFs('fsyncSync', (real) => ((fd: number) => {
          if (isDirectory(fd)) throw ioError('EIO');
          return real(fd);
        }) as Fs['fsyncSync']),
      );
      undo.push(
        await patchHandle(dir, 'sync', (real) =>
          async function (this: FileHandle) {
            if (isDirectory(this.fd)) throw ioError('EIO');
            return real.call(this);
          },
        ),
      );
      const store = fileStore(file);
      const sync = thrown(() => store.saveSync(range(0, 2)));
      expect(sync.code).to.equal('STORAGE_FAILED');
      expect(sync.message).to.equal(`Could not save the outbox to ${store.path} (EIO). Check that its directory exists and is writable.`);
      expect((sync.cause as { code?: string }).code).to.equal('EIO');
      const saved = await rejection(store.save(range(3, 4)));
      expect(saved.message).to.equal(`Could not save the outbox to ${store.path} (EIO). Check that its directory exists and is writable.`);
      const cleared = await rejection(store.clear());
      expect(cleared.message).to.equal(`Could not delete the outbox file ${store.path} (EIO). Check that its directory exists and is writable.`);
    });
  });
});

describe('mutants: file-lock.ts', () => {
  let dir: string;
  let file: string;
  let lock: string;
  const undo: (() => void)[] = [];
  const sleepers: ChildProcess[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steadysocket-mutants-lock-'));
    file = join(dir, 'outbox.json');
    lock = `${file}.lock`;
  });

  afterEach(() => {
    for (const restore of undo.splice(0).reverse()) restore();
    for (const sleeper of sleepers.splice(0)) sleeper.kill('SIGKILL');
    releaseFile(file);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A process that runs meanwhile (a real pid with its real start time), as a lock names it. */
  async function running(): Promise<{ pid: number; host: string; id: string; start?: string }> {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    sleepers.push(sleeper);
    await new Promise((resolve) => sleeper.once('spawn', resolve));
    return { pid: sleeper.pid!, host: hostname(), id: `sleeper-${sleeper.pid}`, start: procStat(sleeper.pid!)?.start };
  }

  const owner = () => JSON.parse(readFileSync(lock, 'utf8')) as Record<string, unknown>;
  const others = () => readdirSync(dir).filter((name) => name !== 'outbox.json.lock');

  it('writes a lock readable by its owner only, naming this process: pid, host, start time, thread and PID namespace', function () {
    claimFile(file);
    expect(statSync(lock).mode & 0o777).to.equal(0o600);
    const named = owner();
    expect(named).to.include({ pid: process.pid, host: hostname() });
    expect(named.id).to.be.a('string').with.length.above(0);
    if (!procStat(process.pid)) this.skip(); // the rest is read from Linux's /proc
    expect(named.start).to.equal(procStat(process.pid)!.start);
    expect(named.tid).to.equal(Number(fs.readlinkSync('/proc/thread-self').split('/').pop()));
    expect(named.ns).to.equal(fs.readlinkSync('/proc/self/ns/pid'));
    expect(others(), 'nothing beside it').to.deep.equal([]);
  });

  it('takes over a lock naming pid 0, a negative pid, a pid as a string or an id that is no string (garbage); the same lock with good fields is refused', async () => {
    const live = await running();
    const garbage = [
      { ...live, pid: 0 },
      { ...live, pid: -1 },
      { ...live, pid: String(live.pid) },
      { ...live, id: 5 },
    ];
    for (const named of garbage) {
      writeFileSync(lock, JSON.stringify(named));
      claimFile(file);
      expect(owner().pid, JSON.stringify(named)).to.equal(process.pid);
      releaseFile(file);
    }
    writeFileSync(lock, JSON.stringify(live));
    expect(thrown(() => claimFile(file)).code, 'the same lock with a string id').to.equal('STORAGE_IN_USE');
  });

  it('refuses a lock of a running process that names no start time (as written where there is no /proc), or names this PID namespace (on Linux)', async () => {
    const live = await running();
    const named: object[] = [{ pid: live.pid, host: live.host, id: live.id }];
    const ns = procStat(process.pid) && fs.readlinkSync('/proc/self/ns/pid');
    if (ns) named.push({ ...live, ns });
    for (const each of named) {
      writeFileSync(lock, JSON.stringify(each));
      const error = thrown(() => claimFile(file));
      expect(error.code, JSON.stringify(each)).to.equal('STORAGE_IN_USE');
      expect(owner()).to.deep.equal(each);
    }
  });

  describe('a file system without hard links', () => {
    for (const code of ['EPERM', 'ENOTSUP', 'ENOSYS']) {
      it(`claims the file all the same when linking fails with ${code} (the lock is created exclusively instead)`, () => {
        let links = 0;
        undo.push(
          patchFs('linkSync', () => (() => {
            links++;
            throw ioError(code);
          }) as Fs['linkSync']),
        );
        claimFile(file);
        expect(links).to.be.above(0);
        expect(owner()).to.include({ pid: process.pid, host: hostname() });
        expect(statSync(lock).mode & 0o777).to.equal(0o600);
        releaseFile(file);
        expect(existsSync(lock)).to.equal(false);
      });
    }

    it('another error of the link fails the claim (STORAGE_FAILED naming the lock), and leaves nothing', async () => {
      undo.push(
        failFs('linkSync', 'EIO'),
      );
      const error = await rejection(fileStore(file).load());
      expect(error.code).to.equal('STORAGE_FAILED');
      expect(error.message).to.equal(`Could not claim the outbox file ${file} (its lock ${lock}) (EIO). Check that its directory exists and is writable.`);
      expect(readdirSync(dir)).to.deep.equal([]);
    });

    it('another error of the exclusive create fails the claim (STORAGE_FAILED naming its code)', async () => {
      undo.push(
        failFs('linkSync', 'EPERM'),
      );
      undo.push(
        patchFs('writeFileSync', (real) => ((path: fs.PathOrFileDescriptor, data: string, options?: fs.WriteFileOptions) => {
          if ((options as { flag?: string } | undefined)?.flag === 'wx') throw ioError('EIO');
          return real(path, data, options);
        }) as Fs['writeFileSync']),
      );
      const error = await rejection(fileStore(file).load());
      expect(error.code).to.equal('STORAGE_FAILED');
      expect(error.message).to.include('(EIO)');
    });

    it('a lock another process created first, whether linked or created exclusively, is theirs: STORAGE_IN_USE', async () => {
      const live = await running();
      for (const code of ['EEXIST', 'EPERM']) {
        undo.push(
          patchFs('linkSync', (real) => ((from: fs.PathLike, to: fs.PathLike) => {
            writeFileSync(lock, JSON.stringify(live)); // the other process is first
            if (code === 'EPERM') throw ioError('EPERM');
            return real(from, to);
          }) as Fs['linkSync']),
        );
        const error = thrown(() => claimFile(file));
        expect(error.code, code).to.equal('STORAGE_IN_USE');
        expect(error.message).to.include(`in use by process ${live.pid}`);
        undo.pop()!();
        rmSync(lock);
      }
    });
  });

  describe('a takeover lock left by a process that died', () => {
    const stale = () => JSON.stringify({ pid: 999_999, host: hostname(), id: 'stale', start: '1' });
    const gone = () => JSON.stringify({ pid: spawnSync('true').pid, host: hostname(), id: 'died' });

    it('is put back when what was moved aside is another process\'s that took its place meanwhile', async () => {
      const live = await running();
      writeFileSync(lock, stale());
      writeFileSync(`${lock}.takeover`, gone());
      let swapped = false;
      undo.push(
        patchFs('renameSync', (real) => ((from: fs.PathLike, to: fs.PathLike) => {
          if (!swapped && String(from).endsWith('.takeover')) {
            swapped = true;
            writeFileSync(`${lock}.takeover`, JSON.stringify(live)); // a running process took it over first
          }
          return real(from, to);
        }) as Fs['renameSync']),
      );
      expect(thrown(() => claimFile(file)).message).to.match(/could not be claimed/);
      expect(swapped).to.equal(true);
      expect(JSON.parse(readFileSync(`${lock}.takeover`, 'utf8')).pid, 'the running taker keeps its takeover lock').to.equal(live.pid);
      expect(owner().id, 'the stale lock is left to it').to.equal('stale');
      expect(others(), 'what was moved aside is gone').to.deep.equal(['outbox.json.lock.takeover']);
    });

    it('held by a running process that lets go of it 0.1 s later: waited for (500 rounds, at least 1 ms apart), then the file is claimed', async () => {
      writeFileSync(lock, stale());
      // The process that holds the takeover lock lets go of it 0.1 s after the lock is written
      // (it waits to see it: counted from its own start, a busy machine could pass the time before
      // the lock was there); the claim waits at least 0.5 s for it (without the pause its 500
      // rounds take a fraction of 0.1 s).
      const taker = spawn('sh', ['-c', `until [ -e '${lock}.takeover' ]; do sleep 0.01; done; sleep 0.1; rm -f '${lock}.takeover'; exec sleep 30`], { stdio: 'ignore' });
      sleepers.push(taker);
      await new Promise((resolve) => taker.once('spawn', resolve));
      writeFileSync(`${lock}.takeover`, JSON.stringify({ pid: taker.pid, host: hostname(), id: 'taker', start: procStat(taker.pid!)?.start }));
      claimFile(file);
      expect(owner().pid).to.equal(process.pid);
      expect(others()).to.deep.equal([]);
    });

    it('that cannot be moved aside (another error than ENOENT) fails the claim with that error', () => {
      writeFileSync(lock, stale());
      writeFileSync(`${lock}.takeover`, gone());
      undo.push(
        patchFs('renameSync', (real) => ((from: fs.PathLike, to: fs.PathLike) => {
          if (String(from).endsWith('.takeover')) throw ioError('EIO');
          return real(from, to);
        }) as Fs['renameSync']),
      );
      expect(thrown(() => claimFile(file)).code).to.equal('EIO');
      expect(owner().id).to.equal('stale');
    });

    it('gone before it could be moved aside: the file is claimed', () => {
      writeFileSync(lock, stale());
      writeFileSync(`${lock}.takeover`, gone());
      let removed = false;
      undo.push(
        patchFs('renameSync', (real) => ((from: fs.PathLike, to: fs.PathLike) => {
          if (!removed && String(from).endsWith('.takeover')) {
            removed = true;
            rmSync(from); // its owner's takeover finished meanwhile
          }
          return real(from, to);
        }) as Fs['renameSync']),
      );
      claimFile(file);
      expect(removed).to.equal(true);
      expect(owner().pid).to.equal(process.pid);
      expect(others()).to.deep.equal([]);
    });
  });
});
