import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';

export interface EchoServer {
  url: string;
  port: number;
  /** Every message received, per connection, in arrival order. */
  connections: { protocol: string; messages: string[]; socket: ServerSocket }[];
  /** Stops abruptly: every client sees an abnormal close (1006). */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface EchoServerOptions {
  /** Chooses a subprotocol from those offered (false: none). */
  handleProtocols?: (offered: Set<string>) => string | false;
  /** Echo what arrives (default true). */
  echo?: boolean;
  port?: number;
}

/** A real ws server on 127.0.0.1 that records what it receives and can be killed and restarted. */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  let http: Server | undefined;
  let wss: WebSocketServer | undefined;
  const connections: EchoServer['connections'] = [];
  const server: EchoServer = {
    url: '',
    port: options.port ?? 0,
    connections,
    async start() {
      http = createServer();
      wss = new WebSocketServer({ server: http, handleProtocols: options.handleProtocols });
      wss.on('connection', (socket) => {
        const record = { protocol: socket.protocol, messages: [] as string[], socket };
        connections.push(record);
        socket.on('message', (data, isBinary) => {
          record.messages.push(isBinary ? `<binary ${(data as Buffer).length}>` : data.toString());
          if (options.echo !== false) socket.send(data, { binary: isBinary });
        });
        socket.on('error', () => {});
      });
      await new Promise<void>((resolve, reject) => {
        http!.once('error', reject);
        http!.listen(server.port, '127.0.0.1', () => resolve());
      });
      server.port = (http.address() as AddressInfo).port;
      server.url = `ws://127.0.0.1:${server.port}/`;
    },
    async kill() {
      for (const client of wss?.clients ?? []) client.terminate();
      await new Promise<void>((resolve) => wss?.close(() => resolve()) ?? resolve());
      await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
      http?.closeAllConnections();
      http = undefined;
      wss = undefined;
    },
    close() {
      return server.kill();
    },
  };
  await server.start();
  return server;
}

/** Resolves when `predicate` holds, polling; rejects after `timeout` ms. */
export async function until(predicate: () => boolean, timeout = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
