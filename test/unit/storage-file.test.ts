import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, truncateSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSteadySocketError, type SteadySocketErrorCode } from '../../src/errors';
import { persist, SteadySocket } from '../../src/index';
import { fileStore } from '../../src/storage/file';
import { decodeOutboxFile, encodeOutboxFile } from '../../src/storage/file-format';
import type { StoredMessage } from '../../src/storage/types';
import { FakeWebSocket } from '../support/fake-websocket';
import { snapshot, snapshotNumber, windowNumber } from './fixtures/outbox-snapshots';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const writer = fileURLToPath(new URL('./fixtures/outbox-writer.ts', import.meta.url));

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

function expectCode(error: unknown, code: SteadySocketErrorCode): void {
  expect(isSteadySocketError(error, code), `${(error as Error)?.message} should have code ${code}`).to.equal(true);
}

describe('storage: fileStore', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steadysocket-outbox-'));
    file = join(dir, 'outbox.json');
  });

  afterEach(() => {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('round trip', () => {
    it('returns strings and binary as saved, oldest first, with their ids and queue times', async () => {
      const bytes = new Uint8Array(256).map((_, i) => i);
      const messages: StoredMessage[] = [
        { data: 'hello', id: 1, queuedAt: 1_795_000_000_123 },
        { data: bytes, id: 'b-2', queuedAt: 0 },
        { data: '' },
        { data: new Uint8Array(0), id: 0 },
        { data: 'AAE= looks like base64 but is text ✓ 🚀 \u0000 "quoted"\n', id: -1.5 },
      ];
      const store = fileStore(file);
      await store.save(messages);
      const loaded = await fileStore(file).load();
      expect(loaded).to.deep.equal(messages);
      expect(loaded[1].data).to.be.an.instanceOf(Uint8Array);
      expect(Buffer.isBuffer(loaded[1].data), 'a plain Uint8Array, not a Buffer').to.equal(false);
      expect('id' in loaded[2], 'no id stays no id').to.equal(false);
      expect('queuedAt' in loaded[2], 'no queue time stays none').to.equal(false);
    });

    it('saves a view of a larger buffer as the view only', async () => {
      const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
      const store = fileStore(file);
      await store.save([{ data: backing.subarray(2, 5) }]);
      expect(await store.load()).to.deep.equal([{ data: new Uint8Array([1, 2, 3]) }]);
    });

    it('loads [] when nothing was saved, and after saving []', async () => {
      const store = fileStore(file);
      expect(await store.load()).to.deep.equal([]);
      await store.save([{ data: 'one' }]);
      await store.save([]);
      expect(await store.load()).to.deep.equal([]);
    });

    it('keeps what was saved even if the caller changes its array and buffers afterwards', async () => {
      const store = fileStore(file);
      const data = new Uint8Array([1, 2, 3]);
      const messages: StoredMessage[] = [{ data }];
      const saved = store.save(messages);
      data[0] = 99;
      messages.push({ data: 'later' });
      await saved;
      expect(await store.load()).to.deep.equal([{ data: new Uint8Array([1, 2, 3]) }]);
    });

    it('clear() deletes the file, and load() then returns []', async () => {
      const store = fileStore(file);
      await store.save([{ data: 'x' }]);
      expect(existsSync(file)).to.equal(true);
      await store.clear();
      expect(existsSync(file)).to.equal(false);
      expect(await store.load()).to.deep.equal([]);
      await store.clear();
    });

    it('creates the file readable by its owner only (mode 0o600 by default)', async () => {
      await fileStore(file).save([{ data: 'secret' }]);
      expect(statSync(file).mode & 0o777).to.equal(0o600);
    });

    it('leaves no temporary file behind after a save', async () => {
      const store = fileStore(file);
      await store.save([{ data: 'a' }]);
      store.saveSync([{ data: 'b' }]);
      // The claim on the file (file-lock.ts) stays until the store lets go of it.
      expect(readdirSync(dir).sort()).to.deep.equal(['outbox.json', 'outbox.json.lock']);
      store.release();
      expect(readdirSync(dir).sort()).to.deep.equal(['outbox.json']);
    });
  });

  describe('paths through symbolic links', () => {
    it('one file reached through a link to it or to its directory is one store (one key, one path)', () => {
      writeFileSync(join(dir, 'real.json'), '');
      symlinkSync(join(dir, 'real.json'), join(dir, 'link.json'));
      mkdirSync(join(dir, 'sub'));
      symlinkSync(join(dir, 'sub'), join(dir, 'sublink'));
      const real = realpathSync(dir);
      expect(fileStore(join(dir, 'link.json')).key).to.equal(`file:${join(real, 'real.json')}`);
      expect(fileStore(join(dir, 'link.json')).key).to.equal(fileStore(join(dir, 'real.json')).key);
      expect(fileStore(join(dir, 'sublink', 'o.json')).path, 'a file not there yet, in a linked directory').to.equal(join(real, 'sub', 'o.json'));
      expect(fileStore(join(dir, 'sublink', 'o.json')).key).to.equal(fileStore(join(dir, 'sub', 'o.json')).key);
    });

    it('a save through a link writes the file it points to and leaves the link a link', async () => {
      writeFileSync(join(dir, 'real.json'), '');
      symlinkSync(join(dir, 'real.json'), join(dir, 'link.json'));
      const store = fileStore(join(dir, 'link.json'));
      await store.save([{ data: 'a' }]);
      store.saveSync([{ data: 'b' }]);
      expect(lstatSync(join(dir, 'link.json')).isSymbolicLink(), 'still a link').to.equal(true);
      expect(await fileStore(join(dir, 'real.json')).load()).to.deep.equal([{ data: 'b' }]);
    });

    it('persist(): a client on a linked path while another uses the real one throws INVALID_OPTION', async () => {
      symlinkSync(dir, join(dir, 'dirlink'));
      const options = { WebSocket: FakeWebSocket as never, maxRetries: 0 };
      const first = new SteadySocket('ws://example.test/', { ...options, use: [persist(fileStore(join(dir, 'real.json')))] });
      try {
        let thrown: unknown;
        try {
          new SteadySocket('ws://example.test/', { ...options, use: [persist(fileStore(join(dir, 'dirlink', 'real.json')))] });
        } catch (error) {
          thrown = error;
        }
        expectCode(thrown, 'INVALID_OPTION');
        expect((thrown as Error).message).to.match(/Another client still uses the store/);
      } finally {
        await first.close();
      }
    });
  });

  describe('the file format', () => {
    it('is a header line describing a JSON body line, binary as base64', () => {
      const text = encodeOutboxFile([{ data: 'hi', id: 7, queuedAt: 1_795_000_000_000 }, { data: new Uint8Array([0, 1, 255]) }]).toString('utf8');
      const [header, body, end] = text.split('\n');
      expect(end).to.equal('');
      expect(JSON.parse(body)).to.deep.equal([{ text: 'hi', id: 7, queuedAt: 1_795_000_000_000 }, { base64: 'AAH/' }]);
      const parsed = JSON.parse(header);
      expect(parsed).to.include({ format: 'steadysocket-outbox', version: 2, count: 2, bytes: Buffer.byteLength(body) });
      expect(parsed.sha256).to.match(/^[0-9a-f]{64}$/);
    });

    it('refuses every truncation of a valid file', () => {
      const bytes = encodeOutboxFile(snapshot(3).slice(0, 3));
      const accepted: number[] = [];
      for (let length = 0; length < bytes.length; length++) {
        if (decodeOutboxFile(bytes.subarray(0, length)).ok) accepted.push(length);
      }
      expect(accepted).to.deep.equal([]);
      expect(decodeOutboxFile(bytes).ok).to.equal(true);
    });

    it('refuses a file with any one byte of its body changed', () => {
      const bytes = encodeOutboxFile([{ data: 'abcdef', id: 1 }]);
      const bodyStart = bytes.indexOf(0x0a) + 1;
      const accepted: number[] = [];
      for (let i = bodyStart; i < bytes.length - 1; i++) {
        const copy = Buffer.from(bytes);
        copy[i] ^= 0x01;
        if (decodeOutboxFile(copy).ok) accepted.push(i);
      }
      expect(accepted).to.deep.equal([]);
    });

    it('reads a file written before queue times were stored (version 1 without queuedAt), and refuses a queuedAt that is no finite number', () => {
      // The bytes a steadysocket before queuedAt wrote for [{ data: 'hi', id: 7 }, { data: 'yo' }].
      const body = '[{"text":"hi","id":7},{"text":"yo"}]';
      const header = { format: 'steadysocket-outbox', version: 1, count: 2, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
      const old = decodeOutboxFile(Buffer.from(`${JSON.stringify(header)}\n${body}\n`));
      expect(old).to.deep.equal({ ok: true, messages: [{ data: 'hi', id: 7 }, { data: 'yo' }] });
      for (const queuedAt of ['"1795000000000"', 'null', '1e999', '{}']) {
        const bad = `[{"text":"hi","queuedAt":${queuedAt}}]`;
        const badHeader = { ...header, count: 1, bytes: Buffer.byteLength(bad), sha256: createHash('sha256').update(bad).digest('hex') };
        const decoded = decodeOutboxFile(Buffer.from(`${JSON.stringify(badHeader)}\n${bad}\n`));
        expect(decoded.ok, `queuedAt ${queuedAt}`).to.equal(false);
        expect(!decoded.ok && decoded.problem).to.match(/queuedAt/);
      }
    });

    it('refuses another version, with a reason that says so', () => {
      const text = encodeOutboxFile([]).toString('utf8').replace('"version":2', '"version":3');
      const decoded = decodeOutboxFile(Buffer.from(text));
      expect(decoded.ok).to.equal(false);
      expect(!decoded.ok && decoded.problem).to.match(/version 3/);
    });
  });

  describe('bad input', () => {
    it('refuses a path or options that cannot work at once, with INVALID_OPTION (not at the first save)', () => {
      for (const [path, options] of [[undefined, undefined], ['', undefined], ['   ', undefined], [42, undefined], [file, null], [file, { mode: 'rw' }], [file, { mode: -1 }], [file, { mode: 0o7777777 }], [file, { mode: 1.5 }], [file, { fsync: 'yes' }]] as const) {
        let error: unknown;
        try {
          fileStore(path as never, options as never);
        } catch (caught) {
          error = caught;
        }
        expectCode(error, 'INVALID_OPTION');
      }
      expect(existsSync(file), 'nothing was created').to.equal(false);
      expect(fileStore(file, { mode: 0o640, fsync: false }).path).to.equal(file);
    });
  });

  describe('corrupt or unreadable storage', () => {
    async function expectCorruptThenEmpty(contents: string | Buffer): Promise<Error> {
      writeFileSync(file, contents);
      const store = fileStore(file);
      const error = await rejection(store.load());
      expectCode(error, 'STORAGE_CORRUPT');
      expect(error.message).to.include(file);
      expect(existsSync(file), 'the corrupt file is deleted').to.equal(false);
      expect(await store.load()).to.deep.equal([]);
      return error;
    }

    it('rejects a file that is not an outbox with STORAGE_CORRUPT, then loads []', async () => {
      await expectCorruptThenEmpty('not an outbox at all');
      await expectCorruptThenEmpty('');
      await expectCorruptThenEmpty('{"format":"steadysocket-outbox","version":1}\n[]\n');
    });

    it('leaves a newer version\'s file as it is: STORAGE_FAILED, nothing deleted, and persist() never writes it', async () => {
      // A downgrade: the file a later steadysocket wrote is not corrupt, and its messages are not ours to drop.
      const text = encodeOutboxFile(snapshot(2)).toString('utf8').replace('"version":2', '"version":3');
      writeFileSync(file, text);
      const store = fileStore(file);
      const error = await rejection(store.load());
      expectCode(error, 'STORAGE_FAILED');
      expect(error.message).to.match(/newer steadysocket \(it is version 3/);
      expect(readFileSync(file, 'utf8'), 'the file is untouched').to.equal(text);
      const outbox = persist(store);
      const client = new SteadySocket('ws://127.0.0.1:9/', { WebSocket: FakeWebSocket as never, use: [outbox] });
      client.on('error', () => {});
      client.send('after the downgrade');
      expectCode(await rejection(outbox.saved()), 'STORAGE_FAILED');
      await client.close();
      expect(readFileSync(file, 'utf8'), 'still untouched after the client ran and closed').to.equal(text);
    });

    it('rejects a truncated file with STORAGE_CORRUPT, then loads []', async () => {
      const full = encodeOutboxFile(snapshot(5));
      writeFileSync(file, full);
      truncateSync(file, Math.floor(full.length / 2));
      const error = await expectCorruptThenEmpty(readFileSync(file));
      expect(error.message).to.match(/bytes/);
    });

    it('rejects a garbled file (checksum mismatch) with STORAGE_CORRUPT', async () => {
      const full = encodeOutboxFile([{ data: 'hello world', id: 1 }]);
      full[full.length - 5] = 'X'.charCodeAt(0);
      const error = await expectCorruptThenEmpty(full);
      expect(error.message).to.match(/SHA-256/);
    });

    it('never puts message contents in the error message', async () => {
      const secret = 'hunter2-SECRET-token';
      // Invalid JSON around the secret: engines quote the offending text in their parse errors.
      const error = await expectCorruptThenEmpty(`{"format":"steadysocket-outbox", ${secret} }\n[{"text":"${secret}"]\n`);
      expect(error.message).not.to.include(secret);
      expect(String(error.cause ?? '')).not.to.include(secret);
      const good = encodeOutboxFile([{ data: secret }]);
      const error2 = await expectCorruptThenEmpty(good.subarray(0, good.length - 3));
      expect(error2.message).not.to.include(secret);
    });

    it('rejects a path it cannot read with STORAGE_FAILED and leaves it alone', async () => {
      mkdirSync(file);
      const error = await rejection(fileStore(file).load());
      expectCode(error, 'STORAGE_FAILED');
      expect(error.message).to.include(file);
      expect(statSync(file).isDirectory()).to.equal(true);
    });

    it('rejects a save into a missing directory with STORAGE_FAILED, and saveSync throws it', async () => {
      const store = fileStore(join(dir, 'missing', 'outbox.json'));
      expectCode(await rejection(store.save([{ data: 'x' }])), 'STORAGE_FAILED');
      expect(() => store.saveSync([{ data: 'x' }])).to.throw().that.satisfies((e: unknown) => isSteadySocketError(e, 'STORAGE_FAILED'));
    });

    it('keeps the old contents when a save fails', async function () {
      if (process.getuid?.() === 0) {
        // root ignores directory permissions: make the temporary name unusable instead.
        const store = fileStore(file);
        await store.save([{ data: 'old' }]);
        mkdirSync(`${file}.tmp`);
        writeFileSync(join(`${file}.tmp`, 'blocker'), '');
        expectCode(await rejection(store.save([{ data: 'new' }])), 'STORAGE_FAILED');
        expect(await store.load()).to.deep.equal([{ data: 'old' }]);
        return;
      }
      const store = fileStore(file);
      await store.save([{ data: 'old' }]);
      chmodSync(dir, 0o500);
      expectCode(await rejection(store.save([{ data: 'new' }])), 'STORAGE_FAILED');
      chmodSync(dir, 0o700);
      expect(await store.load()).to.deep.equal([{ data: 'old' }]);
    });

    it('refuses messages it cannot store faithfully with INVALID_MESSAGE, naming no contents', async () => {
      const store = fileStore(file);
      const bad = [
        [{ data: 42 }],
        [{ data: 'ok', id: Number.NaN }],
        [{ data: 'ok', queuedAt: Number.POSITIVE_INFINITY }],
        [{ data: 'ok', queuedAt: '2026-11-30' }],
        [{ data: 'ok', id: { nested: 'secret-value' } }],
        [null],
        'not-an-array',
      ] as unknown as StoredMessage[][];
      for (const messages of bad) {
        const error = await rejection(store.save(messages));
        expectCode(error, 'INVALID_MESSAGE');
        expect(error.message).not.to.include('secret-value');
        expect(() => store.saveSync(messages)).to.throw().that.satisfies((e: unknown) => isSteadySocketError(e, 'INVALID_MESSAGE'));
      }
      expect(existsSync(file)).to.equal(false);
    });
  });

  describe('ordering', () => {
    it('runs concurrent saves one at a time: the last one wins', async () => {
      const store = fileStore(file);
      const saves: Promise<void>[] = [];
      for (let k = 1; k <= 30; k++) saves.push(store.save(snapshot(k)));
      const loading = store.load();
      await Promise.all(saves);
      expect(snapshotNumber(await loading), 'a load queued after the saves sees the last').to.equal(30);
      expect(snapshotNumber(await fileStore(file).load())).to.equal(30);
    });

    it('applies save, clear and save in call order', async () => {
      const store = fileStore(file);
      const order = [store.save([{ data: 'a' }]), store.clear(), store.save([{ data: 'b' }])];
      await Promise.all(order);
      expect(await store.load()).to.deep.equal([{ data: 'b' }]);
      await Promise.all([store.save([{ data: 'c' }]), store.clear()]);
      expect(await store.load()).to.deep.equal([]);
    });

    it('never lets an earlier async save overwrite a later saveSync', async () => {
      const store = fileStore(file);
      const pending = [store.save(snapshot(1)), store.save(snapshot(2))];
      store.saveSync(snapshot(3));
      await Promise.all(pending);
      expect(snapshotNumber(await store.load())).to.equal(3);
      const later = store.save(snapshot(4));
      await later;
      expect(snapshotNumber(await store.load())).to.equal(4);
    });
  });

  describe('crash safety', () => {
    // A child saves snapshots in a loop and is SIGKILLed at an arbitrary moment, often mid-write.
    // After each kill the file must hold one complete snapshot, never older than the last save the
    // child saw settle. Bounded: 20 kills, each waiting at most 15 s for the child to save.
    for (const mode of ['async', 'sync'] as const) {
      it(`keeps a complete snapshot, no older than the last settled ${mode === 'sync' ? 'saveSync()' : 'save()'}, across 10 SIGKILLs`, async function () {
        this.timeout(120_000);
        let last = 0;
        for (let kill = 0; kill < 10; kill++) {
          const settled = await runAndKill(file, mode, 1 + (kill % 3), kill % 3);
          // The killed child's claim on the file names a process that has ended: taken over, then let go for the next child.
          const store = fileStore(file);
          const loaded = snapshotNumber(await store.load());
          store.release();
          expect(loaded, `after kill ${kill}: snapshot ${loaded}, last settled ${settled}`).to.be.at.least(settled);
          expect(loaded, 'never goes back').to.be.at.least(last);
          last = loaded;
        }
        expect(last).to.be.greaterThan(0);
      });
    }

    // The same with saves that append changes (a sliding window): a kill lands in an append, its
    // fsync, or a snapshot that compacts the file, and the next child appends after what was cut
    // short. (A SIGKILL cannot cut one write(2) short: the kernel finishes it. What a power loss
    // leaves, a change cut short or garbled, is in storage-file-changes.test.ts.) After each kill the file holds the outbox of the last settled save or of the one
    // after it (the child saves one at a time), never a mix.
    for (const mode of ['async', 'sync'] as const) {
      it(`keeps the outbox of the last settled ${mode === 'sync' ? 'saveSync()' : 'save()'} (or the next) when each save appends a change, across 10 SIGKILLs`, async function () {
        this.timeout(120_000);
        let last = 0;
        let withChanges = 0;
        for (let kill = 0; kill < 10; kill++) {
          const settled = await runAndKill(file, mode, 1 + ((kill * 7) % 40), kill % 3, 'window');
          const bytes = readFileSync(file);
          // More lines than a header and a snapshot: the saves appended changes.
          if (bytes.toString('latin1').split('\n').length > 3) withChanges++;
          const store = fileStore(file);
          const loaded = windowNumber(await store.load());
          store.release();
          expect(loaded, `after kill ${kill}: window ${loaded}, last settled ${settled}`).to.be.within(Math.max(settled, last), Math.max(settled, last) + 1);
          last = loaded;
        }
        expect(last).to.be.greaterThan(10);
        expect(withChanges, 'kills that found changes appended').to.be.greaterThan(0);
      });
    }
  });
});

/**
 * Runs the writer until it has settled `saves` more saves, then SIGKILLs it at the next change in
 * the file's directory (inotify), `delay` ms after it: that lands inside a write far more often
 * than a timer would, since encoding takes most of each save. Resolves with the last k it printed.
 */
function runAndKill(file: string, mode: 'async' | 'sync', saves: number, delay: number, shape: 'snapshot' | 'window' = 'snapshot'): Promise<number> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, file, mode, shape], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let printed: number[] = [];
    let stderr = '';
    let buffered = '';
    let watcher: FSWatcher | undefined;
    const timers: NodeJS.Timeout[] = [];
    const kill = () => {
      watcher?.close();
      watcher = undefined;
      child.kill('SIGKILL');
    };
    const deadline = setTimeout(() => {
      kill();
      reject(new Error(`the writer did not save ${saves} snapshots within 15 s: ${stderr}`));
    }, 15_000);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      printed = printed.concat(lines.map(Number));
      if (!watcher && printed.length >= saves && child.exitCode === null && child.signalCode === null) {
        watcher = watch(dirname(file), () => (delay ? timers.push(setTimeout(kill, delay)) : kill()));
        timers.push(setTimeout(kill, 1000));
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      timers.forEach(clearTimeout);
      watcher?.close();
      if (signal !== 'SIGKILL') return reject(new Error(`the writer exited by itself (${code}): ${stderr}`));
      resolveRun(printed.length ? printed[printed.length - 1] : 0);
    });
  });
}
