/**
 * Request/reply over a WebSocket: `request(data)` sends a message with a fresh id and resolves
 * with the reply that carries the same id. Every request settles: replied, failed, timed out,
 * aborted, or rejected when the connection or the client ends under it.
 */
import { SteadySocketError } from '../errors';
import { feature, type Feature, type FeatureHooks, type FeatureHost } from '../feature';
import { checkNumber, invalidOption } from '../options';
import type { OutboxEntry } from '../outbox';
import { closedError } from '../send';
import type { MessageId } from './acks';
import { InFlight } from './in-flight';

/** What a reply says, as read by `match`. */
export interface Reply {
  /** The id of the request it answers. */
  id: MessageId;
  /** The result, when the request succeeded. */
  result?: unknown | undefined;
  /** Set (not null) when the request failed: `request()` rejects with `REQUEST_FAILED` and this as its cause. */
  error?: unknown | undefined;
}

/** Options of {@link requests}. The defaults speak the JSON envelope `{ id, request }` → `{ re, result | error }`. */
export interface RequestsOptions<In, Out> {
  /**
   * Builds the outgoing message for `data` and a fresh `id`. Default: `{ id, request: data }`.
   * Checked against the client's outbound type; `const`, so a literal `type: 'call'` stays literal.
   */
  wrap?: ((id: number, data: unknown) => Out) | undefined;
  /** Reads a reply, or undefined for any other message. Replies are not delivered as `message` events. Default: `{ re, result, error }`. */
  match?: ((message: NoInfer<In>) => Reply | undefined) | undefined;
  /** Ms a request may wait for its reply. Default: 30000. `Infinity`: no limit. */
  timeout?: number | undefined;
  /**
   * Whether a request that was written may be sent again on the next connection when its
   * connection ends before the reply (only if the server can take it twice). Default: false:
   * such a request rejects with `CONNECTION_CLOSED`. A request still waiting in the outbox is
   * always kept.
   */
  resend?: boolean | undefined;
}

/**
 * What `requests()` sends without a `wrap`: the client's outgoing messages must include it (a
 * client without a codec sends only text and bytes, and would refuse it with `INVALID_MESSAGE`).
 */
export interface DefaultRequest {
  id: number;
  request: unknown;
}

/** Per-request options. */
export interface RequestOptions {
  /** Overrides the feature's `timeout` for this request. */
  timeout?: number | undefined;
  /** Aborting rejects the request with `REQUEST_ABORTED` (and withdraws it if it is still queued). */
  signal?: AbortSignal | undefined;
  /** Overrides the feature's `resend` for this request. */
  resend?: boolean | undefined;
}

/** A {@link requests} feature: give it to one client's `use`, then call `request()`. */
export interface RequestsFeature<In = any, Out = any> extends Feature<In, Out> {
  /**
   * Sends `data` as a request and resolves with the reply's result. Rejects with
   * `REQUEST_FAILED`, `REQUEST_TIMEOUT`, `REQUEST_ABORTED`, `CONNECTION_CLOSED` (written, and its
   * connection ended first, without `resend`), `CLOSED`, or the code of a queued message that was
   * dropped (`QUEUE_OVERFLOW`, `MESSAGE_EXPIRED`, `MESSAGE_WITHDRAWN`, `ENCODE_FAILED`). Throws
   * `INVALID_OPTION` at once for a bad `timeout`.
   */
  request<Result = unknown>(data: unknown, options?: RequestOptions): Promise<Result>;
  /** Requests sent or queued and not settled yet. */
  readonly pending: number;
}

/**
 * A request until it settles. It is also the settle object of its outbox entry: `resolve` (the
 * entry was written) does nothing, `reject` (it was dropped unsent) fails the request.
 */
interface Pending {
  id: number;
  message: unknown;
  timeout: number;
  /** Settle the request's promise. */
  fulfil(value: unknown): void;
  fail(error: unknown): void;
  resolve(): void;
  reject(error: unknown): void;
  resend: boolean;
  /** Marks its outbox entry as a request's (see OutboxEntry). */
  request: true;
  /** The message was written on the current connection. */
  written: boolean;
  entry: OutboxEntry<unknown> | undefined;
  /** Stops watching its abort signal (set only for a request with one). */
  unwatch?: () => void;
}

