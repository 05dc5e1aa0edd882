// Issue 14 §6, leaving a page: on `pagehide` with `persisted: true` (the page goes into the
// back/forward cache) the client closes its socket so the page can be cached, with code 1000 and
// reason 'page hidden' — browsers refuse 1001 from script (WHATWG close() step 1) — and the app's
// own `close` event says the same; on `pageshow` with `persisted: true` it connects again.
//
// The script-tag build in real Chromium and Firefox, a real ws server (the control server's), and
// two ways of leaving the page:
// - a real back/forward-cache navigation (Chromium). Playwright launches Chromium with
//   --disable-back-forward-cache, so it is left out here, and the page is served without
//   `cache-control: no-store` (a no-store page is never cached; the shared page server sends it).
// - a synthetic `PageTransitionEvent('pagehide' / 'pageshow', { persisted: true })` on window
//   (both browsers). Firefox 153 ESR (headless, WebDriver BiDi) caches a plain page here, but not
//   the page with the client: its pagehide comes with persisted: false and Firefox closes the
//   socket itself (the server sees 1001 and no reason), so there only the synthetic event applies.
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startControlServer, type ControlServer } from '../everywhere/control-server';
import { CHROMIUM_ARGS } from './chromium-args.mjs';
import { needTools } from '../support/tools';
import { BROWSERS, distDir, findBrowser, launchBrowser, newContext, pagesDir, type BrowserName } from './harness';

interface LogEntry {
  type: string;
  t: number;
  persisted?: boolean;
  code?: number;
  reason?: string;
  state?: string;
  previous?: string;
}

interface ConnectionRecord {
  messages: string[];
  closed: { code: number; reason: string } | null;
}

const FILES: Record<string, [file: string, type: string]> = {
  '/pages/page-lifecycle.html': [resolve(pagesDir, 'page-lifecycle.html'), 'text/html; charset=utf-8'],
  '/pages/page-lifecycle.js': [resolve(pagesDir, 'page-lifecycle.js'), 'text/javascript; charset=utf-8'],
  '/dist/steadysocket.min.js': [resolve(distDir, 'steadysocket.min.js'), 'text/javascript; charset=utf-8'],
};
/** What both the server and the app must see when the page goes into the back/forward cache. */
const HIDDEN = { code: 1000, reason: 'page hidden' };
const ELSEWHERE = '<!doctype html><meta charset="utf-8"><title>elsewhere</title><p>another page';

