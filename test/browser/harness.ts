// The browser test harness: real Chromium and Firefox driven by playwright-core, kept on loopback,
// and a small HTTP server for the built bundles and the test pages.
//
// Browser-side code lives in plain .js files under test/browser/pages/ and is served, not passed
// to page.evaluate as a function: tsx rewrites functions (`__name(...)`, renamed imports) and the
// rewritten source breaks inside the page. Call page.evaluate with a string, or with an arrow
// that only calls into the page script. `newContext` also installs a `__name` shim as a fallback.
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, firefox, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core';
import { CHROMIUM_ARGS } from './chromium-args.mjs';
import { needTools, toolPath } from '../support/tools';

export type BrowserName = 'chromium' | 'firefox';

export const BROWSERS: readonly BrowserName[] = ['chromium', 'firefox'];

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const distDir = resolve(repoRoot, 'dist');
export const pagesDir = resolve(fileURLToPath(new URL('./pages/', import.meta.url)));

/**
 * The browser binary: $CHROMIUM_PATH / $FIREFOX_PATH, else the Debian path (the list is in
 * scripts/system-deps.mjs). Throws how to install it. Suites call `needTools(this, name)` from
 * test/support/tools.ts in `before` first, so a missing browser skips them (fails under CI=true).
 */
export function findBrowser(name: BrowserName): string {
  return toolPath(name);
}

// Stops Firefox's lookups of Mozilla hosts; loopback still works.
const FIREFOX_PREFS = { 'network.dns.disabled': true };

export interface LaunchOptions {
  /**
   * Host names that resolve to 127.0.0.1 in this browser, e.g. `steadysocket.test`: a way to reach
   * a loopback server under a name that code cannot recognise as loopback. Use reserved names
   * (`.test`). Chromium: a MAP rule ahead of the catch-all; Firefox: `network.dns.localDomains`.
   */
  loopbackAliases?: readonly string[];
}

/**
 * Launches a headless browser that stays on loopback. Playwright gives it a fresh profile in a
 * temporary directory and deletes it on `browser.close()`: close it in `after`.
 *
 * Firefox is driven over WebDriver BiDi (`channel: 'moz-firefox'`): stock Firefox lacks
 * Playwright's patched protocol. That needs playwright-core 1.64.1 exactly with firefox-esr 153.
 */
export async function launchBrowser(name: BrowserName, options: LaunchOptions = {}): Promise<Browser> {
  const executablePath = findBrowser(name);
  const aliases = options.loopbackAliases ?? [];
  if (name === 'chromium') {
    const maps = aliases.map((host) => `MAP ${host} 127.0.0.1, `).join('');
    const args = CHROMIUM_ARGS.map((arg) => arg.replace(/^--host-resolver-rules=/, `$&${maps}`));
    return chromium.launch({ executablePath, headless: true, args });
  }
  const firefoxUserPrefs = aliases.length ? { ...FIREFOX_PREFS, 'network.dns.localDomains': aliases.join(',') } : FIREFOX_PREFS;
  return firefox.launch({ executablePath, headless: true, channel: 'moz-firefox', firefoxUserPrefs });
}

/** A fresh context with the `__name` shim that tsx-compiled functions need inside the page. */
export async function newContext(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  await context.addInitScript({ content: 'globalThis.__name = globalThis.__name || ((fn) => fn);' });
  return context;
}

/** A browser for the tests of one `describe` (see {@link useBrowser}). */
export interface BrowserSession {
  /** A fresh context (closed after the test); the previous one of this test is replaced. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** The context of the running test. */
  readonly context: BrowserContext;
}

/**
 * Call inside a browser's `describe`: launches it in `before` (the suite is skipped when the
 * browser is missing, and fails under CI=true: needTools), closes the test's context after each
 * test and the browser after them all.
 */
