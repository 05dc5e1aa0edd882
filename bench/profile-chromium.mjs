#!/usr/bin/env node
// Where the Chromium row's main-thread CPU goes: a V8 CPU profile (CDP `Profiler` domain) of the
// renderer's main thread around the bench's Chromium echo — 32 B text, 1,000 in flight, `total`
// messages after a `warmup` — once over the native WebSocket and once over steadysocket's IIFE
// bundle, in the same page (the bench's page and harness), per run. For each it prints the share
// of the busy samples (all but `(idle)`) whose leaf frame is steadysocket's code, the harness's,
// a native API (e.g. WebSocket's `send`), `(program)` (Blink/V8 native work outside JS) and
// `(garbage collector)`, and steadysocket's top functions mapped back to src/ through a source map
// of the same build; then x, steadysocket's own share, and the CPU ratio 1/(1 − x) it implies if
// everything else per message costs what it costs the native page.
//
// Reading it: DOM getters (event.data, readyState, bufferedAmount) get no frame of their own;
// they count as the JS function that calls them. Blink makes the message's string in the
// event.data getter, which the native page's listener (harness.mjs:28) pays as well, so it is
// not steadysocket's overhead: --build=plain profiles an unminified copy, whose per-line ticks
// separate that line out. The sampler is wall-clock (a sample lands wherever the main thread is,
// running or preempted), the profiler has a cost of its own, and V8 samples less often than
// asked on a busy machine: read the shares, not absolute times.
//
//   npx rollup -c --silent && node bench/profile-chromium.mjs        dist/steadysocket.min.js (the bench's)
//   node bench/profile-chromium.mjs --build=plain --runs=2           an unminified copy built from src/
//   node bench/profile-chromium.mjs --runs=3 --interval=50 --total=20000 --warmup=5000 --out=DIR --no-map
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium). The echo server runs on CPU 0 (taskset)
// as in the bench, Chromium unpinned; --no-pin leaves the server unpinned too. The profiles are
// written to DIR (default a new directory under the system temp dir) as .cpuprofile files, which
// Chrome DevTools' Performance panel opens.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { basename, join } from 'node:path';
import { launchChromium } from './lib/chromium.mjs';
import { CLIENTS, findChromium, frameOwner, mapForMinified, prepareBundle, runRounds } from './lib/page-profiling.mjs';
import { benchDir, killAll } from './lib/processes.mjs';

const root = join(benchDir, '..');
process.chdir(root);

const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const value = (name, fallback) => args.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const runs = Number(value('runs', 3));
const interval = Number(value('interval', 50)); // µs between samples
const total = Number(value('total', 20_000));
const warmup = Number(value('warmup', 5000));
const window = 1000;
const out = value('out') ?? mkdtempSync(join(os.tmpdir(), 'steadysocket-chromium-profile-'));
const log = (line) => process.stderr.write(`[profile] ${line}\n`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

// ------------------------------------------------------------------------------ profiling

const metric = (result, name) => result.metrics.find((m) => m.name === name)?.value ?? NaN;

/** One page, both clients connected and warmed up; each measured once with the profiler on. */
async function profileRound(browser, origin, url, order) {
  const page = await browser.newPage(`${origin}/bench/browser/page.html`);
  try {
    await page.waitFor('globalThis.bench !== undefined');
    await page.send('Performance.enable', { timeDomain: 'threadTicks' });
    await page.send('Profiler.enable');
    await page.send('Profiler.setSamplingInterval', { interval });
    for (const id of order) await page.evaluate(`globalThis.bench.connect(${JSON.stringify(id)}, ${JSON.stringify(id)}, ${JSON.stringify(url)})`);
    for (const id of order) await page.evaluate(`globalThis.bench.run(${JSON.stringify(id)}, ${warmup}, ${window})`);
    const results = {};
    for (const id of order) {
      const before = await page.send('Performance.getMetrics');
      await page.send('Profiler.start');
      const run = await page.evaluate(`globalThis.bench.run(${JSON.stringify(id)}, ${total}, ${window})`);
      const { profile } = await page.send('Profiler.stop');
      const after = await page.send('Performance.getMetrics');
      if (run.bytes !== total * 32) throw new Error(`${id}: expected ${total * 32} bytes back, got ${run.bytes}`);
      results[id] = { profile, threadUsPerMsg: ((metric(after, 'ThreadTime') - metric(before, 'ThreadTime')) * 1e6) / total, wallMs: run.wallMs };
    }
    await page.evaluate('globalThis.bench.close()');
    await page.send('Profiler.disable');
    return results;
  } finally {
    await page.dispose();
  }
}

// ------------------------------------------------------------------------------ analysis

const frameKey = (f) => `${f.functionName || '(anonymous)'} ${basename(f.url) || '[native]'}:${f.lineNumber + 1}:${f.columnNumber + 1}`;

/**
 * Busy samples (every sample but `(idle)`) by the owner of their leaf frame ("self"), by whether
 * any frame on their stack is steadysocket's ("inclusive"), and steadysocket's own leaf functions.
 * Counts samples; `busyUs` sums the sampled intervals (timeDeltas) of the busy samples.
 */
function analyse(profile) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const underSteadysocket = new Map();
  const isUnder = (id) => {
    if (underSteadysocket.has(id)) return underSteadysocket.get(id);
    const node = nodes.get(id);
    const result = frameOwner(node.callFrame) === 'steadysocket' || (parent.has(id) && isUnder(parent.get(id)));
    underSteadysocket.set(id, result);
    return result;
  };
  const self = {};
  const natives = {};
  const functions = {};
  let busy = 0;
  let busyUs = 0;
  let inclusive = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const { callFrame } = nodes.get(id);
    const who = frameOwner(callFrame);
    if (who === '(idle)') {
      idle++;
      return;
    }
    busy++;
    busyUs += profile.timeDeltas[i + 1] ?? 0;
    self[who] = (self[who] ?? 0) + 1;
    if (who === 'native') natives[callFrame.functionName] = (natives[callFrame.functionName] ?? 0) + 1;
    if (who === 'steadysocket') {
      const key = frameKey(callFrame);
      functions[key] ??= { callFrame, samples: 0 };
      functions[key].samples++;
    }
    if (isUnder(id)) inclusive++;
  });
  // Self samples by script line (positionTicks: 1-based lines of the script), for steadysocket's
  // and the harness's frames. Only an unminified bundle has more than one line.
  const lines = {};
  for (const node of profile.nodes) {
    const who = frameOwner(node.callFrame);
    if (who !== 'steadysocket' && who !== 'harness') continue;
    for (const { line, ticks } of node.positionTicks ?? []) lines[`${who}:${line}`] = (lines[`${who}:${line}`] ?? 0) + ticks;
  }
  return { samples: profile.samples.length, idle, busy, busyUs, self, natives, functions, inclusive, lines };
}

