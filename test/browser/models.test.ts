// The three model-based property tests (test/unit/*-model.test.ts) inside real Chromium (V8) and
// Firefox (SpiderMonkey), against the builds a page loads: the browser ESM build and the minified
// ESM build (the script-tag IIFE is the same bundle in another wrapper). test/package/
// builds-model.test.ts runs them against the builds in Node; here the engine, its JIT and its
// globals are the browser's, except setImmediate, which the tests and fake-timers need and
// pages/models.js supplies (the library never uses it).
//
// The tests are bundled with rollup into a temporary directory (models-bundle.ts), with the
// library left out and imported from /dist/ by URL, byte for byte the file users load (the
// browser build's one import, eventemitter3, through an import map); pages/models.js runs them
// with mocha's browser build and hands back every title that passed, failed or was skipped. Same
// seeds and run counts as in Node (MODEL_SEED / MODEL_RUNS set here are passed on to the page).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { BROWSERS, distDir, startPageServer, useBrowser, type PageServer } from './harness';
import { bundleModelTests, MODEL_TESTS } from './models-bundle';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Build name (for file names and titles) → the file under dist/. */
const BUILDS: Record<string, string> = {
  browser: 'index.browser.js',
  'esm-min': 'steadysocket.esm.min.js',
};

/** What pages/models.js resolves with. */
interface PageRun {
  total: number;
  passes: string[];
  failures: { title: string; message: string }[];
  pending: string[];
  ms: number;
  log: string[];
}

/** The full titles of the model tests as Node's mocha collects them (a dry run: nothing executes). */
function titlesInNode(dir: string): string[] {
  const output = join(dir, 'node-dry-run.json');
  const child = spawnSync(
    process.execPath,
    ['node_modules/mocha/bin/mocha.js', '--dry-run', '--reporter=json', `--reporter-option=output=${output}`, ...MODEL_TESTS],
    { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 },
  );
  expect(existsSync(output), `mocha --dry-run wrote no report (exit ${child.status}, signal ${child.signal}): ${child.stderr.slice(-2000)}`).to.equal(true);
  const report = JSON.parse(readFileSync(output, 'utf8')) as { tests: { fullTitle: string }[] };
  return report.tests.map((test) => test.fullTitle).sort();
}

/** The tests' own MODEL_STATS lines that say how many scenarios each property ran. */
function propertyRuns(log: string[]): { line: string; runs: number }[] {
  const lines = log.map((line) => line.split('\n')[0]);
  return lines.flatMap((line) => {
    const match = /^[\w ]+: (\d+) (?:property calls|runs)\b.* in -?\d+ ms$/.exec(line);
    return match ? [{ line, runs: Number(match[1]) }] : [];
  });
}

/**
 * The runs each property is asked for (test/support/model.ts). A property that reaches its time
 * limit stops without failing (fast-check's interruptAfterTimeLimit): in a slower engine it would
 * pass with a fraction of its scenarios, so the count is checked.
 */
const RUNS = Number(process.env.MODEL_RUNS ?? 300);

describe('the model tests in real browsers, against the browser builds', () => {
  let dir: string;
  let pages: PageServer;
  let bundles: Record<string, string>;
  let nodeTitles: string[];

  before(async function () {
    this.timeout(120_000);
    dir = mkdtempSync(join(tmpdir(), 'steadysocket-browser-models-'));
    for (const file of Object.values(BUILDS)) expect(existsSync(resolve(distDir, file)), `dist/${file} (run npm run build)`).to.equal(true);
    nodeTitles = titlesInNode(dir);
    const env: Record<string, string> = { MODEL_STATS: '1' };
    for (const name of ['MODEL_SEED', 'MODEL_RUNS']) if (process.env[name] !== undefined) env[name] = process.env[name]!;
    const urls = Object.fromEntries(Object.entries(BUILDS).map(([name, file]) => [name, `/dist/${file}`]));
    bundles = await bundleModelTests(dir, urls, env);
    pages = await startPageServer({ roots: { '/models/': dir, '/mocha/': resolve(repoRoot, 'node_modules/mocha') } });
  });

  after(async () => {
    await pages?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const name of BROWSERS) {
    describe(name, () => {
      const session = useBrowser(name);

      for (const [build, file] of Object.entries(BUILDS)) {
        it(`passes every model test against dist/${file}, the same tests as in Node, none skipped`, async function () {
          this.timeout(240_000);
          const page: Page = await (await session.newContext()).newPage();
          const pageErrors: string[] = [];
          page.on('pageerror', (error) => pageErrors.push(error.message));
          await page.goto(pages.url('/pages/models.html'));
          const run = (await page.evaluate(`window.models.run(${JSON.stringify(`/models/${bundles[build]}`)})`)) as PageRun;

          const runs = propertyRuns(run.log);
          console.log(`      ${name}, dist/${file}: ${run.passes.length} of ${run.total} passed in ${(run.ms / 1000).toFixed(1)} s`);
          for (const { line } of runs) console.log(`        ${line}`);

          const failed = run.failures.map((f) => `${f.title}: ${f.message}`);
          expect(failed, `failures in ${name} against dist/${file}`).to.deep.equal([]);
          expect(pageErrors, 'errors outside the tests').to.deep.equal([]);
          expect(run.pending, 'skipped').to.deep.equal([]);
          // The same tests as Node collects, every one of them passed (a run of 0 tests passes too).
          expect(nodeTitles.length, 'model tests in Node').to.be.at.least(23);
          expect([...run.passes].sort(), 'passed, against the tests Node collects').to.deep.equal(nodeTitles);
          expect(runs, 'run counts printed by the three properties').to.have.length(3);
          for (const { line, runs: n } of runs) expect(n, `stopped at its time limit: ${line}`).to.be.at.least(RUNS);
        });
      }
    });
  }
});
