// A persistent outbox in one file (Node). A save appends what changed since the last one (the
// messages that left the front, those that came in at the back) as one line at the end of the
// file, and fsyncs it; a save that changes more than that, or that would leave the file mostly
// made of messages already sent, writes a snapshot instead: to a temporary file in the same
// directory, fsynced and renamed over the target. rename(2) replaces the name atomically, and a
// change cut short by a crash is ignored when the file is read (file-format.ts), so a crash at any
// point leaves the old contents or the new ones. The directory is fsynced after a rename so the
// new name itself survives a power loss.
//
// Operations run one at a time in call order. Saves waiting behind a running one collapse into the
// newest: their contents would be replaced at once anyway, and a fast sender must not build a
// backlog of writes. A save copies its messages when called (reusing its copies of those the last
// save had, so what did not change is the same object) and encodes them when its write starts,
// so those merged away are never encoded. saveSync() is for code that cannot wait (process 'exit'
// handlers, a send() that must be on disk before it returns); an async save requested before it
// never overwrites it.
import { closeSync, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync as readAt, realpathSync, renameSync, rmSync, statSync, unlinkSync, writeSync, type BigIntStats } from 'node:fs';
import { open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { SteadySocketError } from '../errors';
import { liveWeight, ownCopies, planSave, sameFile, type Changed, type OnDisk, type Seen } from './file-changes';
import { decodeOutboxFile, encodeOutboxFile, fingerprint } from './file-format';
import { claimFile, releaseFile } from './file-lock';
import { checkMessages, copyMessage } from './stored-message';
import type { OutboxStore, StoredMessage } from './types';

/** Options of {@link fileStore}. */
export interface FileStoreOptions {
  /**
   * Flush each write to the disk (fsync of the file, then of its directory) before a save
   * settles. `false` still survives a crash of the process, but not of the machine.
   * @default true
   */
  fsync?: boolean | undefined;
  /**
   * Permission bits of the file when it is created (before the umask). The file holds message
   * contents, so by default only its owner can read it.
   * @default 0o600
   */
  mode?: number | undefined;
}

export interface FileStore extends OutboxStore {
  /** The absolute path of the outbox file, symbolic links resolved (a save replaces the file they point to). */
  readonly path: string;
  /**
   * save(), done before returning: blocks the event loop for one write and fsync. For process
   * 'exit' handlers and for callers that must not return before the messages are on disk.
   * Throws `INVALID_MESSAGE`, `STORAGE_FAILED` or `STORAGE_IN_USE`.
   */
  saveSync(messages: readonly StoredMessage[]): void;
  /** load(), done before returning (for `persist(store, { sync: true })`, which restores in the client's constructor). */
  loadSync(): StoredMessage[];
  /**
   * Lets go of the file: another process may claim it from now on (this store claims it again
   * at its next read or write). `persist()` calls it once its client has closed and its last
   * save is done; runs after the operations asked for before it.
   */
  release(): void;
}

interface Waiter {
  resolve(value: never): void;
  reject(error: unknown): void;
}

/** One queued operation. A write's `messages` are a copy, encoded when it starts; undefined deletes the file. */
type Operation =
  | { kind: 'write'; messages: StoredMessage[] | undefined; syncsBefore: number; waiters: Waiter[] }
  | { kind: 'load'; waiters: Waiter[] }
  | { kind: 'release'; waiters: Waiter[] };

// Error codes of a directory fsync where the platform cannot do one (Windows, some filesystems).
const NO_DIRECTORY_SYNC = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EACCES', 'ENOTSUP', 'EBADF']);

/**
 * `path` with its symbolic links resolved (those of the file when it exists, else of its
 * directory): two paths to one file are one store (one `key`), and a save renames its new
 * contents over the file itself rather than over a link to it.
 */
function realTarget(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return path; // no directory yet: each save reports it
    }
  }
}

/** A change written, its fsync to come: its file and where it begins. */
interface Appended {
  fd: number;
  at: number;
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((done, reject) => fsync(fd, (error) => (error ? reject(error) : done())));
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Written and fsynced (or given up) already: nothing depends on the close.
  }
}

/**
 * A persistent outbox in the file at `path` (its directory must exist). One store per file, and
 * one process per file: the first read or write claims the file for this process (`<path>.lock`,
 * held until `release()` or the process exits), and another process of this machine that still
 * runs finds it taken (`STORAGE_IN_USE`). A save appends what changed (messages gone from the
 * front, new ones at the back) or, when that is not all that changed, writes a new snapshot.
 */