/** Serves the lifecycle page, the IIFE bundle and a second page, cacheable (no `no-store`). */
async function startCacheablePageServer(): Promise<{ url(path: string, query?: Record<string, string>): string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (pathname === '/pages/elsewhere.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(ELSEWHERE);
    }
    const entry = FILES[pathname];
    if (!entry) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end(`${pathname} not found`);
    }
    readFile(entry[0]).then(
      (body) => {
        res.writeHead(200, { 'content-type': entry[1], 'content-length': body.length });
        res.end(body);
      },
      (error: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${error.message} (run \`npm run build\` for dist/)`);
      },
    );
  });
  await new Promise<void>((ready, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => ready());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url(path, query = {}) {
      const url = new URL(path, origin);
      for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
      return url.href;
    },
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

/** Chromium as the harness launches it, but with the back/forward cache Playwright turns off. */
function launchWithBfcache(name: BrowserName): Promise<Browser> {
  if (name !== 'chromium') return launchBrowser(name);
  return chromium.launch({
    executablePath: findBrowser('chromium'),
    headless: true,
    args: CHROMIUM_ARGS,
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
  });
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined | null | false>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The control server's HTTP API (see control-server.ts), typed for what this file uses. */
function controlApi(base: string) {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(base + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const value = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new Error(`control ${method} ${path}: ${response.status} ${value.error ?? ''}`);
    return value;
  };
  return {
    endpoint: (behaviour: Record<string, unknown>) => call<{ id: string; url: string }>('POST', '/endpoints', behaviour),
    record: (id: string) => call<{ connections: ConnectionRecord[] }>('GET', `/endpoints/${id}`),
    remove: (id: string) => call<unknown>('POST', `/endpoints/${id}/delete`),
  };
}

const pageLog = (page: Page) => page.evaluate('window.lifecycle.log') as Promise<LogEntry[]>;

describe('leaving the page (issue 14 §6): the script-tag build in real browsers', function () {
  this.timeout(60_000);
  let pages: Awaited<ReturnType<typeof startCacheablePageServer>>;
  let control: ControlServer;
  let api: ReturnType<typeof controlApi>;

  before(async () => {
    pages = await startCacheablePageServer();
    control = await startControlServer();
    api = controlApi(control.url);
  });

  after(async () => {
    await control?.close();
    await pages?.close();
  });

  for (const name of BROWSERS) {
    describe(name, function () {
      let browser: Browser | undefined;

      before(async function () {
        this.timeout(60_000);
        needTools(this, name);
        browser = await launchWithBfcache(name);
      });

      after(async () => {
        await browser?.close();
        await control.reset();
      });

      /** A fresh page with the client connected to a fresh endpoint. */
      async function openClient(): Promise<{ page: Page; id: string; record(): Promise<ConnectionRecord[]>; close(): Promise<void> }> {
        const ep = await api.endpoint({});
        const context = await newContext(browser!);
        const page = await context.newPage();
        await page.goto(pages.url('/pages/page-lifecycle.html', { ws: ep.url }));
        await until('the client to open', 5000, async () => (await pageLog(page)).some((e) => e.type === 'open'));
        return {
          page,
          id: ep.id,
          record: async () => (await api.record(ep.id)).connections,
          close: async () => {
            await context.close();
            await api.remove(ep.id);
          },
        };
      }

      /** The close the server saw on connection `index`, and the app's close events. */
      async function closes(c: Awaited<ReturnType<typeof openClient>>, index: number, log: LogEntry[]) {
        const server = await until(`the server to see connection ${index + 1} close`, 3000, async () => (await c.record())[index]?.closed);
        const app = log.filter((e) => e.type === 'close').map((e) => ({ code: e.code, reason: e.reason }));
        return { server, app };
      }

      it('pagehide (persisted, synthetic event) closes with 1000 "page hidden" as the server and the close event both see it; pageshow reconnects', async () => {
        const c = await openClient();
        try {
          await c.page.evaluate('window.lifecycle.hide()');
          const log = await until('the app to see the close', 3000, async () => {
            const entries = await pageLog(c.page);
            return entries.some((e) => e.type === 'close') && entries;
          });
          const { server, app } = await closes(c, 0, log);
          expect({ server, app }, "what the server received, and the app's close events").to.deep.equal({ server: HIDDEN, app: [HIDDEN] });
          // Hidden: no attempt until the page is shown again.
          await new Promise((r) => setTimeout(r, 600));
          expect((await c.record()).length, 'connections while the page is hidden').to.equal(1);

          await c.page.evaluate('window.lifecycle.show()');
          await until('the client to open again after pageshow', 3000, async () => (await pageLog(c.page)).filter((e) => e.type === 'open').length === 2);
          await c.page.evaluate('window.lifecycle.client.send("back again")');
          const records = await until('the message on the new connection', 3000, async () => {
            const r = await c.record();
            return r[1]?.messages.length === 1 && r;
          });
          expect(records.length, 'connections the server saw').to.equal(2);
          expect(records[1].messages, 'what the second connection received').to.deep.equal(['back again']);
        } finally {
          await c.close();
        }
      });

      if (name === 'chromium') {
        it('a real back/forward-cache navigation closes with 1000 "page hidden" on the way out and reconnects on the way back', async () => {
          const c = await openClient();
          try {
            await c.page.goto(pages.url('/pages/elsewhere.html'));
            const hidden = await until('the server to see the close', 3000, async () => (await c.record())[0]?.closed);
            // A restore from the cache fires no load event: wait for the commit only.
            await c.page.goBack({ waitUntil: 'commit' });
            const log = await until('the restored page to reconnect', 5000, async () => {
              const entries = (await c.page.evaluate('window.lifecycle && window.lifecycle.log').catch(() => null)) as LogEntry[] | null;
              return entries && entries.filter((e) => e.type === 'open').length === 2 && entries;
            });
            const page = log.filter((e) => e.type === 'pagehide' || e.type === 'pageshow').map((e) => `${e.type} ${e.persisted}`);
            expect(page, 'page events (the same page, restored from the cache)').to.deep.equal(['pageshow false', 'pagehide true', 'pageshow true']);
            const { server, app } = await closes(c, 0, log);
            expect(server).to.deep.equal(hidden);
            expect({ server, app }, "what the server received, and the app's close events").to.deep.equal({ server: HIDDEN, app: [HIDDEN] });
            expect((await c.record()).length, 'connections the server saw').to.equal(2);
          } finally {
            await c.close();
          }
        });
      } else {
        it('a real back/forward-cache navigation (not possible here: Firefox does not cache a page with the client; see the header)', function () {
          this.skip();
        });
      }
    });
  }
});
