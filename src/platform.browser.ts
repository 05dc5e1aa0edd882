/**
 * platform.ts for the browser builds (rollup.config.mjs swaps it in): a browser's WebSocket is
 * never ws, takes no Node options, and its errors carry no details worth keeping.
 */
import { SteadySocketError } from './errors';
import type { WebSocketConstructor } from './options';
import { checkedWebSocket, type NodeSocketOptions, type Transport } from './transport';

export type { WsSocket } from './platform';
/** Browsers never show control frames to scripts: the client's emitter is SafeEmitter itself. */
export { SafeEmitter as ClientEmitter } from './events';

/**
 * The browser's own WebSocket, looked up at each use. (The Node build's default comes through a
 * package whose browser file makes the same lookup once, at load, in module-level code that no
 * bundler can drop, and that has webpack add an eval-like shim for `global`.)
 */
export function defaultWebSocket(): WebSocketConstructor {
  return checkedWebSocket(undefined);
}

export const NODE_ONLY = ['headers', 'origin', 'agent', 'ca', 'cert', 'key', 'passphrase', 'rejectUnauthorized', 'perMessageDeflate', 'maxPayload', 'followRedirects', 'maxRedirects'] as const;

export function attachWs(_socket: Transport): boolean {
  return false;
}

export function wsOf(_socket: Transport): undefined {
  return undefined;
}

export function nodeOptions(
  _ctor: WebSocketConstructor,
  o: Partial<Record<(typeof NODE_ONLY)[number] | 'closeTimeout', unknown>>,
  _headers: Record<string, string> | undefined,
  ignored: (names: string[]) => void,
): NodeSocketOptions | undefined {
  const names = NODE_ONLY.filter((name) => o[name] !== undefined);
  if (names.length) ignored(names);
  return undefined;
}

/** Browsers take none of the Node-only options (each is warned about at the first attempt). */
export function checkNodeOptions(_o: unknown): void {}

/**
 * A URL, protocols or headers provider threw or rejected: keep only its error's name. Its message
 * may quote the URL, token included, and browser builds carry no scrubber for it.
 */
export function providerError(cause: unknown): SteadySocketError {
  return new SteadySocketError('CONNECT_FAILED', `The url, protocols or headers provider failed (${(cause as Error)?.name ?? typeof cause}).`);
}

/** A browser's message names the URL (token included): keep only the error's name. */
export function constructorError(cause: unknown): SteadySocketError {
  return new SteadySocketError('CONNECT_FAILED', `Could not create a WebSocket for this URL (${(cause as Error)?.name ?? 'error'}).`);
}

/** A browser's error event carries no message; its target holds the URL, so it is not kept as the cause. */
export function scrubbed(error: SteadySocketError): SteadySocketError {
  delete (error as { cause?: unknown }).cause;
  return error;
}

export function sendPing(): boolean {
  return false;
}

/** Scripts cannot send a ping frame: no payload is valid. */
export function pingPayload(): never {
  throw new SteadySocketError('INVALID_OPTION', 'ping data needs a protocol ping: Node with ws only.');
}

export function samePayload(): boolean {
  return false;
}

export function onDrain(): boolean {
  return false;
}

export function unref(): void {}

/** Node's util.inspect only. */
export function inspectable(): void {}

export function emitWarning(message: string): void {
  console.warn(`steadysocket: ${message}`);
}
