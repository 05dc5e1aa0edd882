// The outbox file, version 2: a snapshot, then the changes saved since, one line each (UTF-8).
//
//   {"format":"steadysocket-outbox","version":2,"count":2,"bytes":44,"sha256":"<64 hex>"}
//   [{"text":"hello","id":1,"queuedAt":1795000000000},{"base64":"AAH/","id":"a7"}]
//   <64 hex> {"drop":1,"add":[{"text":"next","queuedAt":1795000000042}]}
//
// The first line describes the second (the snapshot): how many messages, how many bytes (without
// its newline) and their SHA-256. A snapshot cut short, garbled or written by something else fails
// one of these checks, so a torn write is detected instead of being read as fewer messages. Text
// stays text; binary is base64; `id` and `queuedAt` are left out when the message has none.
//
// Each line after it is a change: `drop` messages leave the front, `add` come in at the back,
// prefixed by the SHA-256 of the rest of its line. A change is appended (and fsynced) as one
// write at the end of what was committed, so a crash leaves at most one last line cut short or
// garbled: that save never completed, and the line is ignored (the contents before it are what
// load() returns). A bad line with a good one after it is not a torn write: the file is corrupt.
//
// Version 1 (the snapshot alone, before changes were appended) is still read. A steadysocket that
// reads version 1 only leaves a version 2 file alone (a newer steadysocket's file).
import { createHash } from 'node:crypto';
import { messageProblem } from './stored-message';
import type { StoredMessage } from './types';

export const FORMAT = 'steadysocket-outbox';
export const VERSION = 2;
/** The versions this steadysocket reads. */
const READS = new Set([1, 2]);

interface Header {
  format: typeof FORMAT;
  version: number;
  count: number;
  bytes: number;
  sha256: string;
}

type Entry = ({ text: string } | { base64: string }) & { id?: string | number; queuedAt?: number };

