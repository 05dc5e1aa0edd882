// What can be checked of the IndexedDB store without a browser; the rest runs in real browsers in
// test/browser/storage-indexeddb.test.ts.
import { expect } from 'chai';
import { isSteadySocketError } from '../../src/errors';
import { indexedDbStore } from '../../src/storage/indexeddb';

describe('storage: indexedDbStore without IndexedDB', () => {
  it('throws STORAGE_FAILED at once where there is no IndexedDB (Node)', () => {
    expect((globalThis as { indexedDB?: unknown }).indexedDB).to.equal(undefined);
    let thrown: unknown;
    try {
      indexedDbStore('outbox');
    } catch (error) {
      thrown = error;
    }
    expect(isSteadySocketError(thrown, 'STORAGE_FAILED'), String(thrown)).to.equal(true);
    expect((thrown as Error).message).to.match(/indexedDB option/);
  });

  it('refuses a name that is empty or ends in #<number> (the slots of other tabs) with INVALID_OPTION', () => {
    // Before: indexedDbStore('ch#2') was taken for the second tab's slot of 'ch' and adopted by it.
    const factory = {} as IDBFactory;
    for (const name of ['', 'ch#2', 'outbox#10', 42 as unknown as string]) {
      expect(() => indexedDbStore(name, { indexedDB: factory }), String(name)).to.throw().with.property('code', 'INVALID_OPTION');
    }
    for (const name of ['ch', 'ch#', 'ch#x', '#2a', 'a#2#b']) expect(() => indexedDbStore(name, { indexedDB: factory }), name).to.not.throw();
  });

  it('uses an injected factory instead of the global one', async () => {
    const opened: string[] = [];
    const factory = {
      open(name: string) {
        opened.push(name);
        // A request that fails: enough to see the store went through this factory.
        const request = { error: new DOMException('refused by the test', 'UnknownError') } as unknown as IDBOpenDBRequest;
        queueMicrotask(() => request.onerror?.(new Event('error')));
        return request;
      },
    } as unknown as IDBFactory;
    const error = await indexedDbStore('injected', { indexedDB: factory }).load().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(opened).to.deep.equal(['injected']);
    expect(isSteadySocketError(error, 'STORAGE_FAILED'), String(error)).to.equal(true);
    expect((error as Error).message).to.include('"injected"').and.include('UnknownError');
  });
});
