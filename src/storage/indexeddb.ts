// A persistent outbox in IndexedDB (browsers). One database per outbox with one object store whose
// records are the messages, in order, under increasing integer keys. A save is one readwrite
// transaction, so it commits whole or not at all; IndexedDB runs readwrite transactions on one
// store in the order they were created, so concurrent saves never interleave and the last wins.
// Where the store owns its database (a slot held with Web Locks, below) a save writes only what
// changed since the last one it committed: it deletes the records of messages that left and puts
// those that came, under keys after the last (a save that would reorder what is stored rewrites
// it from the first message that differs). Elsewhere, and until it knows what is stored, a save
// clears the store and puts every message under keys 0…n-1.
// Saves ask for `durability: 'strict'` (flushed to disk before `complete`); browsers without the
// option ignore it.
//
// Tabs: each save replaces the whole database, so two live clients must never share one. Each
// store claims a slot with the Web Locks API, held for the life of the page: the first free of
// `name`, `name#2`, `name#3`… (the first tab keeps using `name` itself). Messages a closed tab
// left in a slot nobody holds are adopted by the next store that loads: copied into its own slot
// first, then deleted there (a crash between the two sends them twice, never loses them). Without
// Web Locks (older browsers) every store uses `name`, as one tab would.
import { SteadySocketError } from '../errors';
import { checkMessages, copyMessage, messageProblem } from './stored-message';
import type { OutboxStore, StoredMessage } from './types';

/** Options of {@link indexedDbStore}. */
export interface IndexedDbStoreOptions {
  /**
   * The IndexedDB factory to use: one from another window or worker, or a test double.
   * @default globalThis.indexedDB
   */
  indexedDB?: IDBFactoryLike | undefined;
  /**
   * The Web Locks manager that keeps two tabs out of one database (see above), or a test double.
   * @default globalThis.navigator.locks
   */
  locks?: LockManagerLike | undefined;
}

/**
 * The part of the IndexedDB factory (`indexedDB`) the store uses, spelled out so that the typings
 * need no DOM library (a Node project compiles them without it). `indexedDB` itself is one.
 */
export interface IDBFactoryLike {
  open(name: string, version?: number): unknown;
  deleteDatabase(name: string): unknown;
  databases?(): Promise<readonly { name?: string | undefined }[]>;
}

/** The part of the Web Locks API (`navigator.locks`) the store uses. */
export interface LockManagerLike {
  request(name: string, options: { ifAvailable: true }, callback: (lock: unknown) => unknown): Promise<unknown>;
}

/** Most slots tried (tabs of one origin using one outbox name at once). */
const MAX_SLOTS = 64;

/**
 * The slot each name has claimed, per lock manager (one per page): stores of one name in one page
 * share it (they are one tab); another page has its own manager, and so its own slot.
 */
const claims = new WeakMap<LockManagerLike, Map<string, Promise<string>>>();

/** Injected lock managers (each stands for a page of its own, e.g. in tests), numbered for the store's key. */
const managers = new WeakMap<LockManagerLike, number>();
let managersSeen = 0;

/**
 * What a slot's database holds, as a store of this page last committed or read it: each record
 * with its key, in order, and the connection that did (`on`). A save starts from it only on that
 * same connection: a clear(), another connection's versionchange or delete, or the browser closing
 * the connection each mean a new one, and a commit made late on an old connection (a save already
 * under way when the database was deleted) describes a database that is gone. Shared by the
 * stores of one slot in one page (they share the database), per lock manager and slot name.
 */
interface Known {
  stored?: Stored[] | undefined;
  on?: IDBDatabase | undefined;
  /** Saves begun: a read older than the latest of them does not describe the database. */
  writes?: number;
}
const known = new WeakMap<LockManagerLike, Map<string, Known>>();
const STORE = 'outbox';
const VERSION = 1;

/**
 * A persistent outbox in the IndexedDB database `name`: one database per live store, so a second
 * tab using the same name gets `name#2` (Web Locks; see above), and a closed tab's messages are
 * taken over by the next store. clear() deletes this store's database. Throws `STORAGE_FAILED` at
 * once when there is no IndexedDB (Node, some private modes).
 */
