// The IndexedDB outbox store (src/storage/indexeddb.ts) in real Chromium and Firefox. The module
// is bundled here with rollup into a temporary directory — an IIFE with the global SteadyStorage —
// so the test needs no `npm run build` and proves the module stands alone (no imports at runtime).
import typescript from '@rollup/plugin-typescript';
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { rollup } from 'rollup';
import { BROWSERS, startPageServer, useBrowser, type PageServer } from './harness';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A message as it crosses into and out of the page (see pages/storage-indexeddb.js). */
interface WireMessage {
  text?: string;
  bytes?: number[];
  /** Constructor of the loaded binary data. */
  type?: string;
  id?: string | number;
  queuedAt?: number;
}
type Settled<T> = { ok: true; value: T } | { ok: false; name: string; code?: string; message: string };

const SAMPLE: WireMessage[] = [
  { text: 'hello', id: 1, queuedAt: 1_795_000_000_123 },
  { bytes: Array.from({ length: 256 }, (_, i) => i), id: 'b-2', queuedAt: 0 },
  { text: '' },
  { bytes: [], id: 0 },
  { text: 'unicode ✓ 🚀 "quoted"\n', id: -1.5 },
];
/** SAMPLE as it loads: binary comes back as a Uint8Array. */
const LOADED = SAMPLE.map((m) => (m.bytes ? { ...m, type: 'Uint8Array' } : m));

