#!/usr/bin/env node
// Regenerates the two pictures of docs/guide.md from their sources, so neither can drift:
//
//   docs/states.svg   the ```mermaid stateDiagram block of docs/guide.md, rendered by the `mermaid`
//                     package inside headless Chromium (Debian's /usr/bin/chromium, driven by
//                     playwright-core; nothing is downloaded, nothing leaves loopback)
//   docs/backoff.svg  the reconnect delay per attempt: the cap line and the full-jitter band
//                     [0, cap], computed with the real `backoffDelay` of dist/index.js and the real
//                     defaults of src/options.ts (`resolveOptions({})`, loaded through tsx)
//
// Run:  npm run docs:diagrams          (builds dist/ first)
//       node --import tsx scripts/render-diagrams.mjs [--png]   (dist/ must be built)
//
// --png also writes PNG screenshots of both SVGs into a temporary directory, to look at them.
// CHROMIUM_PATH overrides the browser binary.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CHROMIUM_ARGS } from '../test/browser/chromium-args.mjs';
import { mulberry32 } from '../test/support/model.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const docs = join(root, 'docs');
const require = createRequire(import.meta.url);

// ------------------------------------------------------------------------------- state diagram

/** The one ```mermaid block of the guide that holds a stateDiagram. */
export function mermaidSource(markdown) {
  const blocks = [...markdown.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  const states = blocks.filter((block) => /^\s*stateDiagram/.test(block));
  if (states.length !== 1) throw new Error(`docs/guide.md must hold exactly one mermaid stateDiagram block, found ${states.length}`);
  return states[0];
}

function chromiumPath() {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(`Chromium not found at ${path}: apt-get install -y --no-install-recommends chromium, or set CHROMIUM_PATH.`);
  }
  return path;
}

async function renderMermaid(page, source) {
  await page.setContent('<!doctype html><html><body></body></html>');
  await page.addScriptTag({ path: require.resolve('mermaid/dist/mermaid.min.js') });
  const svg = await page.evaluate(async (text) => {
    const mermaid = globalThis.mermaid;
    mermaid.initialize({
      startOnLoad: false,
      securityLevel: 'strict',
      theme: 'neutral',
      // Plain SVG <text> labels (no <foreignObject>), so the file renders in an <img> anywhere.
      htmlLabels: false,
      fontFamily: 'Helvetica, Arial, sans-serif',
      state: { htmlLabels: false },
    });
    const { svg } = await mermaid.render('steadysocket-states', text);
    return svg;
  }, source);
  // A fixed size from the viewBox (mermaid writes width="100%" and a max-width style, which
  // makes the file render at the wrong size on its own) and an opaque background: the theme's
  // text is dark, and a dark page around the image would hide it.
  const box = /viewBox="([\d.\s-]+)"/.exec(svg);
  if (!box) throw new Error('mermaid produced an SVG without a viewBox');
  const [, , w, h] = box[1].trim().split(/\s+/).map(Number);
  return svg
    .replace(/^<svg([^>]*?) width="100%"/, `<svg$1 width="${Math.ceil(w)}" height="${Math.ceil(h)}"`)
    .replace(/^<svg([^>]*?) style="[^"]*"/, '<svg$1 style="background-color: white"');
}

// ------------------------------------------------------------------------------- backoff plot


const seconds = (ms) => `${Number((ms / 1000).toFixed(1))} s`;

/**
 * The delay schedule as SVG: for each attempt the full-jitter band [lowest, highest] that
 * `backoffDelay` can return, the cap line (the highest), sample delays, and the maxDelay line.
 */
