// A persistent outbox in one file (Node). Every write goes to a temporary file in the same
// directory, is fsynced, and is renamed over the target; rename(2) replaces the name atomically, so
// a crash at any point leaves the old file or the new one (the format's checksum catches the rest).
// The directory is fsynced after the rename so the new name itself survives a power loss.
//
// Operations run one at a time in call order. Saves waiting behind a running one collapse into the
// newest: their contents would be replaced at once anyway, and a fast sender must not build a
// backlog of writes. A save copies its messages when called and encodes them when its write
// starts, so those merged away are never encoded. saveSync() is for code that cannot wait (process
// 'exit' handlers, a send() that must be on disk before it returns); an async save requested
// before it never overwrites it.
import { closeSync, fsyncSync, openSync, readFileSync, realpathSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { SteadySocketError } from '../errors';
import { decodeOutboxFile, encodeOutboxFile } from './file-format';
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

/**
 * A persistent outbox in the file at `path` (its directory must exist). One store per file, and
 * one process per file: the first read or write claims the file for this process (`<path>.lock`,
 * held until `release()` or the process exits), and another process of this machine that still
 * runs finds it taken (`STORAGE_IN_USE`).
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

  /**
   * Makes sure this process owns the file (file-lock.ts) before it is read or written: another
   * running process that owns it is STORAGE_IN_USE, and nothing of that file is touched, its
   * temporary files neither.
   */
  function claim(): void {
    try {
      claimFile(target);
    } catch (error) {
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
          operation.kind === 'write' ? await write(operation.messages && encode(operation.messages), operation.syncsBefore) : operation.kind === 'load' ? await read() : releaseFile(target);
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

  async function read(): Promise<StoredMessage[]> {
    const syncsBefore = syncs;
    claim();
    let bytes: Buffer;
    try {
      bytes = await readFile(target);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return [];
      throw failed(`Could not read the outbox file ${target}`, error);
    }
    return decodeRead(bytes, syncsBefore);
  }

  function readSync(): StoredMessage[] {
    claim();
    let bytes: Buffer;
    try {
      bytes = readFileSync(target);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return [];
      throw failed(`Could not read the outbox file ${target}`, error);
    }
    return decodeRead(bytes, syncs);
  }

  /** The messages in `bytes`, or STORAGE_CORRUPT after deleting the file (unless saveSync() replaced it meanwhile). */
  function decodeRead(bytes: Buffer, syncsBefore: number): StoredMessage[] {
    const decoded = decodeOutboxFile(bytes);
    if (decoded.ok) return decoded.messages;
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

  async function write(bytes: Buffer | undefined, syncsBefore: number): Promise<void> {
    claim();
    try {
      if (bytes) {
        await rm(asyncTemp, { force: true });
        const file = await open(asyncTemp, 'w', mode);
        try {
          await file.writeFile(bytes);
          if (durable) await file.sync();
        } finally {
          await file.close();
        }
      }
      // The check and the commit are synchronous together, so no saveSync() runs between them.
      if (syncs !== syncsBefore) {
        if (bytes) await rm(asyncTemp, { force: true });
        return;
      }
      // Claimed again just before the commit: a process that took the file over meanwhile (its
      // lock deleted by hand) keeps it, and its temporary file is not ours to remove.
      claim();
      if (bytes) renameSync(asyncTemp, target);
      else {
        rmSync(target, { force: true });
        // The temporary files of saves a crash cut short hold messages too. Removed here, in the
        // queue: removed after it, they were the files of the saves asked for since, mid-write.
        rmSync(syncTemp, { force: true });
        rmSync(asyncTemp, { force: true });
      }
      if (durable) await syncDirectory();
    } catch (error) {
      // Only the claim throws a SteadySocketError here: the file is another process's now.
      if (error instanceof SteadySocketError) throw error;
      await rm(asyncTemp, { force: true }).catch(() => undefined);
      throw failed(bytes ? `Could not save the outbox to ${target}` : `Could not delete the outbox file ${target}`, error);
    }
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
        copy = messages.map(copyMessage);
      } catch (error) {
        return Promise.reject(error);
      }
      return enqueue<void>({ kind: 'write', messages: copy, syncsBefore: syncs, waiters: [] });
    },

    saveSync(messages) {
      checkMessages(messages);
      const bytes = encode(messages);
      claim();
      let fd: number | undefined;
      try {
        rmSync(syncTemp, { force: true });
        fd = openSync(syncTemp, 'w', mode);
        for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
        if (durable) fsyncSync(fd);
        closeSync(fd);
        fd = undefined;
        claim();
        renameSync(syncTemp, target);
        syncs++;
        if (durable) syncDirectorySync();
      } catch (error) {
        // Another process took the file over: its temporary file is not ours to remove.
        if (error instanceof SteadySocketError) throw error;
        // Tidying up must not hide the first error (nor throw one of its own, untyped).
        try {
          if (fd !== undefined) closeSync(fd);
          rmSync(syncTemp, { force: true });
        } catch {
          // Left behind: the next save or clear() removes it.
        }
        throw failed(`Could not save the outbox to ${target}`, error);
      }
    },

    async clear() {
      await enqueue<void>({ kind: 'write', messages: undefined, syncsBefore: syncs, waiters: [] });
    },

    release() {
      // After the operations asked for before it; at once when none is.
      if (running) void enqueue<void>({ kind: 'release', waiters: [] });
      else releaseFile(target);
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
