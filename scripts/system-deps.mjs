#!/usr/bin/env node
// The system tools the tests drive, in one list, and how to get them.
//
// `npm test` (scripts/test.mjs) calls `ensureSystemPackages()` before it runs mocha: as root on
// Debian it installs whatever Debian package is missing, exactly once and non-interactively;
// anywhere else it installs nothing, and the suites that need a missing tool are skipped (mocha
// pending, with the command that enables them), or fail under CI=true. The test harnesses read
// the same list (test/support/tools.ts), so a tool is named, found and explained in one place.
//
//   node scripts/system-deps.mjs            what is present and what is missing
//   node scripts/system-deps.mjs --install  install what is missing (root, Debian), as npm test does
//
// Environment:
//   TEST_INSTALL_SYSTEM_DEPS=0   never run apt-get (npm test then skips what is missing)
//   CHROMIUM_PATH, FIREFOX_PATH  use this browser binary instead of the Debian one
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Every system tool a test suite needs. `paths`: where Debian puts the binary (looked at first);
 * `command`: a name to look up on PATH as well; `env`: a variable that overrides both.
 */
export const SYSTEM_TOOLS = [
  { name: 'chromium', package: 'chromium', paths: ['/usr/bin/chromium'], env: 'CHROMIUM_PATH', needed: 'browser tests (driven by playwright-core; never downloaded by npm)' },
  { name: 'firefox', package: 'firefox-esr', paths: ['/usr/bin/firefox-esr'], env: 'FIREFOX_PATH', needed: 'browser tests (WebDriver BiDi, firefox-esr 153 with playwright-core 1.64.1)' },
  { name: 'nginx', package: 'nginx', paths: ['/usr/sbin/nginx'], needed: 'reverse-proxy tests' },
  { name: 'tinyproxy', package: 'tinyproxy-bin', paths: ['/usr/bin/tinyproxy'], needed: 'forward-proxy (HTTP CONNECT) tests' },
  { name: 'openssl', package: 'openssl', paths: ['/usr/bin/openssl'], command: 'openssl', needed: 'TLS tests (a test CA made at test start)' },
  { name: 'tmux', package: 'tmux', paths: ['/usr/bin/tmux'], command: 'tmux', needed: 'CLI tests in a real terminal' },
  { name: 'ip', package: 'iproute2', paths: ['/usr/sbin/ip', '/usr/bin/ip', '/sbin/ip', '/bin/ip'], command: 'ip', needed: 'the loopback-only network namespace npm test runs in' },
];

/** The Debian packages, once each, in the order above. */
export const SYSTEM_PACKAGES = [...new Set(SYSTEM_TOOLS.map((tool) => tool.package))];

const APT_INSTALL = ['install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300'];

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/**
 * Where a tool's binary is, or why it is not usable. The binary itself is looked for (not dpkg's
 * record), so a tool that is registered but absent counts as missing.
 */
export function locateTool(name, env = process.env) {
  const tool = SYSTEM_TOOLS.find((t) => t.name === name);
  if (!tool) throw new Error(`unknown system tool ${name}`);
  if (tool.env && env[tool.env]) {
    const path = env[tool.env];
    return executable(path) ? { path } : { missing: `${tool.env}=${path} is not an executable file` };
  }
  const path = tool.paths.find(executable) ?? (tool.command && onPath(tool.command));
  if (path) return { path };
  const looked = [...(tool.env ? [`$${tool.env}`] : []), ...tool.paths, ...(tool.command ? ['PATH'] : [])];
  return { missing: `${name} not found (looked at ${looked.join(', ')})` };
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** The command that makes `tools` available here, as a user would type it. */
export function enableCommand(names) {
  const tools = names.map((name) => SYSTEM_TOOLS.find((t) => t.name === name));
  const packages = [...new Set(tools.map((tool) => tool.package))];
  const install = `${isRoot() ? '' : 'sudo '}apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  const envs = tools.filter((tool) => tool.env).map((tool) => `${tool.env}=/path/to/${tool.name}`);
  return envs.length ? `${install} (not Debian: install ${names.join(' and ')} and set ${envs.join(' ')})` : install;
}

function dpkgStatus(pkg) {
  const result = spawnSync('dpkg-query', ['-W', '-f=${db:Status-Status}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return result.status === 0 ? result.stdout.trim() : 'not-installed';
}

const hasCommand = (command) => Boolean(onPath(command));

/**
 * Installs the Debian packages that are not installed, when it can: as root, with apt-get and
 * dpkg-query on PATH, unless TEST_INSTALL_SYSTEM_DEPS=0. Never reads stdin; apt's output goes to
 * stderr. Returns what it did, for the caller to print; never throws.
 * @returns {{ installed: string[], missing: string[], skipped?: string, failed?: string }}
 */
export function ensureSystemPackages({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  if (process.env.TEST_INSTALL_SYSTEM_DEPS === '0') return { installed: [], missing: [], skipped: 'TEST_INSTALL_SYSTEM_DEPS=0' };
  if (process.platform !== 'linux') return { installed: [], missing: [], skipped: `not Linux (${process.platform})` };
  if (!hasCommand('dpkg-query') || !hasCommand('apt-get')) return { installed: [], missing: [], skipped: 'no apt-get/dpkg-query (not Debian?)' };
  const missing = SYSTEM_PACKAGES.filter((pkg) => dpkgStatus(pkg) !== 'installed');
  if (!missing.length) return { installed: [], missing };
  if (!isRoot()) return { installed: [], missing, skipped: 'not root' };

  log(`[test] installing Debian packages: ${missing.join(' ')} (apt-get, as root)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (what, args, timeout) => {
    const result = spawnSync('apt-get', args, { env, stdio: ['ignore', process.stderr, process.stderr], timeout });
    return result.status === 0 ? '' : `apt-get ${what} failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`})`;
  };
  const failed = apt('update', ['-o', 'DPkg::Lock::Timeout=300', 'update'], 8 * 60_000) || apt('install', [...APT_INSTALL, ...missing], 15 * 60_000);
  const installed = missing.filter((pkg) => dpkgStatus(pkg) === 'installed');
  return { installed, missing: missing.filter((pkg) => !installed.includes(pkg)), ...(failed ? { failed } : {}) };
}

// ------------------------------------------------------------------------------------ command line

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--install')) {
    const result = ensureSystemPackages();
    if (result.skipped) console.error(`[test] not installing system packages: ${result.skipped}`);
    if (result.failed) console.error(`[test] ${result.failed}`);
    if (result.installed.length) console.error(`[test] installed: ${result.installed.join(' ')}`);
    if (result.failed) process.exitCode = 1;
  }
  for (const tool of SYSTEM_TOOLS) {
    const found = locateTool(tool.name);
    console.log(found.path ? `${tool.name}: ${found.path}` : `${tool.name}: missing, for ${tool.needed}. Enable: ${enableCommand([tool.name])}`);
  }
}
