// Hand-built hostile WebSocket servers for fault tests.
//
// Raw `node:net` servers with a hand-written opening handshake and hand-built frames, so a test
// can make a server break exactly one rule of RFC 6455 and watch what the client does. The `echo`
// behaviour is a correct minimal server: the control that proves the harness itself is right.

import { createHash, randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** RFC 6455 §1.3: the GUID a server appends to `Sec-WebSocket-Key` to prove it read the key. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A request head larger than this is not a WebSocket handshake; drop the connection. */
const MAX_REQUEST_HEAD = 16 * 1024;

/** Client frames larger than this are refused; no test needs more. */
const MAX_CLIENT_PAYLOAD = 16 * 1024 * 1024;

/** RFC 6455 §5.2 and §11.8: the opcodes. */
export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** Behaviours that complete a valid handshake and then send one frame that breaks a rule. */
export type BadFrame =
  | 'masked-frame'
  | 'reserved-bits'
  | 'reserved-opcode'
  | 'invalid-utf8'
  | 'fragmented-control'
  | 'huge-length';

/** A plain HTTP/1.1 answer to the upgrade request, after which the server closes the socket. */
export interface HttpAnswer {
  kind: 'http';
  status: number;
  headers?: Record<string, string>;
  /** Defaults to `"<status> <reason>\n"`. */
  body?: string;
}

export type Behaviour =
  /** 101 whose `Sec-WebSocket-Accept` was computed from the wrong key. */
  | 'wrong-accept'
  /** 101 without `Sec-WebSocket-Accept`. */
  | 'missing-accept'
  /** Valid 101 that picks `Sec-WebSocket-Protocol: not-offered`. */
  | 'unoffered-protocol'
  /** Valid 101 with no `Sec-WebSocket-Protocol`, even when the client offered some. */
  | 'no-protocol'
  /** Accepts TCP and reads the request, never answers it. */
  | 'no-handshake'
  /** Valid 101, then never sends a byte and never answers a ping: a half-open peer. */
  | 'silent'
  /** A correct minimal server: echoes data frames, answers ping with pong and close with close. */
  | 'echo'
  | BadFrame
  | HttpAnswer;

/** One parsed upgrade request. */
export interface Handshake {
  method: string;
  path: string;
  /** Header names lower-cased; repeated headers joined with `", "`. */
  headers: Record<string, string>;
  /** `performance.now()` when the request head was complete. */
  at: number;
}

/** One frame received from the client, unmasked. */
export interface ClientFrame {
  fin: boolean;
  /** RSV1..RSV3 as a 3-bit number. */
  rsv: number;
  opcode: number;
  payload: Buffer;
}

export interface HostileServer {
  /** `ws://127.0.0.1:PORT/` */
  url: string;
  port: number;
  /** `performance.now()` of each TCP connection accepted, in order. */
  connections: number[];
  /** Whether each TCP connection accepted (in the same order) has closed since. */
  gone: boolean[];
  /** Each upgrade request received, in order. */
  handshakes: Handshake[];
  /** Every frame received from clients after a 101, across all connections, in order. */
  frames: ClientFrame[];
  /** Closes the server and destroys every socket it accepted. */
  close(): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1, port 0, that behaves as asked on every connection,
 * `answerAfterMs` after each request (a slow handshake).
 */
export function startHostileServer(behaviour: Behaviour, { answerAfterMs = 0 } = {}): Promise<HostileServer> {
  const sockets = new Set<Socket>();
  const connections: number[] = [];
  const gone: boolean[] = [];
  const handshakes: Handshake[] = [];
  const frames: ClientFrame[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((socket) => {
    const index = connections.push(performance.now()) - 1;
    gone.push(false);
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      gone[index] = true;
    });
    // Clients under test reset connections on purpose; that is not a harness failure.
    socket.on('error', () => {});
    readRequestHead(socket, (request, rest) => {
      handshakes.push(request);
      if (!answerAfterMs) return answer(socket, behaviour, request, rest, frames);
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (socket.writable) answer(socket, behaviour, request, rest, frames);
      }, answerAfterMs);
      timers.add(timer);
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `ws://127.0.0.1:${port}/`,
        port,
        connections,
        gone,
        handshakes,
        frames,
        close: () => {
          for (const timer of timers) clearTimeout(timer);
          return closeServer(server, sockets);
        },
      });
    });
  });
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function answer(
  socket: Socket,
  behaviour: Behaviour,
  request: Handshake,
  rest: Buffer,
  frames: ClientFrame[],
): void {
  if (typeof behaviour === 'object') {
    socket.end(httpResponse(behaviour));
    return;
  }
  if (behaviour === 'no-handshake') return;

  const accept = acceptFor(request.headers['sec-websocket-key'] ?? '');
  const protocol = firstOfferedProtocol(request);
  switch (behaviour) {
    case 'wrong-accept':
      socket.write(switchingProtocols({ accept: acceptFor('not the key the client sent'), protocol }));
      break;
    case 'missing-accept':
      socket.write(switchingProtocols({ protocol }));
      break;
    case 'unoffered-protocol':
      socket.write(switchingProtocols({ accept, protocol: 'not-offered' }));
      break;
    case 'no-protocol':
      socket.write(switchingProtocols({ accept }));
      break;
    default:
      socket.write(switchingProtocols({ accept, protocol }));
      if (isBadFrame(behaviour)) socket.write(BAD_FRAMES[behaviour]());
  }
  // After the 101 every behaviour but `silent` is a correct echo peer, so a client that fails
  // the connection can still complete its closing handshake.
  readFrames(socket, rest, frames, behaviour !== 'silent');
}

