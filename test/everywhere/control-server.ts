// The control server the behaviour scenarios drive: an HTTP API on 127.0.0.1 that creates a fresh
// ws endpoint (its own port) per scenario with a behaviour, stops and restarts it on the same
// port, and reports what it received. Runs in the mocha process; the scenarios run wherever the
// runtime under test is (a browser page, Bun, Deno, Node 22) and talk to it with fetch
// (client: control.js).
//
//   POST /endpoints               body: Behaviour → { id, url, port }
//   GET  /endpoints/:id           → Record (connections, what each received, how each closed)
//   POST /endpoints/:id/stop      kill it: every client sees an abnormal close; the port is kept
//   POST /endpoints/:id/start     listen again on the same port
//   POST /endpoints/:id/delete    stop it and forget it
//   POST /offline                 body: { ms, endpoint? } → 202, then: offline hook(true), stop
//                                 the endpoint, wait ms, start it, offline hook(false).
//                                 501 when no offline hook is set (runtimes without a browser).
//
// Bodies are JSON sent as text/plain, so a page's fetch is a simple CORS request (no preflight).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { startRelay, type Relay } from '../support/relay';

/** What an endpoint does. Everything is off unless set, except `echo`. */
export interface Behaviour {
  /** Echo every message back (default true; off when `silent`). */
  echo?: boolean;
  /** Never send anything after the handshake (no echo, no pong). */
  silent?: boolean;
  /** Select the offered subprotocol at this index (0-based), or none when absent. */
  pick?: number;
  /** Answer an application-level ping message with `reply` (not echoed). */
  pong?: { ping: string; reply: string };
  /** Close each connection with this code once it has received this many messages. */
  closeAfter?: { messages: number; code: number; reason?: string };
  /** Stop reading from each new connection for this many ms (the client's socket buffer fills up). */
  pauseMs?: number;
  /**
   * Start the closing handshake on the first connection this many ms after it opened, as a server
   * does on every deploy (1001). Later connections are left alone: the client's reconnect lands.
   */
  closeFirstAt?: { ms: number; code: number; reason?: string };
  /**
   * Put a relay (test/support/relay.ts) in front of the server that adds this many ms to every
   * chunk, each way, in order. The endpoint's url and port are the relay's.
   */
  latencyMs?: number;
  /**
   * Through the same relay: the server's end of TCP reaches the client this many ms late. With
   * closeFirstAt, a server that sends its close frame and keeps TCP open that long.
   */
  holdEndMs?: number;
  /**
   * Through the same relay: an offline drill with `path: 'dead'` leaves the server up and lets
   * nothing through, either way, for its length (a path that died without a word), then resets
   * the connections that lost bytes.
   */
  relay?: boolean;
}

export interface ConnectionRecord {
  /** The Sec-WebSocket-Protocol header as offered. */
  offered: string[];
  /** What the server selected ('' when none). */
  protocol: string;
  /** Messages in arrival order: text as is up to 256 chars, longer ones as `head…[length]`. */
  messages: string[];
  /** How it ended, once it has: the close code and reason the server saw. */
  closed: { code: number; reason: string } | null;
}

export interface EndpointRecord {
  id: string;
  url: string;
  port: number;
  listening: boolean;
  connections: ConnectionRecord[];
}

export interface ControlServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Called with true/false by POST /offline; unset (501) outside browsers. */
  setOfflineHook(hook: ((offline: boolean) => Promise<void>) | undefined): void;
  /** Stops and forgets every endpoint (between runtimes). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

const summarise = (text: string) => (text.length <= 256 ? text : `${text.slice(0, 32)}…[${text.length}]`);

class Endpoint {
  readonly connections: ConnectionRecord[] = [];
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  port = 0;
  /** The relay in front (latencyMs, holdEndMs, relay) and its port, kept across stop/start. */
  private relay: Relay | undefined;
  private relayPort = 0;

  constructor(
    readonly id: string,
    private readonly behaviour: Behaviour,
  ) {}

  get url(): string {
    return `ws://127.0.0.1:${this.publicPort}/`;
  }

  /** The port clients connect to: the relay's when there is one. */
  get publicPort(): number {
    return this.behaviour.latencyMs || this.behaviour.holdEndMs || this.behaviour.relay ? this.relayPort : this.port;
  }

  async start(): Promise<void> {
    if (this.http) return;
    const behaviour = this.behaviour;
    const http = createServer((_req, res) => end(res, 426, 'WebSocket only'));
    const wss = new WebSocketServer({
      server: http,
      handleProtocols: (offered) => (behaviour.pick === undefined ? false : ([...offered][behaviour.pick] ?? false)),
    });
    wss.on('connection', (socket: ServerSocket, request: IncomingMessage) => this.accept(socket, request));
    this.http = http;
    this.wss = wss;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (http.address() as AddressInfo).port;
    const { latencyMs, holdEndMs } = behaviour;
    if (latencyMs || holdEndMs || behaviour.relay) {
      this.relay = await startRelay({ target: this.port, latencyMs, holdEndMs, port: this.relayPort });
      this.relayPort = this.relay.port;
    }
  }

  private accept(socket: ServerSocket, request: IncomingMessage): void {
    const behaviour = this.behaviour;
    const offered = String(request.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((token) => token.trim())
      .filter(Boolean);
    const record: ConnectionRecord = { offered, protocol: socket.protocol, messages: [], closed: null };
    this.connections.push(record);
    socket.on('error', () => {});
    socket.on('close', (code, reason) => (record.closed = { code, reason: reason.toString() }));
    const closeFirstAt = behaviour.closeFirstAt;
    if (closeFirstAt && this.connections.length === 1) {
      const timer = setTimeout(() => socket.close(closeFirstAt.code, closeFirstAt.reason ?? ''), closeFirstAt.ms);
      timer.unref();
      socket.on('close', () => clearTimeout(timer));
    }
    if (behaviour.pauseMs) {
      socket.pause();
      setTimeout(() => socket.resume(), behaviour.pauseMs).unref();
    }
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? `<binary ${(data as Buffer).length}>` : data.toString();
      record.messages.push(summarise(text));
      const { closeAfter, pong, silent } = behaviour;
      if (closeAfter && record.messages.length === closeAfter.messages) {
        socket.close(closeAfter.code, closeAfter.reason ?? '');
        return;
      }
      if (silent) return;
      if (pong && text === pong.ping) socket.send(pong.reply);
      else if (behaviour.echo !== false) socket.send(data, { binary: isBinary });
    });
  }

  get hasRelay(): boolean {
    return this.relay !== undefined;
  }

  /** See Relay.blackhole: the server stays up, the path to it is dead (or alive again). */
  blackhole(on: boolean): void {
    this.relay?.blackhole(on);
  }

  async stop(): Promise<void> {
    const { http, wss, relay } = this;
    if (!http || !wss) return;
    this.http = this.wss = this.relay = undefined;
    await relay?.close();
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  }

  toJSON(): EndpointRecord {
    return { id: this.id, url: this.url, port: this.publicPort, listening: this.http !== undefined, connections: this.connections };
  }
}

