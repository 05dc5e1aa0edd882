#!/usr/bin/env node
// What the Chromium row allocates per message: V8's sampling heap profiler (CDP `HeapProfiler`
// domain) on the renderer's main thread around the bench's Chromium echo — 32 B text, 1,000 in
// flight, `total` messages after a `warmup` — once over the native WebSocket and once over
// steadysocket's IIFE bundle, in the same page (the bench's page and harness), per run. Garbage
// that a minor or major GC already took is kept in the profile (includeObjectsCollectedByMinorGC
// and …MajorGC), so the short-lived per-message objects count. For each client it prints the
// sampled bytes allocated per message, split by who allocated them (the leaf frame: steadysocket,
// the harness, a native API or a VM pseudo-frame), the top allocation sites (leaf function and the
// JS frames above it), and for steadysocket's frames the src/ file:line through a source map of
// the same build; then a summary table and steadysocket − native per run.
//
// Reading it:
// - Bytes are V8's estimate of everything allocated on the JS heap (each sample scaled by the
//   sampling odds), not what survives: per message, with a noise of a few B/msg. Blink's own C++
//   (Oilpan) allocations — the MessageEvent itself, the frame's buffer — are not on it, but the
//   JS wrappers and strings Blink makes for a page are (e.g. the `event` object handed to a
//   listener and the string `event.data` returns). "[16|24 B ×n]": n samples of an object of 16 or
//   24 B (the sizes the sample's scaled size allows; it cannot tell them apart).
// - A site is a function, not a line: V8 records the JS frames on the stack at an allocation, and
//   an optimized frame shows as its outermost function, whatever TurboFan inlined into it. The
//   url:line:col is where that function starts. --js-flags=--no-turbo-inlining keeps callees in
//   frames of their own (it changes the code, so escape analysis may then keep objects it would
//   otherwise have removed: a diagnosis, not the bench's numbers); --build=plain maps an
//   unminified copy.
// - The native page's listener (harness.mjs) and steadysocket's (connection.ts) both read
//   event.data; the string Blink makes there is both clients' cost. Compare the two totals, and
//   read the sites that appear in the steadysocket run only.
//
//   node bench/alloc-chromium.mjs                                     dist/steadysocket.min.js (the bench's)
//   node bench/alloc-chromium.mjs --build=plain --runs=2              an unminified copy built from src/
//   node bench/alloc-chromium.mjs --runs=3 --total=20000 --warmup=5000 --interval=128 --top=12 --out=DIR --no-map
//   node bench/alloc-chromium.mjs --js-flags=--no-turbo-inlining      every JS function its own frame
//   node bench/alloc-chromium.mjs --js-flags=--no-maglev               TurboFan only (no Maglev tier)
//   node bench/alloc-chromium.mjs --bundle=/tmp/patched.min.js         a variant of the IIFE bundle, unmapped
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium). The echo server runs on CPU 0 (taskset)
// as in the bench, Chromium unpinned; --no-pin leaves the server unpinned too. The profiles are
// written to DIR (default a new directory under the system temp dir) as .heapprofile files, which
// Chrome DevTools' Memory panel loads.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { basename, join, resolve } from 'node:path';
import { CHROMIUM_ARGS } from '../test/browser/chromium-args.mjs';
import { launch } from './lib/cdp.mjs';
import { CLIENTS, findChromium, frameOwner, mapForMinified, prepareBundle, runRounds } from './lib/page-profiling.mjs';
import { benchDir, killAll } from './lib/processes.mjs';

const root = join(benchDir, '..');
const cwd = process.cwd();
process.chdir(root);

const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const value = (name, fallback) => {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : arg.slice(name.length + 3);
};
const runs = Number(value('runs', 3));
const interval = Number(value('interval', 128)); // mean bytes between samples
const total = Number(value('total', 20_000));
const warmup = Number(value('warmup', 5000));
const top = Number(value('top', 12));
const jsFlags = value('js-flags');
const window = 1000;
const out = value('out') ?? mkdtempSync(join(os.tmpdir(), 'steadysocket-chromium-alloc-'));
const log = (line) => process.stderr.write(`[alloc] ${line}\n`);

// chromium.mjs's flags (its launchChromium takes none of ours): the tests' loopback-only flags,
// no throttling of a page that never gets focus, and --js-flags when given.
const FLAGS = [
  ...CHROMIUM_ARGS,
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  ...(jsFlags ? [`--js-flags=${jsFlags}`] : []),
];

let browser;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    killAll();
    await browser?.close().catch(() => {});
    process.exit(130);
  });
}

// ------------------------------------------------------------------------------ sampling

