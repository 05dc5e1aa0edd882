/** `ping(socket)`: one round trip, measured on demand. */
import type { SteadySocket } from '../client';
import { SteadySocketError } from '../errors';
import type { FeatureHooks, FeatureHost } from '../feature';
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
  const isPong = app?.isPong;
  return new Promise<number>((resolve, reject) => {
    const started = Date.now();
    const done = (error: SteadySocketError | undefined) => {
      undo();
      if (error) reject(error);
      else resolve(Date.now() - started);
    };
    const hooks: FeatureHooks<unknown, unknown> = {
      pong: (from, got) => !isPong && from === conn && (!expected || samePayload(expected, got)) && done(undefined),
      message(value, from) {
        if (isPong && from === conn && matchesPong(isPong, value)) done(undefined);
        return false; // the heartbeat sees the pong too
      },
      closed: (from) => from === conn && done(client._final ? closedError(client._final.cause) : new SteadySocketError('CONNECTION_CLOSED', 'The connection closed before the pong came.')),
      finish: () => done(closedError(client._final?.cause)),
    };
    // First in line, so it sees a pong before the heartbeat consumes it; the list is replaced, not
    // mutated, so a dispatch under way is not disturbed.
    client._hooks = [hooks, ...client._hooks];
    const undo = () => {
      client._disarm(hooks);
      client._hooks = client._hooks.filter((h) => h !== hooks);
    };
    client._arm(hooks, () => done(new SteadySocketError('PING_TIMEOUT', `No pong within ${timeout} ms.`)), timeout);
    try {
      if (app) client._write(conn, app.ping());
      else sendPing(conn, expected); // the copy: the bytes its pong must echo
    } catch (error) {
      done(error instanceof SteadySocketError ? error : new SteadySocketError('CONNECTION_CLOSED', 'The ping could not be sent.', error));
    }
  });
}

