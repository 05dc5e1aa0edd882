/**
 * What only Node's ws can do, kept out of the browser builds: rollup.config.mjs replaces this
 * module with platform.browser.ts there (browsers have no ws, no handshake statuses and no
 * third constructor argument). Everything here works on a Transport (a socket the client opened)
 * and, where it is one, its ws socket.
 */
import DefaultWebSocket from 'isomorphic-ws';
import type { EventEmitter } from 'eventemitter3';
import { causeText, SteadySocketError, tlsVerifyCode } from './errors';
import { SafeEmitter } from './events';
import type { WebSocketConstructor, WebSocketLike } from './options';
import { checkedWebSocket, OWNER, released, type NodeSocketOptions, type Transport } from './transport';
import { redactUrl, redactUrlsIn, scrubCause, secretScrubber, tokenPrefix } from './url';
import { timerDelay } from './backoff';

/** The subset of ws's EventEmitter API used when the socket is a ws instance. */
export interface WsSocket extends WebSocketLike {
  on(event: string, listener: (...args: never[]) => void): void;
  removeListener(event: string, listener: (...args: never[]) => void): void;
  removeAllListeners(): void;
  listeners(event: string): unknown[];
  terminate(): void;
  ping(data?: unknown, mask?: boolean, cb?: (error?: Error) => void): void;
  _socket?: { unref?(): void; once?(event: 'drain', listener: () => void): void } | null;
}

const HEADERS_OF_INTEREST = ['retry-after', 'www-authenticate'];

/** Options only ws (Node) understands: a WHATWG constructor has no way to take them. */
/** The default constructor (ws in Node, through isomorphic-ws), or a typed error explaining what to inject. */
export function defaultWebSocket(): WebSocketConstructor {
  return checkedWebSocket(DefaultWebSocket);
}

export const NODE_ONLY = ['headers', 'origin', 'agent', 'ca', 'cert', 'key', 'passphrase', 'rejectUnauthorized', 'perMessageDeflate', 'maxPayload', 'followRedirects', 'maxRedirects'] as const;

type NodeOnly = (typeof NODE_ONLY)[number];

/** A ws socket (EventEmitter API, protocol pings). Bun's WebSocket has terminate() but no on(). */
function isWs(socket: WebSocketLike): socket is WsSocket {
  return typeof (socket as WsSocket).on === 'function' && typeof (socket as WsSocket).terminate === 'function';
}

/**
 * Drives a ws socket through its EventEmitter API, reporting to the client its `OWNER` names;
 * false for any other socket. The listeners are module functions shared by every socket (no
 * closure per connection): ws calls them with the socket as `this`.
 */
export function attachWs(socket: Transport): boolean {
  if (!isWs(socket)) return false;
  socket.on('open', wsOpen);
  socket.on('close', wsClose);
  socket.on('error', wsError);
  return true;
}

/** The socket as a ws socket (attachWs drives exactly these), or undefined for any other. */
export function wsOf(socket: Transport): WsTransport | undefined {
  return isWs(socket) ? socket : undefined;
}

/**
 * The ws constructor's third argument, or undefined for a WHATWG constructor (which cannot take
 * one: `ignored` receives the Node-only options that were set).
 */
export function nodeOptions(
  ctor: WebSocketConstructor,
  o: Partial<Record<NodeOnly | 'closeTimeout', unknown>>,
  headers: Record<string, string> | undefined,
  ignored: (names: string[]) => void,
): NodeSocketOptions | undefined {
  if (typeof (ctor.prototype as { terminate?: unknown } | undefined)?.terminate !== 'function') {
    const names = NODE_ONLY.filter((name) => o[name] !== undefined);
    if (names.length) ignored(names);
    return undefined;
  }
  if (headers !== undefined) checkHeaders(headers);
  // ws waits closeTimeout for the server to end TCP after a close frame (its default is 30 s).
  const options: NodeSocketOptions = { perMessageDeflate: o.perMessageDeflate ?? false, closeTimeout: timerDelay(o.closeTimeout as number), finishRequest };
  for (const name of NODE_ONLY) if (name !== 'perMessageDeflate' && o[name] !== undefined) options[name] = o[name];
  // ws keeps maxPayload as a 32-bit integer (`| 0`, where 0 or less is no limit): 2^32 + 10 would
  // allow 10 bytes. A limit from 2^31 up, which ws cannot hold, is no limit (ws's 0).
  if ((o.maxPayload as number) >= 2 ** 31) options.maxPayload = 0;
  if (headers) options.headers = headers;
  return options;
}