export function indexedDbStore(name: string, options: IndexedDbStoreOptions = {}): OutboxStore {
  // `name#2`, `name#3`… are the slots of other tabs: a name of that shape would be adopted by `name`'s store.
  if (typeof name !== 'string' || !name || /#\d+$/.test(name)) {
    throw new SteadySocketError('INVALID_OPTION', 'indexedDbStore(name): a name, not ending in #<number> (the slots of other tabs).');
  }
  const found = (options.indexedDB ?? (globalThis as { indexedDB?: IDBFactoryLike }).indexedDB) as IDBFactory | undefined;
  if (!found) {
    throw new SteadySocketError('STORAGE_FAILED', 'IndexedDB is not available here: pass its factory as the indexedDB option, or use another OutboxStore.');
  }
  const locks = options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  const store = openStore(name, found, locks);
  // One page's stores of one name share its slot: one client of it at a time (persist() checks).
  if (options.locks && !managers.has(options.locks)) managers.set(options.locks, ++managersSeen);
  return { ...store, key: `indexeddb:${name}${options.locks ? `@${managers.get(options.locks)}` : ''}` };
}

/**
 * The store of the database `name` (a slot of it, with `locks`; that database itself without).
 * `orphan`: a slot a closed tab left, read for adoption: never cleared when it is corrupt.
 */