function toEntry({ data, id, queuedAt }: StoredMessage): Entry {
  const entry: Entry = typeof data === 'string' ? { text: data } : { base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
  if (id !== undefined) entry.id = id;
  if (queuedAt !== undefined) entry.queuedAt = queuedAt;
  return entry;
}

/** The file's bytes for `messages` (already checked with checkMessages): a snapshot, no changes. */
export function encodeOutboxFile(messages: readonly StoredMessage[]): Buffer {
  const body = Buffer.from(JSON.stringify(messages.map(toEntry)), 'utf8');
  const header: Header = { format: FORMAT, version: VERSION, count: messages.length, bytes: body.length, sha256: sha256(body) };
  return Buffer.concat([Buffer.from(JSON.stringify(header) + '\n', 'utf8'), body, Buffer.from('\n')]);
}

/** The line that records a change: `drop` messages left the front, `add` came in at the back. */
export function encodeChange(drop: number, add: readonly StoredMessage[]): Buffer {
  const change = JSON.stringify({ drop, add: add.map(toEntry) });
  return Buffer.from(`${sha256(Buffer.from(change, 'utf8'))} ${change}\n`, 'utf8');
}

/**
 * `newer`: a later steadysocket's file, not a corrupt one: it must be left as it is. `committed`
 * (version 2): the file's bytes up to the end of its last good change; what follows is a save
 * that never completed, which the next change overwrites. Absent for a version 1 file.
 */
export type Decoded = { ok: true; messages: StoredMessage[]; committed?: number } | { ok: false; problem: string; newer?: boolean };

/**
 * The messages in an outbox file, or what is wrong with it. Problems describe the structure only:
 * parse errors are not passed on, because engines quote the offending text in them.
 */
export function decodeOutboxFile(file: Uint8Array): Decoded {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const newline = bytes.indexOf(0x0a);
  if (newline < 0) return fail('it has no header line');
  const header = parseJson(bytes.subarray(0, newline));
  const headerProblem = checkHeader(header);
  if (headerProblem) {
    const { format, version } = typeof header === 'object' && header !== null ? (header as { format?: unknown; version?: unknown }) : {};
    const newer = format === FORMAT && typeof version === 'number' && version > VERSION;
    return newer ? { ok: false, problem: headerProblem, newer } : fail(headerProblem);
  }
  const { version, count, bytes: length, sha256: digest } = header as Header;

  const rest = bytes.subarray(newline + 1);
  // Version 1 is the snapshot alone; version 2 may have changes after it.
  if (rest.length < length + 1 || rest[length] !== 0x0a || (version === 1 && rest.length !== length + 1)) {
    return fail(`its body has ${rest.length} bytes where the header says ${length + 1}`);
  }
  const body = rest.subarray(0, length);
  if (sha256(body) !== digest) return fail('its body does not match the SHA-256 in its header');

  const entries = parseJson(body);
  if (!Array.isArray(entries)) return fail('its body is not a JSON array');
  if (entries.length !== count) return fail(`its body holds ${entries.length} messages where the header says ${count}`);
  const messages = toMessages(entries);
  if (typeof messages === 'string') return fail(messages);
  if (version === 1) return { ok: true, messages };

  // The changes: `head` messages have left the front (one slice at the end, not one per change).
  let head = 0;
  let at = newline + 1 + length + 1;
  let committed = at;
  for (let n = 1; at < bytes.length; n++) {
    const end = bytes.indexOf(0x0a, at);
    const change = end < 0 ? undefined : readChange(bytes.subarray(at, end));
    if (change === undefined) {
      // Cut short or garbled: a save that never completed, unless a good change follows it.
      if (end >= 0 && goodChangeAfter(bytes, end + 1)) return fail(`its change ${n} does not match its SHA-256, and changes follow it`);
      break;
    }
    if (typeof change === 'string') return fail(`its change ${n} ${change}`);
    if (change.drop > messages.length - head) return fail(`its change ${n} drops ${change.drop} messages of ${messages.length - head}`);
    head += change.drop;
    for (const message of change.add) messages.push(message);
    at = committed = end + 1;
  }
  return { ok: true, messages: head ? messages.slice(head) : messages, committed };
}

/** Bytes a file holds at a known place that name the SHA-256 of what it has committed (see fingerprint()). */
export interface Fingerprint {
  at: number;
  bytes: Buffer;
}

/**
 * The bytes of a version 2 file (its first `committed` bytes good, as decoded or written) that
 * name the SHA-256 of what it has committed: the header line when it holds a snapshot alone, else
 * the SHA-256 that begins its last change line. A copy, with where it is: a store compares them
 * with the file before it appends, to be sure the file is still the one it last wrote or read.
 */
export function fingerprint(file: Uint8Array, committed: number): Fingerprint {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const newline = bytes.indexOf(0x0a);
  const last = bytes.lastIndexOf(0x0a, committed - 2) + 1;
  // The snapshot's body line, or the header itself: no change after the snapshot.
  if (last <= newline + 1) return { at: 0, bytes: Buffer.from(bytes.subarray(0, newline + 1)) };
  return { at: last, bytes: Buffer.from(bytes.subarray(last, last + 64)) };
}

/** A change line: its parts, what is wrong with it (its SHA-256 matched), or undefined when the SHA-256 does not match. */
function readChange(line: Buffer): { drop: number; add: StoredMessage[] } | string | undefined {
  if (line.length < 66 || line[64] !== 0x20) return undefined;
  const rest = line.subarray(65);
  if (sha256(rest) !== line.toString('latin1', 0, 64)) return undefined;
  const change = parseJson(rest);
  if (typeof change !== 'object' || change === null) return 'is not a JSON object';
  const { drop, add } = change as { drop?: unknown; add?: unknown };
  if (!Number.isSafeInteger(drop) || (drop as number) < 0) return 'has no valid drop count';
  if (!Array.isArray(add)) return 'has no add list';
  const messages = toMessages(add);
  return typeof messages === 'string' ? messages : { drop: drop as number, add: messages };
}

/** Whether a complete change line whose SHA-256 matches starts at or after `at`. */
function goodChangeAfter(bytes: Buffer, at: number): boolean {
  for (let end = bytes.indexOf(0x0a, at); end >= 0; at = end + 1, end = bytes.indexOf(0x0a, at)) {
    if (readChange(bytes.subarray(at, end)) !== undefined) return true;
  }
  return false;
}

function toMessages(entries: unknown[]): StoredMessage[] | string {
  const messages: StoredMessage[] = [];
  for (let i = 0; i < entries.length; i++) {
    const message = toMessage(entries[i]);
    if (typeof message === 'string') return `message ${i} ${message}`;
    messages.push(message);
  }
  return messages;
}

function checkHeader(header: unknown): string | undefined {
  if (typeof header !== 'object' || header === null) return 'its first line is not a JSON object';
  const { format, version, count, bytes, sha256: digest } = header as Partial<Record<keyof Header, unknown>>;
  if (format !== FORMAT) return `its first line is not a ${FORMAT} header`;
  if (!READS.has(version as number)) return `it is version ${String(version).slice(0, 20)}; this steadysocket reads versions 1 and ${VERSION}`;
  if (!Number.isSafeInteger(count) || (count as number) < 0) return 'its header has no valid count';
  if (!Number.isSafeInteger(bytes) || (bytes as number) < 0) return 'its header has no valid byte length';
  if (typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest)) return 'its header has no valid sha256';
  return undefined;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function toMessage(entry: unknown): StoredMessage | string {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return 'is not an object';
  const { text, base64, id, queuedAt } = entry as { text?: unknown; base64?: unknown; id?: unknown; queuedAt?: unknown };
  let message: StoredMessage;
  if (typeof text === 'string' && base64 === undefined) message = { data: text };
  else if (typeof base64 === 'string' && text === undefined && BASE64.test(base64)) {
    // A plain Uint8Array of its own (not a Buffer, not a view of Node's shared pool).
    message = { data: new Uint8Array(Buffer.from(base64, 'base64')) };
  } else return 'has neither a text nor a valid base64 field';
  if (id !== undefined) message.id = id as string | number;
  if (queuedAt !== undefined) message.queuedAt = queuedAt as number;
  return messageProblem(message) ?? message;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function fail(problem: string): Decoded {
  return { ok: false, problem };
}
