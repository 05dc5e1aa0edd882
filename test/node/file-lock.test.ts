// fileStore(): one process per outbox file. Two processes on one file used to restore (and send)
// each other's messages and replace each other's saves; now the first claims the file
// (`<path>.lock`) and the second is refused with STORAGE_IN_USE, never writing it. A process that
// crashed hands the file over at once, and so does a client's close(). Real files, real child
// processes (test/node/fixtures/outbox-holder.ts), a real worker thread.
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decodeOutboxFile } from '../../src/storage/file-format';
import { procStat } from '../../src/storage/file-lock';
import { fileStore } from '../../src/node';
import { isSteadySocketError } from '../../src/index';
import { eventually, freePort, tempDir, within } from './support';

const holder = fileURLToPath(new URL('./fixtures/outbox-holder.ts', import.meta.url));
const foreignProc = fileURLToPath(new URL('./fixtures/lock-foreign-proc.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

interface Report {
  event: string;
  code?: string;
  message?: string;
  queued?: string[];
}

/** A child process holding a client with persist(fileStore(file)); driven by command lines, reporting JSON lines. */
class Holder {
  readonly child: ChildProcess;
  readonly reports: Report[] = [];
  stderr = '';
  private readonly exited: Promise<void>;

  constructor(file: string, url: string, sync = false, spawnIt?: () => ChildProcess) {
    this.child = spawnIt
      ? spawnIt()
      : spawn(process.execPath, ['--import', 'tsx', holder, file, ...(sync ? ['sync'] : [])], { cwd: repoRoot, env: { ...process.env, HOLDER_URL: url }, stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.reports.push(JSON.parse(line) as Report));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first report of `event` (from `from` on), within 15 s. */
  async next(event: string, from = 0): Promise<Report> {
    await eventually(15_000, `${event} from ${this.pid} (stderr: ${this.stderr})`, () => this.reports.slice(from).some((report) => report.event === event));
    return this.reports.slice(from).find((report) => report.event === event)!;
  }

  command(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** Sends `data` and waits until saved() settled after it; returns what saved() said. */
  async sendAndSave(...data: string[]): Promise<Report> {
    for (const item of data) this.command(`send ${item}`);
    const from = this.reports.length;
    this.command('saved');
    return this.next('saved', from);
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await within(10_000, `exit of ${this.pid}`, this.exited);
  }

  wait(): Promise<void> {
    return within(10_000, `exit of ${this.pid}`, this.exited);
  }
}

/** The messages the file holds, read without claiming it (as a person would look). */
function contents(file: string): string[] {
  if (!existsSync(file)) return [];
  const decoded = decodeOutboxFile(readFileSync(file));
  if (!decoded.ok) throw new Error(`the outbox file is not readable: ${decoded.problem}`);
  return decoded.messages.map((message) => String(message.data));
}

function lockOf(file: string): { pid: number; host: string; id: string; start?: string } {
  return JSON.parse(readFileSync(`${file}.lock`, 'utf8'));
}

describe('fileStore(): one process per outbox file', function () {
  this.timeout(60_000);
  let dir: ReturnType<typeof tempDir>;
  let file: string;
  let url: string;
  const holders: Holder[] = [];
  const start = (sync = false) => {
    const made = new Holder(file, url, sync);
    holders.push(made);
    return made;
  };

  before(async () => {
    // Nothing listens on this port: the messages wait in the outbox.
    url = `ws://127.0.0.1:${await freePort()}/`;
  });
  beforeEach(() => {
    dir = tempDir('file-lock');
    file = join(dir.path, 'outbox.json');
  });
  afterEach(async () => {
    await Promise.all(holders.splice(0).map((made) => made.kill()));
    dir.remove();
  });

  for (const sync of [false, true]) {
    it(`a second process on the file is refused with STORAGE_IN_USE and never writes it${sync ? ' (sync: true)' : ''}; the first keeps saving`, async () => {
      const first = start(sync);
      await first.next('restored');
      expect(await first.sendAndSave('a1', 'a2')).to.deep.equal({ event: 'saved' });
      expect(lockOf(file).pid).to.equal(first.pid);

      const second = start(sync);
      const refused = await second.next('error');
      expect(refused.code).to.equal('STORAGE_IN_USE');
      expect(refused.message).to.include(`in use by process ${first.pid}`);
      // It starts empty (the first one's messages are not its to send) and saves nothing.
      expect((await second.next('restored')).queued).to.deep.equal([]);
      expect((await second.sendAndSave('b1')).code).to.equal('STORAGE_IN_USE');
      expect(contents(file)).to.deep.equal(['a1', 'a2']);

      // The first one saves on: its file was never replaced by the second one's outbox.
      expect(await first.sendAndSave('a3')).to.deep.equal({ event: 'saved' });
      expect(contents(file)).to.deep.equal(['a1', 'a2', 'a3']);
      expect(lockOf(file).pid).to.equal(first.pid);
    });
  }

  it('a process killed with SIGKILL (no exit handler) hands the file over at once: the next one restores its messages', async () => {
    const first = start();
    await first.next('restored');
    expect(await first.sendAndSave('m1', 'm2')).to.deep.equal({ event: 'saved' });
    first.command('crash');
    await first.wait();
    expect(existsSync(`${file}.lock`), 'the crashed process left its lock').to.equal(true);

    const next = start();
    expect((await next.next('restored')).queued).to.deep.equal(['m1', 'm2']);
    expect(next.reports.filter((report) => report.event === 'error'), 'no storage error').to.deep.equal([]);
    expect(lockOf(file).pid).to.equal(next.pid);
  });

  it('close() lets go of the file while its process runs on; the process exiting removes its lock', async () => {
    const first = start();
    await first.next('restored');
    await first.sendAndSave('x');
    first.command('close');
    await first.next('closed');
    expect(existsSync(`${file}.lock`), 'released by close()').to.equal(false);

    const second = start();
    await second.next('restored');
    expect(await second.sendAndSave('y'), 'the second process owns it now').to.deep.equal({ event: 'saved' });
    expect(contents(file)).to.deep.equal(['y']);
    second.command('exit');
    await second.wait();
    expect(existsSync(`${file}.lock`), 'removed at exit').to.equal(false);
    expect(readdirSync(dir.path)).to.deep.equal(['outbox.json']);
  });

  it('a holder that died but was never reaped (a zombie) holds nothing', async function () {
    if (!procStat(process.pid)) this.skip(); // Linux, with a /proc of this PID namespace: zombies are read from it
    // The holder's parent execs into sleep, which never waits for its children.
    // (A command put in the background reads /dev/null: the pipe goes to it through fd 3.)
    const script = `exec 3<&0; "${process.execPath}" --import tsx "${holder}" "${file}" 0<&3 3<&- & exec sleep 30 3<&-`;
    const zombie = new Holder(file, url, false, () =>
      spawn('sh', ['-c', script], { cwd: repoRoot, env: { ...process.env, HOLDER_URL: url }, stdio: ['pipe', 'pipe', 'pipe'] }),
    );
    holders.push(zombie);
    await zombie.next('restored');
    expect(await zombie.sendAndSave('z1')).to.deep.equal({ event: 'saved' });
    const pid = lockOf(file).pid;
    expect(pid, 'the holder is the child of the shell').to.not.equal(zombie.pid);
    zombie.command('crash');
    await eventually(10_000, 'the holder to become a zombie', () => procStat(pid)?.state === 'Z');

    const store = fileStore(file);
    try {
      expect((await store.load()).map((message) => message.data)).to.deep.equal(['z1']);
      expect(lockOf(file).pid).to.equal(process.pid);
    } finally {
      store.release();
    }
  });

  describe('locks left by others, written by hand', () => {
    const claimed = async () => {
      const store = fileStore(file);
      try {
        await store.load();
        return lockOf(file).pid === process.pid;
      } finally {
        store.release();
      }
    };
    /** A process that runs meanwhile, and its lock as it would write it. */
    let sleeper: ChildProcess | undefined;
    const running = async () => {
      sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
      await new Promise((resolve) => sleeper!.once('spawn', resolve));
      return { pid: sleeper.pid!, start: procStat(sleeper.pid!)?.start };
    };
    const host = hostname();
    afterEach(() => {
      sleeper?.kill('SIGKILL');
      sleeper = undefined;
    });

    it('takes over a lock naming a process that ended, garbage, another host, or a later process given its pid', async () => {
      const ended = spawn('true');
      await new Promise((resolve) => ended.once('exit', resolve));
      const live = await running();
      const cases: [string, string][] = [
        ['a process that ended', JSON.stringify({ pid: ended.pid, host, id: 'x' })],
        ['garbage', '{"pid":'],
        ['an empty file', ''],
        ['another host', JSON.stringify({ pid: live.pid, host: `not-${host}`, id: 'x', start: live.start })],
      ];
      if (live.start !== undefined) cases.push(['a later process given its pid (another start time)', JSON.stringify({ pid: live.pid, host, id: 'x', start: `${Number(live.start) - 1}` })]);
      for (const [what, text] of cases) {
        writeFileSync(`${file}.lock`, text);
        expect(await claimed(), what).to.equal(true);
      }
    });

    it('refuses, with STORAGE_IN_USE naming the process, a lock of a process that runs; touches neither the file nor its temporary files', async () => {
      const live = await running();
      writeFileSync(`${file}.lock`, JSON.stringify({ pid: live.pid, host, id: 'x', start: live.start }));
      writeFileSync(file, 'not ours to read');
      writeFileSync(`${file}.tmp`, 'not ours to remove');
      const store = fileStore(file);
      for (const operation of [() => store.load(), () => store.save([{ data: 'secret message' }]), () => store.clear()]) {
        const error = await operation().then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(isSteadySocketError(error, 'STORAGE_IN_USE'), String(error)).to.equal(true);
        expect((error as Error).message).to.include(`in use by process ${live.pid}`).and.not.include('secret');
      }
      expect(() => store.loadSync()).to.throw(/in use by process/);
      expect(() => store.saveSync([{ data: 'secret message' }])).to.throw(/in use by process/);
      expect(readFileSync(file, 'utf8')).to.equal('not ours to read');
      expect(readFileSync(`${file}.tmp`, 'utf8')).to.equal('not ours to remove');
      expect(lockOf(file).pid).to.equal(live.pid);
      store.release();
      expect(lockOf(file).pid, 'release() lets go of our own lock only').to.equal(live.pid);
    });
  });

  it('a worker thread is refused a file the main thread holds ("another thread of this process")', async () => {
    const store = fileStore(file);
    await store.save([{ data: 'main' }]);
    try {
      const worker = new Worker(new URL('./fixtures/store-load-worker.mjs', import.meta.url), { workerData: { file } });
      try {
        const answer = await within(20_000, 'the worker', new Promise<{ code?: string; message?: string }>((resolve, reject) => (worker.once('message', resolve), worker.once('error', reject))));
        expect(answer.code).to.equal('STORAGE_IN_USE');
        expect(answer.message).to.include('another thread of this process');
      } finally {
        await worker.terminate();
      }
    } finally {
      store.release();
    }
  });

  it('in a PID namespace whose /proc is not its own (unshare --pid without --mount-proc), a thread and a process of that namespace are still refused', async function () {
    // There /proc/<pid> is another process: the lock must not read start times or zombies from it.
    if (spawnSync('unshare', ['--pid', '--fork', 'true'], { stdio: 'ignore' }).status !== 0) this.skip(); // needs root (or CAP_SYS_ADMIN)
    const child = spawn('unshare', ['--pid', '--fork', process.execPath, '--import', 'tsx', foreignProc, file], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    try {
      await within(30_000, 'the namespaced child', new Promise((resolve) => child.once('exit', resolve)));
    } finally {
      child.kill('SIGKILL');
    }
    const result = JSON.parse(out.trim().split('\n').pop() || '{}');
    expect(result.pid, err).to.equal(1);
    expect(result.procReadable, 'a /proc of another namespace is not read').to.equal(false);
    expect(result.worker).to.include({ code: 'STORAGE_IN_USE' });
    expect(result.worker.message).to.include('another thread of this process');
    expect(result.child).to.include({ code: 'STORAGE_IN_USE' });
    expect(result.child.message).to.include('in use by process 1');
  });

  it('threads released at once to take over one stale lock: exactly one owns the file, in each of 40 rounds', async function () {
    // Threads of one process take each other for running owners ("another thread"), so they race
    // through the takeover as processes do, but can be started within microseconds of each other.
    const shared = new SharedArrayBuffer(4);
    const go = new Int32Array(shared);
    const rounds = 40;
    const workers = [0, 1, 2, 3].map(() => new Worker(new URL('./fixtures/lock-race-worker.mjs', import.meta.url), { workerData: { file, shared, rounds } }));
    const answers: { round: number; owned: boolean; code?: string; message?: string }[] = [];
    for (const worker of workers) worker.on('message', (answer) => answers.push(answer));
    try {
      // The workers load the module first: the first round waits for all four to be ready to wait.
      await within(20_000, 'the workers to start', Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('online', resolve)))));
      for (let round = 1; round <= rounds; round++) {
        const ended = spawn('true');
        await new Promise((resolve) => ended.once('exit', resolve));
        writeFileSync(`${file}.lock`, JSON.stringify({ pid: ended.pid, host: hostname(), id: 'gone' }));
        Atomics.store(go, 0, round);
        Atomics.notify(go, 0);
        await eventually(20_000, `round ${round}'s answers`, () => answers.filter((answer) => answer.round === round).length === workers.length);
        const these = answers.filter((answer) => answer.round === round);
        expect(these.filter((answer) => answer.owned).length, `round ${round}: ${JSON.stringify(these)}`).to.equal(1);
        for (const answer of these) if (!answer.owned) expect(answer.message, JSON.stringify(answer)).to.include('another thread of this process');
      }
      expect(existsSync(`${file}.lock.takeover`), 'no takeover lock left behind').to.equal(false);
    } finally {
      Atomics.store(go, 0, rounds + 1);
      Atomics.notify(go, 0);
      await Promise.all(workers.map((worker) => worker.terminate()));
    }
  });

  it('four processes started at once on a file whose lock is stale: exactly one owns it, in each of 5 rounds', async function () {
    this.timeout(120_000);
    for (let round = 0; round < 5; round++) {
      const ended = spawn('true');
      await new Promise((resolve) => ended.once('exit', resolve));
      writeFileSync(`${file}.lock`, JSON.stringify({ pid: ended.pid, host: hostname(), id: 'gone' }));
      rmSync(file, { force: true }); // what the last round's owner saved
      const started = [start(), start(), start(), start()];
      await Promise.all(started.map((made) => made.next('restored')));
      const saved = await Promise.all(started.map((made) => made.sendAndSave(`r${round}-${made.pid}`)));
      const owners = started.filter((_, i) => saved[i].code === undefined);
      expect(owners.length, `round ${round}: ${JSON.stringify(saved)}`).to.equal(1);
      expect(lockOf(file).pid).to.equal(owners[0].pid);
      expect(contents(file)).to.deep.equal([`r${round}-${owners[0].pid}`]);
      await Promise.all(holders.splice(0).map((made) => made.kill()));
    }
  });
});