export function fileStore(path: string, options: FileStoreOptions = {}): FileStore {
  // Checked here, not at the first save: a wrong path or mode would otherwise fail every save
  // with a message about the directory.
  if (typeof path !== 'string' || !path.trim()) throw new SteadySocketError('INVALID_OPTION', 'fileStore(path): the path of the outbox file, a non-empty string.');
  if (options === null || typeof options !== 'object') throw new SteadySocketError('INVALID_OPTION', 'fileStore(path, options): options is an object ({ fsync, mode }).');
  if (options.mode !== undefined && !(Number.isInteger(options.mode) && options.mode >= 0 && options.mode <= 0o777)) {
    throw new SteadySocketError('INVALID_OPTION', 'fileStore mode: permission bits from 0 to 0o777 (e.g. 0o600).');
  }
  if (options.fsync !== undefined && typeof options.fsync !== 'boolean') throw new SteadySocketError('INVALID_OPTION', 'fileStore fsync: true or false.');
  const target = realTarget(resolve(path));
  const directory = dirname(target);
  // Two temporary names: saveSync() may run while an async write holds its file open.
  const asyncTemp = `${target}.tmp`;
  const syncTemp = `${target}.sync.tmp`;
  const durable = options.fsync ?? true;
  const mode = options.mode ?? 0o600;

  const queue: Operation[] = [];
  let running = false;
  // How many saveSync() calls have replaced the file: an async write requested before the latest
  // one is older than what is on disk and is dropped at its commit.
  let syncs = 0;
  /** Undefined until the file was read or written, and after a failure, clear() or release(): the next save writes a snapshot. */
  let disk: OnDisk | undefined;
  /** The copies the latest save() or saveSync() made (or the load's): the next one reuses them. */
  let latest: StoredMessage[] = [];
  /** Changes appended whose fsync is still running. */
  let unsynced = 0;

  /**
   * Writes `change` at the end of what the file has committed, cutting off what a save that never
   * completed left after it; then the file holds `after`. Returns the open file for the caller to
   * fsync, or undefined when a snapshot must be written instead: the file cannot be opened for
   * writing (deleted, made read-only: a rename needs no write permission on it) or is not the
   * one this store last saw. A write that fails is undone (the file holds what it held) and throws.
   */
  function append(change: Buffer, after: Changed): Appended | undefined {
    const state = disk!;
    const { length: at, seen } = state;
    // Known from now on only once the write is complete: a failure leaves it unknown.
    disk = undefined;
    const fd = openOurs('r+', state);
    if (fd === undefined) return undefined;
    try {
      for (let offset = 0; offset < change.length; ) offset += writeSync(fd, change, offset, change.length - offset, at + offset);
      if (seen.size > BigInt(at + change.length)) ftruncateSync(fd, at + change.length);
      disk = { ...after, snapshot: false, seen: fstatSync(fd, { bigint: true }), synced: false };
    } catch (error) {
      undo({ fd, at });
      throw error;
    }
    return { fd, at };
  }

  /**
   * The file opened with `flags` when it is still the one `state` describes: what fstat says of it
   * is what the store last saw, and it holds the fingerprint of its committed bytes where they end
   * (timestamps may be as coarse as a clock tick, so another writer's change of the same size
   * could pass the first check alone). Undefined when it is not, is gone, or cannot be opened or
   * read so (deleted, made read-only: a rename needs no write permission on it): the save writes
   * a snapshot instead, and nothing of a file not known to be this store's is cut or written.
   */
  function openOurs(flags: 'r' | 'r+', { seen, tail }: OnDisk): number | undefined {
    let fd: number;
    try {
      fd = openSync(target, flags);
    } catch {
      return undefined;
    }
    try {
      if (sameFile(fstatSync(fd, { bigint: true }), seen)) {
        const found = Buffer.alloc(tail.bytes.length);
        if (readAt(fd, found, 0, found.length, tail.at) === found.length && found.equals(tail.bytes)) return fd;
      }
    } catch {
      // Unreadable as it is: a snapshot replaces it.
    }
    closeQuietly(fd);
    return undefined;
  }

  /** A change whose write or fsync failed is cut off again, so the file holds what it held (as far as the disk lets it); its file closed. */
  function undo({ fd, at }: Appended): void {
    disk = undefined;
    try {
      ftruncateSync(fd, at);
      fsyncSync(fd);
    } catch {
      // What is left is a change cut short or whole; the next save writes a snapshot either way.
    }
    closeQuietly(fd);
  }

  /**
   * A save with nothing to write (planSave() said so), made by saveSync(): true when the file is
   * still the one `state` describes, fsynced first unless the store wrote it (not read it) and no
   * save's change still waits for its fsync; false: write a snapshot instead.
   */
  function keepSync(state: OnDisk): boolean {
    const fd = openOurs('r', state);
    if (fd === undefined) return false;
    try {
      if (durable && (!state.synced || unsynced)) fsyncSync(fd);
    } finally {
      closeQuietly(fd);
    }
    state.synced = true;
    return true;
  }

  /** keepSync() for an async save: what the store only read is made durable before it resolves. */
  async function keepAsync(state: OnDisk): Promise<boolean> {
    const fd = openOurs('r', state);
    if (fd === undefined) return false;
    try {
      if (durable && !state.synced) await fsyncAsync(fd);
    } finally {
      closeQuietly(fd);
    }
    state.synced = true;
    return true;
  }

  /** append(), fsynced before it returns (saveSync()); false: write a snapshot instead. */
  function appendSync(change: Buffer, after: Changed): boolean {
    const appended = append(change, after);
    if (!appended) return false;
    const state = disk!;
    try {
      if (durable) fsyncSync(appended.fd);
    } catch (error) {
      undo(appended);
      throw error;
    }
    state.synced = true;
    closeQuietly(appended.fd);
    return true;
  }

  /** append(), resolved once fsynced; false: write a snapshot instead. */
  async function appendAsync(change: Buffer, after: Changed): Promise<boolean> {
    const appended = append(change, after);
    if (!appended) return false;
    const state = disk!;
    const syncsBefore = syncs;
    unsynced++;
    try {
      if (durable) await fsyncAsync(appended.fd);
    } catch (error) {
      // Cut off again, unless a saveSync() completed meanwhile: it found this change with nothing
      // more to write (and returned relying on it), appended after it or replaced the file, and
      // what it saved stands. A load or a failed saveSync() since does not keep it.
      if (syncs === syncsBefore) undo(appended);
      else closeQuietly(appended.fd);
      throw error;
    } finally {
      unsynced--;
    }
    state.synced = true;
    closeQuietly(appended.fd);
    return true;
  }

  /**
   * What the file holds once it was read, or a snapshot of `messages` replaced it: its first
   * `length` bytes of `bytes` committed, `seen` as it was then. Synced once its directory is.
   */
  function written(messages: StoredMessage[], bytes: Buffer, length: number, seen: Seen): OnDisk {
    return (disk = { messages, length, live: liveWeight(messages), snapshot: true, seen, tail: fingerprint(bytes, length), synced: false });
  }

  /**
   * Makes sure this process owns the file (file-lock.ts) before it is read or written: another
   * running process that owns it is STORAGE_IN_USE, and nothing of that file is touched, its
   * temporary files neither.
   */
  function claim(): void {
    try {
      claimFile(target);
    } catch (error) {
      disk = undefined;
      throw error instanceof SteadySocketError ? error : failed(`Could not claim the outbox file ${target} (its lock ${target}.lock)`, error);
    }
  }

  function enqueue<T>(operation: Operation): Promise<T> {
    return new Promise<T>((resolveOperation, reject) => {
      operation.waiters.push({ resolve: resolveOperation as (value: never) => void, reject });
      const last = queue[queue.length - 1];
      if (operation.kind === 'write' && last?.kind === 'write') {
        last.messages = operation.messages;
        last.syncsBefore = operation.syncsBefore;
        last.waiters.push(...operation.waiters);
      } else queue.push(operation);
      if (!running) void drain();
    });
  }

  async function drain(): Promise<void> {
    running = true;
    for (let operation = queue.shift(); operation; operation = queue.shift()) {
      try {
        // Encoded only now: the saves asked for while the one before ran were merged into this one
        // (encoding each as it was asked for cost a full encoding per turn, nearly all thrown away).
        const value =
          operation.kind === 'write' ? await write(operation.messages, operation.syncsBefore) : operation.kind === 'load' ? await read() : release();
        for (const waiter of operation.waiters) waiter.resolve(value as never);
      } catch (error) {
        for (const waiter of operation.waiters) waiter.reject(error);
      }
    }
    running = false;
  }

  /** The file's bytes; a failure (messages too large for one string) is STORAGE_FAILED, as a failed write is. */
  function encode(messages: readonly StoredMessage[]): Buffer {
    try {
      return encodeOutboxFile(messages);
    } catch (error) {
      throw failed(`Could not save the outbox to ${target}`, error);
    }
  }

  // The file is looked at before it is read: a change made between the two makes the next save a
  // snapshot (what was seen is not what it holds then), never a change appended to what was not read.
  async function read(): Promise<StoredMessage[]> {
    const syncsBefore = syncs;
    claim();
    let bytes: Buffer;
    let seen: BigIntStats;
    try {
      seen = statSync(target, { bigint: true });
      bytes = await readFile(target);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return (disk = undefined), [];
      throw failed(`Could not read the outbox file ${target}`, error);
    }
    return decodeRead(bytes, syncsBefore, seen);
  }

  function readSync(): StoredMessage[] {
    claim();
    let bytes: Buffer;
    let seen: BigIntStats;
    try {
      seen = statSync(target, { bigint: true });
      bytes = readFileSync(target);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return (disk = undefined), [];
      throw failed(`Could not read the outbox file ${target}`, error);
    }
    return decodeRead(bytes, syncs, seen);
  }

  /** The messages in `bytes`, or STORAGE_CORRUPT after deleting the file (unless saveSync() replaced it meanwhile). */
  function decodeRead(bytes: Buffer, syncsBefore: number, seen: BigIntStats): StoredMessage[] {
    const decoded = decodeOutboxFile(bytes);
    if (decoded.ok) {
      // Kept as this store's own copies (the next save's unchanged messages are these), unless
      // saveSync() replaced the file while it was being read; the caller gets copies of its own.
      if (syncs === syncsBefore) {
        latest = decoded.messages;
        if (decoded.committed === undefined) disk = undefined; // version 1: the next save writes version 2
        else written(latest, bytes, decoded.committed, seen).snapshot = false;
      }
      return decoded.messages.map(copyMessage);
    }
    disk = undefined;
    // A later steadysocket's file (after a downgrade): its messages are not ours to drop.
    if (decoded.newer) {
      throw new SteadySocketError('STORAGE_FAILED', `The outbox file ${target} was written by a newer steadysocket (${decoded.problem}). It is left as it is, and this client saves nothing to it.`);
    }
    // Reset to empty, unless saveSync() replaced the file while it was being read.
    if (syncs === syncsBefore) {
      try {
        unlinkSync(target);
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw failed(`The outbox file ${target} is corrupt (${decoded.problem}) and could not be deleted`, error);
      }
    }
    throw new SteadySocketError(
      'STORAGE_CORRUPT',
      `The outbox file ${target} is corrupt (${decoded.problem}). It was deleted: the outbox starts empty and its old messages are lost.`,
    );
  }

  /** Saves `messages` (a change appended, or a snapshot: see planSave()), or deletes the file (undefined). */
  async function write(messages: StoredMessage[] | undefined, syncsBefore: number): Promise<void> {
    claim();
    // A saveSync() since this save was asked for wrote newer contents: this one is dropped.
    if (syncs !== syncsBefore) return;
    if (messages) {
      try {
        const next = planSave(disk, messages);
        if (next === 'nothing' ? await keepAsync(disk!) : next && (await appendAsync(next.change, next.after))) return;
      } catch (error) {
        disk = undefined;
        throw failed(`Could not save the outbox to ${target}`, error);
      }
    }
    const bytes = messages && encode(messages);
    let file: FileHandle | undefined;
    try {
      if (bytes) {
        await rm(asyncTemp, { force: true });
        file = await open(asyncTemp, 'w', mode);
        await file.writeFile(bytes);
        if (durable) await file.sync();
      }
      // The check and the commit are synchronous together, so no saveSync() runs between them.
      if (syncs !== syncsBefore) {
        if (file) {
          await file.close();
          file = undefined;
          await rm(asyncTemp, { force: true });
        }
        return;
      }
      // Claimed again just before the commit: a process that took the file over meanwhile (its
      // lock deleted by hand) keeps it, and its temporary file is not ours to remove.
      claim();
      let state: OnDisk | undefined;
      if (file) {
        renameSync(asyncTemp, target);
        // Seen through its own descriptor, after the rename (which changes its ctime): the file
        // this save wrote, whatever is done to the name meanwhile.
        state = written(messages!, bytes!, bytes!.length, fstatSync(file.fd, { bigint: true }));
        await file.close();
        file = undefined;
      } else {
        disk = undefined;
        rmSync(target, { force: true });
        // The temporary files of saves a crash cut short hold messages too. Removed here, in the
        // queue: removed after it, they were the files of the saves asked for since, mid-write.
        rmSync(syncTemp, { force: true });
        rmSync(asyncTemp, { force: true });
      }
      if (durable) await syncDirectory();
      if (state) state.synced = true;
    } catch (error) {
      disk = undefined;
      await file?.close().catch(() => undefined);
      // Only the claim throws a SteadySocketError here: the file is another process's now.
      if (error instanceof SteadySocketError) throw error;
      await rm(asyncTemp, { force: true }).catch(() => undefined);
      throw failed(bytes ? `Could not save the outbox to ${target}` : `Could not delete the outbox file ${target}`, error);
    }
  }

  /** Lets go of the file: what it holds is unknown from now on (another process may write it). */
  function release(): void {
    disk = undefined;
    releaseFile(target);
  }

  async function syncDirectory(): Promise<void> {
    let handle;
    try {
      handle = await open(directory, 'r');
      await handle.sync();
    } catch (error) {
      if (!NO_DIRECTORY_SYNC.has(errorCode(error) ?? '')) throw error;
    } finally {
      await handle?.close();
    }
  }

  function syncDirectorySync(): void {
    let fd: number | undefined;
    try {
      fd = openSync(directory, 'r');
      fsyncSync(fd);
    } catch (error) {
      if (!NO_DIRECTORY_SYNC.has(errorCode(error) ?? '')) throw error;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  return {
    path: target,
    key: `file:${target}`,

    load() {
      return enqueue<StoredMessage[]>({ kind: 'load', waiters: [] });
    },

    loadSync() {
      return readSync();
    },

    save(messages) {
      let copy: StoredMessage[];
      try {
        checkMessages(messages);
        // Copied now: the caller may change its array, messages or buffers once save() returns.
        copy = latest = ownCopies(latest, messages);
      } catch (error) {
        return Promise.reject(error);
      }
      return enqueue<void>({ kind: 'write', messages: copy, syncsBefore: syncs, waiters: [] });
    },

    saveSync(messages) {
      checkMessages(messages);
      const copy = (latest = ownCopies(latest, messages));
      claim();
      let fd: number | undefined;
      try {
        const next = planSave(disk, copy);
        if (!(next === 'nothing' ? keepSync(disk!) : next && appendSync(next.change, next.after))) {
          const bytes = encodeOutboxFile(copy);
          rmSync(syncTemp, { force: true });
          fd = openSync(syncTemp, 'w', mode);
          for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
          if (durable) fsyncSync(fd);
          claim();
          renameSync(syncTemp, target);
          // Seen through its own descriptor, after the rename: see write().
          const state = written(copy, bytes, bytes.length, fstatSync(fd, { bigint: true }));
          closeSync(fd);
          fd = undefined;
          if (durable) syncDirectorySync();
          state.synced = true;
        }
        // Newer than what the async saves asked for before it: they are dropped.
        syncs++;
      } catch (error) {
        disk = undefined;
        // Tidying up must not hide the first error (nor throw one of its own, untyped).
        try {
          if (fd !== undefined) closeSync(fd);
          // Another process took the file over: its temporary file is not ours to remove.
          if (!(error instanceof SteadySocketError)) rmSync(syncTemp, { force: true });
        } catch {
          // Left behind: the next save or clear() removes it.
        }
        if (error instanceof SteadySocketError) throw error;
        throw failed(`Could not save the outbox to ${target}`, error);
      }
    },

    async clear() {
      await enqueue<void>({ kind: 'write', messages: undefined, syncsBefore: syncs, waiters: [] });
    },

    release() {
      // After the operations asked for before it; at once when none is.
      if (running) void enqueue<void>({ kind: 'release', waiters: [] });
      else release();
    },
  };
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function failed(what: string, cause: unknown): SteadySocketError {
  const code = errorCode(cause);
  return new SteadySocketError('STORAGE_FAILED', `${what}${code ? ` (${code})` : ''}. Check that its directory exists and is writable.`, cause);
}
