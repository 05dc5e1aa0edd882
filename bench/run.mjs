#!/usr/bin/env node
// `npm run bench`: what steadysocket costs on top of the transport it wraps, as ratios against raw
// `ws` (Node) and the native WebSocket (Chromium) measured in the same run. See docs/performance.md.
//
//   npm run bench                      everything (about 8 minutes on 2 cores)
//   npm run bench -- --quick           2 rounds, smaller counts: checks that it all runs (~1 min)
//   npm run bench -- --only=echo,sizes  some measures: echo, delivery, rpc, binary, latency, flush, memory, chromium, sizes
//   npm run bench -- --rounds=20       more rounds per measure (whole cycles of the balanced order: 10 for 5 clients)
//   npm run bench -- --no-write        print only; leave bench/results and docs/ alone
//   npm run bench -- --clients=steadysocket,raw2   only these clients (and the baseline)
//   npm run bench -- --no-pin          do not pin the echo server (CPU 0) and the Node clients (CPU 1)
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium), BENCH_SKIP_BUILD=1 (never rebuild dist/),
// BENCH_WORKER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (extra node flags for the client workers),
// BENCH_DIST_DIR=/path/to/other/dist (measure another build, e.g. a patched copy; prints only).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { chromiumPath, launchChromium, measureRound, startPageServer } from './lib/chromium.mjs';
import { benchDir, freePort, killAll, now, startNode, taskset } from './lib/processes.mjs';
import { checksTable, format, markdownTable, sizesTable, svgChart } from './lib/report.mjs';
import { balancedCycle, balancedOrder, ratios, summary } from './lib/stats.mjs';

const root = join(benchDir, '..');
process.chdir(root);

const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const value = (name) => args.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1];
const quick = flag('quick');
const only = value('only')?.split(',');
const roundsOverride = value('rounds') ? Number(value('rounds')) : undefined;
// Experiments only: extra options for steadysocket in the flush measure, e.g. '{"highWaterMark":1e9}'.
const steadysocketOptions = value('steadysocket-options') ? JSON.parse(args.find((a) => a.startsWith('--steadysocket-options=')).slice(23)) : undefined;
const write = !flag('no-write') && !quick && !only && !steadysocketOptions && !value('clients') && !process.env.BENCH_DIST_DIR;
const log = (line) => process.stderr.write(`[bench] ${line}\n`);
// With two CPUs or more, the echo server runs on the first and the client under test on the
// second (taskset), so that neither is scheduled onto the other's CPU in the middle of a round.
const pin = !flag('no-pin') && taskset !== undefined && os.availableParallelism() >= 2;
const SERVER_CPU = pin ? 0 : undefined;
const CLIENT_CPU = pin ? 1 : undefined;

/** At least `atLeast` rounds, in whole cycles of the balanced order for `n` clients. */
function rounds(n, atLeast) {
  const cycle = balancedCycle(n);
  return roundsOverride ?? (quick ? 2 : Math.ceil(atLeast / cycle) * cycle);
}
const scaled = (full) => (quick ? Math.max(1, Math.round(full / 5)) : full);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

// ------------------------------------------------------------------------------ build + snapshot

function newest(path) {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  return Math.max(info.mtimeMs, ...readdirSync(path).map((entry) => newest(join(path, entry))));
}

function ensureBuild() {
  const outputs = ['index.js', 'steadysocket.min.js', 'steadysocket.esm.min.js', 'index.cjs', 'index.browser.js'].map((f) => join('dist', f));
  const missing = outputs.some((file) => !existsSync(file));
  const stale = !missing && newest('src') > Math.min(...outputs.map((file) => statSync(file).mtimeMs));
  if (process.env.BENCH_SKIP_BUILD === '1' || process.env.BENCH_DIST_DIR || (!missing && !stale)) return;
  log(`building dist/ (${missing ? 'missing' : 'older than src/'})`);
  const build = spawnSync('npx', ['rollup', '-c'], { stdio: ['ignore', process.stderr, process.stderr] });
  if (build.status !== 0) throw new Error('the build failed');
}