function invalid(message: string): never {
  throw new SteadySocketError('INVALID_OPTION', message);
}

/** What a value is, for a message that must not quote it (it may hold a secret). */
const kind = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value);

/** Bytes or text of a certificate or key, or a list of them (Node also takes `{ pem }` objects in lists). */
const isPem = (value: unknown, inList = false): boolean =>
  typeof value === 'string' ||
  ArrayBuffer.isView(value) ||
  (inList ? !!value && typeof value === 'object' : Array.isArray(value) && value.every((item) => isPem(item, true)));

/**
 * INVALID_OPTION unless `headers` is an object of header names (tokens, RFC 9110 §5.6.2) to
 * values (strings, numbers or lists of them) without CR, LF or NUL, which would end the header
 * line: Node refuses such a header only when the request is made, as a connection failure.
 * The message never quotes a value, nor a name past its first bad character.
 */
function checkHeaders(headers: unknown): void {
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    invalid(`Option headers must be an object of header values, or a function that returns one; got ${kind(headers)}.`);
  }
  for (const [name, value] of Object.entries(headers)) {
    const good = tokenPrefix(name);
    if (!name || good !== name) invalid(`Header name ${JSON.stringify(good.slice(0, 40))} is not a token: it ends at a character a header name cannot hold.`);
    // The handshake's own fields (RFC 6455 §4.1): ws sets them, and one given twice breaks the handshake.
    if (/^(sec-websocket-(protocol|extensions|key|version)|upgrade|connection)$/i.test(name)) {
      invalid(`Header ${name} is the client's own for the handshake${/protocol/i.test(name) ? ': offer subprotocols with the protocols option' : /extensions/i.test(name) ? ': use the perMessageDeflate option' : ''}.`);
    }
    if (!([] as unknown[]).concat(value).every((item) => (typeof item === 'string' || typeof item === 'number') && !/[\r\n\0]/.test(String(item)))) {
      invalid(`Header ${name} must be a string (or a list of strings) without line breaks or NUL.`);
    }
  }
}

/**
 * Refuses, when the client is made, Node-only options of the wrong shape that ws would take and
 * fail with at every attempt, or quote: a string `agent` (a proxy URL, password included, which
 * Node's message repeats), header values with line breaks, `perMessageDeflate: 'yes'`.
 */
export function checkNodeOptions(o: Partial<Record<NodeOnly, unknown>>): void {
  if (o.headers !== undefined && typeof o.headers !== 'function') checkHeaders(o.headers);
  if (o.origin !== undefined && (typeof o.origin !== 'string' || /[\r\n\0]/.test(o.origin))) invalid('Option origin must be a string without line breaks or NUL.');
  const agent = o.agent as { addRequest?: unknown } | false | undefined;
  if (agent !== undefined && agent !== false && typeof agent?.addRequest !== 'function') {
    invalid(`Option agent must be an http.Agent (for a proxy: createProxyAgent(url) from steadysocket/node) or false; got ${kind(agent)}.`);
  }
  // unref: 'false' (a string from a config file) would have unref'd.
  for (const name of ['rejectUnauthorized', 'followRedirects', 'unref'] as const) {
    const value = (o as Record<string, unknown>)[name];
    if (value !== undefined && typeof value !== 'boolean') invalid(`Option ${name} must be true or false; got ${kind(value)}.`);
  }
  const deflate = o.perMessageDeflate;
  if (deflate !== undefined && typeof deflate !== 'boolean' && kind(deflate) !== 'object') invalid(`Option perMessageDeflate must be true, false or ws's options object; got ${kind(deflate)}.`);
  if (o.passphrase !== undefined && typeof o.passphrase !== 'string') invalid(`Option passphrase must be a string; got ${kind(o.passphrase)}.`);
  for (const name of ['ca', 'cert', 'key'] as const) {
    if (o[name] !== undefined && !isPem(o[name])) invalid(`Option ${name} must be PEM text or bytes, or a list of them; got ${kind(o[name])}.`);
  }
}

