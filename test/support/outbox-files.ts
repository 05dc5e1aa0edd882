// Shared by the file store's tests (test/unit/storage-file-changes, review-append-log*, mutants-storage): messages
// to save, a fresh store's view of a file, disk failures simulated by patching node:fs, and one
// step of the random save sequences their property tests run.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { fileStore, type FileStore } from '../../src/storage/file';
import type { StoredMessage } from '../../src/storage/types';

export const text = (n: number, size = 40): StoredMessage => ({ data: `message ${n} ${'x'.repeat(size)}`, queuedAt: 1_795_000_000_000 + n });
export const bytes = (n: number): StoredMessage => ({ data: new Uint8Array(20 + (n % 7)).fill(n % 256), id: n, queuedAt: 1_795_000_000_000 + n });
export const range = (from: number, to: number, make = text): StoredMessage[] => Array.from({ length: to - from }, (_, i) => make(from + i));
/** The SHA-256 of `s` in hex, as the file format writes it. */
export const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
/** One appended change line of the file format (format version 2), written by hand. */
export const changeLine = (json: string): Buffer => Buffer.from(`${sha(json)} ${json}\n`);

/** What a fresh store (a new process, as far as the file is concerned) loads from `path`. */
export async function loadFresh(path: string): Promise<StoredMessage[]> {
  const other = fileStore(path);
  try {
    return await other.load();
  } finally {
    other.release();
  }
}

type Fs = typeof fs;
/** Replaces fs[name] (and the ESM named export src/ imports) until the returned function is called. */
export function patchFs<K extends keyof Fs>(name: K, make: (real: Fs[K]) => Fs[K]): () => void {
  const real = fs[name];
  (fs as Record<string, unknown>)[name as string] = make(real);
  syncBuiltinESMExports();
  return () => {
    (fs as Record<string, unknown>)[name as string] = real;
    syncBuiltinESMExports();
  };
}

export function ioError(code: string): NodeJS.ErrnoException {
  const error = new Error(`${code}: simulated`) as NodeJS.ErrnoException;
  error.code = code;
  return error;
}

/** Makes every call of `fs[name]` throw an I/O error with `code`, until the returned undo runs. */
export function failFs<K extends keyof Fs>(name: K, code: string): () => void {
  return patchFs(name, () => (() => {
    throw ioError(code);
  }) as unknown as Fs[K]);
}

/** What happens to an outbox between two saves. */
export type OutboxChange =
  | { kind: 'push'; count: number; binary: boolean }
  | { kind: 'shift'; count: number }
  | { kind: 'pop'; count: number }
  | { kind: 'edit'; at: number }
  | { kind: 'empty' };

/** How a save is made: awaited, saveSync(), or not awaited (the next step runs while it is queued or writing). */
export type SaveMode = 'await' | 'sync' | 'queued';

/**
 * `model` after `change` (new messages numbered from `next`, returned with the next number), saved
 * to `store` as `mode` says from copies of the caller's own that are garbled once the save returns
 * (the store must not keep them). A save left running is pushed to `running`.
 */
export async function changeAndSave(
  store: FileStore,
  model: StoredMessage[],
  next: number,
  change: OutboxChange,
  mode: SaveMode,
  running: Promise<unknown>[],
): Promise<{ model: StoredMessage[]; next: number }> {
  if (change.kind === 'push') {
    model = [...model, ...range(next, next + change.count, change.binary ? bytes : text)];
    next += change.count;
  }
  if (change.kind === 'shift') model = model.slice(change.count);
  if (change.kind === 'pop') model = model.slice(0, Math.max(0, model.length - change.count));
  if (change.kind === 'edit' && model.length) model = model.map((message, i) => (i === change.at % model.length ? text(next++) : message));
  if (change.kind === 'empty') model = [];
  const given = model.map((message) => ({ ...message, data: typeof message.data === 'string' ? message.data : new Uint8Array(message.data) }));
  if (mode === 'sync') store.saveSync(given);
  else if (mode === 'await') await store.save(given);
  else running.push(store.save(given));
  for (const message of given) if (typeof message.data !== 'string') message.data.fill(0xee);
  return { model, next };
}
