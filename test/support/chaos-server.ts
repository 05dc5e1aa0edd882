// A real `ws` server on 127.0.0.1 whose connections follow a script: each connection of a run
// takes the next behaviour from the run's list (accept and acknowledge, close mid-stream with a
// code, close and then hold TCP open for ever, terminate TCP, reject the handshake, never answer
// it, accept late), and every connection after the list is a well-behaved acknowledging server,
// so a client that keeps reconnecting can always finish.
//
// The protocol is the guide's acks() one over the json codec: the client sends `{ id, data }`,
// the server records the id and answers `{ ack: id }`; each accepted connection first sends
// `{ hello: n }` (a plain message event on the client). One listening server serves many runs;
// each run has its own path (`/run-N`) and a request for another run's path is dropped, so a
// straggler of one run cannot eat a behaviour of the next.
//
// Beyond the acks() protocol every connection also answers the application
// heartbeat (`{ ping: n }` → `{ pong: n }`, per its `pong` mode) and requests() (`{ id, request }`
// → `{ re: id, result: request }`, or `{ re: id, error }` for a request `{ fail: true }`, per its
// `reply` mode); `freeze` goes silent at its trigger (a half-open connection: TCP stays open,
// nothing is read or answered). Two paths outside the runs: `/reject/<status>` answers the upgrade
// with that HTTP status, `/silent` never answers it (ended with the run), for failover URLs.
//
// Everything but `close-and-hold` speaks through ws's own framing (WebSocketServer in noServer
// mode, handleUpgrade). `close-and-hold` must break ws's rule that a server ends TCP once the
// closing handshake is done, so it answers the handshake itself with the frames of
// test/fault/hostile.ts, as test/support/closing-server.ts does.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { acceptFor, closeFrame, encodeFrame, onClientFrames, Opcode, pongFrame, switchingProtocols } from '../fault/hostile';

/**
 * When a scripted connection misbehaves: `afterMs` after the handshake, or after its
 * `afterMessages`-th message if that comes first. Always bounded in time, so a run's script ends.
 */
export interface Trigger {
  afterMs: number;
  afterMessages?: number;
}

/** How a connection acknowledges: each message at once, never, or each after a delay. */
export type AckMode = 'each' | 'none' | { delayMs: number };

/** How an accepted connection answers heartbeat pings and requests (absent: each at once). */
export interface Answers {
  pong?: AckMode;
  reply?: AckMode;
}

export type ConnectionScript =
  /** A well-behaved server (what every connection after the script is, with `ack: 'each'`). */
  | ({ kind: 'serve'; ack: AckMode; acceptDelayMs: number } & Answers)
  /** ws `close(code, reason)` at the trigger: a graceful close, ws then ends TCP. */
  | ({ kind: 'close'; code: number; reason: string; at: Trigger; ack: AckMode; acceptDelayMs: number } & Answers)
  /** A close frame at the trigger, then TCP is kept open until the run ends, whatever the client says. */
  | ({ kind: 'close-and-hold'; code: number; reason: string; at: Trigger; ack: AckMode; acceptDelayMs: number } & Answers)
  /** ws `terminate()` at the trigger: TCP destroyed, no close frame. */
  | ({ kind: 'terminate'; at: Trigger; ack: AckMode; acceptDelayMs: number } & Answers)
  /** At the trigger the server goes silent: nothing more is read, recorded or answered, and TCP stays open until the run ends. */
  | ({ kind: 'freeze'; at: Trigger; ack: AckMode; acceptDelayMs: number } & Answers)
  /** An HTTP answer instead of 101, then the server ends TCP. */
  | { kind: 'reject'; status: 500 | 503; retryAfter?: string }
  /** TCP destroyed as soon as the upgrade request arrived. */
  | { kind: 'drop-handshake' }
  /** The upgrade request is never answered (until the run ends). */
  | { kind: 'silent' };