// --- Opening handshake (RFC 6455 §4) -------------------------------------------------------

/** RFC 6455 §4.2.2: base64(SHA-1(key + GUID)). */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

/** RFC 6455 §4.2.2: the server picks at most one offered subprotocol; we pick the first. */
function firstOfferedProtocol(request: Handshake): string | undefined {
  const offered = request.headers['sec-websocket-protocol'];
  return offered?.split(',')[0].trim() || undefined;
}

/** Reads up to the blank line ending the request head, then hands over the bytes after it. */
export function readRequestHead(socket: Socket, onHead: (request: Handshake, rest: Buffer) => void): void {
  let received = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    received = Buffer.concat([received, chunk]);
    const end = received.indexOf('\r\n\r\n');
    if (end === -1) {
      if (received.length > MAX_REQUEST_HEAD) socket.destroy();
      return;
    }
    socket.off('data', onData);
    onHead(parseRequestHead(received.subarray(0, end).toString('latin1')), received.subarray(end + 4));
  };
  socket.on('data', onData);
}

function parseRequestHead(head: string): Handshake {
  const [requestLine, ...lines] = head.split('\r\n');
  const [method = '', path = ''] = requestLine.split(' ');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { method, path, headers, at: performance.now() };
}

/** RFC 6455 §4.2.2: the 101 answer; each header is sent only when given. */
export function switchingProtocols({ accept, protocol }: { accept?: string; protocol?: string }): string {
  return (
    'HTTP/1.1 101 Switching Protocols\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    (accept === undefined ? '' : `Sec-WebSocket-Accept: ${accept}\r\n`) +
    (protocol === undefined ? '' : `Sec-WebSocket-Protocol: ${protocol}\r\n`) +
    '\r\n'
  );
}

