// What fileStore() (file.ts) knows of its file, and how it goes from what the file holds to what a
// save was given: nothing to write, one change to append, or a new snapshot. Pure: no file is
// touched here.
import type { BigIntStats } from 'node:fs';
import { encodeChange, type Fingerprint } from './file-format';
import { copyMessage } from './stored-message';
import type { StoredMessage } from './types';

/** The file as a store last saw it: after its own write, or before its read. */
export type Seen = Pick<BigIntStats, 'dev' | 'ino' | 'size' | 'mtimeNs' | 'ctimeNs'>;

/** What the file holds, as the store last wrote or read it. */
export interface OnDisk {
  /** Its messages: the store's own copies (a save's copies of unchanged messages are these objects). */
  messages: StoredMessage[];
  /** The bytes committed: the next change is written here (whatever follows is a save that never completed). */
  length: number;
  /** About the bytes its messages take (see weight()). */
  live: number;
  /** Nothing but a snapshot: no change appended since. */
  snapshot: boolean;
  /**
   * The file as the store last saw it. Another writer (another store object, someone replacing,
   * cutting or rewriting the file, changing its mode) changes one of these, and the next save then
   * writes a snapshot instead of a change at a place that no longer holds it.
   */
  seen: Seen;
  /** What the file holds at the end of its committed bytes: checked before a change is appended, as timestamps can be coarse. */
  tail: Fingerprint;
  /** The store fsynced what the file holds (read contents may be in the page cache only: a writer that crashed). */
  synced: boolean;
}

/** What the file holds after a change, as planSave() finds it. */
export type Changed = Pick<OnDisk, 'messages' | 'length' | 'live' | 'tail'>;

export function sameFile(a: Seen, b: Seen): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** A change to append is at least this many bytes below a snapshot's size before it is worth it (see planSave()). */
export const SLACK = 64 * 1024;

/**
 * About the bytes a message takes in the file (its text's UTF-8 bytes or its base64, and the rest
 * of its entry; JSON escapes not counted): when to write a snapshot instead of a change.
 */
export function weight({ data, id }: StoredMessage): number {
  return (typeof data === 'string' ? Buffer.byteLength(data) : Math.ceil(data.byteLength / 3) * 4) + (id === undefined ? 0 : String(id).length) + 40;
}

function sameMessage(own: StoredMessage, given: StoredMessage): boolean {
  if (own.id !== given.id || own.queuedAt !== given.queuedAt) return false;
  const a = own.data;
  const b = given.data;
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/**
 * Copies of `messages`, each taken from `previous` (the store's copies from the last save) when
 * one there has the same contents: what only moved up (the front was sent) is the same object,
 * which is how planSave() finds what changed, and unchanged bytes are not copied again.
 */
export function ownCopies(previous: readonly StoredMessage[], messages: readonly StoredMessage[]): StoredMessage[] {
  let from = 0;
  if (messages.length) while (from < previous.length && !sameMessage(previous[from], messages[0])) from++;
  const copies = new Array<StoredMessage>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const own = previous[from + i];
    copies[i] = own !== undefined && sameMessage(own, messages[i]) ? own : copyMessage(messages[i]);
  }
  return copies;
}

/**
 * How to go from what the file holds (`disk`) to `next` (copies from ownCopies()): nothing at all,
 * a change to append (`drop` messages from the front, the rest of `next` at the back) with what the
 * file then holds, or undefined for a snapshot: when the file's state is unknown, `next` is not
 * what is left of the file's messages with more behind them, `next` is empty (a snapshot of
 * nothing leaves no sent message on the disk), the change would be as large as a snapshot, or the
 * file would hold more than twice its messages' size (and SLACK) in messages already sent.
 */
export function planSave(disk: OnDisk | undefined, next: StoredMessage[]): { change: Buffer; after: Changed } | 'nothing' | undefined {
  if (!disk) return undefined;
  const { messages: old, length, live, snapshot } = disk;
  if (!next.length) return old.length || !snapshot ? undefined : 'nothing';
  const drop = old.length ? old.indexOf(next[0]) : 0;
  const kept = old.length - drop;
  if (drop < 0 || next.length < kept) return undefined;
  for (let i = 0; i < kept; i++) if (next[i] !== old[drop + i]) return undefined;
  if (!drop && kept === next.length) return 'nothing';
  let after = live;
  for (let i = 0; i < drop; i++) after -= weight(old[i]);
  let added = 0;
  for (let i = kept; i < next.length; i++) added += weight(next[i]);
  after += added;
  if (added >= after) return undefined;
  const change = encodeChange(drop, next.slice(kept));
  if (length + change.length > 2 * after + SLACK) return undefined;
  return { change, after: { messages: next, length: length + change.length, live: after, tail: { at: length, bytes: change.subarray(0, 64) } } };
}

/** The `live` of a snapshot of `messages`. */
export function liveWeight(messages: readonly StoredMessage[]): number {
  let live = 0;
  for (const message of messages) live += weight(message);
  return live;
}
