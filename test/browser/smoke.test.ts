import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { startEchoServer, type EchoServer } from '../support/servers';
import { BROWSERS, startPageServer, useBrowser, type PageServer } from './harness';

// Proves the harness itself in every browser: the page server, a native WebSocket from the page
// to a ws server in this process, results both by page.evaluate and by POST, and offline emulation.
describe('browser harness', () => {
  let pages: PageServer;
  let echo: EchoServer;

  before(async () => {
    pages = await startPageServer();
    echo = await startEchoServer();
  });

  after(async () => {
    await echo?.close();
    await pages?.close();
  });

  for (const name of BROWSERS) {
    describe(name, () => {
      const session = useBrowser(name);
      let page: Page;

      beforeEach(async () => {
        page = await (await session.newContext()).newPage();
        await page.goto(pages.url('/pages/smoke.html'));
      });

      it('serves a page whose native WebSocket gets its message echoed by a ws server on loopback', async () => {
        const before = echo.connections.length;
        const reply = await page.evaluate(([url, text]) => (window as any).smoke.echo(url, text), [echo.url, 'hello']);
        expect(reply).to.equal('hello');
        expect(echo.connections.length).to.equal(before + 1);
        expect(echo.connections.at(-1)!.messages).to.deep.equal(['hello']);
      });

      it('receives what a page POSTs to /report/<key>', async () => {
        const key = `${name}-report`;
        const status = await page.evaluate(([k]) => (window as any).smoke.report(k, { from: 'page', n: 1 }), [key]);
        expect(status).to.equal(204);
        expect(await pages.report(key, 2000)).to.deep.equal({ from: 'page', n: 1 });
      });

      it('serves the built IIFE bundle under /dist/ and it defines the SteadySocket global', async () => {
        await page.addScriptTag({ url: pages.url('/dist/steadysocket.min.js') });
        const shape = await page.evaluate(
          '({ type: typeof SteadySocket, self: typeof SteadySocket === "function" && SteadySocket.SteadySocket === SteadySocket })',
        );
        expect(shape).to.deep.equal({ type: 'function', self: true });
      });

      it('flips navigator.onLine and fires offline/online with context.setOffline', async () => {
        expect(await page.evaluate('navigator.onLine')).to.equal(true);
        await session.context.setOffline(true);
        expect(await page.evaluate('navigator.onLine')).to.equal(false);
        await session.context.setOffline(false);
        expect(await page.evaluate('navigator.onLine')).to.equal(true);
        await page.waitForFunction('window.smoke.connectivity.length >= 2', undefined, { timeout: 5000 });
        expect(await page.evaluate('window.smoke.connectivity')).to.deep.equal([
          { type: 'offline', onLine: false },
          { type: 'online', onLine: true },
        ]);
      });
    });
  }
});
