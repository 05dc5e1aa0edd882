/**
 * One queued or unacknowledged message, in wire form: what was (or will be) written to the socket,
 * after the codec.
 */
export interface StoredMessage {
  /** The message as written: text, or the bytes of a binary message. */
  data: string | Uint8Array;
  /** An acknowledgement id, kept as given (`persist()` gives none: `acks()` reads a restored message's id from the message). */
  id?: string | number | undefined;
  /**
   * When the message was first queued (or written, if it went out at once and waited for its
   * acknowledgement), in milliseconds since the epoch (`Date.now()`). `ttl()` counts from it after
   * a restore; a message without it counts from its restore. Keep it in your own stores.
   */
  queuedAt?: number | undefined;
}

/**
 * Where a persistent outbox keeps its messages across a page reload or a process restart.
 * Every method settles; none leaves the storage half-written.
 */
export interface OutboxStore {
  /**
   * Everything saved, oldest first (`[]` when nothing was). Corrupt or unreadable contents reject
   * with SteadySocketError `STORAGE_CORRUPT`, and the store is reset to empty so the next load
   * succeeds; an I/O failure rejects with `STORAGE_FAILED`; storage another process holds (the
   * file store's file), with `STORAGE_IN_USE`.
   */
  load(): Promise<StoredMessage[]>;
  /**
   * Replaces the saved contents with `messages` (oldest first), atomically: after a crash at any
   * point, load() returns either the old or the new contents, never a mix or garbage. Resolves
   * once the new contents are durable. Rejects with `INVALID_MESSAGE` for a message that is not
   * a StoredMessage, `STORAGE_FAILED` when the write failed (the old contents stay). Saves
   * complete in the order they were called, and the last call's contents win (queue them, as
   * the built-in stores do): persist() waits for one save to settle before it asks for the next,
   * but other code may call again sooner.
   */
  save(messages: readonly StoredMessage[]): Promise<void>;
  /** Deletes the storage; load() then returns `[]`. */
  clear(): Promise<void>;
  /**
   * Optional: lets go of what the store holds for this process (the file store's claim on its
   * file), after the operations asked for before it. `persist()` calls it once its client has
   * closed, its last save is done and its load (if it was still running) too.
   */
  release?(): void;
  /**
   * What the store keeps its messages in (`indexeddb:<name>`, `file:<path>`): stores with the same
   * key share their contents, so `persist()` lets only one client at a time use a key (another,
   * made before the first one closed, throws `INVALID_OPTION`). Optional for your own stores.
   */
  readonly key?: string | undefined;
}
