/**
 * The persistent outbox: what is queued (and, with acks(), written but not yet acknowledged)
 * survives a page reload or a process restart. The stores are in ../storage/.
 */
import type { Codec, WireData } from '../codecs';
import { wireSize } from '../codecs';
import { SteadySocketError } from '../errors';
import { feature, later, type Feature, type FeatureHooks, type FeatureHost } from '../feature';
import { invalidOption } from '../options';
import { Outbox, type OutboxEntry } from '../outbox';
import { likelyCodec } from '../send';
import type { OutboxStore, StoredMessage } from '../storage/types';

/** A {@link persist} feature: give it to one client's `use`. */
export interface PersistFeature extends Feature {
  /**
   * Resolves once what the outbox holds now (and everything before) is in the store; rejects with
   * the error of a save that failed (`STORAGE_FAILED`) until a later one succeeds, and with the
   * load's error when the store could not be read (`STORAGE_FAILED`; `STORAGE_IN_USE`: another
   * process holds the file store's file) — nothing is saved then.
   */
  saved(): Promise<void>;
  /** Resolves once the stored messages are back in the outbox (or the store turned out empty or unreadable). */
  readonly restored: Promise<void>;
}

/** Options of {@link persist}. */
export interface PersistOptions {
  /**
   * Save synchronously, inside `send()`/`deliver()`, with a store that has `saveSync` (the Node
   * file store): once `send()` returns, the message it queued (or wrote at once and keeps, with
   * acks()) is on disk. What leaves the outbox is saved once per turn of the event loop, as
   * without. Default: false (saves are batched per turn; `saved()` says when they are durable).
   */
  sync?: boolean | undefined;
}

/**
 * A store that also saves and loads before returning (`fileStore(path)` from `steadysocket/node`):
 * what `persist(store, { sync: true })` needs (another store would throw `INVALID_OPTION` there).
 */
export interface SyncStore extends OutboxStore {
  saveSync(messages: readonly StoredMessage[]): void;
  loadSync(): StoredMessage[];
}

/**
 * The client using each store key in this page or process (two at once would overwrite each
 * other's saves), kept after it closed until its last save is done (`last`, set as it closes):
 * the next client on the key loads after it, so it never restores what that close() dropped.
 * One map for every copy of the library loaded (its ESM and CommonJS builds side by side, or two
 * bundles in one page), found under a global symbol: a copy of its own would let two clients in.
 */
function storeUsers(): Map<string, { host: { state: string }; last?: Promise<unknown> }> {
  return ((globalThis as Record<symbol, never>)[Symbol.for('steadysocket.store-users')] ??= new Map() as never);
}

/**
 * Keeps the outbox in `store` (`fileStore(path)` from `steadysocket/node`, or `indexedDbStore(name)`
 * in browsers). On start, the stored messages go back into the outbox ahead of anything sent
 * since, and the first connection waits for them; after that, every change is saved. Unreadable
 * storage is reported as an `error` (`STORAGE_CORRUPT`, and the store is reset to empty;
 * `STORAGE_FAILED` or `STORAGE_IN_USE`, and this client never writes the store, whose unread
 * contents stay for the next run, and `saved()` rejects with it) and the client starts with an
 * empty outbox. Messages are stored in wire form (after the codec) and decoded with the client's
 * codec when restored (one it cannot decode is sent as it was stored); a `Blob` cannot be stored:
 * `send()` and `deliver()` throw `INVALID_MESSAGE` for one. The client's constructor throws
 * `INVALID_OPTION` when another client still uses a store of the same `key`. `{ sync: true }`
 * takes a {@link SyncStore} (the file store) only.
 */
