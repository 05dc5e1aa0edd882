// Chromium (Debian's, driven over bare CDP: see cdp.mjs) and the loopback HTTP server its pages load from.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname } from 'node:path';
import { CHROMIUM_ARGS } from '../../test/browser/chromium-args.mjs';
import { launch } from './cdp.mjs';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript' };

// The loopback-only flags the tests use, plus no throttling of a page that never gets focus.
const ARGS = [
  ...CHROMIUM_ARGS,
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

export function chromiumPath() {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  return existsSync(path) ? path : undefined;
}

/** Serves exactly the files the bench pages need, from `files` (URL path → file path). */
export async function startPageServer(files) {
  const server = createServer(async (request, response) => {
    const path = new URL(request.url, 'http://127.0.0.1').pathname;
    const file = files[path];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      response.end(body);
    } catch {
      response.writeHead(500).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

export async function launchChromium(executablePath) {
  return launch(executablePath, ARGS);
}

const metric = (result, name) => result.metrics.find((m) => m.name === name)?.value ?? NaN;

/**
 * One round in a fresh browser context and page: a socket per client (`ids`: 'native2' is a second
 * native socket, the A/A control), each warmed up, then each measured in the given order —
 * `total` pipelined echoes between two readings of the renderer's metrics (ThreadTime is the
 * main thread's CPU time). Returns { [id]: result }.
 */
export async function measureRound(browser, { origin, ids, url, total, warmup, window }) {
  const page = await browser.newPage(`${origin}/bench/browser/page.html`);
  try {
    await page.waitFor('globalThis.bench !== undefined');
    await page.send('Performance.enable', { timeDomain: 'threadTicks' });
    for (const id of ids) {
      await page.evaluate(`globalThis.bench.connect(${JSON.stringify(id)}, ${JSON.stringify(id.replace(/2$/, ''))}, ${JSON.stringify(url)})`);
    }
    for (const id of ids) await page.evaluate(`globalThis.bench.run(${JSON.stringify(id)}, ${warmup}, ${window})`);
    const results = {};
    for (const id of ids) {
      const before = await page.send('Performance.getMetrics');
      const run = await page.evaluate(`globalThis.bench.run(${JSON.stringify(id)}, ${total}, ${window})`);
      const after = await page.send('Performance.getMetrics');
      if (run.bytes !== total * 32) throw new Error(`${id}: expected ${total * 32} bytes back, got ${run.bytes}`);
      const delta = (name) => ((metric(after, name) - metric(before, name)) * 1e6) / total; // µs per message
      results[id] = {
        rate: total / (run.wallMs / 1000),
        cpuPerMsg: delta('ThreadTime'),
        taskPerMsg: delta('TaskDuration'),
        scriptPerMsg: delta('ScriptDuration'),
        wallMs: run.wallMs,
      };
    }
    await page.evaluate('globalThis.bench.close()');
    return results;
  } finally {
    await page.dispose();
  }
}