/**
 * A URL, protocols or headers provider threw or rejected. Its message may quote a URL it built,
 * also before any attempt knew that URL to scrub: every URL in it is redacted here (the client
 * then scrubs the rest it knows, header values included).
 */
export function providerError(cause: unknown): SteadySocketError {
  return new SteadySocketError('CONNECT_FAILED', `The url, protocols or headers provider failed: ${redactUrlsIn(causeText(cause))}`, scrubCause(cause, redactUrlsIn));
}

/** The constructor refused the URL (a SyntaxError, a browser's SecurityError): the same call would fail again. */
export function constructorError(cause: unknown): SteadySocketError {
  return new SteadySocketError('CONNECT_FAILED', `Could not create a WebSocket for this URL: ${causeText(cause)}`, cause);
}

/**
 * `util.inspect(client)` and `console.log(client)` in Node: the client's fields hold its URL and
 * options, secrets included, so it shows what it says of itself instead (its `toJSON()`, which
 * `JSON.stringify` uses everywhere), the URL redacted.
 */
export function inspectable(client: { prototype: object }): void {
  Object.defineProperty(client.prototype, Symbol.for('nodejs.util.inspect.custom'), {
    value(this: { toJSON(): object }, _depth: number, options: object, inspect: (value: unknown, options: object) => string) {
      return `SteadySocket ${inspect(this.toJSON(), options)}`;
    },
    configurable: true,
  });
}

/** The error with every secret of its connection (URL userinfo and query values, header values) scrubbed. */
export function scrubbed(error: SteadySocketError, url: string, headers: Record<string, string> | undefined): SteadySocketError {
  const scrub = secretScrubber(url, headers);
  error.message = scrub(error.message);
  if (error.stack) error.stack = scrub(error.stack);
  if (error.cause !== undefined) (error as { cause?: unknown }).cause = scrubCause(error.cause, scrub);
  // A handshake rejection's response headers: a server may quote a token back (WWW-Authenticate).
  const response = (error as { headers?: Record<string, unknown> }).headers;
  if (response) {
    for (const name of Object.keys(response)) {
      const value = response[name];
      if (typeof value === 'string') response[name] = scrub(value);
      else if (Array.isArray(value)) response[name] = value.map((item) => (typeof item === 'string' ? scrub(item) : item));
    }
  }
  return error;
}

/** Sends a protocol ping (ws only), with `data` as its payload; false where the runtime has none. */
export function sendPing(socket: Transport, data?: string | ArrayBuffer | ArrayBufferView): boolean {
  const ws = wsOf(socket);
  if (!ws) return false;
  // Pongs matter only after our own ping: listen from the first one (ws's own list says whether
  // that was: no flag to keep per connection).
  if (!released(ws) && !ws.listeners('pong').includes(wsPong)) ws.on('pong', wsPong);
  ws.ping(data);
  return true;
}

/**
 * A ping payload's bytes, a copy (what is sent and what its pong must echo, however the caller
 * reuses its buffer meanwhile): INVALID_OPTION for anything else, for more than 125 bytes (RFC
 * 6455 §5.5), and on a client whose pings are the heartbeat's application messages (`app`).
 */
export function pingPayload(data: unknown, app: boolean): Uint8Array {
  if (app) throw new SteadySocketError('INVALID_OPTION', "ping data is for protocol pings, not the heartbeat's application ping.");
  const bytes =
    typeof data === 'string'
      ? new TextEncoder().encode(data)
      : data instanceof ArrayBuffer
        ? new Uint8Array(data.slice(0))
        : ArrayBuffer.isView(data) && new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (!bytes || bytes.byteLength > 125) {
    throw new SteadySocketError('INVALID_OPTION', 'ping data must be a string, ArrayBuffer or typed array of at most 125 bytes (RFC 6455 §5.5).');
  }
  return bytes;
}