describe('storage: indexedDbStore in browsers', () => {
  let buildDir: string;
  let pages: PageServer;

  before(async function () {
    this.timeout(60_000);
    buildDir = mkdtempSync(join(tmpdir(), 'steadysocket-idb-build-'));
    const bundle = await rollup({
      input: resolve(repoRoot, 'src/storage/indexeddb.ts'),
      plugins: [typescript({ tsconfig: resolve(repoRoot, 'tsconfig.json'), declaration: false, outDir: undefined, rootDir: undefined })],
    });
    try {
      const { output } = await bundle.write({ file: join(buildDir, 'indexeddb-store.js'), format: 'iife', name: 'SteadyStorage' });
      expect(output[0].imports, 'the bundled store imports nothing at runtime').to.deep.equal([]);
      expect(output[0].exports).to.include('indexedDbStore');
    } finally {
      await bundle.close();
    }
    pages = await startPageServer({ roots: { '/storage-build/': buildDir } });
  });

  after(async () => {
    await pages?.close();
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  for (const name of BROWSERS) {
    describe(name, () => {
      const session = useBrowser(name);
      let page: Page;

      beforeEach(async () => {
        page = await (await session.newContext()).newPage();
        await page.goto(pages.url('/pages/storage-indexeddb.html'));
      });

      const call = <T>(method: string, ...args: unknown[]): Promise<T> =>
        page.evaluate(([m, a]) => (window as any).storageTest[m as string](...(a as unknown[])), [method, args] as const) as Promise<T>;
      const save = (db: string, messages: WireMessage[]) => call<Settled<void>>('save', db, messages);
      const load = (db: string) => call<Settled<WireMessage[]>>('load', db);

      it('loads strings and binary as saved, oldest first, with their ids and queue times', async () => {
        expect(await save('outbox', SAMPLE)).to.include({ ok: true });
        expect(await load('outbox')).to.deep.equal({ ok: true, value: LOADED });
      });

      it('loads the same messages after page.reload()', async () => {
        expect((await save('reloaded', SAMPLE)).ok).to.equal(true);
        await page.reload();
        expect(await load('reloaded')).to.deep.equal({ ok: true, value: LOADED });
      });

      it('loads [] for an outbox never saved, and after saving []', async () => {
        expect(await load('never')).to.deep.equal({ ok: true, value: [] });
        await save('emptied', [{ text: 'one' }]);
        await save('emptied', []);
        expect(await load('emptied')).to.deep.equal({ ok: true, value: [] });
      });

      it('applies concurrent saves in call order: the last one wins', async () => {
        const loaded = await call<WireMessage[]>('concurrent', 'busy', 25);
        expect(loaded).to.have.length(25);
        expect(loaded.map((m) => m.text)).to.deep.equal(Array.from({ length: 25 }, (_, i) => `25-${i}`));
      });

      it('collapses saves asked for while one is under way into the newest: 20 snapshots of 20,000 messages write 20,000 records, not 400,000', async function () {
        this.timeout(120_000);
        // Each save rewrites the whole outbox. Every save used to get a transaction of its own, all
        // run one after another: a sender faster than a save built a backlog of full rewrites (and
        // of snapshots held in memory for them) that grew for as long as it kept sending.
        const result = await call<{ puts: number; ms: number; rejected: number; length: number; first: string; last: string }>('backlog', 'backlog', 20, 20_000);
        expect(result).to.include({ rejected: 0, length: 20_000, first: '20-0', last: '20-19999' });
        expect(result.puts, 'records written').to.be.at.most(2 * 20_000);
      });

      it('writes what changed: of 20,000 messages, 100 left and 100 came make 100 deletes and 100 puts, no clear', async function () {
        this.timeout(60_000);
        // Each save cleared the store and put every message again: 20,000 puts for 100 new ones.
        const result = await call<{ counts: Record<string, number>; length: number; first: string; last: string }>('changes', 'changes', 20_000, 100);
        expect(result).to.deep.equal({ counts: { put: 100, delete: 100, clear: 0 }, length: 20_000, first: 'message 100', last: 'message 20099' });
      });

      it('writes no save that waited behind another over a clear() asked for after it', async () => {
        expect(await call('saveSaveClear', 'save-save-clear')).to.deep.equal({ rejected: 0, afterClear: [], afterSave: [{ text: 'third' }] });
      });

      it('stores only the bytes of a view, as they were when save() was called', async () => {
        expect(await call('viewThenMutate', 'view')).to.deep.equal([{ bytes: [1, 2, 3], type: 'Uint8Array' }]);
      });

      it('gives two tabs on one name a database each (Web Locks), and a closed tab\'s messages to the next tab', async () => {
        const callOn = <T>(on: Page, method: string, ...args: unknown[]): Promise<T> =>
          on.evaluate(([m, a]) => (window as any).storageTest[m as string](...(a as unknown[])), [method, args] as const) as Promise<T>;
        const open = async () => {
          const tab = await session.context.newPage();
          await tab.goto(pages.url('/pages/storage-indexeddb.html'));
          return tab;
        };
        expect(await save('shared', [{ text: 'from tab 1' }])).to.include({ ok: true });
        const second = await open();
        expect(await callOn(second, 'save', 'shared', [{ text: 'from tab 2' }])).to.include({ ok: true });
        // Each tab's save replaced only its own database.
        expect(await load('shared')).to.deep.equal({ ok: true, value: [{ text: 'from tab 1' }] });
        expect(await callOn(second, 'load', 'shared')).to.deep.equal({ ok: true, value: [{ text: 'from tab 2' }] });
        expect(await call('databases')).to.include.members(['shared', 'shared#2']);
        await second.close(); // its lock goes with it
        const third = await open();
        expect(await callOn(third, 'load', 'shared'), "the next tab takes the free slot, and the closed tab's messages").to.deep.equal({ ok: true, value: [{ text: 'from tab 2' }] });
      });

      it('leaves an abandoned database it cannot read (a newer version, corrupt records) where it is, and adopts the readable one', async () => {
        // Before: adoption read a failure as "empty" and deleted the database, its messages with it.
        await page.evaluate(async () => {
          const make = (name: string, version: number, records: unknown[]) =>
            new Promise<void>((resolve, reject) => {
              const request = indexedDB.open(name, version);
              request.onupgradeneeded = () => request.result.createObjectStore('outbox');
              request.onerror = () => reject(request.error);
              request.onsuccess = () => {
                const db = request.result;
                const tx = db.transaction('outbox', 'readwrite');
                records.forEach((record, i) => tx.objectStore('outbox').put(record, i));
                tx.oncomplete = () => (db.close(), resolve());
                tx.onerror = () => reject(tx.error);
              };
            });
          await make('left#2', 2, [{ data: 'from a newer version' }]);
          await make('left#3', 1, [{ data: 'valid' }, { foo: 1 }]);
          await make('left#4', 1, [{ data: 'adoptable' }]);
        });
        expect(await load('left')).to.deep.equal({ ok: true, value: [{ text: 'adoptable' }] });
        const names = await call<string[]>('databases');
        expect(names, 'the unreadable ones are kept').to.include.members(['left#2', 'left#3']);
        expect(names, 'the adopted one is gone').not.to.include('left#4');
      });

      it('clear() deletes the database, and load() then returns []', async () => {
        await save('cleared', [{ text: 'x' }]);
        expect(await call('databases')).to.include('cleared');
        expect(await call('clear', 'cleared')).to.include({ ok: true });
        expect(await call('databases')).not.to.include('cleared');
        expect(await load('cleared')).to.deep.equal({ ok: true, value: [] });
      });

      for (const damage of ['not-a-message', 'fractional-key', 'string-key', 'array-buffer']) {
        it(`rejects damaged records (${damage}) with STORAGE_CORRUPT, then loads []`, async () => {
          await save('damaged', [{ text: 'a', id: 1 }, { text: 'b', id: 2 }]);
          expect(await call('corrupt', 'damaged', damage)).to.include({ ok: true });
          const result = await load('damaged');
          expect(result).to.include({ ok: false, name: 'SteadySocketError', code: 'STORAGE_CORRUPT' });
          expect(!result.ok && result.message).to.include('"damaged"');
          expect(await load('damaged')).to.deep.equal({ ok: true, value: [] });
        });
      }

      it('refuses a message it cannot store with INVALID_MESSAGE and keeps the old contents', async () => {
        await save('strict', [{ text: 'kept' }]);
        for (const bad of ["[{ data: 42 }]", "[{ data: 'ok', id: NaN }]", "[null]"]) {
          const code = await page.evaluate(`SteadyStorage.indexedDbStore('strict').save(${bad}).then(() => 'saved', (e) => e.code)`);
          expect(code, bad).to.equal('INVALID_MESSAGE');
        }
        expect(await load('strict')).to.deep.equal({ ok: true, value: [{ text: 'kept' }] });
      });

      it('opens the database through an injected IndexedDB factory', async () => {
        const { opens, loaded } = await call<{ opens: number; loaded: WireMessage[] }>('injectedFactory', 'injected');
        expect(opens).to.equal(1);
        expect(loaded).to.deep.equal([{ text: 'through the injected factory' }]);
      });
    });
  }
});
