// Tests from mutation testing src/storage/file-lock.ts that need a process of their own: what a
// process's exit handler removes. A real child process (test/node/fixtures/review-lock-child.ts)
// claims a file in a temp dir; a real running process (`sleep`) is named by the lock written in
// its place.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procStat } from '../../src/storage/file-lock';
import { eventually, tempDir, within } from './support';

const child = fileURLToPath(new URL('./fixtures/review-lock-child.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

describe('mutants: file-lock.ts exit handler', function () {
  this.timeout(30_000);
  let dir: ReturnType<typeof tempDir>;
  const started: ChildProcess[] = [];

  beforeEach(() => (dir = tempDir('mutants-file-lock')));
  afterEach(() => {
    for (const proc of started.splice(0)) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    dir.remove();
  });

  it('a process exiting leaves alone a lock that another process put in place of its own', async () => {
    const file = join(dir.path, 'outbox.json');
    const lock = `${file}.lock`;
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    started.push(sleeper);
    await new Promise((resolve) => sleeper.once('spawn', resolve));
    // The child loads (claims the file), holds it 1.5 s, tries to save, and exits with process.exit().
    const holder = spawn(process.execPath, ['--import', 'tsx', child, 'race', file, String(Date.now()), '1500'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(holder);
    let out = '';
    let err = '';
    holder.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    holder.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    await eventually(15_000, `the child to load (stderr: ${err})`, () => out.includes('"loaded"'));
    expect(JSON.parse(readFileSync(lock, 'utf8')).pid).to.equal(holder.pid);
    // Its lock deleted by hand, and the file claimed by another (running) process.
    const other = { pid: sleeper.pid!, host: hostname(), id: 'the-other', start: procStat(sleeper.pid!)?.start };
    rmSync(lock);
    writeFileSync(lock, JSON.stringify(other));
    await within(15_000, 'the child to exit', exited);
    expect(holder.exitCode, err).to.equal(0);
    expect(out, 'its save was refused').to.include('"save-failed"');
    expect(JSON.parse(readFileSync(lock, 'utf8')), 'the other process keeps its lock').to.deep.equal(other);
  });
});
