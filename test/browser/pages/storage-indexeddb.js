// Browser side of test/browser/storage-indexeddb.test.ts. Plain JS on purpose: served as is.
// Messages cross the page boundary as JSON: { text } or { bytes: [numbers] }, plus `id` and `queuedAt` if any.
'use strict';

const { indexedDbStore } = window.SteadyStorage;

function fromWire(messages) {
  return messages.map((m) => {
    const message = { data: 'bytes' in m ? new Uint8Array(m.bytes) : m.text };
    if ('id' in m) message.id = m.id;
    if ('queuedAt' in m) message.queuedAt = m.queuedAt;
    return message;
  });
}

function toWire(messages) {
  return messages.map((m) => {
    const wire = typeof m.data === 'string' ? { text: m.data } : { bytes: Array.from(m.data), type: m.data.constructor.name };
    if ('id' in m) wire.id = m.id;
    if ('queuedAt' in m) wire.queuedAt = m.queuedAt;
    return wire;
  });
}

/** Runs `action`; resolves with { ok: true, value } or the error's { ok: false, name, code, message }. */
async function settle(action) {
  try {
    return { ok: true, value: await action() };
  } catch (error) {
    return { ok: false, name: error && error.name, code: error && error.code, message: String(error && error.message) };
  }
}

/** Runs one request against the database `name` directly, outside the store under test. */
function raw(name, work) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction('outbox', 'readwrite');
      work(tx.objectStore('outbox'));
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
      tx.onabort = () => {
        db.close();
        reject(tx.error);
      };
    };
  });
}

window.storageTest = {
  save: (name, messages) => settle(() => indexedDbStore(name).save(fromWire(messages))),
  load: (name) => settle(async () => toWire(await indexedDbStore(name).load())),
  clear: (name) => settle(() => indexedDbStore(name).clear()),

  /** Saves `count` snapshots without waiting, then loads: which one won. */
  async concurrent(name, count) {
    const store = indexedDbStore(name);
    const saves = [];
    for (let k = 1; k <= count; k++) saves.push(store.save(Array.from({ length: k }, (_, i) => ({ data: `${k}-${i}`, id: i }))));
    const loading = store.load();
    await Promise.all(saves);
    return toWire(await loading);
  },

  /**
   * Saves `count` snapshots of `size` messages each without waiting, as a fast sender asks for
   * them, counting the records written (IDBObjectStore.prototype.put); then loads: which won.
   * `gapMs` >= 0: one snapshot per turn of the event loop, that many ms apart (as persist() saves
   * once per turn), else all in one turn.
   */
  async backlog(name, count, size, gapMs = -1) {
    const put = IDBObjectStore.prototype.put;
    let puts = 0;
    IDBObjectStore.prototype.put = function (...args) {
      puts++;
      return put.apply(this, args);
    };
    try {
      const store = indexedDbStore(name);
      await store.save([]); // the database is open from here on
      const saves = [];
      const started = performance.now();
      for (let k = 1; k <= count; k++) {
        saves.push(store.save(Array.from({ length: size }, (_, i) => ({ data: `${k}-${i}` }))));
        if (gapMs >= 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      }
      const outcomes = await Promise.allSettled(saves);
      const ms = Math.round(performance.now() - started);
      const loaded = await store.load();
      return {
        puts,
        ms,
        rejected: outcomes.filter((o) => o.status === 'rejected').length,
        length: loaded.length,
        first: loaded[0] && loaded[0].data,
        last: loaded.length ? loaded[loaded.length - 1].data : undefined,
      };
    } finally {
      IDBObjectStore.prototype.put = put;
    }
  },

  /**
   * Saves `size` messages, then the same without the first `shift` and with `shift` new ones at
   * the end (as an outbox changes between two saves), counting the second save's write requests
   * (IDBObjectStore.prototype.put, delete and clear); then loads with a new store.
   */
  async changes(name, size, shift) {
    const proto = IDBObjectStore.prototype;
    const originals = { put: proto.put, delete: proto.delete, clear: proto.clear };
    const counts = { put: 0, delete: 0, clear: 0 };
    try {
      const store = indexedDbStore(name);
      const message = (i) => ({ data: `message ${i}`, queuedAt: 1_700_000_000_000 + i });
      await store.save(Array.from({ length: size }, (_, i) => message(i)));
      for (const method of Object.keys(originals)) {
        proto[method] = function (...args) {
          counts[method]++;
          return originals[method].apply(this, args);
        };
      }
      await store.save(Array.from({ length: size }, (_, i) => message(i + shift)));
      Object.assign(proto, originals);
      const loaded = await store.load();
      return { counts, length: loaded.length, first: loaded[0].data, last: loaded[loaded.length - 1].data };
    } finally {
      Object.assign(proto, originals);
    }
  },

  /** Saves twice without waiting (the second waits behind the first), clears, then loads; saves once more and loads. */
  async saveSaveClear(name) {
    const store = indexedDbStore(name);
    await store.save([]); // the database is open from here on
    const saves = [store.save([{ data: 'first' }]), store.save([{ data: 'second' }])];
    await store.clear();
    const outcomes = await Promise.allSettled(saves);
    const afterClear = toWire(await store.load());
    await store.save([{ data: 'third' }]);
    return { rejected: outcomes.filter((o) => o.status === 'rejected').length, afterClear, afterSave: toWire(await store.load()) };
  },

  /** Saves a view of the middle of a larger buffer, then changes the buffer: what loads. */
  async viewThenMutate(name) {
    const store = indexedDbStore(name);
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const saving = store.save([{ data: backing.subarray(2, 5) }]);
    backing.fill(7);
    await saving;
    return toWire(await store.load());
  },

  /** A store on a wrapped factory: how many times the store opened through it. */
  async injectedFactory(name) {
    let opens = 0;
    const factory = {
      open: (...args) => (opens++, indexedDB.open(...args)),
      deleteDatabase: (...args) => indexedDB.deleteDatabase(...args),
      cmp: (a, b) => indexedDB.cmp(a, b),
      databases: () => indexedDB.databases(),
    };
    const store = indexedDbStore(name, { indexedDB: factory });
    await store.save([{ data: 'through the injected factory' }]);
    const loaded = toWire(await store.load());
    return { opens, loaded };
  },

  /** Damages the saved records the way another writer (or a bug) could. */
  corrupt(name, how) {
    return settle(() =>
      raw(name, (store) => {
        if (how === 'not-a-message') store.put({ data: 42 }, 0);
        // Keys may have gaps (a save deletes the records of messages that left), never a fraction.
        else if (how === 'fractional-key') store.put({ data: 'x' }, 0.5);
        else if (how === 'string-key') store.put({ data: 'x' }, 'x');
        else if (how === 'array-buffer') store.put({ data: new ArrayBuffer(4) }, 0);
        else throw new Error(`unknown damage ${how}`);
      }),
    );
  },

  /** Database names that exist now (where the browser can list them). */
  async databases() {
    return indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : null;
  },
};
