// Turning input lines into frames and frames into output lines. Pure: no I/O, no clock.
import { isUtf8 } from 'node:buffer';
import { redactUrl } from './redact';

/** How input lines become frames, and how binary frames are printed. */
export type Encoding = 'text' | 'binary' | 'hex' | 'base64';

export class InputError extends Error {}

const HEX = /^(?:[0-9a-f]{2})*$/i;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * One input line as it goes on the wire: text frames for `text`, binary frames for the rest.
 * `bytes`: the line holds one char per byte (stdin read as latin1 under -b), sent as those bytes.
 * Throws InputError for a line that is not valid hex or base64.
 */
export function encodeInput(line: string, encoding: Encoding, bytes = false): string | Buffer {
  switch (encoding) {
    case 'text':
      return line;
    case 'binary':
      return Buffer.from(line, bytes ? 'latin1' : 'utf8');
    case 'hex': {
      const digits = line.replace(/\s+/g, '');
      if (!HEX.test(digits)) throw new InputError(`not hex (pairs of 0-9a-f): ${preview(line)}`);
      return Buffer.from(digits, 'hex');
    }
    case 'base64': {
      const digits = line.replace(/\s+/g, '');
      if (!BASE64.test(digits) || digits.replace(/=+$/, '').length % 4 === 1) {
        throw new InputError(`not base64: ${preview(line)}`);
      }
      return Buffer.from(digits, digits.includes('-') || digits.includes('_') ? 'base64url' : 'base64');
    }
  }
}

export interface Rendered {
  text: string;
  binary: boolean;
  /** How `text` holds the bytes of a binary message. */
  encoding?: 'hex' | 'base64' | 'utf8';
  /** Size of a binary message. */
  bytes?: number;
}

/** A received message as it is printed: text as is; binary per `encoding` (hex unless told otherwise). */
export function renderMessage(data: unknown, encoding: Encoding): Rendered {
  if (typeof data === 'string') return { text: data, binary: false };
  const bytes = toBuffer(data);
  // -b: as text when the bytes are UTF-8, else as base64 (JSON cannot carry raw bytes; utf8 would replace them).
  const as = encoding === 'base64' ? 'base64' : encoding === 'binary' ? (isUtf8(bytes) ? 'utf8' : 'base64') : 'hex';
  return { text: bytes.toString(as), binary: true, encoding: as, bytes: bytes.length };
}

export function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) return Buffer.concat(data.map(toBuffer)); // ws 'fragments' binaryType
  return Buffer.from(String(data));
}

// What a server could use to take over a terminal or disguise text: C0 controls but tab and
// newline (ESC starts colour, cursor, title, clipboard and hyperlink sequences), DEL, C1
// controls (some terminals take U+009B as ESC [) and the bidirectional overrides.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text fit for a terminal: each unsafe character shown as its escape (`\x1b`, `\u202e`). For what
 * goes to a human (interactive mode, diagnostics); pipe mode's stdout stays byte-for-byte.
 */
export function visible(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

// What JSON.stringify leaves as it is of the above (it escapes C0 controls itself).
const UNSAFE_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text with DEL, C1 controls and the bidirectional overrides written as `\u` escapes: the
 * same value to any JSON parser, and harmless on a terminal (`--json` there is read by a person).
 */
export function terminalSafeJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A URL fit for a terminal or a log: no user or password, no query values (tokens live there). */
export function displayUrl(url: string): string {
  return redactUrl(url);
}

/** `1.2 s`, `850 ms`. */
export function formatDelay(ms: number): string {
  if (!Number.isFinite(ms)) return 'later';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Close codes from RFC 6455 §7.4.1 and the IANA registry, for humans. */
const CLOSE_NAMES: Record<number, string> = {
  1000: 'normal closure',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status',
  1006: 'abnormal closure',
  1007: 'invalid payload',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'mandatory extension',
  1011: 'internal server error',
  1012: 'service restart',
  1013: 'try again later',
  1014: 'bad gateway',
  1015: 'TLS handshake failure',
};

export function describeClose(code: number, reason: string): string {
  const name = CLOSE_NAMES[code];
  return `${code}${name ? ` ${name}` : ''}${reason ? `: ${reason}` : ''}`;
}

function preview(line: string): string {
  return JSON.stringify(line.length > 40 ? `${line.slice(0, 40)}…` : line);
}