export function backoffSvg(backoffDelay, policy, attempts = 10) {
  const { minDelay, maxDelay, factor, jitter } = policy;
  const rows = [];
  const random = mulberry32(6455); // seeded, so the sample dots do not change between runs
  for (let attempt = 1; attempt <= attempts; attempt++) {
    // random() is in [0, 1): 0 gives the top of the band, the largest double below 1 the bottom.
    const high = backoffDelay(attempt, policy, () => 0);
    const low = backoffDelay(attempt, policy, () => 1 - Number.EPSILON / 2);
    const samples = Array.from({ length: 24 }, () => backoffDelay(attempt, policy, random));
    rows.push({ attempt, low, high, samples });
  }

  const width = 760;
  const height = 440;
  const left = 70;
  const right = 30;
  const top = 90;
  const bottom = 62;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const yMax = Math.ceil((maxDelay * 1.1) / 5000) * 5000;
  const step = plotW / attempts;
  const x = (attempt) => left + (attempt - 0.5) * step;
  const y = (ms) => top + plotH - (ms / yMax) * plotH;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"` +
      ` role="img" aria-labelledby="title desc" font-family="Helvetica, Arial, sans-serif" font-size="12"` +
      ` data-min-delay="${minDelay}" data-max-delay="${maxDelay}" data-factor="${factor}" data-jitter="${jitter}">`,
  );
  out.push(`<title id="title">steadysocket reconnect delay per attempt</title>`);
  out.push(
    `<desc id="desc">Delay before each retry with minDelay ${minDelay}, maxDelay ${maxDelay}, factor ${factor}, jitter ${jitter}: ` +
      rows.map((r) => `attempt ${r.attempt}: ${r.low} to ${r.high} ms`).join('; ') +
      '.</desc>',
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold" fill="#222">Reconnect delay per attempt (defaults)</text>`,
  );
  out.push(
    `<text x="${width / 2}" y="44" text-anchor="middle" fill="#555">minDelay ${minDelay} · maxDelay ${maxDelay} · factor ${factor} · jitter ${jitter} (full jitter: uniform in [0, cap])</text>`,
  );

  // Grid and y axis.
  for (let ms = 0; ms <= yMax; ms += 5000) {
    out.push(`<line x1="${left}" y1="${y(ms)}" x2="${width - right}" y2="${y(ms)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${left - 8}" y="${y(ms) + 4}" text-anchor="end" fill="#444">${ms / 1000} s</text>`);
  }
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#888"/>`);
  out.push(`<line x1="${left}" y1="${top + plotH}" x2="${width - right}" y2="${top + plotH}" stroke="#888"/>`);
  out.push(
    `<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#222">wait before the attempt</text>`,
  );
  out.push(`<text x="${left + plotW / 2}" y="${height - 18}" text-anchor="middle" fill="#222">retry attempt (CloseInfo.attempt)</text>`);

  // The jitter band: one bar per attempt from the lowest to the highest possible delay.
  const bar = step * 0.56;
  for (const r of rows) {
    out.push(
      `<rect class="band" data-attempt="${r.attempt}" data-low="${r.low}" data-high="${r.high}" x="${(x(r.attempt) - bar / 2).toFixed(1)}" y="${y(r.high).toFixed(1)}" width="${bar.toFixed(1)}" height="${(y(r.low) - y(r.high)).toFixed(1)}" fill="#9ecae1" fill-opacity="0.55" stroke="#6baed6"/>`,
    );
    out.push(`<text x="${x(r.attempt)}" y="${top + plotH + 18}" text-anchor="middle" fill="#444">${r.attempt}</text>`);
  }
  // maxDelay.
  out.push(
    `<line x1="${left}" y1="${y(maxDelay)}" x2="${width - right}" y2="${y(maxDelay)}" stroke="#d62728" stroke-dasharray="6 4"/>`,
  );
  out.push(`<text x="${left + 6}" y="${y(maxDelay) - 6}" fill="#d62728">maxDelay ${seconds(maxDelay)}</text>`);
  // Sample delays.
  for (const r of rows) {
    r.samples.forEach((ms, i) => {
      const dx = ((i % 6) - 2.5) * (bar / 7);
      out.push(`<circle cx="${(x(r.attempt) + dx).toFixed(1)}" cy="${y(ms).toFixed(1)}" r="2.2" fill="#08519c" fill-opacity="0.7"/>`);
    });
  }
  // The cap line through the top of every band.
  const path = rows.map((r, i) => `${i ? 'L' : 'M'}${x(r.attempt).toFixed(1)} ${y(r.high).toFixed(1)}`).join(' ');
  out.push(`<path d="${path}" fill="none" stroke="#08306b" stroke-width="2"/>`);
  for (const r of rows) {
    out.push(`<circle cx="${x(r.attempt).toFixed(1)}" cy="${y(r.high).toFixed(1)}" r="3.5" fill="#08306b"/>`);
    out.push(`<text x="${x(r.attempt)}" y="${(y(r.high) - 9).toFixed(1)}" text-anchor="middle" fill="#08306b" font-size="11">${seconds(r.high)}</text>`);
  }

  // Legend: one row between the subtitle and the plot.
  const ly = 66;
  let lx = left + 10;
  out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="#08306b" stroke-width="2"/>`);
  out.push(`<circle cx="${lx + 12}" cy="${ly}" r="3.5" fill="#08306b"/>`);
  out.push(`<text x="${lx + 30}" y="${ly + 4}" fill="#222">cap = min(maxDelay, minDelay × factor^(n−1))</text>`);
  lx += 340;
  out.push(`<rect x="${lx}" y="${ly - 6}" width="24" height="12" fill="#9ecae1" fill-opacity="0.55" stroke="#6baed6"/>`);
  out.push(`<text x="${lx + 30}" y="${ly + 4}" fill="#222">the wait: uniform in [0, cap]</text>`);
  lx += 205;
  out.push(`<circle cx="${lx + 12}" cy="${ly}" r="2.5" fill="#08519c"/>`);
  out.push(`<text x="${lx + 22}" y="${ly + 4}" fill="#222">sample waits</text>`);
  out.push('</svg>');
  // Built from numbers and fixed text only: nothing to escape.
  return `${out.join('\n')}\n`;
}

// ------------------------------------------------------------------------------- main

async function screenshot(page, svgPath, pngPath) {
  const svg = readFileSync(svgPath, 'utf8');
  await page.setContent(`<!doctype html><html><body style="margin:0;background:#fff">${svg}</body></html>`);
  const box = await page.locator('svg').first().boundingBox();
  await page.screenshot({ path: pngPath, clip: { x: 0, y: 0, width: Math.ceil(box.width), height: Math.ceil(box.height) } });
}

async function main() {
  const png = process.argv.includes('--png');
  const distIndex = join(root, 'dist', 'index.js');
  if (!existsSync(distIndex)) throw new Error('dist/index.js is missing: run `npx rollup -c` (or `npm run build`) first.');
  const { backoffDelay } = await import(pathToFileURL(distIndex).href);
  let resolveOptions;
  try {
    ({ resolveOptions } = await import(pathToFileURL(join(root, 'src', 'options.ts')).href));
  } catch (error) {
    throw new Error(`Could not load src/options.ts (run this script with \`node --import tsx\`): ${error.message}`);
  }
  const defaults = resolveOptions({});
  const policy = { minDelay: defaults.minDelay, maxDelay: defaults.maxDelay, factor: defaults.factor, jitter: defaults.jitter };
  writeFileSync(join(docs, 'backoff.svg'), backoffSvg(backoffDelay, policy));
  console.log(`wrote docs/backoff.svg (${JSON.stringify(policy)})`);

  const source = mermaidSource(readFileSync(join(docs, 'guide.md'), 'utf8'));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    const svg = await renderMermaid(page, source);
    writeFileSync(join(docs, 'states.svg'), `${svg}\n`);
    console.log('wrote docs/states.svg');
    if (png) {
      const preview = mkdtempSync(join(tmpdir(), 'steadysocket-diagrams-'));
      await page.setViewportSize({ width: 1400, height: 1000 });
      for (const name of ['states', 'backoff']) {
        await screenshot(page, join(docs, `${name}.svg`), join(preview, `${name}.png`));
        console.log(`wrote ${join(preview, `${name}.png`)}`);
      }
    }
  } finally {
    await browser.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
}
