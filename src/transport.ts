import type { ConnectionHandler } from './connection';
import { SteadySocketError } from './errors';
import type { WebSocketConstructor, WebSocketLike } from './options';

/** Node-only settings handed to ws as its third constructor argument. */
export type NodeSocketOptions = Record<string, unknown>;

/** Set on a socket while it is attached: the client its events go to. Undefined once released. */
export const OWNER = Symbol('steadysocket.owner');

/** A socket the client opened, as connection.ts and platform.ts see it: it names its client while attached. */
export type Transport = WebSocketLike & { [OWNER]?: ConnectionHandler<any> };

export const OPEN = 1;

/** Detached and done: nothing of this socket reaches its client any more. */
export function released(socket: Transport): boolean {
  return socket[OWNER] === undefined;
}

/**
 * `found` (the platform's constructor: platform.ts), else the global WebSocket, or a typed error
 * explaining what to inject.
 */
export function checkedWebSocket(found: unknown): WebSocketConstructor {
  const ctor = (found ?? (globalThis as { WebSocket?: unknown }).WebSocket) as WebSocketConstructor | undefined;
  if (typeof ctor !== 'function') throw new SteadySocketError('NO_WEBSOCKET', 'No WebSocket found: pass one as the WebSocket option.');
  return ctor;
}
