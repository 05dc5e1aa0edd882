// A hand-built WebSocket server (raw node:net, frames from test/fault/hostile.ts) that starts the
// closing handshake on its first connection and then keeps TCP open: it sends a close frame
// `closeAtMs` after the handshake and ends the TCP connection only `holdMs` after that, whatever
// the client answers (RFC 6455 §7.1.1 says the server should close TCP first, at once). Every
// later connection is a plain well-behaved server, so a client that reconnects can finish.
//
// It records the text messages each connection received before the client's own close frame, and
// when things happened (performance.now()).
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { acceptFor, closeFrame, encodeFrame, onClientFrames, Opcode, pongFrame, readRequestHead, switchingProtocols } from '../fault/hostile';

export interface ClosingServerOptions {
  /** Ms after the first connection's handshake at which the server sends its close frame. */
  closeAtMs: number;
  /** Ms the server keeps TCP open after its close frame before ending it. */
  holdMs: number;
  code?: number;
  reason?: string;
}

export interface ClosingConnection {
  acceptedAt: number;
  /** Text messages received before the client's close frame, in order. */
  messages: string[];
  /** When the server sent its close frame (first connection only). */
  closeSentAt?: number;
  /** When the client's close frame arrived. */
  clientCloseAt?: number;
  /** When the TCP connection was gone. */
  goneAt?: number;
}

export interface ClosingServer {
  url: string;
  connections: ClosingConnection[];
  close(): Promise<void>;
}

export async function startClosingServer(options: ClosingServerOptions): Promise<ClosingServer> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const connections: ClosingConnection[] = [];
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  // allowHalfOpen: the client's FIN must not end our side too — the hold is the point.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    readRequestHead(socket, (request, rest) => {
      socket.write(switchingProtocols({ accept: acceptFor(request.headers['sec-websocket-key'] ?? '') }));
      serve(socket, rest);
    });
  });

  function serve(socket: Socket, rest: Buffer): void {
    const record: ClosingConnection = { acceptedAt: performance.now(), messages: [] };
    const first = connections.length === 0;
    connections.push(record);
    socket.on('close', () => {
      record.goneAt = performance.now();
      sockets.delete(socket);
    });
    if (first) {
      later(options.closeAtMs, () => {
        if (socket.destroyed) return;
        socket.write(closeFrame(options.code ?? 1001, options.reason ?? 'going away'));
        record.closeSentAt = performance.now();
        // The hold: TCP stays open (and unread data is ignored) until holdMs have passed.
        later(options.holdMs, () => socket.end());
      });
    }
    onClientFrames(socket, rest, (frame) => {
      if (record.clientCloseAt !== undefined) return; // §5.5.1: nothing may follow a close frame
      if (frame.opcode === Opcode.text) record.messages.push(frame.payload.toString('utf8'));
      else if (frame.opcode === Opcode.ping && socket.writable) socket.write(pongFrame(frame.payload));
      else if (frame.opcode === Opcode.close) {
        record.clientCloseAt = performance.now();
        // A server that did not start the close answers it and ends TCP (§5.5.1, §7.1.1).
        if (record.closeSentAt === undefined && socket.writable) {
          socket.end(encodeFrame({ opcode: Opcode.close, payload: frame.payload.subarray(0, 2) }));
        }
      }
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    connections,
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
