// Which process owns an outbox file: `<file>.lock` names it. Two processes saving one outbox
// would send each other's messages and replace each other's saves, so the file store claims the
// file before it reads or writes it, and checks the claim again before every read and write.
//
// The lock file holds the owner's process id, its host name, a random id of that process's run
// (of its thread's copy of the registry below) and, on Linux, its start time, thread id and PID
// namespace. It is created whole (written to a file of its own, then hard-linked to the lock's
// name, which fails when the name exists), so no process reads it half-written. A lock whose
// process has ended (no such process, a zombie, a later process given its pid, a thread that
// ended) is stale and taken over (removed under a second lock, then claimed as if there were
// none: see claimFile), so a process restarted after a crash takes its file back at once. A lock
// naming another host or another PID namespace cannot be checked from here: it is taken over too
// (blocking for ever on a machine that is gone, or a container recreated with a new host name,
// would be worse), so the lock guards the processes of one machine and namespace only. /proc is
// read only when it is this namespace's. Held until the store lets go of the file (persist() does
// once its client has closed) or the process exits: its `exit` handler removes its locks.
import { existsSync, linkSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { SteadySocketError } from '../errors';

interface Owner {
  pid: number;
  host: string;
  /** Random, per run of the library's registry (per thread: a worker has its own). */
  id: string;
  /** Linux: the process's start time, which tells a later process given the same pid apart. */
  start?: string | undefined;
  /** Linux: the thread's id (a worker's registry is its own): a lock of a thread that ended (a worker terminated) holds nothing. */
  tid?: number | undefined;
  /** Linux: the PID namespace the pid belongs to; in another one (a container sharing the host's name), the pid cannot be checked. */
  ns?: string | undefined;
}

interface Process {
  self: Owner;
  /** The lock files this process holds. */
  held: Set<string>;
}

/**
 * This process, as its lock files name it, and the locks it holds: one record for every copy of
 * the library loaded (its ESM and CommonJS builds side by side), found under a global symbol, so
 * that they agree on who owns a file and remove every lock at exit.
 */
function thisProcess(): Process {
  const registry = globalThis as Record<symbol, Process | undefined>;
  const key = Symbol.for('steadysocket.file-locks');
  let found = registry[key];
  if (!found) {
    const locks: Process = (found = registry[key] = { self: { pid: process.pid, host: hostname(), id: randomUUID(), start: procStat(process.pid)?.start, tid: threadOf(), ns: readLink('/proc/self/ns/pid') }, held: new Set() });
    process.once('exit', () => {
      for (const lock of locks.held) {
        try {
          if (sameOwner(readLock(lock)?.owner, locks.self)) rmSync(lock, { force: true });
        } catch {
          // Left behind: it names a process that has ended, so the next one takes it over.
        }
      }
    });
  }
  return found;
}

function sameOwner(a: Owner | null | undefined, b: Owner): boolean {
  return !!a && a.pid === b.pid && a.host === b.host && a.id === b.id;
}

/** A lock file's text and the owner it names (`null`: garbage, naming nobody); undefined when there is none. */
function readLock(lock: string): { text: string; owner: Owner | null } | undefined {
  let text: string;
  try {
    text = readFileSync(lock, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const owner = JSON.parse(text) as Owner;
    return { text, owner: Number.isSafeInteger(owner.pid) && owner.pid > 0 && typeof owner.host === 'string' && typeof owner.id === 'string' ? owner : null };
  } catch {
    return { text, owner: null };
  }
}

/**
 * Whether /proc shows this process's PID namespace, as it does unless a PID namespace was entered
 * without mounting its own /proc (`unshare --pid` without `--mount-proc`): there /proc/<pid>
 * would be another process, and only `kill(pid, 0)` can be trusted.
 */
let procIsOurs: boolean | undefined;

/** A process's state and start time (clock ticks since boot) from Linux's /proc; undefined where there is none. */
export function procStat(pid: number): { state: string; start: string } | undefined {
  if ((procIsOurs ??= readLink('/proc/self') === String(process.pid)) === false) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (name) state ppid ...": the name may hold spaces and parentheses; starttime is field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], start: fields[19] };
  } catch {
    return undefined;
  }
}

function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Linux: the id of the calling thread (`/proc/thread-self` is `<pid>/task/<tid>`); undefined elsewhere. */
function threadOf(): number | undefined {
  if (!procStat(process.pid)) return undefined;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isSafeInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process a lock names may still be running (on this host, in this PID namespace: otherwise it cannot be told, and counts as gone). */
function running(owner: Owner, self: Owner): boolean {
  if (owner.host !== self.host || (owner.ns !== undefined && self.ns !== undefined && owner.ns !== self.ns)) return false;
  const stat = procStat(owner.pid);
  // Linux: a process that ended but was not reaped yet (a zombie) holds nothing, and one with
  // another start time is a later process given the same pid (a container's process restarted as
  // pid 1). The same start time as ours is this process: another thread (a worker's library),
  // which holds the file while that thread runs.
  if (stat) {
    if (stat.state === 'Z' || (owner.start !== undefined && owner.start !== stat.start)) return false;
    // The thread that claimed it still runs (a worker's exit handler does not run when it is terminated).
    return owner.tid === undefined || existsSync(`/proc/${owner.pid}/task/${owner.tid}`);
  }
  // Elsewhere our own pid is taken as this process (another thread), an earlier run of this pid being unlikely.
  if (owner.pid === self.pid) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, run by another user.
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

/** Blocks for `ms` (a claim waits for another process's takeover, which takes microseconds). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Creates `name` naming this process, unless it exists: written whole under a name of our own first. */
function create(name: string, self: Owner, mine: string): void {
  const text = JSON.stringify(self);
  writeFileSync(mine, text, { mode: 0o600 });
  try {
    place(mine, name, text);
  } finally {
    rmSync(mine, { force: true });
  }
}

/**
 * Makes sure this process owns `file` (claiming it when no running process does), before a read or
 * a write of it. Throws STORAGE_IN_USE when another running process on this host owns it (or another
 * thread of this one).
 *
 * A stale lock is removed only by the holder of a second lock, `<lock>.takeover`, after reading it
 * again under that: while the stale lock holds the name no process can create another, and no
 * other process removes one, so the lock removed is the one found stale. (Two processes that
 * each removed what they had read as stale could otherwise remove a lock the other had just
 * created, and both own the file.) A takeover lock whose process died mid-way is moved aside and
 * put back unless it was the one read.
 */
export function claimFile(file: string): void {
  const lock = `${file}.lock`;
  const guard = `${lock}.takeover`;
  const { self, held } = thisProcess();
  const mine = `${lock}.${self.pid}.${self.id}`;
  let guarded = false;
  try {
    // Bounded in rounds (not by a clock, which a test may have faked): each round is lost only to
    // a process that claimed the file, let go of it, or is taking it over (then 1 ms apart).
    for (let round = 0; round < 500; round++) {
      const found = readLock(lock);
      if (!found) {
        create(lock, self, mine); // read back in the next round: another process may have been first
        continue;
      }
      if (sameOwner(found.owner, self)) {
        held.add(lock);
        return;
      }
      if (found.owner && running(found.owner, self)) {
        throw new SteadySocketError(
          'STORAGE_IN_USE',
          `The outbox file ${file} is in use by ${found.owner.pid === self.pid ? 'another thread of this process' : `process ${found.owner.pid}`}: one process per outbox file (give each its own path). ${lock} names it.`,
        );
      }
      const taker = readLock(guard);
      if (!taker) {
        guarded = true;
        create(guard, self, mine);
      } else if (sameOwner(taker.owner, self)) {
        if (readLock(lock)?.text === found.text) rmSync(lock, { force: true });
        rmSync(guard, { force: true });
        guarded = false;
      } else if (taker.owner && running(taker.owner, self)) {
        pause(1);
      } else {
        removeStale(guard, taker.text, `${mine}.stale`);
      }
    }
    throw new SteadySocketError('STORAGE_IN_USE', `The outbox file ${file} could not be claimed: other processes kept changing its lock ${lock}.`);
  } finally {
    if (guarded && sameOwner(readLock(guard)?.owner, self)) rmSync(guard, { force: true });
  }
}

/** Removes `name` if it still holds `text`: moved aside (one rename moves it once), and put back when what moved is another. */
function removeStale(name: string, text: string, aside: string): void {
  try {
    renameSync(name, aside);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return;
    throw error;
  }
  try {
    const moved = readFileSync(aside, 'utf8');
    if (moved !== text) place(aside, name, moved);
  } finally {
    rmSync(aside, { force: true });
  }
}

/**
 * Gives `file` (holding `text`) the name `lock` unless that exists: a hard link, so the lock
 * appears whole; on a file system without hard links (FAT, some network shares), created
 * exclusively and then written.
 */
function place(file: string, lock: string, text: string): void {
  try {
    linkSync(file, lock);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'EEXIST') return;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
    try {
      writeFileSync(lock, text, { mode: 0o600, flag: 'wx' });
    } catch (again) {
      if ((again as { code?: unknown }).code !== 'EEXIST') throw again;
    }
  }
}

/** Lets go of `file` if this process owns it (the next process may claim it at once). Never throws: a lock left behind names this process, and goes at its exit. */
export function releaseFile(file: string): void {
  const lock = `${file}.lock`;
  const { self, held } = thisProcess();
  held.delete(lock);
  try {
    if (sameOwner(readLock(lock)?.owner, self)) rmSync(lock, { force: true });
  } catch {
    held.add(lock);
  }
}