export const GOOD: ConnectionScript = { kind: 'serve', ack: 'each', acceptDelayMs: 0 };

/** One message as the server received it. */
export interface Receipt {
  id: number;
  /** Index of the connection (within the run) it came on. */
  connection: number;
  at: number;
}

/** One request as the server received it. */
export interface RequestReceipt {
  id: number;
  request: unknown;
  connection: number;
  at: number;
}

export interface ChaosConnection {
  behaviour: ConnectionScript;
  /** performance.now() of the upgrade request. */
  requestedAt: number;
  /** When the handshake was answered with 101 (undefined: it never was). */
  acceptedAt?: number;
  /** When the server sent its close frame, or terminated. */
  misbehavedAt?: number;
}

export interface ChaosRun {
  /** ws://127.0.0.1:PORT/run-N */
  url: string;
  connections: ChaosConnection[];
  /** Every data message received, in arrival order, across connections. */
  received: Receipt[];
  /** Every request received (`{ id, request }`), in arrival order; not in `received`. */
  requests: RequestReceipt[];
  /** The run's pending server-side timers (accept delays, triggers, delayed acks). */
  readonly timers: number;
  /** Server-side ws sockets of this run whose closing handshake timer (ws's _closeTimer) is armed. */
  readonly wsCloseTimers: number;
  /** Clears the run's timers and destroys every TCP connection the server accepted during the run; resolves once they are all gone. */
  end(): Promise<void>;
}

export interface ChaosServer {
  port: number;
  /** Starts a run: its connections follow `script`, then GOOD. The previous run must have ended. */
  begin(script: readonly ConnectionScript[]): ChaosRun;
  /** ws://127.0.0.1:PORT + path (for `/reject/<status>` and `/silent`). */
  urlFor(path: string): string;
  close(): Promise<void>;
}

type Message = { id?: unknown; ping?: unknown; request?: unknown };

/** A Node timer that has neither fired nor been cleared (ws leaves a cleared one in its field). */
export function isArmed(timer: unknown): boolean {
  return timer != null && !(timer as { _destroyed?: boolean })._destroyed;
}