/** Whether a pong carries the ping's payload (RFC 6455 §5.5.3: it echoes it). */
export function samePayload(sent: Uint8Array, got: Uint8Array): boolean {
  if (sent.byteLength !== got.byteLength) return false;
  for (let i = 0; i < sent.byteLength; i++) if (sent[i] !== got[i]) return false;
  return true;
}

/** The events that report control frames. */
interface FrameEvents {
  ping: (data: Uint8Array) => void;
  pong: (data: Uint8Array) => void;
}

/**
 * The client's emitter in Node (browser builds use SafeEmitter itself). Adding a `ping` or `pong`
 * listener starts ws reporting those frames on the current connection, and each connection that
 * opens while such a listener is there does the same: a client nobody asks about frames carries
 * no frame listener on its socket.
 */
export class ClientEmitter<Events extends FrameEvents> extends SafeEmitter<Events> {
  /** @internal The socket of the current connection or attempt (the client's). */
  declare _conn: Transport | undefined;

  /** @internal */
  override on<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    super.on(event, fn, context);
    listening(this, event);
    return this;
  }

  /** @internal */
  override addListener<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    super.addListener(event, fn, context);
    listening(this, event);
    return this;
  }

  /** @internal */
  override once<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    super.once(event, fn, context);
    listening(this, event);
    return this;
  }
}

function listening(client: ClientEmitter<FrameEvents>, event: unknown): void {
  if (event === 'ping' || event === 'pong') watchFrames(client._conn, event);
}

/** Which frame events a ws socket reports to its client: bit 1 ping, bit 2 pong. */
const FRAMES = Symbol('steadysocket.frames');

/** Makes the connection's ws socket report `event` frames to its client, once per socket. */
function watchFrames(socket: Transport | undefined, event: 'ping' | 'pong'): void {
  const ws = socket && wsOf(socket);
  if (!ws || released(ws)) return;
  const bit = event === 'ping' ? 1 : 2;
  const watched = ws[FRAMES] ?? 0;
  if (watched & bit) return;
  ws[FRAMES] = watched | bit;
  ws.on(event, event === 'ping' ? wsPingFrame : wsPongFrame);
}

/**
 * Calls `listener` once when the socket's own write buffer has emptied (ws: the TCP socket's
 * `drain`). Returns false where no such event exists (browsers): poll bufferedAmount there.
 */
export function onDrain(socket: Transport, listener: () => void): boolean {
  const tcp = wsOf(socket)?._socket;
  if (!tcp || typeof tcp.once !== 'function') return false;
  tcp.once('drain', listener);
  return true;
}

/**
 * Lets the process exit while this socket is connecting, open or closing (ws only): its TCP
 * socket (once the handshake request, or a request for a redirect it follows, has one) and ws's own timer for the closing handshake
 * (armed by close(), ours or ws's answer to the server's close frame) are unref'd.
 */
export function unref(socket: Transport): void {
  const ws = wsOf(socket);
  if (!ws) return;
  type Request = { once(event: 'socket', listener: (tcp: { unref?(): void }) => void): void } | null | undefined;
  const unrefSocketOf = (request: Request) => request?.once('socket', (tcp) => tcp.unref?.());
  if (ws._socket) ws._socket.unref?.();
  else {
    unrefSocketOf((ws as unknown as { _req?: Request })._req);
    // Each redirect ws follows is a new request on a new TCP socket: the handshake's socket too.
    ws.on('redirect', (_url: string, request: Request) => unrefSocketOf(request));
  }
  const close = ws.close;
  ws.close = function (this: typeof ws, ...args: Parameters<typeof close>) {
    close.apply(this, args);
    (this as unknown as { _closeTimer?: { unref?(): void } })._closeTimer?.unref?.();
  } as typeof close;
}

/** Reports a warning: a process warning in Node, console.warn elsewhere. */
export function emitWarning(message: string): void {
  const proc = (globalThis as { process?: { emitWarning?: (message: string, options: { code: string }) => void } }).process;
  if (typeof proc?.emitWarning === 'function') proc.emitWarning(`steadysocket: ${message}`, { code: 'STEADYSOCKET_OPTION' });
  else if (typeof console !== 'undefined') console.warn(`steadysocket: ${message}`);
}

