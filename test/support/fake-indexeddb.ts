// An IndexedDB test double for the IndexedDB store's tests in Node (see its first comment).
import type { StoredMessage } from '../../src/index';

/**
 * An IndexedDB test double, faithful in what the store relies on: requests on one database name
 * run in order; a deleteDatabase or an upgrade fires versionchange at the other connections and
 * waits (blocked) until they are closed; close() lets the connection's transactions finish first;
 * a transaction runs after the task that made it, in creation order, and commits whole or aborts
 * whole (abortNext injects a QuotaExceededError-style abort); values are structured clones.
 */
class FakeRequest {
  result: unknown;
  error: DOMException | null = null;
  onsuccess: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onblocked: ((event: unknown) => void) | null = null;
  onupgradeneeded: ((event: unknown) => void) | null = null;
}
type Stores = Map<string, Map<number, unknown>>;
class FakeTransaction {
  error: DOMException | null = null;
  oncomplete: ((event: unknown) => void) | null = null;
  onabort: ((event: unknown) => void) | null = null;
  readonly ops: ((stores: Stores) => void)[] = [];
  constructor(
    readonly db: FakeDatabase,
    readonly storeName: string,
    readonly mode: string,
  ) {}
  objectStore(name: string) {
    const op = (fn: (store: Map<number, unknown>) => unknown) => {
      const request = new FakeRequest();
      this.ops.push((stores) => (request.result = fn(stores.get(name)!)));
      return request;
    };
    const writable = () => {
      if (this.mode !== 'readwrite') throw new DOMException('read only', 'ReadOnlyError');
    };
    return {
      getAllKeys: () => op((store) => [...store.keys()].sort((a, b) => a - b)),
      getAll: () => op((store) => [...store.keys()].sort((a, b) => a - b).map((key) => structuredClone(store.get(key)))),
      clear: () => (writable(), this.db.factory.requests.clears++, op((store) => void store.clear())),
      delete: (key: number) => (writable(), this.db.factory.requests.deletes++, op((store) => void store.delete(key))),
      put: (value: unknown, key: number) => {
        writable();
        this.db.factory.requests.puts++;
        const copy = structuredClone(value);
        return op((store) => (store.set(key, copy), key));
      },
    };
  }
}
class FakeDatabase {
  closePending = false;
  closed = false;
  active = 0;
  onversionchange: ((event: unknown) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  constructor(
    readonly factory: FakeIndexedDB,
    readonly name: string,
  ) {}
  get objectStoreNames() {
    const stores = this.factory.databases.get(this.name)?.stores ?? new Map();
    return { contains: (name: string) => stores.has(name) };
  }
  createObjectStore(name: string) {
    this.factory.databases.get(this.name)!.stores.set(name, new Map());
  }
  transaction(storeName: string, mode = 'readonly') {
    if (this.closePending) throw new DOMException('The database connection is closing.', 'InvalidStateError');
    if (!this.factory.databases.get(this.name)?.stores.has(storeName)) throw new DOMException('No such object store.', 'NotFoundError');
    const transaction = new FakeTransaction(this, storeName, mode);
    this.active++;
    this.factory.transactions.push(transaction);
    this.factory.schedule();
    return transaction;
  }
  close() {
    this.closePending = true;
    this.factory.settleClose(this);
  }
}
/** What the database `name` (a slot: no store may be opened by that name) holds, read off the fake directly. */
export function slotContents(factory: FakeIndexedDB | IDBFactory, name: string): StoredMessage[] {
  const records = (factory as FakeIndexedDB).databases.get(name)?.stores.get('outbox') ?? new Map();
  return [...records.entries()].sort(([a], [b]) => Number(a) - Number(b)).map(([, record]) => record as StoredMessage);
}

export class FakeIndexedDB {
  readonly databases = new Map<string, { version: number; stores: Stores }>();
  readonly connections: FakeDatabase[] = [];
  readonly transactions: FakeTransaction[] = [];
  readonly queue: { name: string; run: () => boolean }[] = [];
  /** The write requests made in transactions (committed or not), for tests that count them. */
  readonly requests = { puts: 0, deletes: 0, clears: 0 };
  /** The next committing readwrite transaction aborts with this error name. */
  abortNext: string | undefined;
  private scheduled = false;

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.runTransactions();
    });
  }

  private runTransactions() {
    for (const transaction of this.transactions.splice(0)) {
      const database = this.databases.get(transaction.db.name);
      const working: Stores = new Map([...(database?.stores ?? new Map())].map(([name, records]) => [name, new Map(records)]));
      let abort: DOMException | undefined;
      if (transaction.mode === 'readwrite' && this.abortNext) {
        abort = new DOMException('Quota exceeded.', this.abortNext);
        this.abortNext = undefined;
      }
      if (!abort) for (const op of transaction.ops) op(working);
      if (!abort && database) database.stores = working;
      transaction.db.active--;
      if (abort) {
        transaction.error = abort;
        transaction.onabort?.({ type: 'abort' });
      } else transaction.oncomplete?.({ type: 'complete' });
      this.settleClose(transaction.db);
    }
  }

  settleClose(db: FakeDatabase) {
    if (db.closePending && !db.closed && db.active === 0) {
      db.closed = true;
      this.connections.splice(this.connections.indexOf(db), 1);
    }
    setImmediate(() => this.pump());
  }

  /** Runs the queued open/delete requests of each name, in order, while they can run. */
  private pump() {
    while (this.queue.length && this.queue[0].run()) this.queue.shift();
  }

  /** Fires versionchange at the other open connections of `name`; true once none is left. */
  private othersClosed(name: string, except: FakeDatabase | undefined, request: FakeRequest, notified: { done: boolean }) {
    const others = this.connections.filter((db) => db.name === name && db !== except && !db.closed);
    if (!others.length) return true;
    if (!notified.done) {
      notified.done = true;
      for (const db of others) if (!db.closePending) db.onversionchange?.({ type: 'versionchange' });
      if (this.connections.some((db) => db.name === name && db !== except && !db.closePending)) request.onblocked?.({ type: 'blocked' });
    }
    return false;
  }

  open(name: string, version = 1) {
    const request = new FakeRequest();
    const notified = { done: false };
    this.queue.push({
      name,
      run: () => {
        const existing = this.databases.get(name);
        if (existing && existing.version > version) {
          request.error = new DOMException('The requested version is less than the existing version.', 'VersionError');
          request.onerror?.({ type: 'error' });
          return true;
        }
        if (existing && existing.version === version) {
          const db = new FakeDatabase(this, name);
          this.connections.push(db);
          request.result = db;
          request.onsuccess?.({ type: 'success' });
          return true;
        }
        if (!this.othersClosed(name, undefined, request, notified)) return false;
        this.databases.set(name, { version, stores: existing?.stores ?? new Map() });
        const db = new FakeDatabase(this, name);
        this.connections.push(db);
        request.result = db;
        request.onupgradeneeded?.({ type: 'upgradeneeded' });
        request.onsuccess?.({ type: 'success' });
        return true;
      },
    });
    setImmediate(() => this.pump());
    return request;
  }

  deleteDatabase(name: string) {
    const request = new FakeRequest();
    const notified = { done: false };
    this.queue.push({
      name,
      run: () => {
        if (!this.othersClosed(name, undefined, request, notified)) return false;
        this.databases.delete(name);
        request.onsuccess?.({ type: 'success' });
        return true;
      },
    });
    setImmediate(() => this.pump());
    return request;
  }
}

