// What profile-chromium.mjs and alloc-chromium.mjs share: the bundle the bench's page loads (a
// frozen copy of dist/steadysocket.min.js, a given variant or an unminified build), the source maps
// that take its frames back to src/, how a profile's frame is classified, and the rounds of a
// profile: the pinned echo server, the page server and Chromium, started and stopped around them.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromiumPath, startPageServer } from './chromium.mjs';
import { benchDir, killAll, startNode, taskset } from './processes.mjs';

const root = join(benchDir, '..');
const BUNDLE = join(root, 'dist', 'steadysocket.min.js');

/** The two clients each round measures, in the page's ids. */
export const CLIENTS = ['native', 'steadysocket'];

/**
 * Builds the IIFE bundle through rollup.config.mjs's own entry for dist/steadysocket.min.js, its
 * TypeScript plugin swapped for one that emits source maps; `minify: false` also drops the output
 * plugins (terser), for a copy whose lines are the source's lines. Returns { code, map } where
 * `map(line0, column0)` → { source, line, text } (0-based in, 1-based out) or undefined.
 * Relative paths are rollup.config.mjs's: run it from the repository's root.
 */
export async function buildBundle({ minify }) {
  const [{ rollup }, { default: typescript }, { TraceMap, originalPositionFor, sourceContentFor, LEAST_UPPER_BOUND }, { default: configs }] = await Promise.all([
    import('rollup'),
    import('@rollup/plugin-typescript'),
    import('@jridgewell/trace-mapping'),
    import(pathToFileURL(join(root, 'rollup.config.mjs')).href),
  ]);
  const isIife = (o) => o.file === 'dist/steadysocket.min.js';
  const config = configs.find((c) => [c.output].flat().some(isIife));
  const output = [config.output].flat().find(isIife);
  const plugins = config.plugins.map((p) =>
    p.name === 'typescript' ? typescript({ tsconfig: './tsconfig.json', target: 'ES2020', declaration: false, outDir: undefined, rootDir: undefined, sourceMap: true, inlineSources: true }) : p,
  );
  const build = await rollup({ input: config.input, plugins, onwarn: () => {} });
  const { output: [chunk] } = await build.generate({ ...output, file: undefined, sourcemap: 'hidden', ...(minify ? {} : { plugins: [] }) });
  await build.close();
  const trace = new TraceMap(chunk.map);
  const lines = new Map();
  const sourceLines = (source) => {
    if (!lines.has(source)) lines.set(source, sourceContentFor(trace, source)?.split('\n') ?? []);
    return lines.get(source);
  };
  const map = (line0, column0) => {
    let position = originalPositionFor(trace, { line: line0 + 1, column: column0 });
    if (!position.source) position = originalPositionFor(trace, { line: line0 + 1, column: column0, bias: LEAST_UPPER_BOUND });
    if (!position.source) return undefined;
    const source = position.source.replace(/^(\.\.\/)+/, '').replace(/^.*?\b(src|node_modules)\//, '$1/');
    return { source, line: position.line, text: sourceLines(position.source)[position.line - 1]?.trim().slice(0, 90) ?? '' };
  };
  return { code: chunk.code, map };
}

/**
 * A map for the minified bundle the page ran (`bundleCode`): its rebuild must be byte for byte the
 * same code, or there is none (undefined, and `log` says why). `noun`: what was done to the bundle
 * ('profiled', 'sampled'), for that line.
 */
export async function mapForMinified(bundleCode, log, noun) {
  try {
    const { code, map } = await buildBundle({ minify: true });
    if (code.trimEnd() === bundleCode.trimEnd()) return map;
    log(`source map: the rebuilt bundle differs from the ${noun} one (src/ changed since the build?): not mapping`);
  } catch (error) {
    log(`source map: ${error.message}: not mapping`);
  }
  return undefined;
}

/**
 * What a profile's frame is: 'steadysocket', 'harness', 'native' (an API like WebSocket's send,
 * or Blink), 'other JS', or a VM pseudo-frame's own name ('(program)', '(garbage collector)',
 * '(idle)', '(root)', …).
 */
export function frameOwner(callFrame) {
  if (/^\(.*\)$/.test(callFrame.functionName) && callFrame.url === '') return callFrame.functionName;
  if (/\/steadysocket\.(min|plain)\.js$/.test(callFrame.url)) return 'steadysocket';
  if (callFrame.url.endsWith('/bench/browser/harness.mjs')) return 'harness';
  if (callFrame.url === '') return 'native';
  return 'other JS';
}

/** Chromium's executable (chromiumPath()), or an error saying how to get one. */
export function findChromium() {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('Chromium not found (set CHROMIUM_PATH or apt-get install chromium)');
  return executablePath;
}

/**
 * Readies the bundle the page loads, in `out` (made if need be): a copy of `given` (a variant of
 * the IIFE bundle, unmapped), else for build 'min' a frozen copy of dist/steadysocket.min.js
 * (others may rebuild dist/ meanwhile), else an unminified build with its source map. Returns
 * { bundle, code, map }: its path, its text, and the map for 'plain' (undefined otherwise).
 */
export async function prepareBundle({ build, out, log, given }) {
  mkdirSync(out, { recursive: true });
  let bundle;
  let map;
  if (given) {
    bundle = join(out, 'steadysocket.min.js');
    copyFileSync(given, bundle);
  } else if (build === 'min') {
    if (!existsSync(BUNDLE)) throw new Error('dist/steadysocket.min.js is missing: build first (npx rollup -c --silent)');
    bundle = join(out, 'steadysocket.min.js');
    copyFileSync(BUNDLE, bundle);
  } else {
    log('building an unminified IIFE copy with a source map…');
    const plain = await buildBundle({ minify: false });
    bundle = join(out, 'steadysocket.plain.js');
    writeFileSync(bundle, plain.code);
    map = plain.map;
  }
  return { bundle, code: readFileSync(bundle, 'utf8'), map };
}

/**
 * Starts the echo server (on CPU 0 when `pin` and the machine allow, as in the bench), a page
 * server for the bench's page, harness and `bundle`, and a browser (`launch()`, which returns it);
 * runs `round(browser, origin, url, order)` once and discards it (a fresh browser's first pages
 * run slower), then `runs` times, CLIENTS' order reversed every other run, writing each client's
 * `results[id].profile` to `out`/run<n>-<id><extension>; and stops all three, whatever happens.
 * Returns the rounds, [{ order, results }].
 */
export async function runRounds({ bundle, pin, runs, out, extension, log, launch, round }) {
  const echo = startNode(join(benchDir, 'echo-server.mjs'), [], { cpu: pin && taskset !== undefined && os.availableParallelism() >= 2 ? 0 : undefined });
  const pages = await startPageServer({
    '/bench/browser/page.html': join(benchDir, 'browser', 'page.html'),
    '/bench/browser/harness.mjs': join(benchDir, 'browser', 'harness.mjs'),
    '/dist/steadysocket.min.js': bundle,
  });
  let browser;
  const rounds = [];
  try {
    const url = `ws://127.0.0.1:${(await echo.next(10_000)).port}`;
    browser = await launch();
    await round(browser, pages.origin, url, CLIENTS);
    for (let run = 0; run < runs; run++) {
      const order = run % 2 ? [...CLIENTS].reverse() : CLIENTS;
      const results = await round(browser, pages.origin, url, order);
      for (const id of order) writeFileSync(join(out, `run${run + 1}-${id}${extension}`), JSON.stringify(results[id].profile));
      rounds.push({ order, results });
      log(`run ${run + 1}/${runs} done (${order.join(', ')})`);
    }
  } finally {
    await browser?.close();
    await pages.close();
    await echo.stop(2000);
    killAll();
  }
  return rounds;
}
