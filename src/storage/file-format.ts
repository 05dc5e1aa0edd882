// The outbox file, version 1: two lines of UTF-8.
//
//   {"format":"steadysocket-outbox","version":1,"count":2,"bytes":44,"sha256":"<64 hex>"}
//   [{"text":"hello","id":1,"queuedAt":1795000000000},{"base64":"AAH/","id":"a7"}]
//
// The first line describes the second: how many messages, how many bytes (without the final
// newline) and their SHA-256. A file cut short, garbled or written by something else fails one of
// these checks, so a torn write is detected instead of being read as fewer messages. Text stays
// text; binary is base64; `id` and `queuedAt` are left out when the message has none. `queuedAt`
// came after the first files: it is optional, so files without it still load, and a steadysocket
// that does not know it reads a file that has it (ignoring it), with no new version.
import { createHash } from 'node:crypto';
import { messageProblem } from './stored-message';
import type { StoredMessage } from './types';

export const FORMAT = 'steadysocket-outbox';
export const VERSION = 1;

interface Header {
  format: typeof FORMAT;
  version: number;
  count: number;
  bytes: number;
  sha256: string;
}

type Entry = ({ text: string } | { base64: string }) & { id?: string | number; queuedAt?: number };

/** The file's bytes for `messages` (already checked with checkMessages). */
export function encodeOutboxFile(messages: readonly StoredMessage[]): Buffer {
  const entries: Entry[] = messages.map(({ data, id, queuedAt }) => {
    const entry: Entry =
      typeof data === 'string' ? { text: data } : { base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
    if (id !== undefined) entry.id = id;
    if (queuedAt !== undefined) entry.queuedAt = queuedAt;
    return entry;
  });
  const body = Buffer.from(JSON.stringify(entries), 'utf8');
  const header: Header = { format: FORMAT, version: VERSION, count: entries.length, bytes: body.length, sha256: sha256(body) };
  return Buffer.concat([Buffer.from(JSON.stringify(header) + '\n', 'utf8'), body, Buffer.from('\n')]);
}

/** `newer`: a later steadysocket's file, not a corrupt one: it must be left as it is. */
export type Decoded = { ok: true; messages: StoredMessage[] } | { ok: false; problem: string; newer?: boolean };

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
  const { count, bytes: length, sha256: digest } = header as Header;

  const rest = bytes.subarray(newline + 1);
  if (rest.length !== length + 1 || rest[length] !== 0x0a) return fail(`its body has ${rest.length} bytes where the header says ${length + 1}`);
  const body = rest.subarray(0, length);
  if (sha256(body) !== digest) return fail('its body does not match the SHA-256 in its header');

  const entries = parseJson(body);
  if (!Array.isArray(entries)) return fail('its body is not a JSON array');
  if (entries.length !== count) return fail(`its body holds ${entries.length} messages where the header says ${count}`);
  const messages: StoredMessage[] = [];
  for (let i = 0; i < entries.length; i++) {
    const message = toMessage(entries[i]);
    if (typeof message === 'string') return fail(`message ${i} ${message}`);
    messages.push(message);
  }
  return { ok: true, messages };
}

function checkHeader(header: unknown): string | undefined {
  if (typeof header !== 'object' || header === null) return 'its first line is not a JSON object';
  const { format, version, count, bytes, sha256: digest } = header as Partial<Record<keyof Header, unknown>>;
  if (format !== FORMAT) return `its first line is not a ${FORMAT} header`;
  if (version !== VERSION) return `it is version ${String(version).slice(0, 20)}; this steadysocket reads version ${VERSION}`;
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