/** The double with `indexedDB.databases()`, which lists what exists (its `databases` field is a Map). */
export function listing(fake: FakeIndexedDB): IDBFactory {
  return {
    open: (name: string, version?: number) => (fake as unknown as IDBFactory).open(name, version),
    deleteDatabase: (name: string) => (fake as unknown as IDBFactory).deleteDatabase(name),
    databases: async () => [...fake.databases.keys()].map((name) => ({ name, version: 1 })),
  } as unknown as IDBFactory;
}

/**
 * A Web Locks double (`navigator.locks`, the `ifAvailable` form): one registry per origin, one
 * view per tab; closing a tab releases what it holds, as a browser does.
 */
export class FakeLocks {
  private readonly held = new Map<string, () => void>();
  private readonly tabs: { close(): void }[] = [];

  tab() {
    const mine = new Set<string>();
    const view = {
      request: (name: string, _options: { ifAvailable: true }, callback: (lock: unknown) => unknown): Promise<unknown> => {
        if (this.held.has(name)) return Promise.resolve(callback(null));
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        this.held.set(name, release);
        mine.add(name);
        const result = Promise.resolve(callback({ name }));
        // Held until the callback's promise settles, or the tab closes.
        void Promise.race([result, released]).then(() => {
          this.held.delete(name);
          mine.delete(name);
        });
        return result;
      },
      close: () => {
        for (const name of [...mine]) this.held.get(name)?.();
      },
    };
    this.tabs.push(view);
    return view;
  }

  closeAll(): void {
    for (const tab of this.tabs) tab.close();
  }
}
