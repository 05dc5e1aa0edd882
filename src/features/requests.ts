/**
 * Request/reply over a WebSocket: `request(data)` sends a message with a fresh id and resolves
 * with the reply that carries the same id. Every request settles: replied, failed, timed out,
 * aborted, or rejected when the connection or the client ends under it.
 */
import { SteadySocketError } from '../errors';
import { feature, type Feature, type FeatureHooks, type FeatureHost, type TimerHolder } from '../feature';
import { checkNumber, invalidOption } from '../options';
import type { OutboxEntry } from '../outbox';
import type { MessageId } from './acks';

/** What a reply says, as read by `match`. */
export interface Reply {
  /** The id of the request it answers. */
  id: MessageId;
  /** The result, when the request succeeded. */
  result?: unknown;
  /** Set when the request failed: `request()` rejects with `REQUEST_FAILED` and this as its cause. */
  error?: unknown;
}

/** Options of {@link requests}. The defaults speak the JSON envelope `{ id, request }` → `{ re, result | error }`. */
export interface RequestsOptions<In, Out> {
  /** Builds the outgoing message for `data` and a fresh `id`. Default: `{ id, request: data }`. */
  wrap?: (id: number, data: unknown) => NoInfer<Out>;
  /** Reads a reply, or undefined for any other message. Replies are not delivered as `message` events. Default: `{ re, result, error }`. */
  match?: (message: NoInfer<In>) => Reply | undefined;
  /** Ms a request may wait for its reply. Default: 30000. `Infinity`: no limit. */
  timeout?: number;
  /**
   * Whether a request that was written may be sent again on the next connection when its
   * connection ends before the reply (only if the server can take it twice). Default: false:
   * such a request rejects with `CONNECTION_CLOSED`. A request still waiting in the outbox is
   * always kept.
   */
  resend?: boolean;
}

/** Per-request options. */
export interface RequestOptions {
  /** Overrides the feature's `timeout` for this request. */
  timeout?: number;
  /** Aborting rejects the request with `REQUEST_ABORTED` (and withdraws it if it is still queued). */
  signal?: AbortSignal;
  /** Overrides the feature's `resend` for this request. */
  resend?: boolean;
}

/** A {@link requests} feature: give it to one client's `use`, then call `request()`. */
export interface RequestsFeature<In = any, Out = any> extends Feature<In, Out> {
  /** Sends `data` as a request and resolves with the reply's result. */
  request<Result = unknown>(data: unknown, options?: RequestOptions): Promise<Result>;
  /** Requests sent or queued and not settled yet. */
  readonly pending: number;
}

interface Pending extends TimerHolder {
  id: number;
  message: unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  resend: boolean;
  /** The message was written on the current connection. */
  written: boolean;
  entry: OutboxEntry<unknown> | undefined;
  cleanup(): void;
}

const defaultWrap = (id: number, data: unknown) => ({ id, request: data });

function defaultMatch(message: unknown): Reply | undefined {
  if (message === null || typeof message !== 'object' || !('re' in message)) return undefined;
  const reply = message as { re: MessageId; result?: unknown; error?: unknown };
  return 'error' in reply && reply.error !== undefined ? { id: reply.re, error: reply.error } : { id: reply.re, result: reply.result };
}

/**
 * Request/reply (see {@link RequestsOptions}): `const rpc = requests(); new SteadySocket(url, {
 * codec: json(), use: [rpc] }); await rpc.request({ op: 'sum', args: [1, 2] })`. One per client.
 */
