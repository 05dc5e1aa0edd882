// persist() with an asynchronous store (the file store without `sync`) in a process that ends
// itself with process.exit() once close() or flushed() resolved, as a CLI does. The guide: "close()
// resolves once the store has saved what it dropped", and "flushed() ... also waits for the stored
// messages still being restored". A real ws server on 127.0.0.1 and real child processes.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { fileStore } from '../../src/node';
import { sleep, within } from '../support/chaos-run';

const fixture = fileURLToPath(new URL('./fixtures/persist-exit.ts', import.meta.url));

/** Runs the fixture to its exit; its stdout lines and exit code. */
async function run(mode: string, outboxFile: string, url: string): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode, outboxFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PERSIST_URL: url } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    const exit = await within(new Promise<number | null>((exited) => child.once('exit', (c) => exited(c))), 15_000);
    return { code: exit.kind === 'resolved' ? exit.value : null, lines: stdout.split('\n').filter(Boolean), stderr };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** What the file holds, read as the next run would; then let go of, so that the next child process may claim it. */
async function loadAndRelease(outboxFile: string) {
  const store = fileStore(outboxFile);
  try {
    return await store.load();
  } finally {
    store.release();
  }
}

describe('persist(fileStore) in a process that exits once close() or flushed() resolved', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'steadysocket-persist-exit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('close(): the store holds nothing of what that close() dropped, so the next run sends none of it', async () => {
    // A port that refuses: the messages only wait in the outbox.
    const probe = createTcpServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
    const url = `ws://127.0.0.1:${(probe.address() as AddressInfo).port}/`;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const outboxFile = join(dir, 'outbox.json');
    // Several runs: before the fix the last save lost the race with process.exit() every time.
    for (let round = 0; round < 3; round++) {
      const { code, lines, stderr } = await run('close-exit', outboxFile, url);
      expect({ code, lines }, stderr).to.deep.equal({ code: 0, lines: ['drop a CLOSED', 'drop b CLOSED', 'done'] });
      expect(await loadAndRelease(outboxFile), `round ${round + 1}: what the next run would send`).to.deep.equal([]);
    }
  });

  it('flushed(): the stored messages are sent before it resolves, and the store is empty after close()', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const received: string[] = [];
    server.on('connection', (ws) => ws.on('message', (data) => received.push(String(data))));
    try {
      const outboxFile = join(dir, 'outbox.json');
      // What an earlier run left (it crashed with two messages queued).
      const seed = fileStore(outboxFile);
      await seed.save([{ data: 'left-1' }, { data: 'left-2' }]);
      seed.release(); // the child process claims the file next
      const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const { code, lines, stderr } = await run('flush-exit', outboxFile, url);
      expect({ code, lines }, stderr).to.deep.equal({ code: 0, lines: ['done'] });
      // flushed() resolved once the socket had handed every byte to the network; they arrive
      // (in order, ahead of the close frame) within moments.
      for (let i = 0; i < 200 && received.length < 2; i++) await sleep(10);
      expect(received).to.deep.equal(['left-1', 'left-2']);
      expect(await loadAndRelease(outboxFile), 'nothing left to send again').to.deep.equal([]);
    } finally {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
