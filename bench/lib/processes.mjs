// Child processes of the bench: each one is started here, owned by its PID, and stopped here.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const benchDir = fileURLToPath(new URL('..', import.meta.url));

const live = new Set();

/** Monotonic milliseconds (CLOCK_MONOTONIC, so comparable with the children's hrtime). */
export const now = () => Number(process.hrtime.bigint()) / 1e6;

/** `taskset` where it exists (Linux, util-linux): pins a child to one CPU. */
export const taskset = ['/usr/bin/taskset', '/bin/taskset'].find((path) => existsSync(path));

/**
 * Starts `node script ...args` with a JSON-lines stdout. Returns the child, an async iterator over
 * its parsed lines, and `exited`, which resolves with { code, signal, at } (at: monotonic ms).
 * `cpu`: run it on that CPU only (through taskset, which execs node: the PID stays the child's).
 */
export function startNode(script, args = [], { nodeArgs = [], env, stdin = 'pipe', cpu } = {}) {
  const command = [process.execPath, ...nodeArgs, script, ...args];
  if (cpu !== undefined && taskset) command.unshift(taskset, '-c', String(cpu));
  const child = spawn(command[0], command.slice(1), {
    stdio: [stdin, 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  live.add(child);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      const at = now();
      live.delete(child);
      resolve({ code, signal, at });
    });
  });
  const queue = [];
  const waiting = [];
  let ended = false;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    let value;
    try {
      value = JSON.parse(line);
    } catch {
      process.stderr.write(`[bench] ${script}: ${line}\n`);
      return;
    }
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(value);
    else queue.push(value);
  });
  lines.on('close', () => {
    ended = true;
    for (const waiter of waiting.splice(0)) waiter.reject(new Error(`${script} ended without answering`));
  });
  /** The next JSON line, or a rejection after `timeoutMs` or when the child ends. */
  const next = (timeoutMs = 120_000) =>
    new Promise((resolve, reject) => {
      if (queue.length) return resolve(queue.shift());
      if (ended) return reject(new Error(`${script} ended without answering`));
      const timer = setTimeout(() => {
        const i = waiting.indexOf(entry);
        if (i >= 0) waiting.splice(i, 1);
        reject(new Error(`${script} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const entry = {
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      };
      waiting.push(entry);
    });
  const send = (line) => child.stdin?.write(`${line}\n`);
  const stop = async (graceMs = 2000) => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const result = await exited;
    clearTimeout(timer);
    return result;
  };
  return { child, next, send, stop, exited };
}

/** Kills whatever is still running (on error or Ctrl-C): only children this process started. */
export function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** A loopback port nothing listens on (listen on 0, read it, close). */
export async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