// ------------------------------------------------------------------------------ main

const pct = (part, whole) => `${((100 * part) / whole).toFixed(2)} %`;
const ratio = (x) => `${(1 / (1 - x)).toFixed(3)}×`;
// The line where steadysocket reads the MessageEvent's data. Blink converts the frame to a JS
// string in that getter: the native page pays it too (in the harness's `message.data`), so it is
// not steadysocket's overhead.
const DATA_READ = /=\s*event\.data\b/;
// The MessageEvent listener that reads it (connection.ts): with the minified build only its
// whole self time can be told apart, which bounds the data read from above.
const HANDLER = /socket\.onmessage\s*=/;

async function main() {
  const build = value('build', 'min');
  if (build !== 'min' && build !== 'plain') throw new Error('--build is min (dist/steadysocket.min.js, the bench\'s) or plain (an unminified copy, for line-level ticks)');
  const executablePath = findChromium();
  // Profile a frozen copy of dist/steadysocket.min.js, or an unminified build with its map.
  const { bundle, code: bundleCode, map: plainMap } = await prepareBundle({ build, out, log });
  const launchBrowser = async () => {
    const browser = await launchChromium(executablePath);
    log(`${browser.version}, ${build === 'min' ? 'dist/steadysocket.min.js' : 'unminified copy'}; ${runs} runs of ${total} messages after ${warmup}, sampling every ${interval} µs; profiles in ${out}`);
    return browser;
  };
  const rounds = await runRounds({ bundle, pin: !flag('no-pin'), runs, out, extension: '.cpuprofile', log, launch: launchBrowser, round: profileRound });

  const map = build === 'min' && !flag('no-map') ? await mapForMinified(bundleCode, log, 'profiled') : plainMap;
  const summary = [];
  for (const [i, { order, results }] of rounds.entries()) {
    console.log(`\n## Run ${i + 1} (order: ${order.join(' → ')})`);
    const row = { run: i + 1 };
    for (const id of CLIENTS) {
      const { profile, threadUsPerMsg, wallMs } = results[id];
      const a = analyse(profile);
      const share = Object.fromEntries(Object.entries(a.self).map(([who, n]) => [who, n / a.busy]));
      row[id] = { busy: a.busy, samples: a.samples, busyUsPerMsg: a.busyUs / total, threadUsPerMsg, rate: total / (wallMs / 1000), share, inclusive: a.inclusive / a.busy };
      const every = (profile.endTime - profile.startTime) / a.samples;
      console.log(`\n### ${id}: ${a.busy} busy samples of ${a.samples} (one per ${every.toFixed(0)} µs); sampled busy ${(a.busyUs / total).toFixed(2)} µs/msg, ThreadTime ${threadUsPerMsg.toFixed(2)} µs/msg (profiler on), ${Math.round(total / (wallMs / 1000))} msg/s`);
      for (const [who, n] of Object.entries(a.self).sort((x, y) => y[1] - x[1])) console.log(`  ${who.padEnd(22)} ${String(n).padStart(7)}  ${pct(n, a.busy).padStart(8)}`);
      const natives = Object.entries(a.natives).sort((x, y) => y[1] - x[1]).slice(0, 6);
      if (natives.length) console.log(`  native leaves: ${natives.map(([name, n]) => `${name || '(anonymous)'} ${pct(n, a.busy)}`).join(', ')}`);
      const harnessLines = Object.entries(a.lines).filter(([key]) => key.startsWith('harness:')).sort((x, y) => y[1] - x[1]).slice(0, 4);
      if (harnessLines.length) console.log(`  harness lines: ${harnessLines.map(([key, n]) => `harness.mjs:${key.split(':')[1]} ${pct(n, a.busy)}`).join(', ')}`);
      if (id !== 'steadysocket') continue;
      console.log(`  stacks with a steadysocket frame (inclusive of the natives it calls): ${pct(a.inclusive, a.busy)}`);
      console.log('  steadysocket functions (self):');
      let handler;
      for (const [key, { callFrame, samples }] of Object.entries(a.functions).sort((x, y) => y[1].samples - x[1].samples)) {
        const where = map?.(callFrame.lineNumber, callFrame.columnNumber);
        if (where && HANDLER.test(where.text)) handler = (handler ?? 0) + samples / a.busy;
        if (samples / a.busy >= 0.0005) console.log(`    ${pct(samples, a.busy).padStart(8)}  ${key}${where ? `  ← ${where.source}:${where.line}  ${where.text}` : ''}`);
      }
      row[id].handler = handler;
      if (build === 'plain') {
        let dataRead = 0;
        const bySource = {};
        for (const [key, n] of Object.entries(a.lines)) {
          if (!key.startsWith('steadysocket:')) continue;
          const where = map(Number(key.split(':')[1]) - 1, 0);
          const label = where ? `${where.source}:${where.line}  ${where.text}` : key;
          bySource[label] = (bySource[label] ?? 0) + n;
          if (where && DATA_READ.test(where.text)) dataRead += n;
        }
        console.log('  steadysocket lines (self):');
        for (const [label, n] of Object.entries(bySource).sort((x, y) => y[1] - x[1]).slice(0, 15)) console.log(`    ${pct(n, a.busy).padStart(8)}  ${label}`);
        row[id].dataRead = dataRead / a.busy;
      }
    }
    summary.push(row);
  }

  console.log('\n## Summary (shares of busy samples: every sample but (idle))');
  console.log('| run | client | ThreadTime µs/msg | sampled busy µs/msg | steadysocket | harness | native APIs | (program) | (GC) | other |');
  console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const row of summary) {
    for (const id of CLIENTS) {
      const r = row[id];
      const s = (who) => `${(100 * (r.share[who] ?? 0)).toFixed(2)} %`;
      const other = 1 - ['steadysocket', 'harness', 'native', '(program)', '(garbage collector)'].reduce((sum, who) => sum + (r.share[who] ?? 0), 0);
      console.log(`| ${row.run} | ${id} | ${r.threadUsPerMsg.toFixed(2)} | ${r.busyUsPerMsg.toFixed(2)} | ${s('steadysocket')} | ${s('harness')} | ${s('native')} | ${s('(program)')} | ${s('(garbage collector)')} | ${(100 * other).toFixed(2)} % |`);
    }
  }
  // The model: steadysocket's run does the native run's work per message plus its own code's, so
  // with x its own code's share of busy samples, its CPU per message is 1/(1 − x) × native's.
  //   all:       every steadysocket frame. Too high: it includes reading event.data, which Blink
  //              turns into a string and which the native page pays too (in the harness's listener);
  //   − handler: all but the MessageEvent listener's self time (the data read and little else);
  //   own:       (unminified build only) all but the `event.data` line itself.
  // (GC) is left out of x and shown as the difference between the two runs.
  const plain = build === 'plain';
  console.log("\n## steadysocket's own share x of busy samples, and the expected CPU ratio 1/(1 − x)");
  console.log(`| run | x: all its frames | x: all − listener self | ${plain ? 'x: own (all − event.data line) | ' : ''}harness in native run | (GC) Δ vs native run | ThreadTime ratio (profiler on) |`);
  console.log(`|---|--:|--:|${plain ? '--:|' : ''}--:|--:|--:|`);
  const cell = (x) => (x === undefined || Number.isNaN(x) ? 'n/a' : `${pct(x, 1)} → ${ratio(x)}`);
  for (const row of summary) {
    const s = row.steadysocket.share;
    const n = row.native.share;
    const all = s.steadysocket ?? 0;
    const gc = (s['(garbage collector)'] ?? 0) - (n['(garbage collector)'] ?? 0);
    console.log(
      `| ${row.run} | ${cell(all)} | ${cell(all - row.steadysocket.handler)} | ${plain ? `${cell(all - row.steadysocket.dataRead)} | ` : ''}${pct(n.harness ?? 0, 1)} | ${(100 * gc).toFixed(2)} pp | ${(row.steadysocket.threadUsPerMsg / row.native.threadUsPerMsg).toFixed(3)}× |`,
    );
  }
  writeFileSync(join(out, 'summary.json'), JSON.stringify({ build, runs, interval, total, warmup, summary }, null, 2));
  log(`profiles and summary.json in ${out}`);
}

main().catch((error) => {
  killAll();
  console.error(error);
  process.exit(1);
});