function openStore(name: string, factory: IDBFactory, locks: LockManagerLike | undefined, orphan = false): OutboxStore {
  const label = `The IndexedDB outbox "${name}"`;
  let opening: Promise<IDBDatabase> | undefined;
  /** The database this store owns (its slot), once claimed. */
  let own: string | undefined;
  let claiming: Promise<string> | undefined;

  /** Holds `lock` (the lock of a slot) from now until `release` is called; false when another tab holds it. */
  function hold(lock: string): Promise<(() => void) | undefined> {
    return new Promise((resolve, reject) => {
      locks!
        .request(`steadysocket-outbox:${lock}`, { ifAvailable: true }, (granted) => {
          if (!granted) return resolve(undefined);
          return new Promise<void>((release) => resolve(release));
        })
        .catch(reject);
    });
  }

  const slotName = (n: number) => (n === 1 ? name : `${name}#${n}`);

  /** This store's database: `name` without Web Locks, else this page's slot: the first no other tab holds (for good). */
  function slot(): Promise<string> {
    if (!locks) return Promise.resolve((own = name));
    if (!claiming) {
      let byName = claims.get(locks);
      if (!byName) claims.set(locks, (byName = new Map()));
      let claim = byName.get(name);
      if (!claim) {
        const mine = byName;
        claim = (async () => {
          for (let n = 1; n <= MAX_SLOTS; n++) if (await hold(slotName(n))) return slotName(n);
          throw failed(`${label} is in use by more than ${MAX_SLOTS} tabs`, undefined);
        })();
        mine.set(name, claim);
        claim.catch(() => mine.delete(name));
      }
      claiming = claim.then((claimed) => (own = claimed));
    }
    return claiming;
  }

  function database(): Promise<IDBDatabase> {
    opening ??= slot().then((dbName) => new Promise<IDBDatabase>((resolve, reject) => {
      if (locks) {
        let bySlot = known.get(locks);
        if (!bySlot) known.set(locks, (bySlot = new Map()));
        const slotKnown = bySlot.get(dbName);
        if (slotKnown) mem = slotKnown;
        else bySlot.set(dbName, mem);
      }
      const request = factory.open(dbName, VERSION);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => {
        const db = request.result;
        const forget = () => {
          if (opening === current) opening = undefined;
        };
        // Another tab (or clear()) wants to delete or upgrade it: let go, reopen on next use.
        db.onversionchange = () => {
          mem.stored = undefined; // another connection deletes or upgrades it
          db.close();
          forget();
        };
        // Closed by the browser (site data cleared): the database may be gone.
        db.onclose = () => {
          mem.stored = undefined;
          forget();
        };
        resolve(db);
      };
      request.onerror = () => {
        opening = undefined;
        reject(failed(`${label} could not be opened`, request.error));
      };
    }));
    const current = opening;
    return opening;
  }

  /**
   * The messages closed tabs left in slots no tab holds, moved into this store's slot (saved
   * there with `mine` first, then deleted where they were). Where the browser cannot list its
   * databases (`indexedDB.databases()`), nothing is adopted.
   */
  async function adopt(mine: StoredMessage[]): Promise<StoredMessage[]> {
    if (!locks || typeof factory.databases !== 'function') return mine;
    const names = (await factory.databases().catch(() => [])).map((info) => info.name);
    let all = mine;
    for (let n = 1; n <= MAX_SLOTS; n++) {
      const orphan = slotName(n);
      if (orphan === own || !names.includes(orphan)) continue;
      const release = await hold(orphan);
      if (!release) continue; // a live tab's
      try {
        const left = openStore(orphan, factory, undefined, true); // under our hold of its lock
        let messages: StoredMessage[];
        try {
          messages = await left.load();
        } catch {
          // Unreadable (a newer version's database, a browser error) or corrupt: left as it is,
          // not deleted. Nothing of it is lost; it stays for a later version or for inspection.
          continue;
        }
        if (messages.length) {
          all = [...all, ...messages];
          await outbox.save(all);
        }
        await left.clear();
      } finally {
        release();
      }
    }
    return all;
  }


  /** Runs `work` in one transaction; resolves with what its `result` returns once it commits. */
  async function transact<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore, db: IDBDatabase) => () => T, what: string): Promise<T> {
    const db = await database();
    return new Promise<T>((resolve, reject) => {
      let result: () => T;
      let transaction: IDBTransaction;
      try {
        transaction = db.transaction(STORE, mode, { durability: mode === 'readwrite' ? 'strict' : 'default' });
        result = work(transaction.objectStore(STORE), db);
      } catch (error) {
        if (opening && (error as DOMException)?.name === 'InvalidStateError') opening = undefined;
        reject(failed(`${label} could not ${what}`, error));
        return;
      }
      transaction.oncomplete = () => resolve(result());
      transaction.onabort = () => reject(failed(`${label} could not ${what}`, transaction.error));
    });
  }

  /**
   * What this store's database holds (see Known): unknown before the first load or save, after a
   * failed save, and where the store has no slot of its own (without Web Locks, tabs share the
   * database): the next save then rewrites everything.
   */
  let mem: Known = {};

  /**
   * Writes `records` over what is stored (undefined: a clear() since they were asked for, which
   * they came before: nothing to write): the changes since `stored`, or everything.
   */
  function write(records: StoredMessage[] | undefined): Promise<void> | undefined {
    return (
      records &&
      transact(
        'readwrite',
        (store, db) => {
          const before = locks && mem.on === db ? mem.stored : undefined;
          mem.stored = undefined; // until this transaction commits
          mem.writes = (mem.writes ?? 0) + 1;
          const after: Stored[] = [];
          let next = 0;
          let kept = 0;
          if (!before) store.clear();
          else {
            next = before.length ? before[before.length - 1].key + 1 : 0;
            // Messages that stayed keep their records; those in between left. From the first
            // message not stored further on, the rest is new: put after every stored key.
            let at = 0;
            for (; kept < records.length; kept++) {
              let found = at;
              while (found < before.length && !sameRecord(before[found].record, records[kept])) found++;
              if (found === before.length) break;
              for (; at < found; at++) store.delete(before[at].key);
              after.push(before[at++]);
            }
            for (; at < before.length; at++) store.delete(before[at].key);
          }
          for (; kept < records.length; kept++) {
            store.put(records[kept], next);
            after.push({ key: next++, record: records[kept] });
          }
          return () => void ((mem.stored = after), (mem.on = db));
        },
        'be saved',
      )
    );
  }

  /**
   * The last save started or waiting (none once it is done), and the one waiting behind the save
   * under way. Each save rewrites the whole outbox: the saves asked for while one is under way
   * collapse into the newest, as the file store's do. Each used to get a transaction of its own, all run one after another, so a
   * sender faster than a save built a backlog of full rewrites (20 snapshots of 20,000 messages
   * asked for at once wrote 400,000 records), and of the snapshots held for them.
   */
  let writing: Promise<void> | undefined;
  let next: NextSave | undefined;

  const outbox: OutboxStore = {
    async load() {
      // After the saves asked for before it (the last one wins).
      if (writing) await writing.catch(() => undefined);
      const [keys, values, readOn] = await transact(
        'readonly',
        (store, db) => {
          const keyRequest = store.getAllKeys();
          const valueRequest = store.getAll();
          const writes = mem.writes;
          return () => [keyRequest.result, valueRequest.result, writes === mem.writes && db] as const;
        },
        'be read',
      );
      const problem = recordsProblem(keys, values);
      if (!problem) {
        // Unless a save began after this read (it then knows better, or failed and left it unknown).
        if (readOn) {
          mem.stored = (values as StoredMessage[]).map((record, i) => ({ key: keys[i] as number, record: copyMessage(record) }));
          mem.on = readOn;
        }
        return orphan ? (values as StoredMessage[]) : adopt(values as StoredMessage[]);
      }
      mem.stored = undefined;
      if (orphan) throw new SteadySocketError('STORAGE_CORRUPT', `${label} is corrupt (${problem}).`);
      await transact('readwrite', (store) => (store.clear(), () => undefined), 'be cleared');
      throw new SteadySocketError('STORAGE_CORRUPT', `${label} is corrupt (${problem}). It was cleared: the outbox starts empty and its old messages are lost.`);
    },

    async save(messages) {
      checkMessages(messages);
      const records = messages.map(copyMessage);
      // Collapsed into the save waiting behind the one under way: written once that one is done.
      if (next) {
        next.records = records;
        return next.done;
      }
      const mine: NextSave = (next = { records, done: undefined! });
      const run = () => {
        if (next === mine) next = undefined; // saves asked for from now on wait behind this one
        return write(mine.records);
      };
      // After the one under way, whether it failed or not; at once when none is.
      const done = (writing = mine.done = writing ? writing.then(run, run) : Promise.resolve(run()));
      const idle = () => writing === done && (writing = undefined);
      void done.then(idle, idle);
      return done;
    },

    async clear() {
      // A save asked for before and not started yet would write over the deletion (dropped now, not
      // once the slot is known: a save asked for after this call meanwhile is kept).
      if (next) next.records = undefined;
      mem.stored = undefined;
      // Synchronously once the slot is known, so that an operation called after clear() comes
      // after it: the delete request is made now (IndexedDB queues later opens behind it), and
      // the connection is closed once it is there (its pending transactions still finish; the
      // delete waits for them).
      const dbName = own ?? (await slot());
      const previous = opening;
      opening = undefined;
      const deleted = new Promise<void>((resolve, reject) => {
        const request = factory.deleteDatabase(dbName);
        request.onsuccess = () => resolve();
        request.onerror = () => reject(failed(`${label} could not be deleted`, request.error));
      });
      (await previous?.catch(() => undefined))?.close();
      await deleted;
    },
  };
  return outbox;
}

