// The example ack server (examples/ack-server/server.mjs) as a child process on a fixed loopback
// port, so a test can SIGKILL it mid-stream and start it again where clients expect it, and read
// its log to count what was lost, duplicated or reordered. Call stop() in `after`.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type MessageId = string | number;

export const ACK_SERVER_PATH = fileURLToPath(new URL('../../examples/ack-server/server.mjs', import.meta.url));

/** One line of the server's log. */
export interface AckLogEntry {
  id: MessageId;
  data: unknown;
  connection: number;
  receivedAt: string;
  duplicate?: true;
}

export interface AckLog {
  entries: AckLogEntry[];
  /** Every id received, once each, in the order of first receipt. */
  ids: MessageId[];
  /** Ids received again after their first receipt, once per repeat. */
  duplicates: MessageId[];
  /** The ids of `expected` that never arrived. */
  lostFrom(expected: readonly MessageId[]): MessageId[];
  /**
   * Ids first received after a greater id (numbers by value, strings by their numeric parts):
   * for senders that number their messages in ascending order.
   */
  outOfOrder: MessageId[];
}

export interface RestartableServerOptions {
  /** Default: 32 random bytes, base64url. */
  token?: string;
  /** Allowed Origin values. */
  origins?: string[];
  /** Send every logged message back as `{ id, echo: data }`, duplicates included (`--echo`). */
  echo?: boolean;
  /** Hold each ack this many ms after logging (`--ack-delay`): a kill then loses acks of logged messages. */
  ackDelay?: number;
}

export interface RestartableServer {
  readonly port: number;
  /** `ws://127.0.0.1:PORT/`, without the token. */
  readonly url: string;
  readonly token: string;
  readonly logFile: string;
  /** The running child's pid, undefined while it is down. */
  readonly pid: number | undefined;
  /** What the child printed (stdout and stderr), across restarts. */
  readonly output: string;
  /** Starts the server (again) on the same port; retries for up to 5 s while the port is busy. */
  start(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and waits for the child to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** kill('SIGKILL') then start(). */
  restart(): Promise<void>;
  /** Kills the child if it runs and deletes the log's temporary directory. Safe to call twice. */
  stop(): Promise<void>;
  readLog(): AckLog;
}

/** Starts the example server in a child process on a free loopback port. */
export async function startRestartableServer(options: RestartableServerOptions = {}): Promise<RestartableServer> {
  const port = await freePort();
  const token = options.token ?? randomBytes(32).toString('base64url');
  const dir = mkdtempSync(join(tmpdir(), 'steadysocket-ack-server-'));
  const logFile = join(dir, 'acks.ndjson');
  const args = [ACK_SERVER_PATH, '--port', String(port), '--log', logFile, `--token=${token}`];
  for (const origin of options.origins ?? []) args.push('--origin', origin);
  if (options.echo) args.push('--echo');
  if (options.ackDelay) args.push('--ack-delay', String(options.ackDelay));

  let child: ChildProcess | undefined;
  let output = '';
  let stopped = false;

  /** One attempt: resolves true once listening, false if the port was busy; rejects otherwise. */
  function spawnOnce(): Promise<boolean> {
    return new Promise((resolveAttempt, reject) => {
      const process_ = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = process_;
      const killOnExit = () => process_.kill('SIGKILL');
      process.once('exit', killOnExit);
      let attemptOutput = '';
      const timer = setTimeout(() => {
        process_.kill('SIGKILL');
        reject(new Error(`the ack server did not start within 10 s: ${attemptOutput}`));
      }, 10_000);
      const collect = (chunk: Buffer) => {
        attemptOutput += chunk.toString();
        output += chunk.toString();
        if (attemptOutput.includes('listening on')) {
          clearTimeout(timer);
          resolveAttempt(true);
        }
      };
      process_.stdout!.on('data', collect);
      process_.stderr!.on('data', collect);
      process_.once('exit', () => {
        process.off('exit', killOnExit);
        clearTimeout(timer);
        if (child === process_) child = undefined;
        if (attemptOutput.includes('listening on')) return;
        if (attemptOutput.includes('EADDRINUSE')) resolveAttempt(false);
        else reject(new Error(`the ack server exited before listening: ${attemptOutput}`));
      });
    });
  }

  const server: RestartableServer = {
    port,
    url: `ws://127.0.0.1:${port}/`,
    token,
    logFile,
    get pid() {
      return child?.pid;
    },
    get output() {
      return output;
    },
    async start() {
      if (stopped) throw new Error('this server was stopped');
      if (child) throw new Error('the ack server is already running');
      for (let attempt = 0; attempt < 50; attempt++) {
        if (await spawnOnce()) return;
        await new Promise((wait) => setTimeout(wait, 100));
      }
      throw new Error(`port ${port} stayed busy for 5 s`);
    },
    async kill(signal = 'SIGKILL') {
      const running = child;
      if (!running) return;
      await new Promise<void>((exited) => {
        running.once('exit', () => exited());
        running.kill(signal);
      });
    },
    async restart() {
      await server.kill('SIGKILL');
      await server.start();
    },
    async stop() {
      stopped = true;
      await server.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
    readLog() {
      const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      return parseAckLog(text);
    },
  };
  await server.start();
  return server;
}

/** Parses the server's NDJSON log (see examples/ack-server/README.md). */
export function parseAckLog(text: string): AckLog {
  const entries = text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AckLogEntry);
  const seen = new Set<string>();
  const ids: MessageId[] = [];
  const duplicates: MessageId[] = [];
  for (const entry of entries) {
    const key = JSON.stringify(entry.id);
    if (seen.has(key)) duplicates.push(entry.id);
    else {
      seen.add(key);
      ids.push(entry.id);
    }
  }
  const outOfOrder: MessageId[] = [];
  let greatest: MessageId | undefined;
  for (const id of ids) {
    if (greatest !== undefined && compareIds(id, greatest) < 0) outOfOrder.push(id);
    else greatest = id;
  }
  return {
    entries,
    ids,
    duplicates,
    outOfOrder,
    lostFrom: (expected) => expected.filter((id) => !seen.has(JSON.stringify(id))),
  };
}

function compareIds(a: MessageId, b: MessageId): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'en', { numeric: true });
}

/** A port that was free a moment ago on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}
