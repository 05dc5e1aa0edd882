// A loopback TCP relay in front of a real server, for links that are slower or stranger than
// loopback: every chunk is forwarded `latencyMs` later in both directions, in order, and the
// server's end of the connection (FIN or reset) can be held back from the client for `holdEndMs`
// more — what a client sees from a server that sends its close frame and keeps TCP open.
//
// It knows nothing of WebSocket: it moves bytes. Every timer and socket it creates is owned by
// the relay and released by `close()`.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface RelayOptions {
  /** Port of the server behind the relay, on 127.0.0.1. */
  target: number;
  /** Added to every chunk in each direction (ms). Default: 0. */
  latencyMs?: number;
  /** The server's end of a connection (FIN or reset) reaches the client this much later still (ms). Default: 0. */
  holdEndMs?: number;
  /** Port to listen on (default 0: any free port). */
  port?: number;
}

export interface Relay {
  /** `ws://127.0.0.1:PORT/` */
  url: string;
  port: number;
  /** TCP connections accepted so far. */
  accepted: number;
  /** Destroys every connection, cancels every pending chunk and stops listening. */
  close(): Promise<void>;
}

type Step = { due: number; chunk: Buffer } | { due: number; end: 'fin' | 'reset' };

/**
 * Forwards what `from` receives to `to` after `latency` ms, in order; `from` ending (FIN) or
 * failing (reset, close without FIN) becomes the same on `to`, after `latency + hold` ms and after
 * every chunk before it.
 */
function delayedPipe(from: Socket, to: Socket, latency: number, hold: number, timers: Set<NodeJS.Timeout>, closed: () => boolean): void {
  const queue: Step[] = [];
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const pump = () => {
    if (timer) timers.delete(timer);
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0].due <= now) {
      const step = queue.shift()!;
      if (to.destroyed) continue;
      if ('chunk' in step) to.write(step.chunk);
      else if (step.end === 'fin') to.end();
      else to.destroy();
    }
    if (queue.length) arm(queue[0].due - now);
  };
  const arm = (ms: number) => {
    timer = setTimeout(pump, Math.max(0, ms));
    timers.add(timer);
  };
  const push = (step: Step) => {
    if (closed()) return; // the relay is gone: nothing more to schedule
    queue.push(step);
    if (!timer) arm(step.due - performance.now());
  };
  from.on('data', (chunk: Buffer) => push({ due: performance.now() + latency, chunk }));
  from.on('end', () => {
    ended = true;
    push({ due: performance.now() + latency + hold, end: 'fin' });
  });
  from.on('close', () => {
    if (!ended) push({ due: performance.now() + latency + hold, end: 'reset' });
  });
}

/** Starts a relay on 127.0.0.1 that forwards each connection to `target` on 127.0.0.1. */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const latency = options.latencyMs ?? 0;
  const hold = options.holdEndMs ?? 0;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  const isClosed = () => closed;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // Resets are part of what is relayed, not a failure of the relay.
    socket.on('error', () => {});
  };

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    relay.accepted++;
    track(client);
    client.setNoDelay(true);
    const upstream = connect({ host: '127.0.0.1', port: options.target, allowHalfOpen: true });
    track(upstream);
    upstream.setNoDelay(true);
    delayedPipe(client, upstream, latency, 0, timers, isClosed);
    delayedPipe(upstream, client, latency, hold, timers, isClosed);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const relay: Relay = {
    url: `ws://127.0.0.1:${port}/`,
    port,
    accepted: 0,
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return relay;
}
