// The three model-based property tests (test/unit/*-model.test.ts), run again against the built
// bundles instead of the source. The builds are what users run: rollup joins the modules, the
// browser ESM build shortens private member names, the minified builds mangle them
// (rollup.config.mjs). A private member reached by a name the renaming cannot see, a member two
// modules spell differently after renaming, or a build that picks a different module (the
// browser platform) passes every test of the source and breaks only in the build.
//
// Each build gets the same scenarios as the source (the same seeds and run counts), in a child
// mocha whose STEADYSOCKET_BUILD points test/support/under-test.ts at it. Renaming one private
// member occurrence in dist/index.browser.js (six tried, chosen by position) failed 1 to 9 of the
// 23 tests each time.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MODEL_TESTS = ['test/unit/client-model.test.ts', 'test/unit/delivery-model.test.ts', 'test/unit/features-model.test.ts'];
/**
 * The Node ESM build (readable names), the browser ESM build (shortened names, the browser
 * platform) and the minified ESM build (mangled names; the script-tag IIFE is the same bundle in
 * another wrapper).
 */
const BUILDS = ['dist/index.js', 'dist/index.browser.js', 'dist/steadysocket.esm.min.js'];

interface MochaJson {
  stats: { tests: number; passes: number; failures: number; pending: number };
  failures: { fullTitle: string; err: { message?: string } }[];
}

function runModels(build: string, dir: string): MochaJson {
  const output = join(dir, `${build.replace(/\W+/g, '-')}.json`);
  const child = spawnSync(
    process.execPath,
    ['node_modules/mocha/bin/mocha.js', '--reporter=json', `--reporter-option=output=${output}`, ...MODEL_TESTS],
    { env: { ...process.env, STEADYSOCKET_BUILD: build }, encoding: 'utf8', timeout: 120_000 },
  );
  expect(existsSync(output), `mocha wrote no report for ${build} (exit ${child.status}, signal ${child.signal}): ${child.stderr.slice(-2000)}`).to.equal(true);
  return JSON.parse(readFileSync(output, 'utf8')) as MochaJson;
}

describe('the model tests against the built bundles', function () {
  this.timeout(150_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'steadysocket-models-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const build of BUILDS) {
    it(`${build} behaves as the source under every scenario`, () => {
      expect(existsSync(build), `${build} (run npm run build)`).to.equal(true);
      const report = runModels(build, dir);
      const { stats } = report;
      console.log(`      ${build}: ${stats.passes} of ${stats.tests} model tests passed`);
      const failed = report.failures.map((f) => `${f.fullTitle}: ${f.err.message?.split('\n')[0]}`);
      expect(failed, `failures against ${build}`).to.deep.equal([]);
      // Every test ran: none skipped, the property tests included (a report of 0 tests passes too).
      expect(stats.pending, 'skipped').to.equal(0);
      expect(stats.passes, 'model tests run').to.be.at.least(20);
    });
  }
});
