// Issue 13, "Show it": the persistent outbox in real Chromium and Firefox. A page with the
// script-tag build, persist(indexedDbStore(…)) and acks() sends numbered messages every 10 ms to
// the example ack server (a child process, the page's origin allowed); the test reloads the page
// three times mid-stream. A message counts as sent only once `await outbox.saved()` resolved after
// it (pages/persist-reload.js keeps that list, and the next id, in localStorage). At the end the
// server's log must hold every such id, first receipts in order. Needs `npm run build` (dist/).
//
// Also close() with the real IndexedDB store: it resolves only once the store committed what it
// dropped, so a page that leaves the moment close() resolves (as a CLI exits) leaves nothing behind
// for the next client to send (pages/persist-close.js). The order of the store's commit and
// close()'s resolution is what fails without that wait (tried: both browsers); leaving the page
// does not cut an IndexedDB save short in either, so the count left behind is checked as the
// outcome, not relied on to catch it.
import { expect } from 'chai';
import { createServer } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { needTools } from '../support/tools';
import { startRestartableServer, type RestartableServer } from '../support/restartable-server';
import { sleep } from '../support/servers';
import { BROWSERS, launchBrowser, newContext, startPageServer, type PageServer } from './harness';

interface PageRecord {
  next: number;
  durable: number[];
  loads: number;
  errors: string[];
}

const RELOADS = 3;

/** A loopback port nothing listens on (it was free a moment ago): connecting to it is refused. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('persist(indexedDbStore) through page reloads (issue 13)', () => {
  let pages: PageServer;

  before(async () => {
    pages = await startPageServer();
  });

  after(async () => {
    await pages?.close();
  });

  for (const name of BROWSERS) {
    describe(name, function () {
      this.timeout(120_000);
      let browser: Browser | undefined;
      let context: BrowserContext | undefined;
      let server: RestartableServer | undefined;

      before(async function () {
        this.timeout(60_000);
        needTools(this, name);
        browser = await launchBrowser(name);
      });

      after(async () => {
        await context?.close();
        await browser?.close();
        await server?.stop();
      });

      it(`loses and reorders nothing that saved() confirmed, through ${RELOADS} reloads`, async () => {
        server = await startRestartableServer({ origins: [pages.origin] });
        context = await newContext(browser!);
        const page: Page = await context.newPage();
        const ws = `${server.url}?token=${encodeURIComponent(server.token)}`;
        await page.goto(pages.url('/pages/persist-reload.html', { ws, db: `persist-reload-${name}` }));

        const record = () => page.evaluate('window.persistReload.state()') as Promise<PageRecord>;
        const durableAtReload: number[] = [];
        for (let reload = 1; reload <= RELOADS; reload++) {
          await sleep(250 + Math.floor(Math.random() * 300));
          durableAtReload.push((await record()).durable.length);
          await page.reload();
        }
        await sleep(300);
        const last = (await record()).next + 19;
        const final = (await page.evaluate(`window.persistReload.finish(${last})`)) as PageRecord;

        const log = server.readLog();
        const lost = log.lostFrom(final.durable);
        const durableSet = new Set(final.durable);
        const notCounted = log.ids.filter((id) => !durableSet.has(id as number));
        console.log(
          `      ${name}: page loads ${final.loads}, ids used 1…${final.next - 1}, durable (saved() resolved) ${final.durable.length}, ` +
            `received ${log.ids.length}, lost ${lost.length}, out of order ${log.outOfOrder.length}, server-side duplicates ${log.duplicates.length}, ` +
            `received but not counted durable ${notCounted.length}`,
        );
        expect(final.loads, 'page loads').to.equal(RELOADS + 1);
        expect(final.errors, 'errors reported by the client').to.deep.equal([]);
        expect(durableAtReload.every((n, i) => n > (durableAtReload[i - 1] ?? 0)), `durable counts at each reload: ${durableAtReload}`).to.equal(true);
        expect(final.durable.at(-1), 'the last id is durable').to.equal(last);
        expect(lost, 'durable ids the server never logged').to.deep.equal([]);
        expect(log.outOfOrder, 'ids first received after a greater id').to.deep.equal([]);
      });

      it('close() resolves once the store committed what it dropped: a page that leaves then leaves nothing stored', async () => {
        const closeContext = await newContext(browser!);
        try {
          const page = await closeContext.newPage();
          const n = 200;
          const db = `persist-close-${name}`;
          await page.goto(pages.url('/pages/persist-close.html', { ws: `ws://127.0.0.1:${await unusedPort()}/`, db, n: String(n), phase: 'fill' }));
          // The fill page replaces itself with the check page once close() resolved.
          await page.waitForFunction('window.persistClose !== undefined', undefined, { timeout: 30_000 });
          const { events, stored } = (await page.evaluate('window.persistClose')) as { events: string[]; stored: number | string };
          console.log(`      ${name}: ${events.join(' · ')}; left in the store after leaving: ${stored}`);
          const at = (event: string) => events.indexOf(event);
          expect(at(`save ${n} committed`), 'the messages were stored before close()').to.be.within(0, at('stored'));
          expect(events, 'close() dropped them all').to.include(`close resolved, ${n} dropped`);
          expect(at('save 0 started'), 'close() saved the empty outbox').to.be.above(at('stored'));
          expect(at('save 0 committed'), 'that save committed before close() resolved').to.be.within(at('save 0 started'), at(`close resolved, ${n} dropped`));
          expect(stored, 'messages left in the store for the next client').to.equal(0);
        } finally {
          await closeContext.close();
        }
      });
    });
  }
});
