// Review of fileStore()'s lock file (src/storage/file-lock.ts, c61d837): real files in a temp
// directory, real child processes, real worker threads. A few tests make the interleaving of three
// processes deterministic by running code between two of claimFile()'s file operations (through
// node:fs, whose ESM exports follow syncBuiltinESMExports()); the "other processes" there are real
// running processes (`sleep`) named by the lock files they would have written.
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs, { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SteadySocket } from '../../src/index';
import { persist } from '../../src/features/persist';
import { fileStore } from '../../src/storage/file';
import { claimFile, procStat, releaseFile } from '../../src/storage/file-lock';
import type { StoredMessage } from '../../src/storage/types';

const childFixture = fileURLToPath(new URL('./fixtures/review-lock-child.ts', import.meta.url));
const workerFixture = fileURLToPath(new URL('./fixtures/review-lock-worker.ts', import.meta.url));
// A worker's entry cannot be TypeScript through --import tsx on Node 20: it loads tsx itself.
const workerEntry = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(workerFixture)}, ${JSON.stringify(import.meta.url)}))`;

type Line = { pid: number; event: string; code?: string; message?: string; n?: number; k?: number; first?: string; at?: number; late?: number };
interface Kid {
  proc: ChildProcess;
  lines: Line[];
  stderr: () => string;
}

const kids: ChildProcess[] = [];
const extraPids: number[] = [];
const workers: Worker[] = [];

function start(command: string, args: string[]): Kid {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  kids.push(proc);
  const lines: Line[] = [];
  let out = '';
  let err = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (let at = out.indexOf('\n'); at >= 0; at = out.indexOf('\n')) {
      const line = out.slice(0, at);
      out = out.slice(at + 1);
      try {
        lines.push(JSON.parse(line) as Line);
      } catch {
        // not ours
      }
    }
  });
  proc.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return { proc, lines, stderr: () => err };
}

const node = (...args: string[]) => start(process.execPath, ['--import', 'tsx', childFixture, ...args]);

/** A running process to name in lock files (a real pid, with its real start time). */
function sleeper(): ChildProcess {
  const proc = spawn('sleep', ['30'], { stdio: 'ignore' });
  kids.push(proc);
  return proc;
}

async function waitFor<T>(what: () => T | undefined | false, ms: number, label: string, kid?: Kid): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = what();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${label}${kid ? `; stderr: ${kid.stderr().slice(-2000)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const event = (kid: Kid, name: string | string[]) => kid.lines.find((line) => (Array.isArray(name) ? name : [name]).includes(line.event));

const lockOf = (file: string) => `${file}.lock`;
function owner(file: string): { pid: number; host: string; id: string; start?: string } | undefined {
  try {
    return JSON.parse(readFileSync(lockOf(file), 'utf8'));
  } catch {
    return undefined;
  }
}
function writeLock(file: string, value: object | string): void {
  writeFileSync(lockOf(file), typeof value === 'string' ? value : JSON.stringify(value));
}
const ownerOf = (proc: ChildProcess) => ({ pid: proc.pid!, host: hostname(), id: `other-${proc.pid}`, start: procStat(proc.pid!)?.start });
/** Linux with a /proc of this PID namespace: start times, zombies and thread ids can be read. */
const procReadable = () => procStat(process.pid) !== undefined;

/** The private names claimFile() uses beside the lock (`<lock>.<pid>.<id>`, `….stale`). */
const privates = (dir: string) => readdirSync(dir).filter((name) => /\.lock\./.test(name));

const messages = (n: number, tag = 'secret'): StoredMessage[] => Array.from({ length: n }, (_, i) => ({ id: `${tag}-${i}`, data: `${tag} payload ${i}` }));

async function refusedUrl(): Promise<string> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const url = `ws://127.0.0.1:${(probe.address() as AddressInfo).port}/`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return url;
}

