// A persistent outbox in IndexedDB (browsers). One database per outbox with one object store whose
// records are the messages under keys 0…n-1. A save is one readwrite transaction (clear, then put
// each message), so it commits whole or not at all; IndexedDB runs readwrite transactions on one
// store in the order they were created, so concurrent saves never interleave and the last wins.
// Saves ask for `durability: 'strict'` (flushed to disk before `complete`); browsers without the
// option ignore it.
import { SteadySocketError } from '../errors';
import { checkMessages, messageProblem } from './stored-message';
import type { OutboxStore, StoredMessage } from './types';

export interface IndexedDbStoreOptions {
  /**
   * The IndexedDB factory to use: one from another window or worker, or a test double.
   * @default globalThis.indexedDB
   */
  indexedDB?: IDBFactory;
}

const STORE = 'outbox';
const VERSION = 1;

/**
 * A persistent outbox in the IndexedDB database `name` (one database per outbox; clear() deletes
 * it). Throws `STORAGE_FAILED` at once when there is no IndexedDB (Node, some private modes).
 */
export function indexedDbStore(name: string, options: IndexedDbStoreOptions = {}): OutboxStore {
  const found = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!found) {
    throw new SteadySocketError('STORAGE_FAILED', 'IndexedDB is not available here: pass its factory as the indexedDB option, or use another OutboxStore.');
  }
  const factory = found;
  const label = `The IndexedDB outbox "${name}"`;
  let opening: Promise<IDBDatabase> | undefined;

  function database(): Promise<IDBDatabase> {
    opening ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open(name, VERSION);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => {
        const db = request.result;
        const forget = () => {
          if (opening === current) opening = undefined;
        };
        // Another tab (or clear()) wants to delete or upgrade it: let go, reopen on next use.
        db.onversionchange = () => {
          db.close();
          forget();
        };
        db.onclose = forget;
        resolve(db);
      };
      request.onerror = () => {
        opening = undefined;
        reject(failed(`${label} could not be opened`, request.error));
      };
    });
    const current = opening;
    return opening;
  }

  /** Runs `work` in one transaction; resolves with what its `result` returns once it commits. */
  async function transact<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => () => T, what: string): Promise<T> {
    const db = await database();
    return new Promise<T>((resolve, reject) => {
      let result: () => T;
      let transaction: IDBTransaction;
      try {
        transaction = db.transaction(STORE, mode, { durability: mode === 'readwrite' ? 'strict' : 'default' });
        result = work(transaction.objectStore(STORE));
      } catch (error) {
        if (opening && (error as DOMException)?.name === 'InvalidStateError') opening = undefined;
        reject(failed(`${label} could not ${what}`, error));
        return;
      }
      transaction.oncomplete = () => resolve(result());
      transaction.onabort = () => reject(failed(`${label} could not ${what}`, transaction.error));
    });
  }

  return {
    async load() {
      const [keys, values] = await transact(
        'readonly',
        (store) => {
          const keyRequest = store.getAllKeys();
          const valueRequest = store.getAll();
          return () => [keyRequest.result, valueRequest.result] as const;
        },
        'be read',
      );
      const problem = recordsProblem(keys, values);
      if (!problem) return values as StoredMessage[];
      await transact('readwrite', (store) => (store.clear(), () => undefined), 'be cleared');
      throw new SteadySocketError('STORAGE_CORRUPT', `${label} is corrupt (${problem}). It was cleared: the outbox starts empty and its old messages are lost.`);
    },

    async save(messages) {
      checkMessages(messages);
      const records = messages.map(toRecord);
      await transact(
        'readwrite',
        (store) => {
          store.clear();
          for (let i = 0; i < records.length; i++) store.put(records[i], i);
          return () => undefined;
        },
        'be saved',
      );
    },

    async clear() {
      if (opening) {
        const db = await opening.catch(() => undefined);
        // Pending transactions still finish; the deletion waits for them.
        db?.close();
        opening = undefined;
      }
      await new Promise<void>((resolve, reject) => {
        const request = factory.deleteDatabase(name);
        request.onsuccess = () => resolve();
        request.onerror = () => reject(failed(`${label} could not be deleted`, request.error));
      });
    },
  };
}

/** The record for one message: a copy of binary data, so a view of a larger buffer stores only itself. */
function toRecord({ data, id }: StoredMessage): StoredMessage {
  const record: StoredMessage = { data: typeof data === 'string' ? data : data.slice() };
  if (id !== undefined) record.id = id;
  return record;
}

/** What is wrong with the stored records, or undefined when they are messages under keys 0…n-1. */
function recordsProblem(keys: readonly IDBValidKey[], values: readonly unknown[]): string | undefined {
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] !== i) return `record ${i} is not under key ${i}`;
    const problem = messageProblem(values[i]);
    if (problem) return `record ${i} ${problem}`;
  }
  return undefined;
}

function failed(what: string, cause: unknown): SteadySocketError {
  const name = (cause as { name?: unknown } | null)?.name;
  return new SteadySocketError('STORAGE_FAILED', `${what}${typeof name === 'string' ? ` (${name})` : ''}.`, cause);
}