export function useBrowser(name: BrowserName): BrowserSession {
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  before(async function () {
    this.timeout(60_000);
    needTools(this, name);
    browser = await launchBrowser(name);
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  after(async function () {
    this.timeout(30_000);
    await browser?.close();
  });
  return {
    async newContext(options) {
      await context?.close();
      context = await newContext(browser!, options);
      return context;
    },
    get context() {
      if (!context) throw new Error('no context: call newContext() first');
      return context;
    },
  };
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.cjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

export interface PageServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  origin: string;
  port: number;
  /** A URL on this server: `url('/pages/smoke.html', { ws: 'ws://…' })`. */
  url(path: string, query?: Record<string, string>): string;
  /**
   * Resolves with the JSON a page POSTed to `/report/<key>` (now or later); rejects after `timeout`
   * ms. Lets a page report results without the driver, e.g. from a worker or after a reload.
   */
  report<T = unknown>(key: string, timeout?: number): Promise<T>;
  close(): Promise<void>;
}

export interface PageServerOptions {
  /** More directories to serve, by URL prefix with slashes at both ends: `{ '/everywhere/': dir }`. */
  roots?: Record<string, string>;
}

/**
 * Serves `dist/` under `/dist/` and `test/browser/pages/` under `/pages/` (plus `options.roots`)
 * on 127.0.0.1 (random port), with `no-store` so a rebuilt bundle is never stale.
 * `POST /report/<key>` stores a JSON body for `report(key)`. Everything else is a 404.
 */
export async function startPageServer(options: PageServerOptions = {}): Promise<PageServer> {
  const reports = new Map<string, unknown>();
  interface Waiter {
    key: string;
    resolve(value: unknown): void;
    reject(error: Error): void;
    timer: NodeJS.Timeout;
  }
  const waiters = new Set<Waiter>();

  const roots: Record<string, string> = { '/dist/': distDir, '/pages/': pagesDir };
  for (const [prefix, dir] of Object.entries(options.roots ?? {})) roots[prefix] = resolve(dir);

  async function serveFile(res: ServerResponse, pathname: string): Promise<void> {
    const prefix = Object.keys(roots).find((p) => pathname.startsWith(p));
    if (!prefix) return end(res, 404, `no route for ${pathname}`);
    const root = roots[prefix];
    const file = resolve(root, '.' + sep + decodeURIComponent(pathname.slice(prefix.length)));
    if (!file.startsWith(root + sep)) return end(res, 403, 'outside the served directory');
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      const hint = prefix === '/dist/' ? ' (run `npm run build`)' : '';
      return end(res, 404, `${pathname} not found${hint}`);
    }
    const body = await readFile(file);
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-store',
    });
    res.end(body);
  }

  function receiveReport(req: IncomingMessage, res: ServerResponse, key: string): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let value: unknown;
      try {
        value = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
      } catch {
        return end(res, 400, 'report body is not JSON');
      }
      reports.set(key, value);
      for (const waiter of waiters) {
        if (waiter.key !== key) continue;
        waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(value);
      }
      end(res, 204);
    });
  }

  const server: Server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'POST' && pathname.startsWith('/report/')) {
      return receiveReport(req, res, decodeURIComponent(pathname.slice('/report/'.length)));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return end(res, 405, 'GET only');
    serveFile(res, pathname).catch((error: Error) => end(res, 500, error.message));
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    origin,
    port,
    url(path, query) {
      const url = new URL(path, origin);
      for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, value);
      return url.href;
    },
    report<T>(key: string, timeout = 10_000): Promise<T> {
      if (reports.has(key)) return Promise.resolve(reports.get(key) as T);
      return new Promise<T>((resolveReport, reject) => {
        const waiter: Waiter = {
          key,
          resolve: (value) => resolveReport(value as T),
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(new Error(`no report "${key}" within ${timeout} ms`));
          }, timeout),
        };
        waiters.add(waiter);
      });
    },
    close() {
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`page server closed before report "${waiter.key}" arrived`));
      }
      waiters.clear();
      return new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        // Browsers keep HTTP connections alive; close() alone would wait for them.
        server.closeAllConnections();
      });
    },
  };
}

function end(res: ServerResponse, status: number, message = ''): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(message);
}