export function persist(store: OutboxStore, options?: PersistOptions & { sync?: false | undefined }): PersistFeature;
/** {@link persist} with a store that also saves and loads synchronously, as `{ sync: true }` needs (`fileStore(path)`). */
export function persist(store: SyncStore, options?: PersistOptions): PersistFeature;
export function persist(store: OutboxStore & Partial<SyncStore>, options: PersistOptions = {}): PersistFeature {
  if (!store || typeof store.load !== 'function' || typeof store.save !== 'function') invalidOption('persist() takes a store: fileStore(path) or indexedDbStore(name).');
  if (options.sync && (typeof store.saveSync !== 'function' || typeof store.loadSync !== 'function')) {
    invalidOption('persist({ sync: true }) needs a store with saveSync and loadSync (the file store).');
  }
  let client: FeatureHost<unknown, unknown> | undefined;
  let restored!: Promise<void>;
  /** The last save of the client that used this store's key before: loading waits for it. */
  let previous: Promise<unknown> | undefined;
  /** The clients using each store key, and this client's entry there, when the store has a key. */
  let users: ReturnType<typeof storeUsers>;
  let user: { host: FeatureHost<unknown, unknown>; last?: Promise<unknown> } | undefined;
  /** The last save requested (saves run in the store's order): its error when it failed. */
  let lastSave: Promise<SteadySocketError | undefined> = Promise.resolve(undefined);
  let scheduled = false;
  /** The stored messages are back (or the store could not be read): nothing more comes into the outbox from it. */
  let loaded = false;
  let ready = false;
  /** How many written messages were unacknowledged (acks) at the last snapshot. */
  let savedHeld = 0;
  /** Why the store could not be read: this client then saves nothing, so what it holds stays for the next run. */
  let unread: SteadySocketError | undefined;

  /** Written-but-unacknowledged first (oldest), then the queue. */
  const snapshot = (): StoredMessage[] => {
    const host = client!;
    // concat, not push(...): a call takes some 120,000 arguments at most, and an outbox may hold more.
    let entries: OutboxEntry<unknown>[] = [];
    savedHeld = host._outbox?.held ?? 0;
    for (const hooks of host._hooks) if (hooks.held) entries = entries.concat(hooks.held());
    if (host._outbox) entries = entries.concat(host._outbox.entries());
    const out: StoredMessage[] = [];
    // Stamped when queued or written (below); a restored one stored without a time counts from now.
    const now = Date.now();
    for (const entry of entries) {
      if (entry.request) continue; // its reply can only reach this run's request()
      const wire = entry.wire as WireData; // the value itself when there is no codec
      let data: StoredMessage['data'];
      if (typeof wire === 'string') data = wire;
      else if (ArrayBuffer.isView(wire)) data = new Uint8Array(wire.buffer, wire.byteOffset, wire.byteLength);
      else if (wire instanceof ArrayBuffer) data = new Uint8Array(wire);
      else continue; // never a Blob: _check refuses one at send()
      out.push({ data, queuedAt: (entry.queuedAt ??= now) });
    }
    return out;
  };

  /** Reports a failed save as an `error` event and returns it: saved() rejects with it until a later save succeeds. */
  const reportSaveError = (error: unknown): SteadySocketError => {
    const failure = error instanceof SteadySocketError ? error : new SteadySocketError('STORAGE_FAILED', 'Saving the outbox failed.', error);
    client?._emitError(failure);
    return failure;
  };

  /**
   * A message's queue time is read when it is queued (or written at once, with acks), not at its
   * first save: the save comes after the turn's synchronous code, which may have run a while.
   */
  const stamp = (entry: OutboxEntry<unknown>): void => {
    if (entry.queuedAt === undefined) {
      entry.queuedAt = Date.now();
      grew = true; // never stored (restored ones have a time): with `sync`, saved before send() returns
    }
    written = true;
  };
  /**
   * A message left the outbox, or one written at once is kept (acks): what is stored changes.
   * Saved once every feature has seen the write (`sent`), so what acks() keeps is kept by then. A
   * message written at once and kept by nobody changes nothing: no save (a sync store wrote the
   * file on every send() before).
   */
  let written = false;
  let grew = false;
  const sent = () => {
    if (!written) return;
    written = false;
    save(grew);
  };
  const queued = (entry: OutboxEntry<unknown>) => {
    stamp(entry);
    save(true);
  };

  /**
   * Nothing is saved before the stored messages are back, nor ever by a client whose constructor
   * threw (closed without a close: another client may have the store already, and a report of
   * the restore, a promise job later, must not write over it).
   */
  const mine = () => ready && !(client!.state === 'closed' && !client!._final);
  /**
   * `grown`: a message came into the store (see `stamp`). With `sync` that is saved at once
   * (send() returns once it is on disk); what only leaves it (written, dropped, acknowledged) is saved once per turn,
   * as without: a flush of n messages wrote the whole file n times, blocking the event loop for
   * seconds per thousand (and close() dropping them fsynced n times).
   */
  const save = (grown?: boolean) => {
    if (!mine()) return;
    if (options.sync && grown) return saveSync();
    if (scheduled) return;
    scheduled = true;
    later(() => {
      if (!scheduled) return; // saved synchronously since
      scheduled = false;
      if (options.sync) return saveSync();
      // Behind the save under way: saved() and close() wait for this one (made once it is done).
      if (!saving) saveNow();
      else if (!follow) lastSave = new Promise((resolve) => (follow = resolve));
    });
  };

  /**
   * One store.save() at a time: what changes while one runs is saved, in one snapshot, once it
   * is done. A snapshot per turn while the store was busy cost O(outbox) per turn for saves the
   * store then merged away: 10,000 messages waiting offline and 1,000 sent a second kept a core
   * busy with the file store, and the application got a third of its turns.
   */
  let saving = false;
  /** Something changed while a save ran: settles the promise saved() was given for the save that follows. */
  let follow: ((result: Promise<SteadySocketError | undefined>) => void) | undefined;
  const saveNow = (): Promise<SteadySocketError | undefined> => {
    saving = true;
    // Whatever the store returns is waited for through its then() (a bare thenable whose then()
    // returns nothing left the next saves waiting for ever); a store that throws, or returns no
    // thenable, failed the save at once.
    const failed = new Promise<SteadySocketError | undefined>((resolve) => {
      try {
        store.save(snapshot()).then(
          () => resolve(undefined),
          (error) => resolve(reportSaveError(error)),
        );
      } catch (error) {
        resolve(reportSaveError(error));
      }
    });
    // Each save's promise settles with that save: not with the ones after it (while messages kept
    // coming, a saved() chained through every later save never resolved).
    return (lastSave = failed.then((failure) => {
      saving = false;
      const next = follow;
      follow = undefined;
      next?.(mine() ? saveNow() : Promise.resolve(failure));
      return failure;
    }));
  };

  const saveSync = () => {
    grew = scheduled = false;
    try {
      store.saveSync!(snapshot());
      lastSave = Promise.resolve(undefined);
    } catch (error) {
      lastSave = Promise.resolve(reportSaveError(error));
    }
  };

  /** After a message was handled: an acknowledgement released what was kept (acks), so save. */
  const afterReceived = () => {
    if ((client!._outbox?.held ?? 0) !== savedHeld) save();
  };

  const made = feature<unknown, unknown>((host) => {
    if (client) invalidOption('One persist() per client: call persist() again for another client.');
    const key = store.key;
    if (key !== undefined) {
      users = storeUsers();
      const other = users.get(key);
      if (other && other.host.state !== 'closed') invalidOption(`Another client still uses the store ${key}: await its close() first, or give each client its own store.`);
      // Its `last` is read a microtask from now: this client may be made by a listener of that
      // client's closing, before its `ended` hook has run.
      if (other) previous = Promise.resolve().then(() => other.last);
      users.set(key, (user = { host }));
    }
    client = host;
    // A Blob cannot be read synchronously, so it could never be stored: refused at send(), as bad input.
    host._check = (wire) => {
      if (typeof wire !== 'string' && !ArrayBuffer.isView(wire) && !(wire instanceof ArrayBuffer)) {
        throw new SteadySocketError('INVALID_MESSAGE', 'persist() stores text and bytes, not a Blob: send its bytes (await blob.arrayBuffer()).');
      }
    };
    const loadFailed = (error: unknown) => {
      const failure = error instanceof SteadySocketError ? error : new SteadySocketError('STORAGE_FAILED', 'Loading the outbox failed.', error);
      // Corrupt contents were reset to empty; anything else may still be there, unread: never overwrite it.
      if (failure.code !== 'STORAGE_CORRUPT') unread = failure;
      return failure;
    };
    if (options.sync) {
      // Restored here, in the constructor: every send() after it is saved before it returns.
      try {
        restore(host, store.loadSync!(), queued);
      } catch (error) {
        const failure = loadFailed(error);
        later(() => host._emitError(failure)); // once the application could attach listeners
      }
      ready = !unread;
      loaded = true;
      restored = Promise.resolve();
    } else {
      // Closed before the stored messages were back: they never were this client's, and the
      // store keeps them for the next one (nothing is saved from now on). So does a store that
      // could not be read. Once they are in the outbox (the job that restores them), they are
      // this client's: the restore's report of those that did not fit comes a promise job later,
      // and a listener of it that closes the client drops them, so the store must follow.
      const back = () => {
        if (host._final || host.state === 'closed' || unread) return;
        ready = true;
        save();
      };
      restored = Promise.resolve(previous)
        .then(() => store.load())
        .then(
          (messages) => {
            restore(host, messages, queued);
            back();
          },
          (error) => {
            host._emitError(loadFailed(error));
            back();
          },
        )
        .then(() => {
          loaded = true;
          // A flushed() that waited for the stored messages may have nothing else to wait for
          // (none were stored, or the store could not be read): it resolves now, not at a later
          // drain check; after the drops of those that did not fit, reported a microtask from now.
          later(() => host._settleFlushed());
        });
    }
    host.on('drop', () => save());
    const hooks: FeatureHooks<unknown, unknown> = {
      opening: () => restored, // the first connection waits: stored messages go first
      queued,
      // Written at once and kept for its acknowledgement (acks): that is its queue time.
      written: stamp,
      sent,
      // An acknowledgement is taken after `received`, while the message is handled: look after it.
      received: () => {
        if (client!._outbox?.held) later(afterReceived);
      },
      // flushed() waits for the stored messages too: they are this client's to send.
      pending: () => !loaded,
      // The save of what the client dropped as it closed (or its failure, reported as an `error`):
      // the next client on the store's key loads after it, and close() resolves after it, so a
      // process may exit then; a store that never settles holds close() closeTimeout at most.
      // With `sync` it is done here, before close() returns; a client closed before its messages were back saves nothing.
      ended: () => {
        if (options.sync && scheduled) saveSync();
        const last = ready && !options.sync ? made.saved().catch(() => undefined) : undefined;
        // Then the store may let go of what it holds (the file store's claim on its file): after
        // the load too, when it was still running. The next client on the key loads after that.
        // One that throws (a store of the application's) is an `error`, as a failed save is.
        const release = () => {
          try {
            store.release?.();
          } catch (error) {
            host._emitError(error instanceof SteadySocketError ? error : new SteadySocketError('STORAGE_FAILED', 'Releasing the store failed.', error));
          }
        };
        const released = options.sync ? void release() : Promise.all([restored, last]).then(release);
        if (user) {
          const self = user;
          self.last = released;
          void Promise.resolve(released).then(() => users.get(key!) === self && users.delete(key!));
        }
        // close() waits for the release too (when the store has one): once it resolves, another
        // process may have the file, also when the client closed before its load finished.
        const waited = store.release ? released : last;
        if (!waited) return;
        return new Promise<void>((resolve) => {
          const done = () => {
            host._disarm(hooks);
            resolve();
          };
          host._arm(hooks, done, host._opts.closeTimeout);
          void waited.then(done);
        });
      },
    };
    return hooks;
  }) as PersistFeature;

  // Rejects with the error of the last save when it failed: what the outbox holds is not durable.
  const settled = (failure: SteadySocketError | undefined) => (failure ? Promise.reject(failure) : undefined);
  made.saved = () => {
    // Closed before the stored messages were back: nothing of this client's is saved, nor needs to be.
    // A store that could not be read is never written: saved() says so.
    // Asked before a client has the feature: nothing is this feature's to save yet (the getter: no restore started).
    if (!ready) return made.restored.then(() => (ready ? made.saved() : unread && Promise.reject(unread)));
    // An acknowledgement handled this turn releases a message whose save is looked at a
    // microtask from now (afterReceived): schedule it here, so the wait below comes after it.
    afterReceived();
    // A save scheduled for this turn has not started yet: wait for it too, also when what it
    // saves was sent after this call (its job then comes after ours: one job more).
    const last = (resolve: (result: Promise<SteadySocketError | undefined>) => void) => later(() => (scheduled ? last(resolve) : resolve(lastSave)));
    return new Promise(last).then(settled);
  };
  Object.defineProperty(made, 'restored', { get: () => restored ?? Promise.resolve() });
  return made;
}