/** A save waiting behind the one under way: the newest snapshot asked for, and when it is written. */
interface NextSave {
  records: StoredMessage[] | undefined;
  done: Promise<void>;
}

/** A stored record and its key. */
interface Stored {
  key: number;
  record: StoredMessage;
}

/** Whether two records hold the same message: the same text or bytes, id and queue time. */
function sameRecord(a: StoredMessage, b: StoredMessage): boolean {
  if (a.id !== b.id || a.queuedAt !== b.queuedAt) return false;
  const x = a.data;
  const y = b.data;
  if (typeof x === 'string' || typeof y === 'string') return x === y;
  if (x.byteLength !== y.byteLength) return false;
  for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** What is wrong with the stored records (getAllKeys() gives their keys in order), or undefined when they are messages under whole keys. */
function recordsProblem(keys: readonly IDBValidKey[], values: readonly unknown[]): string | undefined {
  for (let i = 0; i < keys.length; i++) {
    if (!Number.isSafeInteger(keys[i]) || (keys[i] as number) < 0) return `record ${i} is not under a whole key`;
    const problem = messageProblem(values[i]);
    if (problem) return `record ${i} ${problem}`;
  }
  return undefined;
}

function failed(what: string, cause: unknown): SteadySocketError {
  const name = (cause as { name?: unknown } | null)?.name;
  return new SteadySocketError('STORAGE_FAILED', `${what}${typeof name === 'string' ? ` (${name})` : ''}.`, cause);
}
