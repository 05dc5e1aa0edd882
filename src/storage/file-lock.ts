// Which process owns an outbox file: `<file>.lock` names it. Two processes saving one outbox
// would send each other's messages and replace each other's saves, so the file store claims the
// file before it reads or writes it, and checks the claim again before every read and write.
//
// The lock file holds the owner's process id, its host name, a random id of that process's run
// (of its thread's copy of the registry below) and, on Linux, its start time. It is created whole (written to a file of its own, then hard-linked to the lock's name,
// which fails when the name exists), so no process reads it half-written. A lock whose process
// has ended (no such process, a zombie, or a later process given its pid) is stale and taken over (moved aside,
// then claimed as if there were none), so a process restarted after a crash takes its file back
// at once. A lock naming another host cannot be checked from here: it is taken over too (blocking
// for ever on a machine that is gone, or a container recreated with a new host name, would be
// worse), so the lock guards the processes of one machine only. Held until the store lets go of
// the file (persist() does once its client has closed) or the process exits: its `exit` handler
// removes its locks.
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
    const locks: Process = (found = registry[key] = { self: { pid: process.pid, host: hostname(), id: randomUUID(), start: procStat(process.pid)?.start }, held: new Set() });
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

/** A process's state and start time (clock ticks since boot) from Linux's /proc; undefined where there is none. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (name) state ppid ...": the name may hold spaces and parentheses; starttime is field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], start: fields[19] };
  } catch {
    return undefined;
  }
}

/** Whether the process a lock names may still be running (on this host: otherwise it cannot be told, and counts as gone). */
function running(owner: Owner, self: Owner): boolean {
  if (owner.host !== self.host) return false;
  const stat = procStat(owner.pid);
  // Linux: a process that ended but was not reaped yet (a zombie) holds nothing, and one with
  // another start time is a later process given the same pid (a container's process restarted as
  // pid 1). The same start time as ours is this process: another thread (a worker's library).
  if (stat) return stat.state !== 'Z' && (owner.start === undefined || owner.start === stat.start);
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

/**
 * Makes sure this process owns `file` (claiming it when no running process does), before a read or
 * a write of it. Throws STORAGE_FAILED when another running process on this host owns it.
 */
export function claimFile(file: string): void {
  const lock = `${file}.lock`;
  const { self, held } = thisProcess();
  const mine = `${lock}.${self.pid}.${self.id}`;
  // A few rounds at most: each is lost only to a process that claimed the file or let go of it meanwhile.
  for (let round = 0; round < 8; round++) {
    const found = readLock(lock);
    if (!found) {
      // Written whole under a name of our own, then given the lock's name unless a lock appeared
      // meanwhile. Read back in the next round either way.
      const text = JSON.stringify(self);
      writeFileSync(mine, text, { mode: 0o600 });
      try {
        place(mine, lock, text);
      } finally {
        rmSync(mine, { force: true });
      }
      continue;
    }
    if (sameOwner(found.owner, self)) {
      held.add(lock);
      return;
    }
    if (found.owner && running(found.owner, self)) {
      throw new SteadySocketError(
        'STORAGE_FAILED',
        `The outbox file ${file} is in use by ${found.owner.pid === self.pid ? 'another thread of this process' : `process ${found.owner.pid}`}: one process per outbox file (give each its own path). ${lock} names it.`,
      );
    }
    // Stale: moved aside (one rename moves one file, so of two processes taking it over, one
    // does). If what moved is not the stale lock read above, another process had taken the file
    // over meanwhile: its lock is put back, unless yet another one has appeared since.
    const stale = `${mine}.stale`;
    try {
      renameSync(lock, stale);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') continue;
      throw error;
    }
    try {
      const moved = readFileSync(stale, 'utf8');
      if (moved !== found.text) place(stale, lock, moved);
    } finally {
      rmSync(stale, { force: true });
    }
  }
  throw new SteadySocketError('STORAGE_FAILED', `The outbox file ${file} could not be claimed: its lock ${lock} kept changing.`);
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