/** Redirects ws followed during this socket's handshake (set from the first). */
const REDIRECTS = Symbol('steadysocket.redirects');
/** Set from a non-101 handshake response: the rejection replaces ws's generic error. */
const REJECTION = Symbol('steadysocket.rejection');
/** The status ws failed the connection with after a protocol violation by the server. */
const FAIL_CODE = Symbol('steadysocket.failCode');
/** A ws socket the client opened. What only some sockets need exists only once set. */
type WsTransport = WsSocket & Transport & { [FRAMES]?: number; [REDIRECTS]?: number; [REJECTION]?: SteadySocketError; [FAIL_CODE]?: number };

/** ws's error when a handshake was redirected more than maxRedirects times. */
const TOO_MANY_REDIRECTS = 'Maximum redirects exceeded';

// Listeners shared by every ws socket: ws calls them with `this` = the socket.

function wsOpen(this: WsTransport): void {
  // Swap open for message, so an open socket carries three listeners, not four.
  this.removeListener('open', wsOpen);
  this.on('message', wsMessage);
  const client = clientOf(this);
  if (client?.listenerCount('ping')) watchFrames(this, 'ping');
  if (client?.listenerCount('pong')) watchFrames(this, 'pong');
  this[OWNER]?._onOpen(this);
}

function wsMessage(this: WsTransport, data: Uint8Array | ArrayBuffer, isBinary: boolean): void {
  if (isBinary) this[OWNER]?._onMessage(this, data, data.byteLength);
  else this[OWNER]?._onMessage(this, data.toString(), data.byteLength);
}

function wsClose(this: WsTransport, code: number, reason: Uint8Array): void {
  // After a frame violation ws fails the connection with a status (RFC 6455 §7.1.7); report it.
  const failCode = this[FAIL_CODE];
  this[OWNER]?._onClose(this, code === 1006 && failCode ? failCode : code, reason.toString(), code !== 1006);
}

function wsError(this: WsTransport, error: Error): void {
  const rejection = this[REJECTION];
  const failure = rejection && error.message === TOO_MANY_REDIRECTS ? redirectLimit(rejection, this[REDIRECTS] ?? 0, error) : (rejection ?? classify(error));
  this[FAIL_CODE] = failure.closeCode;
  this[OWNER]?._onError(this, failure);
}

function wsPong(this: WsTransport, data: Uint8Array): void {
  this[OWNER]?._onPong(this, data);
}

function wsPingFrame(this: WsTransport, data: Uint8Array): void {
  clientOf(this)?.emit('ping', data);
}

function wsPongFrame(this: WsTransport, data: Uint8Array): void {
  clientOf(this)?.emit('pong', data);
}

/** The client a socket reports to while attached (always a ClientEmitter in Node builds). */
function clientOf(socket: Transport): ClientEmitter<FrameEvents> | undefined {
  const owner: unknown = socket[OWNER];
  return owner instanceof ClientEmitter ? owner : undefined;
}

interface ClientRequestLike {
  on(event: 'response', listener: (response: IncomingLike) => void): void;
  end(): void;
}

/**
 * ws's `finishRequest` hook, called for the handshake request and for each redirect it follows:
 * sends the request as ws would, and notes a non-101 response. ws handles that response first
 * (no `unexpected-response` listener: it aborts and emits error then close on a later tick), so
 * the rejection is in place before the error. A socket still connecting after that is following
 * a redirect: that response is no rejection.
 */
function finishRequest(request: ClientRequestLike, ws: WsTransport): void {
  request.on('response', (response) => {
    if (ws.readyState === CONNECTING) ws[REDIRECTS] = (ws[REDIRECTS] ?? 0) + 1;
    else if (response.statusCode === 101) {
      // Node emits 'response', not 'upgrade', for a 101 without `Upgrade: websocket`: no rejection, a broken handshake.
      ws[REJECTION] = new SteadySocketError('CONNECT_FAILED', 'The server answered the handshake with 101 but without "Upgrade: websocket" (RFC 6455 §4.1).');
    } else ws[REJECTION] = rejectionFrom(response);
  });
  request.end();
}

const CONNECTING = 0;