// Others may rebuild dist/ while the bench runs: measure one frozen copy. It lives inside the repo
// (.bench-out/ is ignored by git) so that its imports resolve from node_modules/.
function snapshotDist() {
  const target = join(root, '.bench-out', 'dist');
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  cpSync(process.env.BENCH_DIST_DIR || join(root, 'dist'), target, { recursive: true });
  return target;
}

// ------------------------------------------------------------------------------ measuring

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const onlyClients = value('clients')?.split(',');

/** The clients of a measure that this run includes (`--clients`; the baseline always). */
const included = (all) => (onlyClients ? all.filter((client, i) => i === 0 || onlyClients.includes(client)) : all);

/**
 * At least `atLeast` rounds over the included clients, each round in a balanced order (see
 * balancedOrder): `runRound(order, round)` runs them all and returns their results by client.
 * Returns results[client][round] and the orders.
 */
async function inRounds(name, all, atLeast, runRound) {
  const clients = included(all);
  const results = Object.fromEntries(clients.map((client) => [client, []]));
  const orders = [];
  const count = rounds(clients.length, atLeast);
  for (let round = 0; round < count; round++) {
    const order = balancedOrder(clients, round);
    orders.push(order);
    const byClient = await runRound(order, round);
    for (const client of clients) results[client][round] = byClient[client];
    log(`${name}: round ${round + 1}/${count} done`);
  }
  return { results, orders };
}

/** {@link inRounds} with one `runOne(client, round)` after another (the A/A twin runs as raw). */
function interleave(name, all, atLeast, runOne) {
  return inRounds(name, all, atLeast, async (order, round) => {
    const byClient = {};
    for (const client of order) byClient[client] = await runOne(client.replace(/2$/, ''), round);
    return byClient;
  });
}

/** Adds per-client summaries and per-round ratios against the baseline to each metric. */
function summarise(measure, results) {
  for (const metric of measure.metrics) {
    metric.perClient = {};
    const base = results[measure.baseline].map((r) => r?.[metric.key]);
    for (const client of measure.clients) {
      if (!results[client]) continue;
      const values = results[client].map((r) => r?.[metric.key]);
      const perRound = ratios(values, base);
      metric.perClient[client] = { values, summary: summary(values), ratios: perRound, ratio: summary(perRound) };
    }
  }
  measure.results = results;
  return measure;
}

const WORKER = join(benchDir, 'node-worker.mjs');
const workerNodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
const SERVER = join(benchDir, 'echo-server.mjs');

async function runWorker(config, { nodeArgs = [] } = {}) {
  const worker = startNode(WORKER, [JSON.stringify(config)], { nodeArgs: [...workerNodeArgs, ...nodeArgs], env: context.env, stdin: 'ignore', cpu: CLIENT_CPU });
  try {
    const result = await worker.next(120_000);
    const exit = await worker.exited;
    if (exit.code !== 0) throw new Error(`worker ${config.measure}/${config.client} exited with ${exit.code ?? exit.signal}`);
    return result;
  } finally {
    await worker.stop(100);
  }
}

const context = { env: {}, echoUrl: '', steadysocketOptions };

const NODE_CLIENTS = ['raw', 'steadysocket', 'rws', 'partysocket'];
const WITH_CONTROL = [...NODE_CLIENTS, 'raw2'];

const rateMetric = { key: 'rate', label: 'throughput', chartLabel: 'time per msg (1/throughput)', unit: 'msg/s', digits: 0, lowerIsBetter: false, chart: true };
const cpuMetric = { key: 'cpuPerMsg', label: 'client CPU per message', chartLabel: 'client CPU per msg', unit: 'µs', digits: 2, lowerIsBetter: true, chart: true };

