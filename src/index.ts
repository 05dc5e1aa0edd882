/**
 * steadysocket: a WebSocket client for browsers and Node.js that stays connected and loses
 * nothing it was asked to send. The client is the core; every other export is opt-in and costs
 * nothing in a bundle that does not import it.
 * @module steadysocket
 */
export { SteadySocket } from './client';
export type { State, OpenInfo, ReconnectingInfo, DropInfo, Stats, SteadySocketEvents, DeliverOptions } from './events';
export { SteadySocketError, isSteadySocketError } from './errors';
export type { AnySteadySocketError, SteadySocketErrorCode, SteadySocketErrorDetails, SteadySocketErrorFor } from './errors';
export type { Feature, FeatureFor, ReadsOutbound } from './feature';
export { heartbeat } from './features/heartbeat';
export type { HeartbeatOptions } from './features/heartbeat';
export { pageSignals } from './features/page';
export type { PageTarget } from './page-signals';
export { ready } from './features/ready';
export type { ReadyContext } from './features/ready';
export { ttl } from './features/ttl';
export { stats } from './features/stats';
export type { StatsFeature } from './features/stats';
export { debug } from './features/debug';
export { messages } from './iteration';
export { acks } from './features/acks';
export type { AckOptions, MessageId } from './features/acks';
export { requests } from './features/requests';
export type { DefaultRequest, Reply, RequestOptions, RequestsFeature, RequestsOptions } from './features/requests';
export { ping, type PingOptions } from './features/ping';
export { persist } from './features/persist';
export type { PersistFeature, PersistOptions, SyncStore } from './features/persist';
export { indexedDbStore } from './storage/indexeddb';
export type { IDBFactoryLike, IndexedDbStoreOptions, LockManagerLike } from './storage/indexeddb';
export type { OutboxStore, StoredMessage } from './storage/types';
export { json } from './codecs';
export { redactUrl } from './url';
export type { Codec, WireData, RawMessage, BlobLike } from './codecs';
export { backoffDelay } from './backoff';
export type { BackoffPolicy } from './backoff';
export { defaultShouldReconnect, closeAction, STOP_CODES, STOP_STATUSES } from './close-policy';
export type { CloseInfo, CloseAction } from './close-policy';
export type { OverflowPolicy, DropReason } from './outbox';
export type { SteadySocketOptions, UrlSource, Provider, WebSocketConstructor, WebSocketLike } from './options';
