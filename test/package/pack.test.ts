import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { startEchoServer, until, type EchoServer } from '../support/servers';

// The package as users get it: `npm pack`, installed into a fresh project, then loaded by Node as
// ESM and as CommonJS (each talking to a real ws server on loopback) and as a <script> bundle.

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; kills it (and fails) after `timeout` ms. */
function run(command: string, args: string[], cwd: string, timeout: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeout} ms\n${stdout}\n${stderr}`));
    }, timeout);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function describeRun(what: string, result: Run): string {
  return `${what} exited with ${result.code ?? result.signal}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

interface PackedFile {
  path: string;
}

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

/**
 * A lockfile for the consumer project: the tarball plus its runtime dependencies at the versions
 * (and integrity) of the repo's own lockfile. With it `npm ci --offline` installs from npm's cache,
 * which the repo's `npm ci` has filled, so the install works inside the loopback-only namespace
 * that scripts/test.mjs runs in. Plain `npm install <tarball>` cannot: it wants full registry
 * metadata that `npm ci` never caches. Returns undefined when the repo's lockfile cannot pin every
 * dependency (then the caller falls back to `npm install`).
 * Transitive ranges are taken as npm resolved them in the repo lockfile.
 */
function consumerLockfile(tarball: string, integrity: string, manifest: { version: string; dependencies?: Record<string, string> }) {
  const repoLock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages: Record<string, LockEntry> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { steadysocket: `file:${tarball}` } },
    'node_modules/steadysocket': {
      version: manifest.version,
      resolved: `file:${tarball}`,
      integrity,
      ...(manifest.dependencies ? { dependencies: manifest.dependencies } : {}),
    },
  };
  // [name, spec, the lockfile path of the package that depends on it ('' for the tarball)]
  const wanted: [string, string, string][] = Object.entries(manifest.dependencies ?? {}).map(([name, spec]) => [name, spec, '']);
  while (wanted.length) {
    const [name, spec, parent] = wanted.shift()!;
    // Node's lookup: the parent's own node_modules first, then each folder above it. npm wrote
    // the repo lockfile so that the copy found this way satisfies the parent's range.
    let path: string | undefined;
    for (let base = parent; ; base = base.includes('/node_modules/') ? base.slice(0, base.lastIndexOf('/node_modules/')) : '') {
      const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
      if (repoLock.packages[candidate]?.version) {
        path = candidate;
        break;
      }
      if (!base) break;
    }
    if (!path) return undefined;
    const entry = repoLock.packages[path];
    // The tarball's own dependencies are exact pins (the project pins them): check those.
    if (!parent && spec !== '*' && spec !== entry.version) return undefined;
    if (packages[path]) continue;
    const { dev, optional, devOptional, peer, ...kept } = entry;
    packages[path] = kept;
    for (const [dep, depSpec] of Object.entries(entry.dependencies ?? {})) wanted.push([dep, depSpec, path]);
    for (const [dep, depSpec] of Object.entries(entry.peerDependencies ?? {})) {
      if (!entry.peerDependenciesMeta?.[dep]?.optional) wanted.push([dep, depSpec, path]);
    }
  }
  return { name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

/** Every path a package.json field points into the package (exports, main, types, bin, ...). */
function referencedFiles(pkg: Record<string, unknown>): string[] {
  const found = new Set<string>();
  const add = (path: string) => found.add(path.replace(/^\.\//, ''));
  // Values only: keys of `exports` are subpaths and keys of `exports` conditions are names.
  const walkValues = (value: unknown): void => {
    if (typeof value === 'string') add(value);
    else if (value && typeof value === 'object') for (const inner of Object.values(value)) walkValues(inner);
  };
  for (const field of ['main', 'module', 'types', 'typings', 'unpkg', 'jsdelivr', 'bin', 'exports']) walkValues(pkg[field]);
  // In the `browser` object the keys are files too.
  const browser = pkg.browser;
  if (typeof browser === 'string') add(browser);
  else if (browser && typeof browser === 'object') {
    for (const [from, to] of Object.entries(browser)) {
      if (from.startsWith('./')) add(from);
      if (typeof to === 'string' && to.startsWith('./')) add(to);
    }
  }
  found.delete('package.json');
  return [...found].sort();
}

// Connects, sends one message, prints what came back as JSON, closes, and must then exit by itself.
const ESM_CONSUMER = `
import { SteadySocket } from 'steadysocket';
const out = { type: typeof SteadySocket, resolved: import.meta.resolve('steadysocket') };
const socket = new SteadySocket(process.argv[2]);
const timer = setTimeout(() => { console.log(JSON.stringify({ ...out, error: 'no echo within 5000 ms' })); process.exit(3); }, 5000);
socket.on('error', (error) => console.error('error event:', error && error.code, error && error.message));
socket.on('open', () => socket.send('hello from esm'));
socket.on('message', async (data) => {
  clearTimeout(timer);
  await socket.close();
  console.log(JSON.stringify({ ...out, echo: String(data), state: socket.state }));
});
`;

const CJS_CONSUMER = `
const { SteadySocket } = require('steadysocket');
const out = { type: typeof SteadySocket, resolved: require.resolve('steadysocket') };
const socket = new SteadySocket(process.argv[2]);
const timer = setTimeout(() => { console.log(JSON.stringify({ ...out, error: 'no echo within 5000 ms' })); process.exit(3); }, 5000);
socket.on('error', (error) => console.error('error event:', error && error.code, error && error.message));
socket.on('open', () => socket.send('hello from cjs'));
socket.on('message', async (data) => {
  clearTimeout(timer);
  await socket.close();
  console.log(JSON.stringify({ ...out, echo: String(data), state: socket.state }));
});
`;

describe('the packed package', () => {
  let work: string | undefined;
  let consumer: string;
  let packed: { filename: string; files: PackedFile[]; integrity: string };
  let manifest: Record<string, unknown> & { version: string; dependencies?: Record<string, string> };
  let echo: EchoServer | undefined;
  /** What npm printed while installing the tarball into the consumer project. */
  let installOutput = '';

  before(async function () {
    this.timeout(180_000);
    for (const file of ['index.js', 'index.cjs', 'steadysocket.min.js', 'steadysocket.core.min.js']) {
      if (!existsSync(join(repoRoot, 'dist', file))) throw new Error(`dist/${file} is missing: run \`npm run build\` (npm test does).`);
    }
    work = mkdtempSync(join(tmpdir(), 'steadysocket-pack-'));
    // --ignore-scripts: `prepack` would rebuild dist/ while other processes may read it; npm test
    // has just built it.
    const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], repoRoot, 60_000);
    if (pack.code !== 0) throw new Error(describeRun('npm pack', pack));
    packed = (JSON.parse(pack.stdout) as (typeof packed)[])[0];
    const tarball = join(work, packed.filename);
    manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));

    consumer = join(work, 'consumer');
    rmSync(consumer, { recursive: true, force: true });
    const lock = consumerLockfile(tarball, packed.integrity, manifest);
    const attempts: string[] = [];
    if (lock) {
      mkdirSync(consumer, { recursive: true });
      writeFileSync(join(consumer, 'package.json'), JSON.stringify({ ...lock.packages[''], private: true }, null, 2));
      writeFileSync(join(consumer, 'package-lock.json'), JSON.stringify(lock, null, 2));
      const ci = await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], consumer, 120_000);
      installOutput = ci.stdout + ci.stderr;
      if (ci.code === 0) return;
      attempts.push(describeRun('npm ci --offline (lockfile pinned to the repo lockfile)', ci));
      rmSync(consumer, { recursive: true, force: true });
    }
    mkdirSync(consumer, { recursive: true });
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2));
    // --fetch-retries=0: fail fast where the registry is unreachable (the loopback namespace).
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--fetch-retries=0', tarball], consumer, 120_000);
    installOutput = install.stdout + install.stderr;
    if (install.code === 0) return;
    attempts.push(describeRun(`npm install ${packed.filename}`, install));
    throw new Error(`Could not install the packed tarball into a fresh project:\n${attempts.join('\n')}`);
  });

  before(async () => {
    echo = await startEchoServer();
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  after(async () => {
    await echo?.close();
  });

  it('names in engines only Node versions that can load every CommonJS entry (require() of the ES-module-only packages they need)', () => {
    const esmOnly: string[] = [];
    for (const file of ['index.cjs', 'node.cjs']) {
      const text = readFileSync(join(repoRoot, 'dist', file), 'utf8');
      for (const [, , id] of text.matchAll(/\brequire\((['"])([^'"]+)\1\)/g)) {
        if (id.startsWith('.') || id.startsWith('node:') || builtinModules.includes(id)) continue;
        const name = id.startsWith('@') ? id.split('/').slice(0, 2).join('/') : id.split('/')[0];
        const pkg = JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { type?: string; exports?: unknown; main?: string };
        const conditions = JSON.stringify(pkg.exports ?? {});
        if (pkg.type === 'module' && !/"require"/.test(conditions) && !(pkg.main ?? '').endsWith('.cjs')) esmOnly.push(`${file} → ${name}`);
      }
    }
    // require() of ES modules works without a flag from Node 20.19 and 22.12 on.
    if (esmOnly.length) expect((manifest as { engines?: { node?: string } }).engines?.node, esmOnly.join(', ')).to.equal('^20.19.0 || >=22.12.0');
  });

  it('holds dist/ and the docs, and nothing from src/ or test/', () => {
    const paths = packed.files.map((file) => file.path);
    expect(paths).to.include.members(['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.cjs', 'dist/steadysocket.min.js', 'dist/steadysocket.core.min.js']);
    // node/package.json redirects `steadysocket/node` for resolvers without `exports` (TypeScript node10).
    const strays = paths.filter((path) => !path.startsWith('dist/') && !['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'node/package.json'].includes(path));
    expect(strays, 'files outside dist/ and the docs').to.deep.equal([]);
  });

  it('installs without an install script: the packed manifest has none, and npm warns about none', () => {
    const installed = JSON.parse(readFileSync(join(consumer, 'node_modules', 'steadysocket', 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    // What npm runs when a tarball or a registry package is installed (prepare: local folders and git).
    const lifecycle = ['preinstall', 'install', 'postinstall', 'prepare'].filter((name) => installed.scripts?.[name] !== undefined);
    expect(lifecycle, 'install-time scripts in the published package.json').to.deep.equal([]);
    expect(installOutput).not.to.match(/install-scripts|steadysocket@[^\s]*\s*\((pre|post)?install|prepare\b/);
  });

  it('points npm to the repository: repository, homepage and bugs, and a README whose links are absolute', () => {
    const installed = JSON.parse(readFileSync(join(consumer, 'node_modules', 'steadysocket', 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(installed.repository).to.deep.equal({ type: 'git', url: 'git+https://github.com/steadysocket/steadysocket.git' });
    expect(installed.homepage).to.equal('https://github.com/steadysocket/steadysocket#readme');
    expect(installed.bugs).to.deep.equal({ url: 'https://github.com/steadysocket/steadysocket/issues' });
    // The npm page shows this README without the repository around it: a relative link goes nowhere.
    const readme = readFileSync(join(consumer, 'node_modules', 'steadysocket', 'README.md'), 'utf8').replace(/^```[\s\S]*?^```$/gm, '');
    const relative = [...readme.matchAll(/\]\(([^)\s]+)\)|\b(?:href|src)="([^"]+)"/g)]
      .map((m) => m[1] ?? m[2])
      .filter((target) => !/^(https?:|mailto:|#)/.test(target));
    expect(relative, 'relative links in the packed README.md').to.deep.equal([]);
  });

  it('contains every file that package.json points to (exports, main, module, types, browser, bin, unpkg)', () => {
    const paths = new Set(packed.files.map((file) => file.path));
    const missing = referencedFiles(manifest).filter((path) => !paths.has(path));
    expect(missing, 'referenced by package.json but not in the tarball').to.deep.equal([]);
  });

  it('imports SteadySocket as ESM from dist/index.js and gets an echo from a ws server', async () => {
    writeFileSync(join(consumer, 'esm-consumer.mjs'), ESM_CONSUMER);
    const result = await run(process.execPath, ['esm-consumer.mjs', echo!.url], consumer, 15_000);
    expect(result.code, describeRun('esm-consumer.mjs', result)).to.equal(0);
    const out = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    expect(out.type).to.equal('function');
    expect(out.resolved).to.match(/\/node_modules\/steadysocket\/dist\/index\.js$/);
    expect(out.echo).to.equal('hello from esm');
    expect(out.state).to.equal('closed');
    expect(echo!.connections.some((c) => c.messages.includes('hello from esm')), 'the server received the message').to.equal(true);
  });

  it('requires SteadySocket as CommonJS from dist/index.cjs and gets an echo from a ws server', async () => {
    writeFileSync(join(consumer, 'cjs-consumer.cjs'), CJS_CONSUMER);
    const result = await run(process.execPath, ['cjs-consumer.cjs', echo!.url], consumer, 15_000);
    expect(result.code, describeRun('cjs-consumer.cjs', result)).to.equal(0);
    const out = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    expect(out.type).to.equal('function');
    expect(out.resolved).to.match(/\/node_modules\/steadysocket\/dist\/index\.cjs$/);
    expect(out.echo).to.equal('hello from cjs');
    expect(out.state).to.equal('closed');
    expect(echo!.connections.some((c) => c.messages.includes('hello from cjs')), 'the server received the message').to.equal(true);
  });

  /**
   * Runs a script-tag bundle of the installed package in a context with only what a browser page
   * has (minus the DOM), checks that its global SteadySocket queues, connects through the global
   * WebSocket and flushes, and returns the global. `replaced`: the page's WebSocket is another
   * one when the bundle loads, replaced by the checked one afterwards (a polyfill or a test's mock).
   */
  async function scriptTagGlobal(file: string, replaced = false): Promise<Record<string, unknown>> {
    const source = readFileSync(join(consumer, 'node_modules/steadysocket/dist', file), 'utf8');
    const created: FakeWebSocket[] = [];
    class FakeWebSocket {
      static readonly CONNECTING = 0;
      static readonly OPEN = 1;
      static readonly CLOSING = 2;
      static readonly CLOSED = 3;
      readyState = 0;
      protocol = '';
      bufferedAmount = 0;
      binaryType = 'blob';
      sent: unknown[] = [];
      onopen: ((event: unknown) => void) | null = null;
      onmessage: ((event: unknown) => void) | null = null;
      onclose: ((event: unknown) => void) | null = null;
      onerror: ((event: unknown) => void) | null = null;
      constructor(readonly url: string, readonly protocols?: string | string[]) {
        created.push(this);
      }
      send(data: unknown) {
        this.sent.push(data);
      }
      close(code = 1000, reason = '') {
        this.readyState = 3;
        setTimeout(() => this.onclose?.({ code, reason, wasClean: true }), 0);
      }
    }
    // Only what a browser page has, minus the DOM: the bundle must not reach for Node.
    const sandbox = vm.createContext({
      WebSocket: FakeWebSocket,
      URL,
      TextEncoder,
      TextDecoder,
      setTimeout,
      clearTimeout,
      queueMicrotask,
      console,
    });
    if (replaced) sandbox.WebSocket = class Replaced {};
    vm.runInContext(source, sandbox, { filename: file });
    if (replaced) sandbox.WebSocket = FakeWebSocket;
    const SteadySocket = sandbox.SteadySocket as (new (url: string) => { send(data: string): void; close(): Promise<void>; state: string }) & Record<string, unknown>;
    expect(typeof SteadySocket).to.equal('function');
    expect(SteadySocket.SteadySocket).to.equal(SteadySocket);
    expect(typeof SteadySocket.SteadySocketError).to.equal('function');

    const socket = new SteadySocket('ws://127.0.0.1:9/');
    socket.send('queued before open');
    await until(() => created.length === 1, 2000, 'the bundle to construct the global WebSocket');
    expect(created[0].url).to.equal('ws://127.0.0.1:9/');
    created[0].readyState = 1;
    created[0].onopen!({});
    await until(() => created[0].sent.length === 1, 2000, 'the queued message to be flushed');
    expect(created[0].sent).to.deep.equal(['queued before open']);
    await socket.close();
    expect(socket.state).to.equal('closed');
    return SteadySocket;
  }

  it('defines a global SteadySocket class from dist/steadysocket.min.js that uses the global WebSocket', async () => {
    const SteadySocket = await scriptTagGlobal('steadysocket.min.js');
    // The full script-tag bundle keeps every feature (SteadySocket.heartbeat etc.).
    for (const name of ['heartbeat', 'pageSignals', 'ready', 'ttl', 'stats', 'debug', 'messages', 'json']) {
      expect(typeof SteadySocket[name], `SteadySocket.${name}`).to.equal('function');
    }
  });

  it('uses the WebSocket the page has at each connection: one replaced after the bundle loaded (a polyfill, a test mock) is the one used', async () => {
    // Before: isomorphic-ws's browser file took the WebSocket of the moment the bundle loaded.
    for (const file of ['steadysocket.min.js', 'steadysocket.core.min.js']) await scriptTagGlobal(file, true);
  });

  it('defines a global SteadySocket class from dist/steadysocket.core.min.js (the core alone) that uses the global WebSocket', async () => {
    const SteadySocket = await scriptTagGlobal('steadysocket.core.min.js');
    const exported = Object.keys(SteadySocket).filter((key) => key !== 'prototype').sort();
    expect(exported, 'what the core bundle exports').to.deep.equal(['SteadySocket', 'SteadySocketError', 'isSteadySocketError', 'json']);
  });

  it('passes publint (strict) and arethetypeswrong with nothing to report', async () => {
    const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);
    const lint = await run(bin('publint'), ['--pack', 'false', '--strict'], repoRoot, 60_000);
    expect(lint.code, describeRun('publint', lint)).to.equal(0);
    // One suggestion is kept on purpose: `browser` maps the `module` entry to the browser build for
    // bundlers that read `module` but not `exports` (Parcel 2 by default bundled the Node build).
    const remarks = lint.stdout.split('\n').filter((line) => /^\s*\d+\. /.test(line));
    expect(remarks.filter((line) => !/pkg\.browser with an object value can be refactored/.test(line)), lint.stdout).to.deep.equal([]);
    expect(lint.stdout, lint.stdout).to.not.match(/Warnings?:|Errors?:/);
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { module: string; browser: Record<string, string> };
    expect(manifest.browser, 'the browser field').to.deep.equal({ [manifest.module]: './dist/index.browser.js' });
    // Every profile, node10 included: node/package.json points old resolvers at steadysocket/node.
    const attw = await run(bin('attw'), [join(work!, packed.filename), '--format', 'ascii'], repoRoot, 60_000);
    expect(attw.code, describeRun('attw', attw)).to.equal(0);
    expect(attw.stdout).to.match(/"steadysocket\/node"/);
    expect(attw.stdout, attw.stdout).to.not.match(/❌|👺|⚠️|🐛|🥴/);
  });

  for (const [resolution, module] of [
    ['node16', 'node16'],
    ['bundler', 'esnext'],
    ['node10', 'commonjs'],
  ] as const) {
    it(`type-checks a strict TypeScript consumer (lib es2022 + dom, no skipLibCheck) under moduleResolution ${resolution}`, async function () {
      this.timeout(120_000); // a full type-check of the consumer and @types/node
      const dir = join(consumer, `ts-${resolution}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module,
            moduleResolution: resolution,
            target: 'ES2022',
            lib: ['ES2022', 'DOM'],
            strict: true,
            skipLibCheck: false,
            ...(resolution === 'node10' ? { ignoreDeprecations: '6.0' } : {}),
            noEmit: true,
            typeRoots: [join(repoRoot, 'node_modules', '@types')],
            types: ['node'],
          },
          files: [resolution === 'node10' ? 'use.ts' : 'use.mts'],
        }),
      );
      writeFileSync(
        join(dir, resolution === 'node10' ? 'use.ts' : 'use.mts'),
        [
          "import { SteadySocket, json, isSteadySocketError, heartbeat, messages, stats, type CloseInfo } from 'steadysocket';",
          "import { proxyAgentFor } from 'steadysocket/node';",
          "type In = { kind: 'pong' | 'news'; text?: string };",
          "type Out = { kind: 'ping' } | { kind: 'say'; text: string };",
          'const counters = stats();',
          'const socket = new SteadySocket(\'wss://example.test/\', {',
          '  codec: json<In, Out>(),',
          "  agent: proxyAgentFor('wss://example.test/'),",
          // The guide's heartbeat: ping is not an inference site, isPong gets the inbound type
          // (from the client the feature is given to, without type arguments).
          '  use: [',
          '    heartbeat({',
          '      interval: 15_000,',
          '      timeout: 5_000,',
          "      ping: () => ({ kind: 'ping' }),",
          '      isPong: (m) => {',
          "        // @ts-expect-error: m is the inbound type (not any), which has no such field",
          '        void m.missing;',
          "        return m.kind === 'pong';",
          '      },',
          '    }),',
          '    counters,',
          '  ],',
          '});',
          "socket.on('message', (m) => { const k: 'pong' | 'news' = m.kind; void k; });",
          // for await over messages(socket) yields the inbound type (0.1: for await over the socket).
          "async function read() { for await (const m of messages(socket)) { const k: 'pong' | 'news' = m.kind; void k; } }",
          'void read;',
          'const sent: number = counters.snapshot().messagesOut;',
          'void sent;',
          "socket.on('close', (info: CloseInfo) => { const c: number = info.code; void c; });",
          // The error type is discriminated by code: status is a number after the check.
          "socket.on('error', (e) => { if (e.code === 'HANDSHAKE_REJECTED') { const s: number = e.status; void s; } });",
          "try { socket.send({ kind: 'say', text: 'hi' }); } catch (e) { if (isSteadySocketError(e, 'HANDSHAKE_REJECTED')) { const s: number = e.status; void s; } }",
          "// @ts-expect-error: the outbound type is enforced",
          'socket.send(42);',
          'void socket[Symbol.asyncDispose]();',
          'void socket.close();',
          '',
        ].join('\n'),
      );
      const tsc = await run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], dir, 60_000);
      expect(tsc.code, describeRun('tsc', tsc)).to.equal(0);
    });
  }

  it('bundles for the browser with rollup (browser condition) without pulling in ws', async () => {
    const { rollup } = await import('rollup');
    const { nodeResolve } = await import('@rollup/plugin-node-resolve');
    // eventemitter3 is CommonJS underneath its ESM wrapper, as bundlers' users know it.
    const { default: commonjs } = await import('@rollup/plugin-commonjs');
    const entry = join(consumer, 'browser-entry.mjs');
    writeFileSync(entry, "import { SteadySocket } from 'steadysocket';\nglobalThis.made = new SteadySocket('wss://example.test/');\n");
    const bundle = await rollup({ input: entry, plugins: [nodeResolve({ browser: true }), commonjs()], onwarn: () => {} });
    try {
      const { output } = await bundle.generate({ format: 'es' });
      const modules = Object.keys(output[0].modules);
      expect(modules.some((id) => id.includes('steadysocket/dist/index.browser.js')), modules.join('\n')).to.equal(true);
      expect(modules.filter((id) => /node_modules[\\/]ws[\\/]/.test(id))).to.deep.equal([]);
      expect(output[0].imports, 'left external').to.deep.equal([]);
      expect(output[0].code).to.not.match(/from ['"]ws['"]|require\(['"]ws['"]\)/);
    } finally {
      await bundle.close();
    }
  });
});
