// The behaviour scenarios (scenarios.js) in Chromium and Firefox, twice each: the IIFE build
// through <script src> and the ESM build through <script type="module">, both loaded from dist/ by
// the loopback page server. The page runs the scenarios against the control server; for the
// offline scenario the control server calls back here to flip context.setOffline.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext } from 'playwright-core';
import { BROWSERS, distDir, findBrowser, launchBrowser, newContext, startPageServer, type BrowserName, type PageServer } from '../browser/harness';
import { needTools } from '../support/tools';
import { startControlServer, type ControlServer } from './control-server';
import type { ScenarioResult } from './scenarios.js';
import { ONLY, scenarioTests, type Outcome } from './support';

const here = fileURLToPath(new URL('./', import.meta.url));
/** Resolves to 127.0.0.1 in the test browsers; the SDK cannot tell it is loopback, so it honours navigator.onLine. */
const OFFLINE_HOST = 'steadysocket.test';
const RUN_BOUND_MS = 90_000;

const BUILDS = [
  { page: 'iife.html', bundle: 'steadysocket.min.js', title: 'IIFE build via <script src>' },
  { page: 'esm.html', bundle: 'steadysocket.esm.min.js', title: 'ESM build via <script type="module">' },
] as const;

/** "chromium 156.0.7…" from the binary, or just the name when it cannot say. */
function versioned(name: BrowserName): string {
  try {
    const out = spawnSync(findBrowser(name), ['--version'], { encoding: 'utf8', timeout: 15_000 }).stdout ?? '';
    const version = /\d+\.\d+[\w.]*/.exec(out)?.[0];
    return version ? `${name} ${version}` : name;
  } catch {
    return name; // not installed: launchBrowser says how to install it
  }
}

function bounded<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no results within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('behaviour scenarios in real browsers (built bundles)', function () {
  let pages: PageServer;
  let control: ControlServer;

  before(async () => {
    for (const { bundle } of BUILDS) {
      if (!existsSync(resolve(distDir, bundle))) throw new Error(`dist/${bundle} is missing: run \`npm run build\` (npm test builds it)`);
    }
    pages = await startPageServer({ roots: { '/everywhere/': here } });
    control = await startControlServer();
  });

  after(async () => {
    await control?.close();
    await pages?.close();
  });

  for (const name of BROWSERS) {
    const browserTitle = versioned(name);
    describe(browserTitle, function () {
      let browser: Browser | undefined;

      before(async function () {
        this.timeout(60_000);
        needTools(this, name);
        browser = await launchBrowser(name, { loopbackAliases: [OFFLINE_HOST] });
      });

      after(async function () {
        this.timeout(30_000);
        await browser?.close();
      });

      for (const build of BUILDS) {
        describe(`${name}: ${build.title}`, function () {
          this.timeout(RUN_BOUND_MS + 30_000);
          let outcome: Outcome = { failure: 'the run did not start' };

          before(async function () {
            let context: BrowserContext | undefined;
            const problems: string[] = [];
            try {
              context = await newContext(browser!);
              const ctx = context;
              control.setOfflineHook((offline) => ctx.setOffline(offline));
              const page = await context.newPage();
              page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
              page.on('console', (message) => {
                if (message.type() === 'error') problems.push(`console: ${message.text()}`);
              });
              const runtime = `${browserTitle} (${build.title})`;
              const query: Record<string, string> = { control: control.url, runtime, offlineHost: OFFLINE_HOST };
              if (ONLY) query.only = ONLY.join('\n');
              await page.goto(pages.url(`/everywhere/pages/${build.page}`, query));
              const ready = await page.evaluate('typeof window.everywhere === "object"');
              if (!ready) throw new Error(`the page did not load its scripts`);
              const results = await bounded(RUN_BOUND_MS, runtime, page.evaluate('window.everywhere.run()') as Promise<ScenarioResult[]>);
              outcome = { results };
            } catch (error) {
              outcome = { failure: `${(error as Error).message}${problems.length ? `\n  ${problems.join('\n  ')}` : ''}` };
            } finally {
              control.setOfflineHook(undefined);
              await control.reset();
              await context?.close();
            }
          });

          scenarioTests(() => outcome);
        });
      }
    });
  }
});