export async function startChaosServer(): Promise<ChaosServer> {
  const http: Server = createServer((_request, response) => response.writeHead(426).end());
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  let runNumber = 0;
  let current: (ChaosRun & { upgrade(request: IncomingMessage, socket: Socket, head: Buffer): void; adopt(socket: Socket): void }) | undefined;
  const allSockets = new Set<Socket>();

  http.on('connection', (socket) => {
    allSockets.add(socket);
    socket.on('close', () => allSockets.delete(socket));
    // Also a connection whose client gave up before its upgrade request came: the run ends it.
    current?.adopt(socket);
  });
  http.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => {});
    const rejected = /^\/reject\/(\d{3})$/.exec(request.url ?? '');
    if (rejected) {
      socket.end(`HTTP/1.1 ${rejected[1]} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    if (request.url === '/silent') return; // never answered; the run's end destroys it (adopted on connection)
    if (!current || request.url !== new URL(current.url).pathname) {
      socket.destroy();
      return;
    }
    current.upgrade(request, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;

  function begin(script: readonly ConnectionScript[]): ChaosRun {
    const path = `/run-${++runNumber}`;
    const connections: ChaosConnection[] = [];
    const received: Receipt[] = [];
    const requests: RequestReceipt[] = [];
    const timers = new Set<NodeJS.Timeout>();
    const sockets = new Set<Socket>();
    const wsSockets = new Set<ServerSocket>();
    let ended = false;

    const later = (ms: number, fn: () => void) => {
      if (ended) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!ended) fn();
      }, ms);
      timers.add(timer);
    };

    const ackText = (id: number) => JSON.stringify({ ack: id });

    /**
     * Records a message; returns its id (undefined for anything that is not `{ id: number }`).
     * A heartbeat ping or a request is answered through `answer` (per the connection's modes)
     * instead, and also returns undefined.
     */
    function record(text: string, connection: number, answer?: (modes: Answers, value: string) => void): number | undefined {
      let message: Message;
      try {
        message = JSON.parse(text) as Message;
      } catch {
        return undefined;
      }
      if (answer && message !== null && typeof message === 'object' && 'ping' in message) {
        answer({ pong: 'each' }, JSON.stringify({ pong: message.ping }));
        return undefined;
      }
      if (answer && message !== null && typeof message === 'object' && 'request' in message && typeof message.id === 'number') {
        requests.push({ id: message.id, request: message.request, connection, at: performance.now() });
        const refused = (message.request as { fail?: unknown } | null)?.fail === true;
        answer({ reply: 'each' }, JSON.stringify(refused ? { re: message.id, error: 'refused' } : { re: message.id, result: message.request }));
        return undefined;
      }
      if (typeof message?.id !== 'number') return undefined;
      received.push({ id: message.id, connection, at: performance.now() });
      return message.id;
    }

    /** Sends `value` now, later or never, per the script's mode for its kind (`which` names it). */
    function answerer(script: Answers, send: (value: string) => void): (which: Answers, value: string) => void {
      return (which, value) => {
        const mode = ('pong' in which ? script.pong : script.reply) ?? 'each';
        if (mode === 'each') send(value);
        else if (mode !== 'none') later(mode.delayMs, () => send(value));
      };
    }

    /** Arms the trigger; the function returned is told the message count after each message. */
    function armTrigger(at: Trigger, fire: () => void): (messages: number) => void {
      let fired = false;
      const once = () => {
        if (fired) return;
        fired = true;
        fire();
      };
      if (at.afterMessages === 0) once();
      else later(at.afterMs, once);
      return (messages) => {
        if (at.afterMessages !== undefined && messages >= at.afterMessages) once();
      };
    }

    function serveWs(index: number, script: Extract<ConnectionScript, { kind: 'serve' | 'close' | 'terminate' | 'freeze' }>, request: IncomingMessage, socket: Socket, head: Buffer): void {
      wss.handleUpgrade(request, socket, head, (ws) => {
        const connection = connections[index];
        connection.acceptedAt = performance.now();
        wsSockets.add(ws);
        ws.on('close', () => wsSockets.delete(ws));
        ws.on('error', () => {});
        if (ended) return void ws.terminate();
        let frozen = false;
        const write = (value: string) => {
          if (!frozen && ws.readyState === ws.OPEN) ws.send(value);
        };
        const ack = (id: number) => write(ackText(id));
        const answer = answerer(script, write);
        ws.send(JSON.stringify({ hello: index }));
        let messages = 0;
        let onMessage: (messages: number) => void = () => {};
        if (script.kind !== 'serve') {
          onMessage = armTrigger(script.at, () => {
            connection.misbehavedAt = performance.now();
            if (script.kind === 'close') ws.close(script.code, script.reason);
            else if (script.kind === 'freeze') frozen = true;
            else ws.terminate();
          });
        }
        ws.on('message', (data, isBinary) => {
          if (isBinary || frozen) return;
          const id = record(data.toString(), index, answer);
          if (id === undefined) return;
          messages++;
          if (script.ack === 'each') ack(id);
          else if (script.ack !== 'none') later(script.ack.delayMs, () => ack(id));
          onMessage(messages);
        });
      });
    }

    /** Speaks RFC 6455 by hand so that TCP can stay open after the close frame. */
    function closeAndHold(index: number, script: Extract<ConnectionScript, { kind: 'close-and-hold' }>, request: IncomingMessage, socket: Socket, head: Buffer): void {
      const connection = connections[index];
      if (socket.destroyed) return;
      socket.write(switchingProtocols({ accept: acceptFor(String(request.headers['sec-websocket-key'] ?? '')) }));
      connection.acceptedAt = performance.now();
      const text = (value: string) => {
        if (connection.misbehavedAt === undefined && socket.writable) socket.write(encodeFrame({ opcode: Opcode.text, payload: Buffer.from(value) }));
      };
      text(JSON.stringify({ hello: index }));
      let clientClosed = false;
      let messages = 0;
      const onMessage = armTrigger(script.at, () => {
        if (clientClosed || !socket.writable) return;
        socket.write(closeFrame(script.code, script.reason));
        connection.misbehavedAt = performance.now();
        // The hold: nothing more is written and TCP is never ended by the server (run end destroys it).
      });
      const answer = answerer(script, text);
      onClientFrames(socket, head, (frame) => {
        if (clientClosed) return; // §5.5.1: nothing may follow a close frame
        if (frame.opcode === Opcode.text) {
          const id = record(frame.payload.toString('utf8'), index, answer);
          if (id === undefined) return;
          messages++;
          if (script.ack === 'each') text(ackText(id));
          else if (script.ack !== 'none') later(script.ack.delayMs, () => text(ackText(id)));
          onMessage(messages);
        } else if (frame.opcode === Opcode.ping && socket.writable) {
          socket.write(pongFrame(frame.payload));
        } else if (frame.opcode === Opcode.close) {
          clientClosed = true;
          // Before our close frame: a server that did not start the close answers it and ends TCP (§7.1.1).
          if (connection.misbehavedAt === undefined && socket.writable) {
            socket.end(encodeFrame({ opcode: Opcode.close, payload: frame.payload.subarray(0, 2) }));
          }
        }
      });
    }

    function adopt(socket: Socket): void {
      if (sockets.has(socket)) return;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }

    function upgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
      const index = connections.length;
      const behaviour = index < script.length ? script[index] : GOOD;
      connections.push({ behaviour, requestedAt: performance.now() });
      adopt(socket);
      switch (behaviour.kind) {
        case 'reject': {
          const reason = behaviour.status === 503 ? 'Service Unavailable' : 'Internal Server Error';
          const retryAfter = behaviour.retryAfter === undefined ? '' : `Retry-After: ${behaviour.retryAfter}\r\n`;
          socket.end(`HTTP/1.1 ${behaviour.status} ${reason}\r\n${retryAfter}Content-Length: 0\r\nConnection: close\r\n\r\n`);
          return;
        }
        case 'drop-handshake':
          socket.destroy();
          return;
        case 'silent':
          return;
        case 'close-and-hold':
          if (behaviour.acceptDelayMs > 0) later(behaviour.acceptDelayMs, () => closeAndHold(index, behaviour, request, socket, head));
          else closeAndHold(index, behaviour, request, socket, head);
          return;
        default:
          if (behaviour.acceptDelayMs > 0) later(behaviour.acceptDelayMs, () => serveWs(index, behaviour, request, socket, head));
          else serveWs(index, behaviour, request, socket, head);
      }
    }

    const run = {
      url: `ws://127.0.0.1:${port}${path}`,
      connections,
      received,
      requests,
      get timers() {
        return timers.size;
      },
      get wsCloseTimers() {
        let armed = 0;
        // ws's own field: the timer it arms when its close frame went out and TCP has not ended.
        for (const ws of wsSockets) if (isArmed((ws as unknown as { _closeTimer?: unknown })._closeTimer)) armed++;
        return armed;
      },
      upgrade,
      adopt,
      async end() {
        ended = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const ws of wsSockets) ws.terminate();
        for (const socket of sockets) socket.destroy();
        const deadline = performance.now() + 2000;
        while ((sockets.size || wsSockets.size) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
        if (current === run) current = undefined;
      },
    };
    current = run;
    return run;
  }

  return {
    port,
    begin,
    urlFor: (path: string) => `ws://127.0.0.1:${port}${path}`,
    async close() {
      await current?.end();
      for (const socket of allSockets) socket.destroy();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
