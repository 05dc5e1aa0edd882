// A loopback TCP relay in front of a real server, for links that are slower or stranger than
// loopback: every chunk is forwarded `latencyMs` later in both directions, in order, and the
// server's end of the connection (FIN or reset) can be held back from the client for `holdEndMs`
// more — what a client sees from a server that sends its close frame and keeps TCP open.
//
// It can also play a network path that died without a word (`blackhole(true)`): nothing gets
// through either way, no FIN and no reset, until it is lifted and the connections that were open
// in it are reset.
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
  /**
   * `true`: from now on every byte, FIN and reset of every connection (and of those accepted
   * meanwhile) is discarded, both ways. `false`: every connection that was open in the blackhole
   * is reset on both sides, as a connection over a path that died is (what was written to it
   * then is lost, also what a browser held back while offline and writes once online), and new
   * connections flow again.
   */
  blackhole(on: boolean): void;
  /** Destroys every connection, cancels every pending chunk and stops listening. */
  close(): Promise<void>;
}

type Step = { due: number; chunk: Buffer } | { due: number; end: 'fin' | 'reset' };

/**
 * Forwards what `from` receives to `to` after `latency` ms, in order; `from` ending (FIN) or
 * failing (reset, close without FIN) becomes the same on `to`, after `latency + hold` ms and after
 * every chunk before it.
 */
function delayedPipe(from: Socket, to: Socket, latency: number, hold: number, timers: Set<NodeJS.Timeout>, closed: () => boolean, swallowed: () => boolean): void {
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
    if (swallowed()) return; // a blackhole: lost on the way
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
  let hole = false;
  /** The connections open in a blackhole: reset once it is lifted. */
  const spoiled = new Set<Socket>();
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
    /** Whether what is relayed now is lost (a blackhole): the pair, accepted in it, is then spoiled too. */
    const swallowed = () => {
      if (hole) spoiled.add(client).add(upstream);
      return hole;
    };
    delayedPipe(client, upstream, latency, 0, timers, isClosed, swallowed);
    delayedPipe(upstream, client, latency, hold, timers, isClosed, swallowed);
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
    blackhole(on) {
      hole = on;
      if (on) for (const socket of sockets) spoiled.add(socket);
      else {
        for (const socket of spoiled) socket.resetAndDestroy();
        spoiled.clear();
      }
    },
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
