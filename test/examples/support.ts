// Shared by the example tests: child processes with bounded waits, and the repo's paths.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Fails with a clear message when the build the examples load is missing. */
export function requireDist(...files: string[]): void {
  for (const file of files) {
    if (!existsSync(new URL(`../../dist/${file}`, import.meta.url))) {
      throw new Error(`dist/${file} is missing: run \`npm run build\` before the example tests.`);
    }
  }
}

/** Rejects when `promise` has not settled after `ms`, so no wait is unbounded. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process we started, with its output collected as it arrives. */
export class Child {
  readonly process: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;
  private readonly watchers = new Set<() => void>();

  constructor(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}) {
    this.process = spawn(process.execPath, args, {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.notify();
    });
    this.process.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.process.once('close', (code, signal) => {
        this.exit = { code, signal };
        this.notify();
        resolve(this.exit);
      });
    });
  }

  /** Resolves with the first match of `pattern` in stdout; rejects after `ms` or if the child exits first. */
  waitFor(pattern: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
    return within(
      ms,
      `waiting for ${pattern} in the output of ${this.describe()}`,
      new Promise<RegExpMatchArray>((resolve, reject) => {
        const check = () => {
          const match = this.stdout.match(pattern);
          if (match) {
            this.watchers.delete(check);
            resolve(match);
          } else if (this.exit) {
            this.watchers.delete(check);
            reject(new Error(`${this.describe()} exited (${JSON.stringify(this.exit)}) before printing ${pattern}\n${this.output()}`));
          }
        };
        this.watchers.add(check);
        check();
      }),
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${this.output()}`);
    });
  }

  /** Waits up to `ms` for the child to exit by itself. */
  async waitForExit(ms: number): Promise<Exit> {
    try {
      return await within(ms, `${this.describe()} to exit`, this.exited);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${this.output()}`);
    }
  }

  /** Stops the child (SIGTERM, then SIGKILL after `ms`) unless it has already exited. */
  async stop(ms = 3000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  output(): string {
    return `--- stdout ---\n${this.stdout}--- stderr ---\n${this.stderr}`;
  }

  private describe(): string {
    return `node ${this.process.spawnargs.slice(1).join(' ')}`;
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher();
  }
}

/** Polls `test` every 10 ms until it is true; rejects after `ms`. */
export async function eventually(ms: number, what: string, test: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
