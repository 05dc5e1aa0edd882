// Review 3 (a browser developer's view): the built bundles in real Chromium and Firefox against a
// real ws server on loopback. Browser-side code is passed to page.evaluate as a string (tsx
// rewrites functions), and reports plain JSON.
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { BROWSERS, distDir, startPageServer, useBrowser, type PageServer } from './harness';

/** A ws server on 127.0.0.1 that records every message per connection (binary as `hex:<bytes>`). */
interface RecordingServer {
  url: string;
  connections: { messages: string[]; socket: ServerSocket }[];
  close(): Promise<void>;
}

async function startRecordingServer(): Promise<RecordingServer> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  const connections: RecordingServer['connections'] = [];
  wss.on('connection', (socket) => {
    const record = { messages: [] as string[], socket };
    connections.push(record);
    socket.on('message', (data: Buffer, isBinary) => {
      record.messages.push(isBinary ? `hex:${data.toString('hex')}` : data.toString());
      // Asked for a binary frame holding JSON (as text, the codec json() encodes it as a string).
      if (!isBinary && data.toString() === 'send-binary-json') socket.send(Buffer.from('{"a":1}'), { binary: true });
      else if (!isBinary && data.toString() === '"send-binary-json"') socket.send(Buffer.from('{"a":1}'), { binary: true });
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((ready) => http.listen(0, '127.0.0.1', () => ready()));
  return {
    url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`,
    connections,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((done) => wss.close(() => done()));
      await new Promise<void>((done) => {
        http.close(() => done());
        http.closeAllConnections();
      });
    },
  };
}

/**
 * Serves one page and the full script-tag bundle with COOP/COEP, so that the page is
 * cross-origin isolated and has SharedArrayBuffer (the harness's page server sends no such headers).
 */
async function startIsolatedPageServer(): Promise<{ url: string; close(): Promise<void> }> {
  const isolation = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cache-control': 'no-store' };
  const server: Server = createServer((req, res) => {
    if (req.url === '/steadysocket.min.js') {
      readFile(resolve(distDir, 'steadysocket.min.js')).then(
        (body) => {
          res.writeHead(200, { ...isolation, 'content-type': 'text/javascript; charset=utf-8' });
          res.end(body);
        },
        () => {
          res.writeHead(404);
          res.end('run `npm run build`');
        },
      );
      return;
    }
    res.writeHead(200, { ...isolation, 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script src="/steadysocket.min.js"></script>');
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', () => ready()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

/** Runs `body` (the text of an async function body with `WS`, the server's URL, in scope) in the page. */
function run<T>(page: Page, ws: string, body: string): Promise<T> {
  return page.evaluate(`(async (WS) => {\n${body}\n})(${JSON.stringify(ws)})`) as Promise<T>;
}

/** Page-side helpers every snippet may use (bounded waits only). */
const HELPERS = `
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  const opened = (c) => new Promise((r, j) => { c.once('open', r); setTimeout(() => j(new Error('no open within 5 s')), 5000); });
  const within = (p, ms, what) => Promise.race([p, wait(ms).then(() => { throw new Error(what + ' did not settle within ' + ms + ' ms'); })]);
`;

describe('review 3: a browser developer against the built bundles (real browsers, real ws server)', function () {
  this.timeout(30_000);
  let pages: PageServer;
  let server: RecordingServer;

  before(async () => {
    pages = await startPageServer();
    server = await startRecordingServer();
  });

  after(async () => {
    await server?.close();
    await pages?.close();
  });

  for (const name of BROWSERS) {
    describe(name, () => {
      const session = useBrowser(name);

      async function scriptTagPage(): Promise<Page> {
        const page = await (await session.newContext()).newPage();
        await page.goto(pages.url('/pages/smoke.html'));
        await page.addScriptTag({ url: pages.url('/dist/steadysocket.min.js') });
        return page;
      }

      it('a binary message that waits is sent with the bytes it had at send(): its buffer reused or transferred meanwhile changes nothing, and a view sends only its own bytes', async () => {
        const page = await scriptTagPage();
        const before = server.connections.length;
        const outcome = await run<{ settled: string[]; queued: number }>(
          page,
          server.url,
          `${HELPERS}
          const c = new SteadySocket(WS);
          const settled = [];
          const track = (label, p) => p.then(() => settled.push(label + ' delivered'), (e) => settled.push(label + ' ' + e.code));
          const scratch = new Uint8Array([0xa1, 0xa2]);
          c.send(scratch);
          scratch.set([0xff, 0xff]);                            // the app refills its buffer at once
          const transferred = new Uint8Array([0xb1, 0xb2, 0xb3]).buffer;
          track('transferred', c.deliver(transferred));
          structuredClone(transferred, { transfer: [transferred] }); // handed to a worker, say
          const big = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
          c.send(new Uint16Array(big.buffer, 2, 2));            // bytes 2..5 only
          c.send(new DataView(big.buffer, 7, 2));               // bytes 7..8 only
          big.fill(0xee);
          const queued = c.queued.length;
          await opened(c);
          await within(c.flushed(), 3000, 'flushed()');
          await c.close();
          return { settled, queued };
          `,
        );
        expect(outcome).to.deep.equal({ settled: ['transferred delivered'], queued: 4 });
        expect(server.connections.length).to.equal(before + 1);
        expect(server.connections.at(-1)!.messages, 'what the server received').to.deep.equal(['hex:a1a2', 'hex:b1b2b3', 'hex:02030405', 'hex:0708']);
      });

      it("binaryType 'nodebuffer' (ws's, in code shared with Node) delivers ArrayBuffers in a browser, which json() decodes, not the browser's Blobs", async () => {
        const page = await scriptTagPage();
        const outcome = await run<string[]>(
          page,
          server.url,
          `${HELPERS}
          const events = [];
          for (const binaryType of ['nodebuffer', 'arraybuffer']) {
            const raw = new SteadySocket(WS, { binaryType });
            const decoded = new SteadySocket(WS, { binaryType, codec: SteadySocket.json() });
            raw.on('message', (m) => events.push(binaryType + ' raw ' + Object.prototype.toString.call(m)));
            decoded.on('message', (m) => events.push(binaryType + ' json ' + JSON.stringify(m)));
            decoded.on('error', (e) => events.push(binaryType + ' json ' + e.code));
            await Promise.all([opened(raw), opened(decoded)]);
            const seen = (n) => within((async () => { while (events.length < n) await wait(10); })(), 3000, 'message ' + n);
            raw.send('send-binary-json');
            await seen(events.length + 1);
            decoded.send('send-binary-json');
            await seen(events.length + 1);
            await Promise.all([raw.close(), decoded.close()]);
          }
          return events;
          `,
        );
        expect(outcome).to.deep.equal([
          'nodebuffer raw [object ArrayBuffer]',
          'nodebuffer json {"a":1}',
          'arraybuffer raw [object ArrayBuffer]',
          'arraybuffer json {"a":1}',
        ]);
      });

      it('a view onto shared memory that waited is sent, the open event comes and deliver() settles (browsers refuse shared memory in WebSocket.send)', async () => {
        const isolated = await startIsolatedPageServer();
        try {
          const page = await (await session.newContext()).newPage();
          const errors: string[] = [];
          page.on('pageerror', (error) => errors.push(error.message));
          await page.goto(isolated.url);
          const before = server.connections.length;
          const outcome = await run<{ isolated: boolean; events: string[] }>(
            page,
            server.url,
            `${HELPERS}
            const memory = new Uint8Array(new SharedArrayBuffer(8));
            memory.set([1, 2, 3, 4, 5, 6, 7, 8]);
            const c = new SteadySocket(WS);
            const events = [];
            c.on('open', () => events.push('open'));
            c.on('drop', (d) => events.push('drop ' + d.reason));
            const delivered = c.deliver(new Uint8Array(memory.buffer, 2, 3)).then(() => events.push('delivered'), (e) => events.push('rejected ' + e.code));
            await wait(1000);
            await within(delivered, 3000, 'deliver()');
            await c.close();
            return { isolated: self.crossOriginIsolated, events };
            `,
          );
          expect(outcome).to.deep.equal({ isolated: true, events: ['open', 'delivered'] });
          expect(errors, 'uncaught errors in the page').to.deep.equal([]);
          expect(server.connections.at(-1)!.messages).to.deep.equal(['hex:030405']);
          expect(server.connections.length).to.equal(before + 1);
        } finally {
          await isolated.close();
        }
      });
    });
  }
});
