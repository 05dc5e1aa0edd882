/** A `Blob`, described structurally so the types need no DOM library. */
export interface BlobLike {
  /** Size in bytes. */
  readonly size: number;
  /** The contents. */
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** What can be written to a WebSocket. */
export type WireData = string | ArrayBufferLike | ArrayBufferView | BlobLike;

/** What a WebSocket delivers, depending on `binaryType` and runtime. */
export type RawMessage = string | ArrayBuffer | Uint8Array | BlobLike;

/** Turns application values into frames and back, for one subprotocol. */
export interface Codec<In = unknown, Out = unknown> {
  /** Turns a value given to `send` into a frame; throw to refuse it (`ENCODE_FAILED`). */
  encode(value: Out): WireData;
  /** Turns a received frame into the value `message` delivers; throw to reject it (`DECODE_FAILED`). */
  decode(data: RawMessage): In;
}

/**
 * JSON in text frames. Binary frames are decoded as UTF-8 JSON too.
 * `reviver` and `replacer` pass through to JSON.parse / JSON.stringify.
 */
export function json<In = unknown, Out = unknown>(options: {
  reviver?: ((key: string, value: unknown) => unknown) | undefined;
  replacer?: ((key: string, value: unknown) => unknown) | undefined;
} = {}): Codec<In, Out> {
  const { reviver, replacer } = options;
  let decoder: TextDecoder | undefined;
  return {
    encode(value) {
      const text = JSON.stringify(value, replacer);
      if (text === undefined) throw new TypeError(`JSON cannot encode a value of type ${typeof value}.`);
      return text;
    },
    decode(data) {
      if (typeof data !== 'string') {
        if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) {
          throw new TypeError('The json codec cannot decode a Blob: set binaryType to "arraybuffer".');
        }
        data = (decoder ??= new TextDecoder('utf-8', { fatal: true })).decode(data);
      }
      return JSON.parse(data, reviver) as In;
    },
  };
}

const NON_ASCII = /[^\x00-\x7f]/;

/** The size of a message on the wire, in bytes (UTF-8 for text); -1 when it cannot be sent. */
export function wireSize(data: unknown): number {
  if (typeof data === 'string') return NON_ASCII.test(data) ? utf8Length(data) : data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (data !== null && typeof data === 'object') {
    if (typeof (data as BlobLike).size === 'number' && typeof (data as BlobLike).arrayBuffer === 'function') {
      return (data as BlobLike).size;
    }
    // Another realm's ArrayBuffer (an iframe's) or a SharedArrayBuffer, by its tag: not any object
    // with a byteLength, which a WebSocket would send as the text "[object Object]".
    if (/ArrayBuffer]$/.test(Object.prototype.toString.call(data))) return (data as ArrayBufferLike).byteLength;
  }
  return -1;
}

/** UTF-8 byte length of a string, without allocating. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2;
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}