/** Runs `before` once, right before the first linkSync() to a name ending in `suffix` made while `body` runs. */
function beforeFirstLink<T>(suffix: string, before: () => void, body: () => T): T {
  const real = fs.linkSync;
  let done = false;
  fs.linkSync = ((from: fs.PathLike, to: fs.PathLike) => {
    if (!done && String(to).endsWith(suffix)) {
      done = true;
      before();
    }
    return real(from, to);
  }) as typeof fs.linkSync;
  syncBuiltinESMExports();
  try {
    return body();
  } finally {
    fs.linkSync = real;
    syncBuiltinESMExports();
  }
}

/** A lock file placed whole, as claimFile() does (written aside, hard-linked). */
function placeLock(file: string, value: object): void {
  const aside = `${lockOf(file)}.test-aside`;
  writeFileSync(aside, JSON.stringify(value));
  try {
    fs.linkSync(aside, lockOf(file));
  } finally {
    rmSync(aside, { force: true });
  }
}

describe('review: fileStore() lock file (file-lock.ts)', function () {
  this.timeout(60_000);
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steadysocket-review-lock-'));
    file = join(dir, 'outbox.bin');
  });

  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.terminate().catch(() => undefined);
    for (const proc of kids.splice(0)) {
      if (proc.exitCode === null && proc.signalCode === null && proc.pid) {
        try {
          process.kill(proc.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    for (const pid of extraPids.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    releaseFile(file);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('another running process', () => {
    it('a second process finds the file taken (STORAGE_IN_USE naming the pid, no message contents), and nothing of the file or its temp files is touched', async () => {
      const store = fileStore(file);
      await store.save(messages(3));
      writeFileSync(`${file}.tmp`, 'owner temp');
      writeFileSync(`${file}.sync.tmp`, 'owner sync temp');
      const before = readFileSync(file);
      const kid = node('hold', file);
      const line = await waitFor(() => event(kid, ['loaded', 'failed']), 20_000, 'the child to load', kid);
      expect(line.event).to.equal('failed');
      expect(line.code).to.equal('STORAGE_IN_USE');
      expect(line.message).to.contain(`process ${process.pid}`);
      expect(line.message).not.to.contain('secret');
      expect(readFileSync(file).equals(before)).to.equal(true);
      expect(readFileSync(`${file}.tmp`, 'utf8')).to.equal('owner temp');
      expect(readFileSync(`${file}.sync.tmp`, 'utf8')).to.equal('owner sync temp');
      expect(owner(file)?.pid).to.equal(process.pid);
      expect(privates(dir)).to.deep.equal([]);
      store.release();
      expect(existsSync(lockOf(file))).to.equal(false);
      // Released: the next process claims it at once.
      const next = node('hold', file);
      const again = await waitFor(() => event(next, ['loaded', 'failed']), 20_000, 'the second child to load', next);
      expect(again).to.include({ event: 'loaded', n: 3 });
      expect(owner(file)?.pid).to.equal(next.proc.pid);
    });

    it('saveSync() and clear() of a non-owner throw/reject STORAGE_IN_USE and leave the file and both temp files', async () => {
      const holder = sleeper();
      const store = fileStore(file);
      store.saveSync(messages(2));
      store.release();
      const before = readFileSync(file);
      placeLock(file, ownerOf(holder));
      writeFileSync(`${file}.tmp`, 'theirs');
      writeFileSync(`${file}.sync.tmp`, 'theirs too');
      expect(() => store.saveSync(messages(1, 'mine'))).to.throw().with.property('code', 'STORAGE_IN_USE');
      const cleared = await store.clear().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(cleared).to.have.property('code', 'STORAGE_IN_USE');
      expect(readFileSync(file).equals(before)).to.equal(true);
      expect(readFileSync(`${file}.tmp`, 'utf8')).to.equal('theirs');
      expect(readFileSync(`${file}.sync.tmp`, 'utf8')).to.equal('theirs too');
      expect(owner(file)?.pid).to.equal(holder.pid);
    });
  });

  describe('stale locks are taken over at once', () => {
    // The third element: the case needs start times from /proc (Linux, a /proc of this PID namespace).
    const cases: [string, (file: string) => void, boolean?][] = [
      ['a pid that does not exist', (f) => writeLock(f, { pid: 999_999, host: hostname(), id: 'gone', start: '1' })],
      ['a running pid with another start time (pid reuse)', (f) => writeLock(f, { ...ownerOf(sleeper()), start: '1' }), true],
      ['our own pid with another start time (a container restarted as the same pid)', (f) => writeLock(f, { pid: process.pid, host: hostname(), id: 'earlier-run', start: '1' }), true],
      ['garbage', (f) => writeLock(f, '{"pid": 12')],
      ['an empty file', (f) => writeLock(f, '')],
      ['another host', (f) => writeLock(f, { pid: process.pid, host: `${hostname()}-elsewhere`, id: 'x', start: procStat(process.pid)?.start })],
      // A running process of ours, as a lock written in another PID namespace would name a pid that is another process here.
      ['another PID namespace', (f) => writeLock(f, { ...ownerOf(sleeper()), ns: 'pid:[1]' }), true],
    ];
    for (const [name, make, needsProc] of cases) {
      it(`${name}: taken over, nothing left beside it`, async function () {
        if (needsProc && !procReadable()) this.skip();
        fileStore(file).saveSync(messages(2));
        releaseFile(file);
        make(file);
        const store = fileStore(file);
        expect(await store.load()).to.have.length(2);
        expect(owner(file)?.pid).to.equal(process.pid);
        expect(privates(dir)).to.deep.equal([]);
        store.release();
        expect(existsSync(lockOf(file))).to.equal(false);
      });
    }

    it('a running process with its real start time, and another thread of this process, are not taken over', async () => {
      const holder = sleeper();
      placeLock(file, ownerOf(holder));
      const store = fileStore(file);
      const first = await store.load().then(
        () => undefined,
        (error: unknown) => error as Error,
      );
      expect(first).to.have.property('code', 'STORAGE_IN_USE');
      expect(first!.message).to.contain(`process ${holder.pid}`);
      expect(owner(file)?.pid).to.equal(holder.pid);
      rmSync(lockOf(file));
      placeLock(file, { pid: process.pid, host: hostname(), id: 'another-thread', start: procStat(process.pid)?.start });
      expect(() => store.loadSync()).to.throw(/another thread of this process/);
      expect(owner(file)?.id).to.equal('another-thread');
    });

    it('a holder SIGKILLed mid-save: a new process takes over at once and finds a complete snapshot', async () => {
      for (let round = 0; round < 3; round++) {
        const kid = node('saveloop', file);
        const target = 2 + round;
        await waitFor(() => kid.lines.some((line) => line.event === 'saved' && line.k! >= target), 30_000, 'saves', kid);
        process.kill(kid.proc.pid!, 'SIGKILL');
        await waitFor(() => kid.proc.signalCode !== null || kid.proc.exitCode !== null, 5_000, 'the kill');
        expect(owner(file)?.pid).to.equal(kid.proc.pid);
        const store = fileStore(file);
        const loaded = await store.load();
        expect(loaded).to.have.length(40);
        const k = String(loaded[0].id).split('-')[0];
        expect(loaded.every((m, i) => m.id === `${k}-${i}` && String(m.data).startsWith(`k ${k} i ${i} `))).to.equal(true);
        expect(Number(k)).to.be.at.least(target);
        expect(owner(file)?.pid).to.equal(process.pid);
        store.release();
      }
    });

    it('a zombie holder (its parent never reaps it) is taken over', async function () {
      if (!procReadable()) this.skip(); // zombies are told from /proc
      const shell = start('sh', ['-c', `'${process.execPath}' --import tsx '${childFixture}' hold '${file}' & exec sleep 30`]);
      const loaded = await waitFor(() => event(shell, ['loaded', 'failed']), 20_000, 'the holder', shell);
      expect(loaded.event).to.equal('loaded');
      const holder = loaded.pid;
      extraPids.push(holder);
      expect(owner(file)?.pid).to.equal(holder);
      process.kill(holder, 'SIGKILL');
      await waitFor(() => procStat(holder)?.state === 'Z', 5_000, 'the zombie');
      const store = fileStore(file);
      expect(await store.load()).to.deep.equal([]);
      expect(owner(file)?.pid).to.equal(process.pid);
      expect(procStat(holder)?.state).to.equal('Z'); // still a zombie: taken over while it was one
      store.release();
    });
  });

  describe('processes racing', () => {
    /**
     * N processes claim the file at one moment (each loads, holds it HOLD ms, saves, exits). Owners:
     * those that loaded, each from its load to its exit. Two owners at once is the bug; one that
     * started late (after the owner before it exited) owning next is fine.
     */
    async function race(n: number, prepare: () => void) {
      prepare();
      const startAt = Date.now() + 3_000 + n * 400;
      const racers = Array.from({ length: n }, () => node('race', file, String(startAt), '400'));
      await waitFor(() => racers.every((kid) => kid.proc.exitCode !== null || kid.proc.signalCode !== null), 45_000, 'the racers', racers[0]);
      for (const kid of racers) expect(kid.proc.exitCode, kid.stderr()).to.equal(0);
      const owners = racers
        .filter((kid) => event(kid, 'loaded'))
        .map((kid) => ({ pid: kid.proc.pid!, from: event(kid, 'loaded')!.at!, to: event(kid, 'exit')!.at!, late: event(kid, 'loaded')!.late!, saved: !!event(kid, 'saved') }))
        .sort((a, b) => a.from - b.from);
      const overlapping = owners.filter((owner, i) => i > 0 && owner.from < owners[i - 1].to);
      const all = racers.flatMap((kid) => kid.lines);
      return { owners, overlapping, failed: all.filter((line) => line.event === 'failed'), saveFailed: all.filter((line) => line.event === 'save-failed') };
    }

    it('many processes starting at once with no lock: one owner at a time (it loads and saves), the others STORAGE_IN_USE; an owner\'s exit removes its lock', async () => {
      for (let round = 0; round < 3; round++) {
        const result = await race(6, () => undefined);
        const report = `round ${round}: ${JSON.stringify(result.owners)}`;
        expect(result.owners.length, report).to.be.at.least(1);
        expect(result.overlapping, report).to.deep.equal([]);
        expect(result.owners.every((owner) => owner.saved), report).to.equal(true);
        expect(result.saveFailed).to.deep.equal([]);
        expect(result.failed.map((line) => line.code)).to.deep.equal(Array(6 - result.owners.length).fill('STORAGE_IN_USE'));
        expect(existsSync(lockOf(file)), 'lock removed at exit').to.equal(false);
        expect(privates(dir)).to.deep.equal([]);
        rmSync(file, { force: true });
      }
    });

    it('many processes taking over one stale lock at once: one owner at a time (it loads and saves)', async () => {
      for (let round = 0; round < 4; round++) {
        const result = await race(6, () => writeLock(file, { pid: 999_999, host: hostname(), id: `stale-${round}`, start: '1' }));
        const report = `round ${round}: ${JSON.stringify(result.owners)}`;
        expect(result.owners.length, report).to.be.at.least(1);
        expect(result.overlapping, report).to.deep.equal([]);
        expect(result.owners.every((owner) => owner.saved), report).to.equal(true);
        expect(result.saveFailed).to.deep.equal([]);
        expect(existsSync(lockOf(file)), 'lock removed at exit').to.equal(false);
        expect(privates(dir)).to.deep.equal([]);
      }
    });

    it('a takeover that read a stale lock never removes the fresh lock of the process that took the file over first', () => {
      // B (this one) reads the stale lock; before B takes the takeover lock, A takes the file over
      // (the stale lock removed, its own placed). Under the takeover lock B reads the lock again:
      // A's, not the stale one, so it is left alone, and B is refused. (The first version moved
      // whatever was at the lock's name aside and put it back blindly: a third process claiming
      // meanwhile made A lose the file it had loaded.)
      const a = sleeper();
      writeLock(file, { pid: 999_999, host: hostname(), id: 'stale', start: '1' });
      let error: unknown;
      beforeFirstLink(
        '.takeover',
        () => {
          rmSync(lockOf(file));
          placeLock(file, ownerOf(a));
        },
        () => {
          try {
            claimFile(file);
          } catch (thrown) {
            error = thrown;
          }
        },
      );
      expect(error).to.have.property('code', 'STORAGE_IN_USE');
      expect(owner(file)?.pid, 'A keeps the file').to.equal(a.pid);
      expect(existsSync(`${lockOf(file)}.takeover`), 'no takeover lock left').to.equal(false);
    });

    it('a takeover lock left by a process that died mid-way is cleared; one held by a running process is waited for, boundedly, and left alone', () => {
      const gone = spawnSync('true').pid!;
      writeLock(file, { pid: 999_999, host: hostname(), id: 'stale', start: '1' });
      fs.writeFileSync(`${lockOf(file)}.takeover`, JSON.stringify({ pid: gone, host: hostname(), id: 'died' }));
      claimFile(file);
      expect(owner(file)?.pid).to.equal(process.pid);
      expect(existsSync(`${lockOf(file)}.takeover`)).to.equal(false);
      releaseFile(file);

      const taker = sleeper();
      writeLock(file, { pid: 999_999, host: hostname(), id: 'stale', start: '1' });
      fs.writeFileSync(`${lockOf(file)}.takeover`, JSON.stringify(ownerOf(taker)));
      expect(() => claimFile(file)).to.throw(/could not be claimed/);
      expect(owner(file)?.id, 'the stale lock is the running taker\'s to remove').to.equal('stale');
      expect(JSON.parse(readFileSync(`${lockOf(file)}.takeover`, 'utf8')).pid).to.equal(taker.pid);
    });
  });

  describe('persist() in a second process', () => {
    for (const mode of ['persist-sync', 'persist-async']) {
      it(`${mode}: the client reports STORAGE_IN_USE, never writes the store, saved() rejects; no message contents in any error`, async () => {
        const url = await refusedUrl();
        const store = fileStore(file);
        store.saveSync(messages(2));
        const before = readFileSync(file);
        const kid = node(mode, file, url);
        await waitFor(() => event(kid, 'closed'), 30_000, 'the child to close', kid);
        const errors = kid.lines.filter((line) => line.event === 'error');
        expect(errors.map((line) => line.code)).to.include('STORAGE_IN_USE');
        expect(event(kid, 'saved-rejected')?.code).to.equal('STORAGE_IN_USE');
        expect(event(kid, 'saved')).to.equal(undefined);
        for (const line of kid.lines) expect(String(line.message ?? '')).not.to.match(/secret/);
        expect(readFileSync(file).equals(before)).to.equal(true);
        expect(owner(file)?.pid).to.equal(process.pid);
        expect(await store.load()).to.have.length(2);
        store.release();
      });
    }
  });

  describe('release()', () => {
    it('release() while saves are queued: lets go after them, and another process claims the file at once', async () => {
      const store = fileStore(file, { fsync: true });
      const big = (k: number) => Array.from({ length: 20 }, (_, i) => ({ id: `${k}-${i}`, data: `${k} ${'z'.repeat(200_000)}` }));
      const first = store.save(big(1));
      const second = store.save(big(2));
      store.release();
      expect(owner(file)?.pid, 'still held while the saves run').to.equal(process.pid);
      await Promise.all([first, second]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(existsSync(lockOf(file))).to.equal(false);
      const kid = node('hold', file);
      const line = await waitFor(() => event(kid, ['loaded', 'failed']), 20_000, 'the child', kid);
      expect(line).to.include({ event: 'loaded', n: 20, first: '2-0' });
      // This store claims again at its next write: now refused, and nothing is touched.
      const rejected = await store.save(messages(1)).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(rejected).to.have.property('code', 'STORAGE_IN_USE');
      expect(owner(file)?.pid).to.equal(kid.proc.pid);
    });

    it('persist(): once close() resolved, the file is free (async saves)', async () => {
      const url = await refusedUrl();
      const outbox = persist(fileStore(file));
      const socket = new SteadySocket(url, { minDelay: 50, maxDelay: 100, use: [outbox] });
      socket.on('error', () => undefined);
      socket.send('a');
      await outbox.saved();
      expect(owner(file)?.pid).to.equal(process.pid);
      await socket.close();
      expect(existsSync(lockOf(file))).to.equal(false);
    });

    it('persist({ sync: true }): once close() returned, the file is free', async () => {
      const url = await refusedUrl();
      const outbox = persist(fileStore(file), { sync: true });
      const socket = new SteadySocket(url, { minDelay: 50, maxDelay: 100, use: [outbox] });
      socket.on('error', () => undefined);
      socket.send('a');
      expect(owner(file)?.pid).to.equal(process.pid);
      await socket.close();
      expect(existsSync(lockOf(file))).to.equal(false);
    });

    it('persist(): a client closed before its load finished leaves the file intact, and the file is free once close() resolved', async () => {
      const seed = fileStore(file, { fsync: false });
      seed.saveSync(Array.from({ length: 400 }, (_, i) => ({ id: `m-${i}`, data: `${i} ${'q'.repeat(250_000)}` })));
      seed.release();
      const before = readFileSync(file);
      const url = await refusedUrl();
      const outbox = persist(fileStore(file));
      const socket = new SteadySocket(url, { minDelay: 50, maxDelay: 100, use: [outbox] });
      socket.on('error', () => undefined);
      await socket.close();
      const heldAfterClose = existsSync(lockOf(file));
      await outbox.restored;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(existsSync(lockOf(file)), 'released after the load').to.equal(false);
      expect(readFileSync(file).equals(before)).to.equal(true);
      expect(heldAfterClose, 'the lock was still there when close() resolved').to.equal(false);
    });
  });

  describe('threads', () => {
    function startWorker(): { worker: Worker; next: (what: string) => Promise<{ event: string; code?: string; message?: string }> } {
      const worker = new Worker(workerEntry, { eval: true, workerData: { file } });
      workers.push(worker);
      const inbox: { event: string }[] = [];
      const waiting: ((value: never) => void)[] = [];
      const deliver = (message: { event: string }) => {
        const take = waiting.shift();
        if (take) take(message as never);
        else inbox.push(message);
      };
      worker.on('message', (message: { event: string }) => deliver(message));
      worker.on('error', (error) => deliver({ event: 'worker-error', message: String(error) } as { event: string }));
      const receive = () => (inbox.length ? Promise.resolve(inbox.shift()!) : new Promise<{ event: string }>((resolve) => waiting.push(resolve as never)));
      const ready = receive();
      return {
        worker,
        next: async (what) => {
          const first = await ready;
          if (first.event !== 'ready') throw new Error(`the worker did not start: ${JSON.stringify(first)}`);
          worker.postMessage(what);
          return receive();
        },
      };
    }

    it('main thread vs a worker: each is refused while the other holds the file; a worker that exits lets go', async () => {
      const main = fileStore(file);
      await main.load();
      const { worker, next } = startWorker();
      const refused = await next('load');
      expect(refused).to.include({ event: 'failed', code: 'STORAGE_IN_USE' });
      expect(refused.message).to.contain('another thread of this process');
      main.release();
      expect(await next('load')).to.include({ event: 'loaded' });
      const mainRefused = await main.load().then(
        () => undefined,
        (error: unknown) => error as Error,
      );
      expect(mainRefused?.message).to.contain('another thread of this process');
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('exit');
      await exited;
      expect(await main.load()).to.deep.equal([]);
      main.release();
    });

    it('a worker terminated (worker.terminate()) while holding the file: the main thread can claim it afterwards', async function () {
      if (!procReadable()) this.skip(); // a thread's end is told from /proc
      const { worker, next } = startWorker();
      expect(await next('load')).to.include({ event: 'loaded' });
      await worker.terminate();
      const main = fileStore(file);
      const result = await main.load().then(
        () => 'loaded',
        (error: unknown) => (error as Error).message,
      );
      expect(result, 'a worker that no longer exists still holds the file for the life of the process').to.equal('loaded');
      main.release();
    });
  });

  describe('odd lock paths', () => {
    it('a directory named like the lock: load, loadSync, saveSync, clear are STORAGE_FAILED and touch nothing; persist() never writes', async () => {
      const seed = fileStore(file);
      seed.saveSync(messages(2));
      seed.release();
      const before = readFileSync(file);
      mkdirSync(lockOf(file));
      const store = fileStore(file);
      const failure = (promise: Promise<unknown>) =>
        promise.then(
          () => undefined,
          (error: unknown) => error as Error & { code?: string },
        );
      const loadError = await failure(store.load());
      expect(loadError).to.have.property('code', 'STORAGE_FAILED');
      expect(loadError!.message).not.to.contain('secret');
      expect(() => store.loadSync()).to.throw().with.property('code', 'STORAGE_FAILED');
      expect(() => store.saveSync(messages(1, 'new'))).to.throw().with.property('code', 'STORAGE_FAILED');
      expect(await failure(store.clear())).to.have.property('code', 'STORAGE_FAILED');
      expect(await failure(store.save(messages(1, 'new')))).to.have.property('code', 'STORAGE_FAILED');
      expect(existsSync(`${file}.tmp`)).to.equal(false);
      expect(existsSync(`${file}.sync.tmp`)).to.equal(false);
      expect(readFileSync(file).equals(before)).to.equal(true);

      const url = await refusedUrl();
      const outbox = persist(fileStore(file));
      const socket = new SteadySocket(url, { minDelay: 50, maxDelay: 100, use: [outbox] });
      const errors: string[] = [];
      socket.on('error', (error) => errors.push(error.code));
      socket.send('secret-after');
      await outbox.restored;
      expect(await failure(outbox.saved())).to.have.property('code', 'STORAGE_FAILED');
      await socket.close();
      expect(errors).to.include('STORAGE_FAILED');
      expect(readFileSync(file).equals(before)).to.equal(true);
      expect(fs.statSync(lockOf(file)).isDirectory()).to.equal(true);
      expect(privates(dir)).to.deep.equal([]);
    });

    it('leftover private files of a crashed claim (<lock>.<pid>.<id>, .stale) do not stop the next claim', async () => {
      const deadPrivate = `${lockOf(file)}.999999.dead-id`;
      writeFileSync(deadPrivate, JSON.stringify({ pid: 999_999, host: hostname(), id: 'dead-id', start: '1' }));
      writeFileSync(`${deadPrivate}.stale`, JSON.stringify({ pid: 999_998, host: hostname(), id: 'older', start: '1' }));
      writeLock(file, { pid: 999_999, host: hostname(), id: 'dead-id', start: '1' });
      const store = fileStore(file);
      expect(await store.load()).to.deep.equal([]);
      expect(owner(file)?.pid).to.equal(process.pid);
      store.release();
      expect(existsSync(lockOf(file))).to.equal(false);
    });
  });

  describe('exit handler', () => {
    it('a process that exits (process.exit) holding the file removes its lock; one killed leaves it, and it is taken over', async () => {
      const kid = node('race', file, String(Date.now()), '0');
      await waitFor(() => kid.proc.exitCode !== null, 20_000, 'the child to exit', kid);
      expect(event(kid, 'saved')).to.not.equal(undefined);
      expect(existsSync(lockOf(file))).to.equal(false);
      const holder = node('hold', file);
      await waitFor(() => event(holder, 'loaded'), 20_000, 'the holder', holder);
      process.kill(holder.proc.pid!, 'SIGTERM');
      await waitFor(() => holder.proc.signalCode !== null || holder.proc.exitCode !== null, 5_000, 'the holder to end');
      expect(owner(file)?.pid).to.equal(holder.proc.pid);
      const store = fileStore(file);
      expect(await store.load()).to.deep.equal([{ data: `by ${kid.proc.pid}` }]);
      store.release();
    });
  });
});