const noop = () => {};

const defaultWrap = (id: number, data: unknown) => ({ id, request: data });

function defaultMatch(message: unknown): Reply | undefined {
  if (message === null || typeof message !== 'object' || !('re' in message)) return undefined;
  const reply = message as { re: MessageId; result?: unknown; error?: unknown };
  // `error: null` beside a result is a success (JSON has no undefined; JSON-RPC 1.0 sends it).
  return reply.error != null ? { id: reply.re, error: reply.error } : { id: reply.re, result: reply.result };
}

/**
 * Request/reply (see {@link RequestsOptions}): `const rpc = requests(); new SteadySocket(url, {
 * codec: json(), use: [rpc] }); await rpc.request({ op: 'sum', args: [1, 2] })`. One per client.
 */
export function requests<In = any, Out = any>(options?: RequestsOptions<In, Out> & { wrap?: undefined }): RequestsFeature<In, DefaultRequest>;
/** {@link requests} with your own envelope: `wrap` builds each request, as one of the client's outgoing messages. */
export function requests<In = any, const Out = any>(options: RequestsOptions<In, Out> & { wrap: (id: number, data: unknown) => Out }): RequestsFeature<In, Out>;
export function requests<In, Out>(options: RequestsOptions<In, Out> = {}): RequestsFeature<In, Out> {
  if (options === null || typeof options !== 'object') invalidOption('requests() takes an options object.');
  const wrap = options.wrap ?? (defaultWrap as unknown as (id: number, data: unknown) => Out);
  const match = options.match ?? (defaultMatch as (message: In) => Reply | undefined);
  if (typeof wrap !== 'function' || typeof match !== 'function') invalidOption('requests() wrap and match must be functions.');
  const defaultTimeout = options.timeout ?? 30_000;
  checkNumber('requests timeout', defaultTimeout, 1);
  let client: FeatureHost<In, Out> | undefined;
  let nextId = 0;
  /** Pending requests, oldest first. */
  const inFlight = new InFlight<number, Pending>();
  /** The feature's hooks: their `timer` (one for all requests) fires at `wakeAt`. */
  let hooks: FeatureHooks<In, Out>;
  let wakeAt = Infinity;
  /**
   * The deadlines in flight were added in order (one timeout for all, the clock not set back):
   * a look for those due stops at the first not due. Every look went through every request, so n
   * requests timing out one after another (a server that stopped answering) cost O(n²): ~5,000
   * sent over a second had 800,000 looked at.
   */
  let ordered = true;
  let latest = -Infinity;

  const settle = (item: Pending, error: unknown, value?: unknown) => {
    if (inFlight.take(item.id)) settled(item, error, value);
  };

  /**
   * Settles a request already taken out of `inFlight`. One still queued is withdrawn: nobody
   * waits for its reply any more. The last one settled takes the timer with it.
   */
  const settled = (item: Pending, error: unknown, value?: unknown) => {
    item.unwatch?.();
    const entry = item.entry as OutboxEntry<Out> | undefined;
    const withdrawn = !!entry && !!client!._outbox?.remove(entry);
    if (withdrawn) entry.done?.();
    if (!inFlight.size) {
      client!._disarm(hooks);
      wakeAt = Infinity;
      // Nothing in flight: the order starts again (one odd timeout does not slow the rest for good).
      ordered = true;
      latest = -Infinity;
    }
    if (error) item.fail(error);
    else item.fulfil(value);
    // The outbox may be empty now: a flushed() waiting on this request has nothing left to wait for.
    if (withdrawn) client!._settleFlushed();
  };

  /** Makes sure the timer fires by `deadline`. */
  const wake = (deadline: number) => {
    if (deadline >= wakeAt) return;
    wakeAt = deadline;
    client!._arm(hooks, checkTimeouts, deadline - Date.now());
  };

  // Requests may have timeouts of their own: then every one is looked at (the timer fires at most
  // once per earliest deadline, not per request).
  const checkTimeouts = () => {
    hooks.timer = undefined;
    wakeAt = Infinity;
    const now = Date.now();
    inFlight.each((item, id, deadline) => {
      if (deadline > now) {
        wake(deadline);
        return !ordered; // in order: the rest are due later still
      }
      settle(item, new SteadySocketError('REQUEST_TIMEOUT', `No reply to request ${id} within ${item.timeout} ms.`));
    });
  };

  const made = feature<In, Out>((host) => {
    if (client) invalidOption('One requests() per client: call requests() again for another client.');
    client = host;
    hooks = {
      written(entry) {
        const item = entry.request as Pending | undefined;
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
        const item = inFlight.take(reply.id as number);
        if (item) {
          if (reply.error != null) {
            const text = typeof reply.error === 'string' ? reply.error : (reply.error as Error)?.message ?? 'error';
            settled(item, new SteadySocketError('REQUEST_FAILED', `Request ${item.id} failed: ${text}`, reply.error));
          } else settled(item, undefined, reply.result);
        }
        return true;
      },
      closed() {
        inFlight.each((item) => {
          if (!item.written) return; // still queued: it goes out on the next connection
          if (item.resend && !client!._final) {
            item.written = false;
            // Encoded again for the next connection: a message that codec refuses fails here.
            try {
              send(item);
            } catch (error) {
              settle(item, error);
            }
          } else if (client!._final) settle(item, closedBeforeReply(item, client!._final.cause));
          else settle(item, new SteadySocketError('CONNECTION_CLOSED', `The connection closed before request ${item.id} was answered.`));
        });
      },
      finish() {
        inFlight.each((item) => settle(item, closedBeforeReply(item, client!._final?.cause)));
      },
    };
    return hooks;
  }) as RequestsFeature<In, Out>;

  // Queued behind anything waiting, or written at once (the written hook marks it). The request is
  // the entry's settle object, and the client links the two (item.entry) before anything can run.
  const send = (item: Pending) => {
    const socket = client!._direct();
    if (!socket) return void client!._enqueue(item.message as Out, item);
    // Open and nothing waiting: written at once, as send() does (also with maxMessages: 0).
    client!._write(socket, item.message as Out, false, item);
    item.written = true;
  };

  made.request = <Result>(data: unknown, requestOptions?: RequestOptions): Promise<Result> => {
    if (!client) return Promise.reject(new SteadySocketError('INVALID_OPTION', 'request() needs the feature in a client: new SteadySocket(url, { use: [rpc] }).'));
    // From close() on, as send() and deliver() throw.
    if (client._final || client.state === 'closed') return Promise.reject(closedError(client._final?.cause));
    const timeout = requestOptions?.timeout ?? defaultTimeout;
    checkNumber('request timeout', timeout, 1);
    const signal = requestOptions?.signal;
    if (signal?.aborted) return Promise.reject(new SteadySocketError('REQUEST_ABORTED', 'The request was aborted before it was sent.', signal.reason));
    const id = ++nextId;
    const message = wrap(id, data);
    return new Promise<Result>((fulfil, fail) => {
      const item: Pending = {
        id,
        message,
        timeout,
        fulfil: fulfil as (value: unknown) => void,
        fail,
        resolve: noop,
        reject: (error) => settle(item, error),
        resend: requestOptions?.resend ?? options.resend ?? false,
        request: true,
        written: false,
        entry: undefined,
      };
      // Watched first: a signal that cannot be (no addEventListener) rejects before the request is counted or timed.
      if (signal) {
        const onAbort = () => settle(item, new SteadySocketError('REQUEST_ABORTED', `Request ${id} was aborted.`, signal.reason));
        signal.addEventListener('abort', onAbort, { once: true });
        item.unwatch = () => signal.removeEventListener('abort', onAbort);
      }
      const deadline = Date.now() + timeout;
      if (deadline < latest) ordered = false;
      latest = deadline;
      inFlight.add(id, item, deadline);
      wake(deadline);
      try {
        send(item);
      } catch (error) {
        settle(item, error);
      }
    });
  };
  Object.defineProperty(made, 'pending', { get: () => inFlight.size });
  return made;
}

/** `cause`: why the client ended by itself, when it did. */
function closedBeforeReply(item: Pending, cause: SteadySocketError | undefined): SteadySocketError {
  return new SteadySocketError('CLOSED', `The socket closed for good before request ${item.id} was answered.`, cause);
}
