/** `ping(socket)`: one round trip, measured on demand. */
import type { SteadySocket } from '../client';
import { SteadySocketError } from '../errors';
import type { FeatureHooks, FeatureHost, TimerHolder } from '../feature';
import { checkNumber } from '../options';
import { pingPayload, samePayload, sendPing, wsOf } from '../platform';
import { closedError } from '../send';
import { matchesPong } from './heartbeat';

/** Options for {@link ping}. */
export interface PingOptions {
  /** ms to wait for the pong before rejecting with `PING_TIMEOUT`. Default: 10000. */
  timeout?: number | undefined;
  /**
   * The protocol ping's payload: a string (sent as UTF-8), ArrayBuffer or typed array of at most
   * 125 bytes (RFC 6455 §5.5). The round trip then ends at the pong that carries the same bytes
   * (§5.5.3 has the server echo them), not at a pong of another ping. Default: none (an empty
   * ping, answered by any pong). Node with ws only, and not with an application ping (its
   * message is the heartbeat's `ping()`): `INVALID_OPTION` there.
   */
  data?: string | ArrayBuffer | ArrayBufferView | undefined;
}

/**
 * Measures one round trip on the open connection and resolves with it in ms. Sends a protocol
 * ping in Node (ws); where the client has an application ping (`heartbeat({ ping, isPong })`),
 * that one, anywhere. Rejects with `PING_TIMEOUT` after `timeout` ms (default 10000),
 * `CONNECTION_CLOSED` when the client is not open or the connection ends first, `CLOSED` when
 * the client closes for good, and `INVALID_OPTION` where there is no way to ping (a browser
 * without an application ping). Throws `INVALID_OPTION` at once for a bad `timeout` or `data`
 * (any `data` in a browser build), and for `data` on a client with an application ping.
 */
export function ping(socket: SteadySocket<any, any>, options: PingOptions = {}): Promise<number> {
  const client = socket as unknown as FeatureHost<unknown, unknown>;
  const timeout = options.timeout ?? 10_000;
  checkNumber('ping timeout', timeout, 1);
  let app: FeatureHooks<unknown, unknown>['appPing'];
  for (const hooks of client._hooks) app ??= hooks.appPing;
  const data = options.data;
  const expected = data === undefined ? undefined : pingPayload(data, app !== undefined);
  // From close() on: the connection will not come back.
  if (client._final || client.state === 'closed') return Promise.reject(closedError(client._final?.cause));
  const conn = client._writable();
  if (!conn) return Promise.reject(new SteadySocketError('CONNECTION_CLOSED', `Not connected (state ${client.state}): nothing to ping.`));
  if (!app && !wsOf(conn)) {
    return Promise.reject(new SteadySocketError('INVALID_OPTION', 'This WebSocket has no protocol ping: give the client heartbeat({ interval, timeout, ping, isPong }).'));
  }
  const pings = pingsOf(client, app?.isPong);
  return new Promise<number>((resolve, reject) => {
    const started = Date.now();
    const waiter: Waiter = {
      conn,
      expected,
      done(error) {
        client._disarm(waiter);
        pings.delete(waiter);
        // The last one out takes the hooks with it: nothing of the pings stays on the client.
        if (!pings.size && clientsPings.get(client) === pings) {
          clientsPings.delete(client);
          client._hooks = client._hooks.filter((hooks) => hooks !== pings.hooks);
        }
        if (error) reject(error);
        else resolve(Date.now() - started);
      },
    };
    pings.add(waiter);
    client._arm(waiter, () => waiter.done(new SteadySocketError('PING_TIMEOUT', `No pong within ${timeout} ms.`)), timeout);
    try {
      if (app) client._write(conn, app.ping());
      else sendPing(conn, expected); // the copy: the bytes its pong must echo
    } catch (error) {
      waiter.done(error instanceof SteadySocketError ? error : new SteadySocketError('CONNECTION_CLOSED', 'The ping could not be sent.', error));
    }
  });
}

/** A ping under way: its connection, the payload its pong must echo, and how it ends. */
interface Waiter extends TimerHolder {
  conn: unknown;
  expected: Uint8Array | undefined;
  done(error?: SteadySocketError): void;
}

/** A client's pings under way, and the hooks that answer them. */
interface Pings extends Set<Waiter> {
  hooks?: FeatureHooks<unknown, unknown>;
}

/**
 * Each client's pings under way, answered by one set of hooks, first in the client's list while
 * any ping waits. Hooks of their own per ping (the list copied to add them, filtered to remove
 * them) made n concurrent pings O(n²): 5,000 copied 50 million hook references, and every message
 * ran past every ping waiting.
 */
const clientsPings = new WeakMap<object, Pings>();

function pingsOf(client: FeatureHost<unknown, unknown>, isPong: ((message: unknown) => boolean) | undefined): Pings {
  let all = clientsPings.get(client);
  if (!all) {
    const pings: Pings = (all = new Set<Waiter>());
    clientsPings.set(client, pings);
    // Deleting from a Set while iterating it is safe: a ping settled meanwhile is not visited.
    const end = (from: unknown, error?: SteadySocketError, got?: Uint8Array) => {
      for (const waiter of pings) if (!from || (waiter.conn === from && (!got || !waiter.expected || samePayload(waiter.expected, got)))) waiter.done(error);
    };
    // First in line, so it sees a pong before the heartbeat consumes it; the list is replaced, not
    // mutated, so a dispatch under way is not disturbed.
    client._hooks = [
      (pings.hooks = {
        pong: (from, got) => isPong || end(from, undefined, got),
        message: (value, from) => void (isPong && matchesPong(isPong, value) && end(from)),
        closed: (from) => end(from, client._final ? closedError(client._final.cause) : new SteadySocketError('CONNECTION_CLOSED', 'The connection closed before the pong came.')),
        finish: () => end(undefined, closedError(client._final?.cause)),
      }),
      ...client._hooks,
    ];
  }
  return all;
}