/** The last redirect was one more than maxRedirects allows: the rejection says so. */
function redirectLimit(rejection: SteadySocketError, followed: number, cause: Error): SteadySocketError {
  const { status, headers } = rejection;
  return new SteadySocketError(
    'HANDSHAKE_REJECTED',
    `Too many redirects: the handshake was redirected ${followed} time${followed === 1 ? '' : 's'} (maxRedirects) and the server answered with one more (HTTP ${status}). Raise maxRedirects, or connect to the final URL.`,
    cause,
    { status, headers, redirects: followed },
  );
}

interface IncomingLike {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
  resume?(): void;
}

function rejectionFrom(response: IncomingLike): SteadySocketError {
  const status = response.statusCode ?? 0;
  const headers: Record<string, string> = {};
  for (const name of HEADERS_OF_INTEREST) {
    const value = response.headers?.[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const message =
    status === 407
      ? 'The proxy refused the tunnel with HTTP 407: it wants credentials in the proxy URL (http://user:pass@proxy:port), or others than those given.'
      : `The server rejected the WebSocket handshake with HTTP ${status}.`;
  return new SteadySocketError('HANDSHAKE_REJECTED', message, undefined, { status, headers });
}

// ws reports negotiation failures and frame violations as plain errors; give them typed codes.
function classify(error: Error): SteadySocketError {
  const message = error.message ?? '';
  if (/subprotocol/i.test(message)) {
    return new SteadySocketError('PROTOCOL_NOT_NEGOTIATED', `Subprotocol negotiation failed: ${message}.`, error);
  }
  // A redirect whose Location is not a URL: ws quotes it whole, and it may carry credentials.
  const location = /^Invalid URL: ([^]*)$/.exec(message)?.[1];
  if (location !== undefined) {
    const shown = redactUrl(location);
    const hide = (text: string) => text.split(location).join(shown);
    return new SteadySocketError('CONNECT_FAILED', `The server redirected the handshake to an invalid URL: ${shown}`, scrubCause(error, hide));
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
    // ws keeps the close status for the violation under a private symbol.
    const symbol = Object.getOwnPropertySymbols(error).find((s) => s.description === 'status-code');
    const status = symbol ? (error as unknown as Record<symbol, unknown>)[symbol] : undefined;
    const text =
      message === 'Max payload size exceeded'
        ? 'A message from the server was larger than the maxPayload option allows.'
        : `The server broke the WebSocket protocol: ${message}.`;
    return new SteadySocketError('PROTOCOL_ERROR', text, error, { closeCode: typeof status === 'number' ? status : 1002 });
  }
  const tls = tlsVerifyCode(error);
  // OpenSSL's record layer met something that is not TLS: a plain server on a wss:// URL.
  const plain = tls && /wrong version number|packet length too long|unknown protocol|http request|record layer failure/i.exec(message);
  if (plain) {
    return new SteadySocketError('CONNECT_FAILED', `The server did not answer in TLS (${plain[0]}): is it a ws:// server? Not retried by default: the next attempt would meet the same.`, error);
  }
  // The server sent a TLS alert: it refused us (no client certificate, or one it does not trust),
  // not the other way round. OpenSSL names the alert in its message ("tlsv13 alert certificate required").
  const alert = tls && /\b(?:sslv3|tlsv1\d?) alert [a-z ]+[a-z]/i.exec(message);
  if (alert) {
    return new SteadySocketError(
      'CONNECT_FAILED',
      `The server refused the TLS handshake (${tls}: ${alert[0]}): if it asks for a client certificate, give one it trusts with the cert and key options. Not retried by default: the next attempt would meet the same.`,
      error,
    );
  }
  // OpenSSL's text ends with a line break ("...statem_clnt.c:396:\n"): the message stays on one line.
  if (tls === 'EPROTO') return new SteadySocketError('CONNECT_FAILED', `The TLS handshake failed (${message.replace(/\s+/g, ' ').trim()}). Not retried by default: the next attempt would meet the same.`, error);
  if (tls) {
    return new SteadySocketError(
      'CONNECT_FAILED',
      `The server's TLS certificate was not accepted (${tls}: ${message}). Pass its CA with the ca option, or fix the host name.`,
      error,
    );
  }
  return new SteadySocketError('CONNECT_FAILED', `WebSocket error: ${message}`, error);
}