/** One page, both clients connected and warmed up; each measured once with the sampler on. */
async function sampleRound(browser, origin, url, order) {
  const page = await browser.newPage(`${origin}/bench/browser/page.html`);
  try {
    await page.waitFor('globalThis.bench !== undefined');
    await page.send('HeapProfiler.enable');
    for (const id of order) await page.evaluate(`globalThis.bench.connect(${JSON.stringify(id)}, ${JSON.stringify(id)}, ${JSON.stringify(url)})`);
    for (const id of order) await page.evaluate(`globalThis.bench.run(${JSON.stringify(id)}, ${warmup}, ${window})`);
    const results = {};
    for (const id of order) {
      await page.send('HeapProfiler.collectGarbage');
      await page.send('HeapProfiler.startSampling', { samplingInterval: interval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      const run = await page.evaluate(`globalThis.bench.run(${JSON.stringify(id)}, ${total}, ${window})`);
      const { profile } = await page.send('HeapProfiler.stopSampling');
      if (run.bytes !== total * 32) throw new Error(`${id}: expected ${total * 32} bytes back, got ${run.bytes}`);
      results[id] = { profile, wallMs: run.wallMs };
    }
    await page.evaluate('globalThis.bench.close()');
    await page.send('HeapProfiler.disable');
    return results;
  } finally {
    await page.dispose();
  }
}

// ------------------------------------------------------------------------------ analysis

const frameKey = (f) => `${f.functionName || '(anonymous)'} ${basename(f.url) || '[native]'}${f.url ? `:${f.lineNumber + 1}:${f.columnNumber + 1}` : ''}`;

/**
 * The object sizes s (multiples of 4 B, V8's tagged size with pointer compression) whose scaled
 * sample s × round(1 / (1 − e^(−s/interval))) is `scaled` (V8's ScaleSample): often more than
 * one, e.g. 16 × 9 = 24 × 6 = 144 at 128 B, so read them as candidates.
 */
function objectSizes(scaled) {
  const sizes = [];
  for (let s = 4; s <= Math.min(scaled, 4096); s += 4) if (s * Math.round(1 / (1 - Math.exp(-s / interval))) === scaled) sizes.push(s);
  return sizes.length ? sizes.join('|') : `~${scaled}`;
}

/**
 * Bytes by the owner of the allocating (leaf) frame; by site (the leaf frame with up to two JS
 * frames above it); by function inclusive of callees (each function once per stack); and the
 * bytes of stacks with any steadysocket frame. `sizes`: per site, the object sizes its samples imply.
 */
function analyse(profile) {
  const byOwner = {};
  const sites = {};
  const inclusive = {};
  let all = 0;
  let underSteadysocket = 0;
  const nodeSite = new Map();
  const walk = (node, stack) => {
    const path = [...stack, node];
    const bytes = node.selfSize;
    if (bytes > 0) {
      all += bytes;
      const leaf = node.callFrame;
      const who = frameOwner(leaf);
      byOwner[who] = (byOwner[who] ?? 0) + bytes;
      const frames = path.filter((n) => n.callFrame.url !== '' || n === node).slice(-3).reverse();
      const key = frames.map((n) => frameKey(n.callFrame)).join(' ← ');
      sites[key] ??= { bytes: 0, who, frames: frames.map((n) => n.callFrame), sizes: {} };
      sites[key].bytes += bytes;
      nodeSite.set(node.id, sites[key]);
      const seen = new Set();
      for (const n of path) {
        const k = frameKey(n.callFrame);
        if (seen.has(k) || frameOwner(n.callFrame) === '(root)') continue;
        seen.add(k);
        inclusive[k] ??= { bytes: 0, callFrame: n.callFrame };
        inclusive[k].bytes += bytes;
      }
      if (path.some((n) => frameOwner(n.callFrame) === 'steadysocket')) underSteadysocket += bytes;
    }
    for (const child of node.children ?? []) walk(child, path);
  };
  walk(profile.head, []);
  for (const sample of profile.samples ?? []) {
    const site = nodeSite.get(sample.nodeId);
    if (!site) continue;
    const size = objectSizes(sample.size);
    site.sizes[size] = (site.sizes[size] ?? 0) + 1;
  }
  return { all, byOwner, sites, inclusive, underSteadysocket, samples: profile.samples?.length ?? 0 };
}

// ------------------------------------------------------------------------------ main

const perMsg = (bytes) => (bytes / total).toFixed(1);

async function main() {
  const build = value('build', 'min');
  if (build !== 'min' && build !== 'plain') throw new Error("--build is min (dist/steadysocket.min.js, the bench's) or plain (an unminified copy)");
  if (!(interval >= 1) || !(total >= 1) || !(warmup >= 0) || !(runs >= 1)) throw new Error('--interval, --total and --runs must be positive, --warmup not negative');
  const executablePath = findChromium();
  // A variant of the IIFE bundle (e.g. a patched copy, to test a change) is sampled as given,
  // unmapped; else a frozen copy of dist/steadysocket.min.js, or an unminified build with its map.
  const given = value('bundle');
  const { bundle, code: bundleCode, map: plainMap } = await prepareBundle({ build, out, log, given: given && resolve(cwd, given) });
  const launchBrowser = async () => {
    browser = await launch(executablePath, FLAGS);
    // One close for all who ask (runRounds, then an error or a signal): a second Browser.close
    // would never be answered.
    const { close } = browser;
    let closing;
    browser.close = () => (closing ??= close());
    log(`${browser.version}, ${given ?? (build === 'min' ? 'dist/steadysocket.min.js' : 'unminified copy')}${jsFlags ? `, --js-flags=${jsFlags}` : ''}; ${runs} runs of ${total} messages after ${warmup}, a sample every ${interval} B on average; profiles in ${out}`);
    return browser;
  };
  const rounds = await runRounds({ bundle, pin: !flag('no-pin'), runs, out, extension: '.heapprofile', log, launch: launchBrowser, round: sampleRound });

  const map = build === 'min' && !given && !flag('no-map') ? await mapForMinified(bundleCode, log, 'sampled') : plainMap;
  const where = (callFrame) => {
    if (frameOwner(callFrame) !== 'steadysocket' || !map) return '';
    const at = map(callFrame.lineNumber, callFrame.columnNumber);
    return at ? `  → ${at.source}:${at.line}  ${at.text}` : '';
  };
  const summary = [];
  for (const [i, { order, results }] of rounds.entries()) {
    console.log(`\n## Run ${i + 1} (order: ${order.join(' → ')})`);
    const row = { run: i + 1 };
    for (const id of CLIENTS) {
      const { profile, wallMs } = results[id];
      const a = analyse(profile);
      row[id] = { bytesPerMsg: a.all / total, byOwner: Object.fromEntries(Object.entries(a.byOwner).map(([k, v]) => [k, v / total])), underSteadysocket: a.underSteadysocket / total, rate: total / (wallMs / 1000) };
      row[id].sites = Object.entries(a.sites)
        .sort((x, y) => y[1].bytes - x[1].bytes)
        .map(([key, s]) => ({ key, who: s.who, bytesPerMsg: s.bytes / total, sizes: s.sizes }));
      console.log(`\n### ${id}: ${perMsg(a.all)} B/msg allocated (${a.samples} samples, ${Math.round(total / (wallMs / 1000))} msg/s with the sampler on)`);
      console.log(`  by allocating frame: ${Object.entries(a.byOwner).sort((x, y) => y[1] - x[1]).map(([who, b]) => `${who} ${perMsg(b)}`).join(', ')}`);
      if (id === 'steadysocket') console.log(`  stacks with a steadysocket frame: ${perMsg(a.underSteadysocket)} B/msg`);
      console.log('  top sites (allocating frame ← callers), B/msg, [object sizes the samples imply × samples]:');
      for (const [key, s] of Object.entries(a.sites).sort((x, y) => y[1].bytes - x[1].bytes).slice(0, top)) {
        const sizes = Object.entries(s.sizes).sort((x, y) => y[1] - x[1]).slice(0, 3).map(([size, n]) => `${size} B ×${n}`).join(', ');
        console.log(`    ${perMsg(s.bytes).padStart(7)}  ${key}  [${sizes}]`);
        for (const frame of s.frames) {
          const mapped = where(frame);
          if (mapped) console.log(`             ${frameKey(frame)}${mapped}`);
        }
      }
      const functions = Object.values(a.inclusive).filter((f) => frameOwner(f.callFrame) === 'steadysocket' || frameOwner(f.callFrame) === 'harness');
      if (functions.length) {
        console.log('  JS functions, inclusive of callees (B/msg):');
        for (const f of functions.sort((x, y) => y.bytes - x.bytes).slice(0, top)) {
          if (f.bytes / total < 0.05) continue;
          console.log(`    ${perMsg(f.bytes).padStart(7)}  ${frameKey(f.callFrame)}${where(f.callFrame)}`);
        }
      }
    }
    summary.push(row);
  }

  console.log('\n## Summary (B/msg allocated on the JS heap, sampled)');
  console.log('| run | native | steadysocket | Δ | steadysocket: by its own frames | stacks with a steadysocket frame |');
  console.log('|---|--:|--:|--:|--:|--:|');
  for (const row of summary) {
    const n = row.native;
    const s = row.steadysocket;
    console.log(`| ${row.run} | ${n.bytesPerMsg.toFixed(1)} | ${s.bytesPerMsg.toFixed(1)} | ${(s.bytesPerMsg - n.bytesPerMsg).toFixed(1)} | ${(s.byOwner.steadysocket ?? 0).toFixed(1)} | ${s.underSteadysocket.toFixed(1)} |`);
  }
  writeFileSync(join(out, 'summary.json'), JSON.stringify({ build, bundle: given, jsFlags, runs, interval, total, warmup, summary }, null, 2));
  log(`profiles and summary.json in ${out}`);
}

main().catch(async (error) => {
  killAll();
  await browser?.close().catch(() => {});
  console.error(error);
  process.exit(1);
});
