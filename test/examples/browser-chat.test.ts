// Keeps examples/browser-chat honest: its server must refuse foreign origins (403) and missing or
// bad tokens (401), accept the page's own origin with a fresh token, and broadcast; the page must
// chat in real browsers.
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import NodeWebSocket from 'ws';
import { BROWSERS, launchBrowser, newContext, type BrowserName } from '../browser/harness';
import { needTools } from '../support/tools';
import { Child, eventually, requireDist, within } from './support';

const SERVER = 'examples/browser-chat/server.mjs';

/** What a handshake attempt ended with: the HTTP status of a refusal, or an open socket. */
function handshake(url: string, origin?: string): Promise<{ status: number; socket?: NodeWebSocket }> {
  const socket = new NodeWebSocket(url, origin === undefined ? {} : { origin });
  return within(
    5000,
    `handshake with ${url}`,
    new Promise((resolve, reject) => {
      socket.once('unexpected-response', (_request, response) => {
        response.resume();
        socket.terminate();
        resolve({ status: response.statusCode ?? 0 });
      });
      socket.once('open', () => resolve({ status: 101, socket }));
      socket.on('error', (error) => {
        if (socket.readyState !== NodeWebSocket.CLOSED) reject(error);
      });
    }),
  );
}

/** Collects parsed messages of a client socket. */
function inbox(socket: NodeWebSocket): { type: string; from?: string; text: string }[] {
  const messages: { type: string; from?: string; text: string }[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  return messages;
}

describe('examples/browser-chat', function () {
  this.timeout(30_000);
  let server: Child;
  let base: string; // http://127.0.0.1:PORT
  const sockets: NodeWebSocket[] = [];

  /** Starts the example server (on `port`, or any free port) and reads its URL from the output. */
  async function startServer(port = 0): Promise<void> {
    server = new Child([SERVER], { env: { PORT: String(port) } });
    const [, url] = await server.waitFor(/open (http:\/\/127\.0\.0\.1:\d+)\/ /);
    base = url;
  }

  before(async () => {
    requireDist('steadysocket.min.js');
    await startServer();
  });

  after(async () => {
    for (const socket of sockets) socket.terminate();
    const exit = await server?.stop();
    expect(exit?.code, 'the server shuts down cleanly on SIGTERM').to.equal(0);
  });

  async function token(name: string): Promise<string> {
    const response = await within(5000, 'GET /token', fetch(`${base}/token?name=${encodeURIComponent(name)}`));
    expect(response.status).to.equal(200);
    expect(response.headers.get('cache-control')).to.equal('no-store');
    expect(response.headers.get('access-control-allow-origin'), 'no CORS: other sites must not read tokens').to.equal(null);
    const body = (await response.json()) as { token: string; name: string };
    expect(body.name).to.equal(name);
    return body.token;
  }

  const chat = (token?: string) => `${base.replace('http:', 'ws:')}/chat${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`;

  describe('the server', () => {
    it('serves the page and the script-tag bundle', async () => {
      const page = await fetch(`${base}/`);
      expect(page.status).to.equal(200);
      expect(await page.text()).to.include('<script src="/dist/steadysocket.min.js"></script>');
      const bundle = await fetch(`${base}/dist/steadysocket.min.js`);
      expect(bundle.status).to.equal(200);
      expect(bundle.headers.get('content-type')).to.match(/javascript/);
      expect(await bundle.text()).to.match(/^var SteadySocket=/);
    });

    it('refuses a foreign Origin with 403, even with a valid token', async () => {
      expect((await handshake(chat(await token('mallory')), 'http://evil.example')).status).to.equal(403);
      expect((await handshake(chat(await token('mallory')), 'null')).status).to.equal(403);
    });

    it('refuses a handshake without an Origin with 403', async () => {
      expect((await handshake(chat(await token('mallory')))).status).to.equal(403);
    });

    it('refuses a missing or bad token with 401', async () => {
      expect((await handshake(chat(), base)).status).to.equal(401);
      expect((await handshake(chat('not-a-token'), base)).status).to.equal(401);
    });

    it('accepts its own origin with a fresh token, once: tokens are single-use', async () => {
      const fresh = await token('alice');
      const first = await handshake(chat(fresh), base);
      expect(first.status).to.equal(101);
      sockets.push(first.socket!);
      expect((await handshake(chat(fresh), base)).status).to.equal(401);
    });

    it('broadcasts chat messages to every client, named by their tokens', async () => {
      const alice = await handshake(chat(await token('alice')), base);
      const bob = await handshake(chat(await token('bob')), base.replace('127.0.0.1', 'localhost'));
      expect([alice.status, bob.status]).to.deep.equal([101, 101]);
      sockets.push(alice.socket!, bob.socket!);
      const aliceGot = inbox(alice.socket!);
      const bobGot = inbox(bob.socket!);

      alice.socket!.send(JSON.stringify({ type: 'chat', text: 'hi bob', from: 'an impostor' }));
      const expected = { type: 'chat', from: 'alice', text: 'hi bob' };
      await eventually(5000, 'the broadcast', () => [aliceGot, bobGot].every((got) => got.some((m) => m.type === 'chat')));
      expect(bobGot.find((m) => m.type === 'chat')).to.include(expected);
      expect(aliceGot.find((m) => m.type === 'chat')).to.include(expected);
    });
  });

  describe('the page, in real browsers', function () {
    this.timeout(60_000); // page loads are slow on a loaded 2-core machine; every wait inside is bounded
    const browsers = new Map<BrowserName, Browser>();
    const contexts: BrowserContext[] = [];
    const consoles = new Map<Page, { name: string; log: string[] }>();
    const started = Date.now();

    before(async function () {
      needTools(this, ...BROWSERS);
      for (const name of BROWSERS) browsers.set(name, await launchBrowser(name));
    });

    afterEach(async () => {
      for (const context of contexts.splice(0)) await context.close();
    });

    after(async function () {
      this.timeout(30_000);
      for (const browser of browsers.values()) await browser.close();
    });

    /** Opens the chat as `name` in its own context (its own user) and waits until it is connected. */
    async function join(browser: BrowserName, name: string): Promise<Page> {
      const context = await newContext(browsers.get(browser)!);
      contexts.push(context);
      const page = await context.newPage();
      // The page logs errors and state changes; keep them for failure messages.
      const log: string[] = [];
      consoles.set(page, { name: `${browser} ${name}`, log });
      page.on('console', (message) => log.push(`${Date.now() - started} ms ${message.text()}`));
      page.on('pageerror', (error) => log.push(`${Date.now() - started} ms page error: ${error.message}`));
      await page.goto(`${base}/?name=${encodeURIComponent(name)}`);
      await page.waitForSelector('#status[data-state="open"]', { timeout: 10_000 });
      return page;
    }

    async function say(page: Page, text: string): Promise<void> {
      await page.fill('#text', text);
      await page.press('#text', 'Enter');
    }

    /** Waits until `page` shows a chat line from `from` with `text`. */
    async function sees(page: Page, from: string, text: string, timeout = 10_000): Promise<void> {
      const line = `${from}${text}`;
      await page
        .waitForFunction(
          `[...document.querySelectorAll('#messages li.chat')].some((li) => li.textContent === ${JSON.stringify(line)})`,
          undefined,
          { timeout },
        )
        .catch(async (error: Error) => {
          const pages = contexts.flatMap((context) => context.pages());
          const logs = await Promise.all(
            pages.map(async (other) => {
              const { name = '?', log = [] } = consoles.get(other) ?? {};
              return `${name} [${await other.textContent('#status')}]:\n  ${log.join('\n  ')}`;
            }),
          );
          throw new Error(`${error.message}\nthe page shows: ${await page.textContent('#messages')}\n${logs.join('\n')}`);
        });
    }

    for (const name of BROWSERS) {
      it(`lets two ${name} pages see each other's messages`, async () => {
        const alice = await join(name, `alice-${name}`);
        const bob = await join(name, `bob-${name}`);
        await say(alice, `hello bob, from ${name}`);
        await sees(bob, `alice-${name}`, `hello bob, from ${name}`);
        await sees(alice, `alice-${name}`, `hello bob, from ${name}`);
        await say(bob, 'hi alice');
        await sees(alice, `bob-${name}`, 'hi alice');
      });
    }

    it('lets a Chromium page and a Firefox page chat with each other', async () => {
      const carol = await join('chromium', 'carol');
      const dave = await join('firefox', 'dave');
      await say(carol, 'from chromium');
      await sees(dave, 'carol', 'from chromium');
      await say(dave, 'from firefox');
      await sees(carol, 'dave', 'from firefox');
    });

    // Last: restarts the server. Its tokens die with it, so the page only gets back in because the
    // URL function fetches a fresh token before every attempt. The chat keeps no history: the page
    // itself is the witness, as the server broadcasts each message to its sender too.
    for (const name of BROWSERS) {
      it(`keeps what a ${name} page typed while the server was down and sends it, in order, after the restart`, async function () {
        const erin = await join(name, `erin-${name}`);
        if ((await erin.evaluate('navigator.onLine')) === false) {
          // Chromium in a loopback-only network namespace (CI's `unshare --net`) reports
          // navigator.onLine === false, and steadysocket then holds every retry until an 'online'
          // event that never comes, even for a server on 127.0.0.1. Reported as an SDK issue;
          // delete this skip once the client retries loopback URLs while "offline".
          this.skip();
        }
        const port = Number(new URL(base).port);

        const exit = await server.stop();
        expect(exit.code).to.equal(0);
        await erin.waitForSelector('#status:not([data-state="open"])', { timeout: 5000 });
        await say(erin, 'typed while offline #1');
        await say(erin, 'typed while offline #2');
        expect(await erin.textContent('#status')).to.include('2 message(s) waiting to be sent');

        await startServer(port);
        await sees(erin, `erin-${name}`, 'typed while offline #2', 20_000);
        const lines = await erin.evaluate(
          `[...document.querySelectorAll('#messages li')].map((li) => li.textContent)`,
        );
        const afterRestart = (lines as string[]).slice((lines as string[]).lastIndexOf(`erin-${name} joined`));
        expect(afterRestart).to.deep.equal([
          `erin-${name} joined`,
          `erin-${name}typed while offline #1`,
          `erin-${name}typed while offline #2`,
        ]);
        await erin.waitForSelector('#status[data-state="open"]', { timeout: 5000 });
        expect(await erin.textContent('#status')).to.equal('open');
      });
    }
  });
});
