/**
 * The ready step: application work on every new connection before it counts as open (hello,
 * auth, resubscribe). The promise plumbing is in ../ready.ts.
 */
import { protocolOf } from '../connection';
import { SteadySocketError } from '../errors';
import { feature, type Feature } from '../feature';
import { invalidOption } from '../options';
import { ReadyStep } from '../ready';
import { OPEN, released } from '../transport';

/** What the ready step can do with the connection before it is handed to the application. */
export interface ReadyContext<In, Out> {
  /**
   * Sends at once on this connection, ahead of the outbox (encoded with this connection's codec).
   * Throws `CONNECTION_CLOSED` once the connection is closing or closed (the server's close frame
   * arrived, `close()` or `reconnect()` was called).
   */
  send(data: Out): void;
  /**
   * Resolves with the next message received on this connection after the call (one that came
   * before is not kept for it; it is a `message` event too); rejects with `CONNECTION_CLOSED` if
   * the connection closes first. One still waiting when the step has finished never settles
   * (later messages go to the application only; a rejection nobody awaits would be unhandled).
   */
  next(): Promise<In>;
  /** The negotiated subprotocol ('' when none). */
  readonly protocol: string;
  /** The URL of this connection, redacted (user name, password and query values read `***`). */
  readonly url: string;
  /** Aborted when this connection is abandoned (closed, timed out, superseded). */
  readonly signal: AbortSignal;
}

/**
 * Runs `step` on every open, before anything queued is sent and before `open` is emitted. If it
 * throws or rejects, the connection is closed with `READY_FAILED` and retried under the normal
 * policy; `connectTimeout` covers it too.
 */
export function ready<In = any, Out = any>(step: (context: ReadyContext<In, Out>) => void | Promise<void>): Feature<In, Out> {
  if (typeof step !== 'function') invalidOption('ready() takes a function.');
  return feature<In, Out>((client) => {
    let current: ReadyStep<In> | undefined;
    // close() and reconnect() abandon the connection when they are called, not when its closing
    // handshake ends (up to closeTimeout later): a fetch given the signal stops now.
    client.on('state', (state) => state === 'closing' && current?.fail(connectionClosed));
    return {
      opening(conn) {
        const running = (current = new ReadyStep<In>());
        const context: ReadyContext<In, Out> = {
          send(data) {
            // Never into a socket that left OPEN (a close frame arrived): the write would be lost.
            if (released(conn) || conn.readyState !== OPEN) throw connectionClosed();
            client._write(conn, data);
          },
          next: () => running.next(connectionClosed),
          protocol: protocolOf(conn),
          url: client.url!,
          signal: running.abort.signal,
        };
        return new Promise<void>((resolve) => resolve(step(context))).catch((cause: unknown) => {
          throw new SteadySocketError('READY_FAILED', `The ready step failed: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
        });
      },
      message(value) {
        current?.offer(value);
      },
      open() {
        current?.finish();
      },
      closed() {
        current?.fail(connectionClosed);
      },
    };
  });
}

function connectionClosed(): SteadySocketError {
  return new SteadySocketError('CONNECTION_CLOSED', 'This connection closed before the ready step finished.');
}
