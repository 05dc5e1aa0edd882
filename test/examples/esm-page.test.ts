// Keeps examples/esm-page working: the import map resolves 'steadysocket' to the self-contained ESM
// build, and the page connects and gets its echoes in real browsers.
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import NodeWebSocket from 'ws';
import { BROWSERS, launchBrowser, newContext } from '../browser/harness';
import { needTools } from '../support/tools';
import { Child, requireDist, within } from './support';

const SERVER = 'examples/esm-page/server.mjs';

describe('examples/esm-page', function () {
  this.timeout(30_000);
  let server: Child;
  let base: string; // http://127.0.0.1:PORT

  before(async () => {
    requireDist('steadysocket.esm.min.js');
    server = new Child([SERVER], { env: { PORT: '0' } });
    const [, url] = await server.waitFor(/open (http:\/\/127\.0\.0\.1:\d+)\/$/m);
    base = url;
  });

  after(async () => {
    const exit = await server?.stop();
    expect(exit?.code, 'the server shuts down cleanly on SIGTERM').to.equal(0);
  });

  describe('the server', () => {
    it('serves the page with an import map and the self-contained ESM build', async () => {
      const page = await (await fetch(`${base}/`)).text();
      const map = page.match(/<script type="importmap">([\s\S]*?)<\/script>/);
      expect(map, 'an import map').to.not.equal(null);
      expect(JSON.parse(map![1])).to.deep.equal({ imports: { steadysocket: '/dist/steadysocket.esm.min.js' } });
      const bundle = await fetch(`${base}/dist/steadysocket.esm.min.js`);
      expect(bundle.headers.get('content-type')).to.match(/^text\/javascript/);
      const code = await bundle.text();
      expect(code, 'no imports: a browser could not resolve them').not.to.match(/(^|[;}\s])import\s*[{*\w'"]/);
      expect(code, 'exports SteadySocket (its class keeps its name in the minified build)').to.match(/export\s*\{(?:[^}]*,)?\s*(?:\w+ as )?SteadySocket\s*[,}]/);
    });

    it('echoes for its own origin and refuses others with 403', async () => {
      const echo = `${base.replace('http:', 'ws:')}/echo`;
      const status = (origin: string) =>
        within(
          5000,
          `handshake from ${origin}`,
          new Promise<number>((resolve, reject) => {
            const socket = new NodeWebSocket(echo, { origin });
            socket.on('unexpected-response', (_request, response) => {
              response.resume();
              socket.terminate();
              resolve(response.statusCode ?? 0);
            });
            socket.on('open', () => {
              socket.send('ping?');
              socket.once('message', (data) => {
                expect(String(data)).to.equal('ping?');
                socket.close();
                resolve(101);
              });
            });
            socket.on('error', (error) => {
              if (socket.readyState !== NodeWebSocket.CLOSED) reject(error);
            });
          }),
        );
      expect(await status('http://evil.example')).to.equal(403);
      expect(await status(base)).to.equal(101);
    });
  });

  for (const name of BROWSERS) {
    describe(`the page, in ${name}`, function () {
      this.timeout(60_000); // every wait inside is bounded
      let browser: Browser | undefined;
      let context: BrowserContext | undefined;
      let page: Page;
      const problems: string[] = [];

      before(async function () {
        needTools(this, name);
        browser = await launchBrowser(name);
        context = await newContext(browser);
        page = await context.newPage();
        page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
        page.on('console', (message) => {
          if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
        });
        await page.goto(`${base}/`);
      });

      after(async () => {
        await context?.close();
        await browser?.close();
      });

      /** The page's log lines (state changes, echoes, deliveries). */
      const log = async () => (await page.locator('#log li').allTextContents()) as string[];

      it('imports steadysocket through the import map, connects, and gets its queued messages echoed in order', async () => {
        await page
          .waitForFunction(`document.getElementById('result').textContent !== 'pending'`, undefined, { timeout: 15_000 })
          .catch(async (error: Error) => {
            throw new Error(`${error.message}\n${problems.join('\n')}\npage log:\n${(await log()).join('\n')}`);
          });
        const result = JSON.parse((await page.textContent('#result'))!);
        expect(result).to.deep.equal({
          opened: true,
          state: 'open',
          echoes: [1, 2, 3].map((n) => ({ n, text: `hello #${n}` })),
          errors: [],
          messagesOut: 3,
        });
        const lines = await log();
        expect(lines[0]).to.equal('queued 3 messages while connecting');
        expect(lines).to.include('state connecting → open');
        expect(problems).to.deep.equal([]);
      });

      it('delivers what is typed into the form and shows the echo', async () => {
        await page.fill('#text', `typed in ${name}`);
        await page.press('#text', 'Enter');
        await page.waitForFunction(
          `[...document.querySelectorAll('#log li')].some((li) => li.textContent === ${JSON.stringify(`echo: {"text":"typed in ${name}"}`)})`,
          undefined,
          { timeout: 10_000 },
        );
        expect(await log()).to.include(`delivered "typed in ${name}"`);
      });

      it('reconnects when the Reconnect button is pressed and keeps echoing', async () => {
        await page.click('#reconnect');
        await page.waitForFunction(
          `[...document.querySelectorAll('#log li')].filter((li) => li.textContent === 'state connecting → open').length === 2`,
          undefined,
          { timeout: 10_000 },
        );
        const lines = await log();
        expect(lines.slice(lines.indexOf('state open → closing'))).to.deep.equal([
          'state open → closing',
          'state closing → connecting',
          'state connecting → open',
        ]);
        await page.fill('#text', 'after the reconnect');
        await page.press('#text', 'Enter');
        await page.waitForFunction(
          `[...document.querySelectorAll('#log li')].some((li) => li.textContent === 'echo: {"text":"after the reconnect"}')`,
          undefined,
          { timeout: 10_000 },
        );
        expect(problems).to.deep.equal([]);
      });
    });
  }
});