const measures = {
  async echo() {
    const config = { total: scaled(100_000), warmup: scaled(20_000), window: 1000, size: 32 };
    const measure = {
      id: 'echo',
      title: 'Node, 32 B text, pipelined echo (1,000 in flight)',
      short: 'Node 32 B echo',
      clients: WITH_CONTROL,
      baseline: 'raw',
      config,
      metrics: [
        { ...rateMetric, targetRatio: 0.98, targetText: '≥ 0.98× raw' },
        { ...cpuMetric, targetRatio: 1.02, targetText: '≤ 1.02× raw' },
      ],
    };
    const { results, orders } = await interleave('echo 32 B', measure.clients, 7, (client) =>
      runWorker({ measure: 'echo', client, url: context.echoUrl, ...config }),
    );
    measure.orders = orders;
    return summarise(measure, results);
  },

  async delivery() {
    const config = { total: scaled(50_000), warmup: scaled(10_000), window: 1000 };
    const measure = {
      id: 'delivery',
      title: 'Node, JSON messages through the echo server, 1,000 in flight: acks() against the same client without',
      short: 'acks() cost',
      clients: ['json', 'acks', 'json2'],
      baseline: 'json',
      config,
      metrics: [
        { ...rateMetric, targetRatio: 1 / 1.1, targetText: '≥ 0.91× without acks' },
        { ...cpuMetric, targetRatio: 1.1, targetText: '≤ 1.10× without acks' },
      ],
    };
    const { results, orders } = await interleave('acks', measure.clients, 7, (client) => runWorker({ measure: 'delivery', client, url: context.echoUrl, ...config }));
    measure.orders = orders;
    return summarise(measure, results);
  },

  async rpc() {
    const config = { total: scaled(30_000), warmup: scaled(5000), window: 100 };
    const measure = {
      id: 'rpc',
      title: 'Node, request/reply through the echo server, 100 in flight: requests() against a hand-written correlation over raw ws',
      short: 'request() cost',
      clients: ['raw', 'steadysocket', 'raw2'],
      baseline: 'raw',
      config,
      metrics: [
        { ...rateMetric, targetRatio: 1 / 1.1, targetText: '≥ 0.91× raw' },
        { ...cpuMetric, targetRatio: 1.1, targetText: '≤ 1.10× raw' },
      ],
    };
    const { results, orders } = await interleave('rpc', measure.clients, 7, (client) => runWorker({ measure: 'rpc', client, url: context.echoUrl, ...config }));
    measure.orders = orders;
    return summarise(measure, results);
  },

  async binary() {
    const config = { total: scaled(2000), warmup: scaled(400), window: 16, size: 65536, binary: true };
    const measure = {
      id: 'binary',
      title: 'Node, 64 KiB binary, pipelined echo (16 in flight)',
      short: 'Node 64 KiB echo',
      clients: WITH_CONTROL,
      baseline: 'raw',
      config,
      metrics: [
        { ...rateMetric, targetText: 'within noise (A/A range)' },
        { ...cpuMetric, targetRatio: 1.02, targetText: '≤ 1.02× raw' },
      ],
    };
    const { results, orders } = await interleave('echo 64 KiB', measure.clients, 7, (client) =>
      runWorker({ measure: 'echo', client, url: context.echoUrl, ...config }),
    );
    measure.orders = orders;
    return summarise(measure, results);
  },

  async latency() {
    const config = { total: scaled(10_000), warmup: scaled(2000) };
    const measure = {
      id: 'latency',
      title: 'Node, round trip, sequential ping-pong (32 B)',
      short: 'Node round trip',
      clients: WITH_CONTROL,
      baseline: 'raw',
      config,
      metrics: [
        { key: 'p50', label: 'p50', unit: 'µs', digits: 1, lowerIsBetter: true, chart: true, targetRatio: 1.02, targetText: '≤ 1.02× raw' },
        { key: 'p99', label: 'p99', unit: 'µs', digits: 1, lowerIsBetter: true, chart: true, targetRatio: 1.02, targetText: '≤ 1.02× raw' },
        { key: 'cpuPerRoundTrip', label: 'client CPU per round trip', unit: 'µs', digits: 2, lowerIsBetter: true },
      ],
    };
    const { results, orders } = await interleave('latency', measure.clients, 7, (client) =>
      runWorker({ measure: 'latency', client, url: context.echoUrl, ...config }),
    );
    measure.orders = orders;
    return summarise(measure, results);
  },

  async flush() {
    const count = scaled(50_000);
    const measure = {
      id: 'flush',
      title: `Offline flush of ${count.toLocaleString('en-US')} sequence-numbered 32 B messages (raw: the same on an open socket)`,
      short: 'Offline flush',
      clients: WITH_CONTROL,
      baseline: 'raw',
      config: { count },
      metrics: [
        { key: 'flushMs', label: 'flush time, server-side', chartLabel: 'flush time', unit: 'ms', digits: 1, lowerIsBetter: true, chart: true, targetRatio: 1.1, targetText: '≤ 1.10× raw' },
        { key: 'cpuPerMsg', label: 'client CPU per message', chartLabel: 'flush CPU per msg', unit: 'µs', digits: 2, lowerIsBetter: true, chart: true },
        { key: 'faults', label: 'lost + duplicated + reordered', unit: 'messages', digits: 0, lowerIsBetter: true, targetText: '0' },
      ],
    };
    const { results, orders } = await interleave('flush', measure.clients, 7, async (client) => {
      const port = await freePort();
      const url = `ws://127.0.0.1:${port}`;
      const sink = startNode(SERVER, ['--sink', `--port=${port}`, `--count=${count}`], { cpu: SERVER_CPU });
      const worker = startNode(WORKER, [JSON.stringify({ measure: 'flush', client, url, count, options: context.steadysocketOptions })], {
        nodeArgs: workerNodeArgs,
        env: context.env,
        cpu: CLIENT_CPU,
      });
      try {
        await worker.next(60_000); // queued while nothing listens on the port
        worker.send('go');
        await worker.next(10_000); // armed: its CPU clock runs
        sink.send('listen');
        await sink.next(10_000);
        worker.send('up');
        const server = await sink.next(60_000);
        const result = await worker.next(60_000);
        if (server.error) throw new Error(server.error);
        return { ...result, flushMs: server.flushMs, faults: server.lost + server.duplicated + server.reordered + server.foreign };
      } finally {
        await worker.stop(2000);
        await sink.stop(2000);
      }
    });
    measure.orders = orders;
    return summarise(measure, results);
  },

  async memory() {
    const count = quick ? 400 : 2000;
    const capMs = 1000;
    const measure = {
      id: 'memory',
      title: `Node, ${count.toLocaleString('en-US')} idle open connections`,
      short: 'Idle connections',
      clients: NODE_CLIENTS,
      baseline: 'raw',
      config: { count, batch: 100 },
      metrics: [
        { key: 'heapPerConn', label: 'heap per connection', chartLabel: 'heap per connection', unit: 'KiB', scale: 1024, digits: 2, lowerIsBetter: true, chart: true, targetRatio: 1.1, targetText: '≤ 1.10× raw' },
        { key: 'exitMs', label: 'close() settled → process exit', unit: 'ms', digits: 1, lowerIsBetter: true, cap: capMs, targetText: '≤ 100 ms' },
        { key: 'exitObservedMs', label: 'close() settled → exit seen by parent', unit: 'ms', digits: 1, lowerIsBetter: true, cap: capMs },
      ],
    };
    const run = (waiting) => async (client) => {
      const url = waiting ? `ws://127.0.0.1:${await freePort()}` : context.echoUrl;
      const config = { measure: 'memory', client, url, count, batch: 100, waiting };
      const worker = startNode(WORKER, [JSON.stringify(config)], { nodeArgs: [...workerNodeArgs, '--expose-gc'], env: context.env, stdin: 'ignore', cpu: CLIENT_CPU });
      try {
        const heap = await worker.next(120_000);
        const { closedAtMono } = await worker.next(60_000);
        // Give it `capMs` from the moment its last close() settled; a process still alive is killed.
        const exited = await Promise.race([worker.exited, sleep(Math.max(0, closedAtMono + capMs - now())).then(() => undefined)]);
        if (!exited) return { ...heap, exitMs: Infinity, exitObservedMs: Infinity };
        const { exitMs } = await worker.next(1000);
        return { ...heap, exitMs, exitObservedMs: exited.at - closedAtMono };
      } finally {
        await worker.stop(100);
      }
    };
    const open = await interleave('memory', measure.clients, 4, run(false));
    measure.orders = open.orders;
    summarise(measure, open.results);

    const waitingMeasure = {
      id: 'waiting',
      title: `Node, ${count.toLocaleString('en-US')} clients waiting to reconnect (dead port; raw: failed sockets)`,
      short: 'Waiting clients',
      clients: NODE_CLIENTS,
      baseline: 'raw',
      config: { count, batch: 100, waiting: true, note: `every reconnecting client waits 5 s between attempts; a process still alive ${capMs} ms after close() settled is killed` },
      metrics: [
        { key: 'exitMs', label: 'close() settled → process exit', unit: 'ms', digits: 1, lowerIsBetter: true, cap: capMs, targetText: '≤ 100 ms' },
        { key: 'exitObservedMs', label: 'close() settled → exit seen by parent', unit: 'ms', digits: 1, lowerIsBetter: true, cap: capMs },
        { key: 'heapPerConn', label: 'heap per waiting client', unit: 'KiB', scale: 1024, digits: 2, lowerIsBetter: true },
      ],
    };
    const waiting = await interleave('waiting', waitingMeasure.clients, 3, run(true));
    waitingMeasure.orders = waiting.orders;
    summarise(waitingMeasure, waiting.results);
    return [measure, waitingMeasure];
  },

  async chromium() {
    const executablePath = chromiumPath();
    if (!executablePath) {
      log('Chromium not found (set CHROMIUM_PATH or apt-get install chromium): skipping the browser measure');
      return { id: 'chromium', skipped: 'Chromium not found' };
    }
    const config = { total: scaled(20_000), warmup: scaled(5000), window: 1000 };
    const measure = {
      id: 'chromium',
      title: 'Chromium, 32 B text, pipelined echo (1,000 in flight)',
      short: 'Chromium 32 B echo',
      clients: ['native', 'steadysocket', 'rws', 'partysocket', 'native2'],
      baseline: 'native',
      config,
      metrics: [
        { key: 'cpuPerMsg', label: 'renderer main-thread CPU per message', chartLabel: 'main-thread CPU per msg', unit: 'µs', digits: 2, lowerIsBetter: true, chart: true, targetRatio: 1.02, targetText: '≤ 1.02× native' },
        { key: 'taskPerMsg', label: 'main-thread task time per message', unit: 'µs', digits: 2, lowerIsBetter: true },
        { ...rateMetric },
      ],
    };
    const modules = join(root, 'node_modules');
    const pages = await startPageServer({
      '/bench/browser/page.html': join(benchDir, 'browser', 'page.html'),
      '/bench/browser/harness.mjs': join(benchDir, 'browser', 'harness.mjs'),
      '/dist/steadysocket.min.js': join(context.dist, 'steadysocket.min.js'),
      '/node_modules/reconnecting-websocket/dist/reconnecting-websocket-iife.min.js': join(modules, 'reconnecting-websocket/dist/reconnecting-websocket-iife.min.js'),
      '/node_modules/partysocket/dist/ws.js': join(modules, 'partysocket/dist/ws.js'),
    });
    const browser = await launchChromium(executablePath);
    try {
      measure.browser = browser.version.replace(/^(Headless)?Chrome\//, 'Chromium ');
      // One discarded round first: the first pages of a fresh browser run slower (the network
      // service and caches warm up).
      const ids = included(measure.clients);
      await measureRound(browser, { origin: pages.origin, ids, url: context.echoUrl, ...config, total: config.warmup });
      const { results, orders } = await inRounds('chromium', measure.clients, 7, (order) =>
        measureRound(browser, { origin: pages.origin, ids: order, url: context.echoUrl, ...config }),
      );
      measure.orders = orders;
      return summarise(measure, results);
    } finally {
      await browser.close();
      await pages.close();
    }
  },

  async sizes() {
    const builds = [
      ['dist/steadysocket.min.js', 'steadysocket.min.js (IIFE, `<script>`)', true],
      ['dist/steadysocket.esm.min.js', 'steadysocket.esm.min.js (ESM, import maps)', true],
      ['dist/index.browser.js', 'index.browser.js (ESM for bundlers, eventemitter3 external)', false],
      ['dist/index.js', 'index.js (Node ESM)', false],
      ['dist/index.cjs', 'index.cjs (Node CJS)', false],
      ['dist/node.js', 'node.js (steadysocket/node, ESM)', false],
      ['dist/node.cjs', 'node.cjs (steadysocket/node, CJS)', false],
      ['dist/cli.js', 'cli.js (the steadysocket command)', false],
    ];
    const sizes = [];
    const add = (label, code, minified, comparison = false) => {
      sizes.push({
        label,
        minified,
        comparison,
        bytes: code.length,
        gzip: gzipSync(code, { level: 9 }).length,
        brotli: brotliCompressSync(code, {
          params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT },
        }).length,
      });
    };
    for (const [file, label, minified] of builds) {
      const path = join(context.dist, file.replace(/^dist\//, ''));
      if (existsSync(path)) add(label, readFileSync(path), minified);
    }
    add(
      'for comparison: reconnecting-websocket iife.min.js',
      readFileSync(join(root, 'node_modules/reconnecting-websocket/dist/reconnecting-websocket-iife.min.js')),
      true,
      true,
    );
    add('for comparison: partysocket (index.js + ws.js, minified here with terser)', await minifyPartysocket(), true, true);
    return { id: 'sizes', title: 'Bundle sizes', sizes };
  },
};

async function minifyPartysocket() {
  const { rollup } = await import('rollup');
  const { default: terser } = await import('@rollup/plugin-terser');
  const bundle = await rollup({ input: join(root, 'node_modules/partysocket/dist/index.js'), onwarn: () => {} });
  const { output } = await bundle.generate({ format: 'es', plugins: [terser({ ecma: 2020, compress: { passes: 2 } })] });
  await bundle.close();
  return Buffer.from(output[0].code);
}

// ------------------------------------------------------------------------------ verdicts

/**
 * One verdict per target, on the median of the per-round ratios: `yes`, `no`, or `noise` when the
 * median misses the target but lies inside the A/A control's range (raw against raw in the same
 * rounds), i.e. this run cannot tell steadysocket from raw.
 */
function checks(byId) {
  const list = [];
  const metricOf = (id, key) => byId[id]?.metrics?.find((m) => m.key === key);
  const row = (id, key, client = 'steadysocket') => metricOf(id, key)?.perClient[client];
  const control = (id, key) => row(id, key, 'raw2') ?? row(id, key, 'native2') ?? row(id, key, 'json2');
  const x = (value) => `${value.toFixed(3)}×`;
  const r = (ratio) => `${x(ratio.median)} (rounds ${x(ratio.min)}–${x(ratio.max)})`;
  const aaText = (aa) => (aa ? `; A/A ${x(aa.ratio.median)} (${x(aa.ratio.min)}–${x(aa.ratio.max)})` : '');
  /** At most `limit` (lower is better) or at least `limit` (higher is better). */
  const ratioCheck = (id, key, limit, higherIsBetter, rowId, target, client = 'steadysocket') => {
    const ours = row(id, key, client);
    if (!ours) return;
    const aa = control(id, key);
    const median = ours.ratio.median;
    const met = higherIsBetter ? median >= limit : median <= limit;
    const insideAa = aa && median >= aa.ratio.min && median <= aa.ratio.max;
    list.push({ id: rowId, target, measured: `${r(ours.ratio)}${aaText(aa)}`, holds: met ? 'yes' : insideAa ? 'noise' : 'no' });
  };

  ratioCheck('echo', 'rate', 0.98, true, '1a', 'Node 32 B echo: msg/s ≥ 0.98× raw');
  ratioCheck('echo', 'cpuPerMsg', 1.02, false, '1b', 'Node 32 B echo: client CPU/msg ≤ 1.02× raw');
  const binaryRate = row('binary', 'rate');
  const binaryAa = control('binary', 'rate');
  if (binaryRate) {
    const inside = binaryAa && binaryRate.ratio.median >= binaryAa.ratio.min && binaryRate.ratio.median <= binaryAa.ratio.max;
    list.push({ id: '2a', target: 'Node 64 KiB echo: msg/s within noise of raw (inside the A/A range)', measured: `${r(binaryRate.ratio)}${aaText(binaryAa)}`, holds: inside ? 'yes' : 'no' });
  }
  // The pay-for-what-you-use issue asks for ≤ 1.02×, as on the 32 B row; docs/performance.md has
  // the profile that says where the time goes.
  ratioCheck('binary', 'cpuPerMsg', 1.02, false, '2b', 'Node 64 KiB echo: client CPU/msg ≤ 1.02× raw');
  ratioCheck('latency', 'p50', 1.02, false, '3a', 'Node round trip p50 ≤ 1.02× raw');
  ratioCheck('latency', 'p99', 1.02, false, '3b', 'Node round trip p99 ≤ 1.02× raw');
  const faults = row('flush', 'faults');
  if (faults) {
    list.push({ id: '4a', target: 'Offline flush: 0 lost, duplicated or reordered', measured: `${faults.summary.max} in the worst of ${faults.summary.n} rounds`, holds: faults.summary.max === 0 ? 'yes' : 'no' });
  }
  ratioCheck('flush', 'flushMs', 1.1, false, '4b', 'Offline flush time ≤ 1.10× raw on an open socket');
  const heap = row('memory', 'heapPerConn');
  if (heap) {
    const kib = (value) => (value / 1024).toFixed(2);
    list.push({
      id: '5a',
      target: 'Heap per idle connection ≤ 1.10× raw',
      measured: `${kib(heap.summary.median)} KiB vs ${kib(row('memory', 'heapPerConn', 'raw').summary.median)} KiB: ${r(heap.ratio)}`,
      holds: heap.ratio.median <= 1.1 ? 'yes' : 'no',
    });
    const count = byId.memory.config.count.toLocaleString('en-US');
    for (const [id, measure, what] of [['5b', 'memory', `${count} open connections`], ['5c', 'waiting', `${count} clients waiting to reconnect`]]) {
      const exit = row(measure, 'exitMs');
      list.push({ id, target: `Exits by itself ≤ 100 ms after closing ${what}`, measured: `worst round ${format(metricOf(measure, 'exitMs'), exit.summary.max)} ms (median ${format(metricOf(measure, 'exitMs'), exit.summary.median)} ms)`, holds: exit.summary.max <= 100 ? 'yes' : 'no' });
    }
  }
  ratioCheck('chromium', 'cpuPerMsg', 1.02, false, '6', 'Chromium main-thread CPU/msg ≤ 1.02× native');
  // Each with its A/A control (the baseline against itself in the same rounds), as the rows above.
  ratioCheck('delivery', 'cpuPerMsg', 1.1, false, '8a', 'acks(): client CPU/msg ≤ 1.10× the same client without acks', 'acks');
  ratioCheck('rpc', 'cpuPerMsg', 1.1, false, '8b', 'request(): client CPU/request ≤ 1.10× a hand-written correlation over raw ws');
  if (byId.sizes) {
    const iife = byId.sizes.sizes[0];
    const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
    list.push({ id: '7', target: 'Sizes of every build (min, gzip, brotli)', measured: `reported; IIFE ${kib(iife.bytes)} min, ${kib(iife.gzip)} gzip, ${kib(iife.brotli)} brotli`, holds: 'yes' });
  }
  return list;
}

// ------------------------------------------------------------------------------ main

async function main() {
  const startedAt = now();
  const loadBefore = os.loadavg();
  ensureBuild();
  context.dist = snapshotDist();
  context.env = { STEADYSOCKET_DIST: pathToFileURL(join(context.dist, 'index.js')).href };
  const { versions } = await import('./lib/node-clients.mjs');

  const echo = startNode(SERVER, [], { cpu: SERVER_CPU });
  const selected = Object.keys(measures).filter((id) => !only || only.includes(id));
  const out = [];
  try {
    context.echoUrl = `ws://127.0.0.1:${(await echo.next(10_000)).port}`;
    for (const id of selected) {
      const t0 = now();
      log(`${id}…`);
      const result = await measures[id]();
      out.push(...[result].flat());
      log(`${id}: ${((now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await echo.stop(2000);
    killAll();
  }

  const byId = Object.fromEntries(out.map((m) => [m.id, m]));
  const verdicts = checks(byId);
  const durationS = (now() - startedAt) / 1000;
  const git = (...a) => spawnSync('git', a, { encoding: 'utf8' }).stdout.trim();
  const meta = {
    date: new Date().toISOString(),
    commit: git('rev-parse', '--short', 'HEAD'),
    dirty: git('status', '--porcelain', '--', 'src').length > 0,
    node: process.version,
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
    loadBefore: loadBefore.map((l) => l.toFixed(2)),
    pinned: pin,
    loadAfter: os.loadavg().map((l) => l.toFixed(2)),
    durationS: Number(durationS.toFixed(1)),
    quick,
    versions: await versions(),
    browser: byId.chromium?.browser,
  };
  const table = markdownTable(out.filter((m) => m.metrics));
  const markdown = [
    `Run ${meta.date} on ${meta.cpus}, Node ${meta.node}${meta.browser ? `, ${meta.browser}` : ''}; steadysocket ${meta.commit}${meta.dirty ? ' (src/ modified)' : ''}, ws ${meta.versions.ws}, reconnecting-websocket ${meta.versions['reconnecting-websocket']}, partysocket ${meta.versions.partysocket}.`,
    `Load average before ${meta.loadBefore.join(' ')}, after ${meta.loadAfter.join(' ')}. ${meta.pinned ? 'Echo server on CPU 0, Node clients on CPU 1 (taskset). ' : ''}Whole run: ${durationS.toFixed(0)} s.`,
    '',
    '### Targets',
    '',
    checksTable(verdicts),
    '',
    '### All measures',
    '',
    'Median over rounds, min–max over rounds; ratios are taken per round (client ÷ raw of the same round), then their median and min–max.',
    '',
    table,
    byId.sizes ? `\n### Sizes\n\n${sizesTable(byId.sizes.sizes)}` : '',
    '',
  ].join('\n');

  process.stdout.write(`${markdown}\n`);
  if (write) {
    mkdirSync(join(benchDir, 'results'), { recursive: true });
    writeFileSync(join(benchDir, 'results', 'latest.json'), `${JSON.stringify({ meta, checks: verdicts, measures: out }, null, 1)}\n`);
    writeFileSync(join(benchDir, 'results', 'latest.md'), `# Latest benchmark run\n\n${markdown}`);
    const svg = svgChart(out.filter((m) => m.metrics), {
      title: 'steadysocket: cost relative to the raw transport (1.0 = raw ws / native WebSocket; lower is better)',
      subtitle: `Median of per-round ratios, whiskers min–max over rounds. ${meta.date.slice(0, 10)}, ${meta.cpus}, Node ${meta.node}${meta.browser ? `, ${meta.browser}` : ''}.`,
    });
    mkdirSync(join(root, 'docs'), { recursive: true });
    writeFileSync(join(root, 'docs', 'performance.svg'), svg);
    updateDocs(markdown);
    log('wrote bench/results/latest.json, bench/results/latest.md, docs/performance.svg and the table in docs/performance.md');
  }
  log(`done in ${durationS.toFixed(0)} s`);
}

/** Replaces the generated part of docs/performance.md (between the markers) with this run. */
function updateDocs(markdown) {
  const path = join(root, 'docs', 'performance.md');
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) return;
  const body = markdown.replace(/^### /gm, '#### ');
  writeFileSync(path, `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`);
}

main().catch((error) => {
  killAll();
  log(error.stack ?? String(error));
  process.exit(1);
});