export function requests<In = any, Out = any>(options: RequestsOptions<In, Out> = {}): RequestsFeature<In, Out> {
  if (options === null || typeof options !== 'object') invalidOption('requests() takes an options object.');
  const wrap = options.wrap ?? (defaultWrap as unknown as (id: number, data: unknown) => Out);
  const match = options.match ?? (defaultMatch as (message: In) => Reply | undefined);
  if (typeof wrap !== 'function' || typeof match !== 'function') invalidOption('requests() wrap and match must be functions.');
  const defaultTimeout = options.timeout ?? 30_000;
  checkNumber('requests timeout', defaultTimeout, 1);
  let client: FeatureHost<In, Out> | undefined;
  let nextId = 0;
  const pending = new Map<MessageId, Pending>();
  /** Pending requests by their outgoing message (unique per request: it carries the id). */
  const byMessage = new Map<unknown, Pending>();

  const settle = (item: Pending, error: unknown, value?: unknown) => {
    if (!pending.delete(item.id)) return;
    byMessage.delete(item.message);
    item.cleanup();
    if (error) item.reject(error);
    else item.resolve(value);
  };

  const made = feature<In, Out>((host) => {
    if (client) invalidOption('One requests() per client: call requests() again for another client.');
    client = host;
    const hooks: FeatureHooks<In, Out> = {
      written(entry) {
        const item = byMessage.get(entry.value);
        if (item) item.written = true;
        return false;
      },
      message(value) {
        let reply: Reply | undefined;
        try {
          reply = match(value);
        } catch {
          return false;
        }
        if (!reply) return false;
        const item = pending.get(reply.id as number);
        if (item) {
          if (reply.error !== undefined) {
            const text = typeof reply.error === 'string' ? reply.error : (reply.error as Error)?.message ?? 'error';
            settle(item, new SteadySocketError('REQUEST_FAILED', `Request ${item.id} failed: ${text}`, reply.error));
          } else settle(item, undefined, reply.result);
        }
        return true;
      },
      closed() {
        for (const item of [...pending.values()]) {
          if (!item.written) continue; // still queued: it goes out on the next connection
          if (item.resend && !client!._final) {
            item.written = false;
            send(item);
          } else if (client!._final) settle(item, closedBeforeReply(item));
          else settle(item, new SteadySocketError('CONNECTION_CLOSED', `The connection closed before request ${item.id} was answered.`));
        }
      },
      finish() {
        for (const item of [...pending.values()]) settle(item, closedBeforeReply(item));
      },
    };
    return hooks;
  }) as RequestsFeature<In, Out>;

  const send = (item: Pending) => {
    // Queued behind anything waiting, or written at once; the settle of the entry is not ours.
    item.entry = client!._enqueue(item.message as Out, { resolve() {}, reject: (error) => settle(item, error) }) as OutboxEntry<unknown> | undefined;
  };

  made.request = <Result>(data: unknown, requestOptions: RequestOptions = {}): Promise<Result> => {
    if (!client) return Promise.reject(new SteadySocketError('INVALID_OPTION', 'request() needs the feature in a client: new SteadySocket(url, { use: [rpc] }).'));
    if (client.state === 'closed') return Promise.reject(new SteadySocketError('CLOSED', 'The socket is closed for good.'));
    const timeout = requestOptions.timeout ?? defaultTimeout;
    checkNumber('request timeout', timeout, 1);
    const signal = requestOptions.signal;
    if (signal?.aborted) return Promise.reject(new SteadySocketError('REQUEST_ABORTED', 'The request was aborted before it was sent.', signal.reason));
    const id = ++nextId;
    const message = wrap(id, data);
    return new Promise<Result>((resolve, reject) => {
      const onAbort = () => {
        if (item.entry && client!._outbox?.remove(item.entry as OutboxEntry<Out>)) item.entry.done?.();
        settle(item, new SteadySocketError('REQUEST_ABORTED', `Request ${id} was aborted.`, signal?.reason));
      };
      const item: Pending = {
        id,
        message,
        resolve: resolve as (value: unknown) => void,
        reject,
        resend: requestOptions.resend ?? options.resend ?? false,
        written: false,
        entry: undefined,
        cleanup() {
          client!._disarm(item);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      pending.set(id, item);
      byMessage.set(message, item);
      signal?.addEventListener('abort', onAbort, { once: true });
      // One timer per request (Infinity: none), armed by the client, cleared when it settles.
      client!._arm(item, () => settle(item, new SteadySocketError('REQUEST_TIMEOUT', `No reply to request ${id} within ${timeout} ms.`)), timeout);
      try {
        send(item);
      } catch (error) {
        settle(item, error);
      }
    });
  };
  Object.defineProperty(made, 'pending', { get: () => pending.size });
  return made;
}

function closedBeforeReply(item: Pending): SteadySocketError {
  return new SteadySocketError('CLOSED', `The socket closed for good before request ${item.id} was answered.`);
}