export async function startControlServer(): Promise<ControlServer> {
  const endpoints = new Map<string, Endpoint>();
  let offlineHook: ((offline: boolean) => Promise<void>) | undefined;
  let nextId = 1;
  const drills = new Set<Promise<void>>();

  async function route(req: IncomingMessage, body: unknown): Promise<[number, unknown]> {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    const parts = pathname.split('/').filter(Boolean);
    if (req.method === 'POST' && pathname === '/endpoints') {
      const endpoint = new Endpoint(String(nextId++), (body ?? {}) as Behaviour);
      await endpoint.start();
      endpoints.set(endpoint.id, endpoint);
      return [200, { id: endpoint.id, url: endpoint.url, port: endpoint.publicPort }];
    }
    if (parts[0] === 'endpoints' && parts[1]) {
      const endpoint = endpoints.get(parts[1]);
      if (!endpoint) return [404, { error: `no endpoint ${parts[1]}` }];
      if (req.method === 'GET' && parts.length === 2) return [200, endpoint.toJSON()];
      if (req.method === 'POST' && parts[2] === 'stop') return [200, (await endpoint.stop(), endpoint.toJSON())];
      if (req.method === 'POST' && parts[2] === 'start') return [200, (await endpoint.start(), endpoint.toJSON())];
      if (req.method === 'POST' && parts[2] === 'delete') {
        endpoints.delete(endpoint.id);
        await endpoint.stop();
        return [200, {}];
      }
    }
    if (req.method === 'POST' && pathname === '/offline') {
      const hook = offlineHook;
      if (!hook) return [501, { error: 'this runtime has no offline switch' }];
      const { ms = 1000, endpoint: id, path = 'down' } = (body ?? {}) as { ms?: number; endpoint?: string; path?: 'down' | 'dead' };
      const endpoint = id === undefined ? undefined : endpoints.get(id);
      if (path === 'dead' && !endpoint?.hasRelay) return [400, { error: "path 'dead' needs an endpoint made with relay: true" }];
      // Answered first: once the page is offline it cannot read a response.
      const drill = (async () => {
        await sleep(50);
        // A dead path dies first: what the page sends as it hears it is offline is lost on the way.
        if (path === 'dead') endpoint!.blackhole(true);
        await hook(true);
        if (path !== 'dead') await endpoint?.stop();
        await sleep(ms);
        if (path === 'dead') endpoint!.blackhole(false);
        else await endpoint?.start();
        await hook(false);
      })().catch(() => {});
      drills.add(drill);
      void drill.finally(() => drills.delete(drill));
      return [202, {}];
    }
    return [404, { error: `no route ${req.method} ${pathname}` }];
  }

  const server = createServer((req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-methods', 'GET, POST');
    res.setHeader('access-control-allow-headers', 'content-type');
    if (req.method === 'OPTIONS') return end(res, 204);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body: unknown;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      } catch {
        return json(res, 400, { error: 'body is not JSON' });
      }
      route(req, body).then(
        ([status, value]) => json(res, status, value),
        (error: Error) => json(res, 500, { error: error.message }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  async function reset(): Promise<void> {
    await Promise.all(drills);
    const all = [...endpoints.values()];
    endpoints.clear();
    await Promise.all(all.map((endpoint) => endpoint.stop()));
  }

  return {
    url: `http://127.0.0.1:${port}`,
    setOfflineHook(hook) {
      offlineHook = hook;
    },
    reset,
    async close() {
      await reset();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

function end(res: ServerResponse, status: number, message = ''): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(message);
}