/**
 * Puts stored messages back at the front of the outbox, oldest first, ahead of anything sent
 * since. Reports what did not fit on a promise job: before anything that settles flushed(),
 * which waits for the load and resolves a promise job after its check.
 */
function restore(client: FeatureHost<unknown, unknown>, messages: StoredMessage[], own: (entry: OutboxEntry<unknown>) => void): void {
  if (!messages.length || client._final || client.state === 'closed') return;
  const restored: OutboxEntry<unknown>[] = [];
  // The codec they were most likely encoded with: the one a message queued now gets.
  const codec = likelyCodec(client._opts) as Codec<unknown, unknown> | undefined;
  const outbox = (client._outbox ??= new Outbox<unknown>(client._opts, (entry, reason) => client._dropped(entry, reason)));
  const overflowed: OutboxEntry<unknown>[] = [];
  // One stored without a time counts from its restore; a time tells `written` it is stored already.
  const now = Date.now();
  for (let i = messages.length - 1; i >= 0; i--) {
    const { data: wire, queuedAt = now } = messages[i];
    let value: unknown = wire;
    let asStored: true | undefined;
    if (codec) {
      try {
        value = codec.decode(wire as never);
      } catch {
        asStored = true;
      }
    }
    // The codec's entry: flushed as stored unless the connection has another codec, which encodes
    // the decoded value. One its codec cannot decode (stored by a run without that codec, or with
    // another) is sent as stored whatever codec the connection has: its wire form is what was asked
    // to go out, and encoding it again as a value sent `"text"` for text and a JSON object for bytes.
    const entry: OutboxEntry<unknown> = { value, wire, codec, size: wireSize(wire), expires: Infinity, queued: false, queuedAt };
    if (asStored) entry.asStored = asStored;
    // The same limits as any message: what does not fit (the oldest) is reported as overflow.
    if (outbox.isFull(entry.size)) overflowed.push(entry);
    else outbox.restore((restored[restored.length] = entry));
  }
  later(() => {
    // Reported once the application could attach its listeners (a sync store restores in the constructor).
    overflowed.reverse().forEach((entry) => client._dropped(entry, 'overflow')); // oldest first
    // The other features see each restored message as queued (ttl gives it its expiry, from its
    // queuedAt), once they are all attached (persist may come first in `use`).
    for (const entry of restored) if (entry.queued) for (const hooks of client._hooks) if (hooks.queued !== own) hooks.queued?.(entry);
  });
}