/** RFC 6455 §4.2.2 point 1 and §4.1: any status but 101 means the handshake failed. */
function httpResponse({ status, headers = {}, body }: HttpAnswer): string {
  const reason = STATUS_CODES[status] ?? 'Unknown';
  const content = body ?? `${status} ${reason}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(content)}`,
    'Connection: close',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${content}`;
}

// --- Reading client frames (RFC 6455 §5.2) -------------------------------------------------

/**
 * Parses one client frame from the start of `buffer`; undefined until all of it has arrived.
 * Throws when the frame breaks a rule the server must enforce.
 */
export function parseClientFrame(buffer: Buffer): { frame: ClientFrame; size: number } | undefined {
  if (buffer.length < 2) return undefined;
  let length = buffer[1] & 0x7f;
  let offset = 2;
  // §5.2: a 7-bit length of 126 means a 16-bit length follows, 127 a 64-bit one.
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    const long = buffer.readBigUInt64BE(2);
    if (long > BigInt(MAX_CLIENT_PAYLOAD)) throw new RangeError(`client frame of ${long} bytes`);
    length = Number(long);
    offset = 10;
  }
  // §5.1: a server must close the connection when a client frame is not masked.
  if ((buffer[1] & 0x80) === 0) throw new Error('client frame is not masked');
  const end = offset + 4 + length;
  if (buffer.length < end) return undefined;

  const mask = buffer.subarray(offset, offset + 4);
  const payload = Buffer.from(buffer.subarray(offset + 4, end));
  // §5.3: unmask octet i with mask octet i mod 4.
  for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
  const frame = {
    fin: (buffer[0] & 0x80) !== 0,
    rsv: (buffer[0] >> 4) & 0x7,
    opcode: buffer[0] & 0x0f,
    payload,
  };
  return { frame, size: end };
}

function readFrames(socket: Socket, rest: Buffer, frames: ClientFrame[], reply: boolean): void {
  onClientFrames(socket, rest, (frame) => {
    frames.push(frame);
    if (reply) echo(socket, frame);
  });
}

/**
 * Calls `onFrame` with each frame the client sends, starting with the bytes that came with the
 * handshake (`rest`); a frame that does not parse destroys the socket.
 */
export function onClientFrames(socket: Socket, rest: Buffer, onFrame: (frame: ClientFrame) => void): void {
  let pending = rest;
  const onData = (chunk: Buffer): void => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      let parsed;
      try {
        parsed = parseClientFrame(pending);
      } catch {
        socket.destroy();
        return;
      }
      if (parsed === undefined) return;
      pending = pending.subarray(parsed.size);
      onFrame(parsed.frame);
    }
  };
  socket.on('data', onData);
  if (rest.length > 0) onData(Buffer.alloc(0));
}

/** What a correct minimal server does with each client frame. */
function echo(socket: Socket, frame: ClientFrame): void {
  if (!socket.writable) return;
  switch (frame.opcode) {
    case Opcode.continuation:
    case Opcode.text:
    case Opcode.binary:
      // Echoing frame by frame keeps a fragmented message fragmented the same way (§5.4).
      socket.write(encodeFrame({ fin: frame.fin, opcode: frame.opcode, payload: frame.payload }));
      break;
    case Opcode.ping:
      // §5.5.3: a pong carries the ping's application data.
      socket.write(pongFrame(frame.payload));
      break;
    case Opcode.close:
      // §5.5.1: answer close with close, echoing the status code; §7.1.1: the server closes TCP first.
      socket.end(closeFrame(frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined));
      break;
  }
}

// --- Building server frames (RFC 6455 §5.2) ------------------------------------------------

export interface FrameSpec {
  fin?: boolean;
  rsv1?: boolean;
  opcode: number;
  payload?: Buffer;
  /** A server must never mask (§5.1); only the hostile `masked-frame` passes one. */
  mask?: Buffer;
}

/** Encodes one frame, choosing the 7-, 16- or 64-bit length form (§5.2). */
export function encodeFrame(spec: FrameSpec): Buffer {
  const { fin = true, rsv1 = false, opcode, payload = Buffer.alloc(0), mask } = spec;
  const first = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = mask ? 0x80 : 0;
  let header: Buffer;
  if (payload.length < 126) {
    header = Buffer.from([first, maskBit | payload.length]);
  } else if (payload.length < 0x10000) {
    header = Buffer.alloc(4);
    header.writeUInt16BE(payload.length, 2);
    header[1] = maskBit | 126;
  } else {
    header = Buffer.alloc(10);
    header.writeBigUInt64BE(BigInt(payload.length), 2);
    header[1] = maskBit | 127;
  }
  header[0] = first;
  if (!mask) return Buffer.concat([header, payload]);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] ^= mask[i & 3];
  return Buffer.concat([header, mask, masked]);
}

export function pongFrame(payload: Buffer): Buffer {
  return encodeFrame({ opcode: Opcode.pong, payload });
}

/** §5.5.1: the body, if any, is a 2-byte status code then a UTF-8 reason. */
export function closeFrame(code?: number, reason = ''): Buffer {
  if (code === undefined) return encodeFrame({ opcode: Opcode.close });
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return encodeFrame({ opcode: Opcode.close, payload });
}

/** §5.1: a client must fail the connection when it receives a masked frame. */
export function maskedFrame(): Buffer {
  return encodeFrame({ opcode: Opcode.text, payload: Buffer.from('hi'), mask: randomBytes(4) });
}

/** §5.2: RSV1 must be 0 unless an extension that defines it was negotiated. */
export function reservedBitsFrame(): Buffer {
  return encodeFrame({ rsv1: true, opcode: Opcode.text, payload: Buffer.from('hi') });
}

/** §5.2: opcodes 0x3-0x7 are reserved for further non-control frames. */
export function reservedOpcodeFrame(): Buffer {
  return encodeFrame({ opcode: 0x3, payload: Buffer.from('hi') });
}

/** §5.6 and §8.1: a text frame must be valid UTF-8; 0xff and 0xfe never are. */
export function invalidUtf8Frame(): Buffer {
  return encodeFrame({ opcode: Opcode.text, payload: Buffer.from([0xff, 0xfe]) });
}

/** §5.5: control frames must not be fragmented, so a ping must have FIN set. */
export function fragmentedControlFrame(): Buffer {
  return encodeFrame({ fin: false, opcode: Opcode.ping, payload: Buffer.from('hi') });
}

/** §5.2: the most significant bit of a 64-bit length must be 0; this header claims 2^63 bytes. */
export function hugeLengthFrameHeader(): Buffer {
  return Buffer.from([0x80 | Opcode.binary, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]);
}

const BAD_FRAMES: Record<BadFrame, () => Buffer> = {
  'masked-frame': maskedFrame,
  'reserved-bits': reservedBitsFrame,
  'reserved-opcode': reservedOpcodeFrame,
  'invalid-utf8': invalidUtf8Frame,
  'fragmented-control': fragmentedControlFrame,
  'huge-length': hugeLengthFrameHeader,
};

function isBadFrame(behaviour: string): behaviour is BadFrame {
  return behaviour in BAD_FRAMES;
}
