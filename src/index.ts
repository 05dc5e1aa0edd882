/**
 * steadysocket: a WebSocket client for browsers and Node.js that stays connected and loses
 * nothing it was asked to send.
 * @module steadysocket
 */
export { SteadySocket } from './client';
export type { State, OpenInfo, ReconnectingInfo, DropInfo, Stats, SteadySocketEvents, DeliverOptions } from './events';
export { SteadySocketError, isSteadySocketError } from './errors';
export type { AnySteadySocketError, SteadySocketErrorCode, SteadySocketErrorDetails, SteadySocketErrorFor } from './errors';
export { json } from './codecs';
export { redactUrl } from './url';
export type { Codec, WireData, RawMessage, BlobLike } from './codecs';
export { backoffDelay } from './backoff';
export type { BackoffPolicy } from './backoff';
export { defaultShouldReconnect, closeAction, STOP_CODES, STOP_STATUSES } from './close-policy';
export type { CloseInfo, CloseAction } from './close-policy';
export type { OverflowPolicy, DropReason } from './outbox';
export type {
  SteadySocketOptions,
  HeartbeatOptions,
  ReadyContext,
  UrlSource,
  Provider,
  WebSocketConstructor,
  WebSocketLike,
} from './options';
