import DefaultWebSocket from 'isomorphic-ws';
import type { Connection } from './connection';
import { SteadySocketError } from './errors';
import type { WebSocketConstructor } from './options';

/** Node-only settings handed to ws as its third constructor argument. */
export type NodeSocketOptions = Record<string, unknown>;

/** A connection as platform.ts sees it: one socket, whatever the client's message types. */
export type Transport = Connection<any>;

export const OPEN = 1;

/** The default constructor, or a typed error explaining what to inject. */
export function defaultWebSocket(): WebSocketConstructor {
  const ctor = (DefaultWebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket) as WebSocketConstructor | undefined;
  if (typeof ctor !== 'function') throw new SteadySocketError('NO_WEBSOCKET', 'No WebSocket found: pass one as the WebSocket option.');
  return ctor;
}
