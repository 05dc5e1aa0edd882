// Builds every artefact in dist/:
//   index.js / index.cjs           Node ESM and CJS (ws through isomorphic-ws, kept external)
//   index.browser.js               ESM for bundlers' `browser` condition: never imports ws
//   steadysocket.min.js            minified IIFE for <script> tags, global `SteadySocket`
//   steadysocket.esm.min.js        minified self-contained ESM for <script type="module"> / import maps
//   node.js / node.cjs             Node-only helpers (steadysocket/node)
//   cli.js                         the `steadysocket` command
//   *.d.ts / *.d.cts               bundled type declarations for ESM and CJS consumers
import typescript from '@rollup/plugin-typescript';
import terser from '@rollup/plugin-terser';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';
import { dts } from 'rollup-plugin-dts';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const nodeExternal = (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0');
const ts = (target = 'ES2020') =>
  typescript({ tsconfig: './tsconfig.json', target, declaration: false, outDir: undefined, rootDir: undefined });

// Private members are named `_camelCase`; mangling them is safe inside one bundle as long as
// they are only reached as `obj._name` or `obj['_name']`. `__esModule` and ws's `_socket` must
// keep their names, and so must the client's timer slots: `_arm(slot)` reaches them through a
// string argument (`this[slot]`), which terser cannot see (test/integration/timers-in-builds).
const terserOptions = {
  ecma: 2020,
  compress: { passes: 2 },
  // A console shows an instance by its class's name: `SteadySocket {…}`, not a mangled `lt {…}`.
  keep_classnames: /^SteadySocket(?:Error)?$/,
  mangle: {
    properties: {
      regex: /^_[a-z]/,
      reserved: ['_socket', '_stateTimer', '_drainTimer'],
    },
  },
};

/**
 * Shortens the internal `_camelCase` members in the browser ESM build: a web app's bundler
 * minifies our code but keeps property names, and the internal ones are most of the client's
 * bytes that minification cannot reach (≈ 300 B gzip). Every occurrence in the chunk is renamed
 * consistently, string literals included (`_arm` reaches timer slots by name). eventemitter3's
 * members (`_events`, `_eventsCount`) and ws's (`_socket`) keep theirs. dist/index.js (Node)
 * keeps the readable names.
 */
const SHORTEN_KEEP = new Set(['_events', '_eventsCount', '_socket']);
const shortenInternalNames = {
  name: 'shorten-internal-names',
  renderChunk(code) {
    const counts = new Map();
    for (const [name] of code.matchAll(/\b_[a-z][A-Za-z0-9]*\b/g)) if (!SHORTEN_KEEP.has(name)) counts.set(name, (counts.get(name) ?? 0) + 1);
    const taken = new Set(code.match(/\b_[A-Za-z0-9]{1,2}\b/g) ?? []);
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const short = [];
    for (const a of alphabet) short.push(`_${a}`);
    for (const a of alphabet) for (const b of alphabet + '0123456789') short.push(`_${a}${b}`);
    const free = short.filter((name) => !taken.has(name));
    const names = [...counts.keys()].sort((a, b) => counts.get(b) - counts.get(a));
    if (names.length > free.length) throw new Error('shorten-internal-names: too many names');
    const map = new Map(names.map((name, i) => [name, free[i]]));
    return { code: code.replace(/\b_[a-z][A-Za-z0-9]*\b/g, (name) => map.get(name) ?? name), map: null };
  },
};

const hasCli = existsSync('src/cli/main.ts');

// Browser builds take platform.browser.ts for platform.ts: what only ws can do stays out.
const browserPlatform = {
  name: 'browser-platform',
  resolveId(source, importer) {
    if (importer && /[\\/]src[\\/]/.test(importer) && /^\.\.?\/(?:\.\.\/)?platform$/.test(source)) {
      return fileURLToPath(new URL(`./src/platform.browser.ts`, import.meta.url));
    }
    return null;
  },
};
const browser = () => [browserPlatform, nodeResolve({ browser: true })];

// The CLI is a user of the package: it imports the built entries instead of inlining a copy.
const useBuiltEntries = {
  name: 'use-built-entries',
  resolveId(source, importer) {
    if (importer && /[\\/]src[\\/]cli[\\/]/.test(importer)) {
      if (source === '../index') return { id: './index.js', external: true };
      if (source === '../node') return { id: './node.js', external: true };
    }
    return null;
  },
};
const hasNode = existsSync('src/node.ts');

// steadysocket/node throws the main entry's SteadySocketError (one class: instanceof and
// isSteadySocketError hold across entries), so its errors module comes from the built index.
const MAIN = 'steadysocket-main-entry';
const errorsFromMain = {
  name: 'errors-from-main',
  resolveId(source, importer) {
    if (importer && /[\\/]src[\\/]/.test(importer) && /^\.\.?\/(?:\.\.\/)?errors$/.test(source)) return { id: MAIN, external: true };
    return null;
  },
};

export default [
  {
    input: 'src/index.ts',
    external: nodeExternal,
    plugins: [ts()],
    output: [
      { file: 'dist/index.js', format: 'es' },
      { file: 'dist/index.cjs', format: 'cjs', exports: 'named', interop: 'auto' },
    ],
  },
  {
    // The browser build takes the global WebSocket itself (platform.browser.ts): no isomorphic-ws.
    input: 'src/index.ts',
    external: ['eventemitter3'],
    plugins: [...browser(), ts()],
    output: { file: 'dist/index.browser.js', format: 'es', plugins: [shortenInternalNames] },
  },
  {
    input: 'src/index.ts',
    plugins: [...browser(), commonjs(), ts()],
    output: [
      {
        file: 'dist/steadysocket.min.js',
        format: 'iife',
        name: 'SteadySocket',
        exports: 'named',
        // `new SteadySocket(url)` reads naturally; the other named exports hang off the class.
        footer: 'SteadySocket=Object.assign(SteadySocket.SteadySocket,SteadySocket);',
        plugins: [terser(terserOptions)],
      },
      { file: 'dist/steadysocket.esm.min.js', format: 'es', plugins: [terser(terserOptions)] },
    ],
  },
  {
    // The core alone, for script-tag users who want the small one (no features).
    input: 'src/core.ts',
    plugins: [...browser(), commonjs(), ts()],
    output: {
      file: 'dist/steadysocket.core.min.js',
      format: 'iife',
      name: 'SteadySocket',
      exports: 'named',
      footer: 'SteadySocket=Object.assign(SteadySocket.SteadySocket,SteadySocket);',
      plugins: [terser(terserOptions)],
    },
  },
  ...(hasNode
    ? [
        {
          input: 'src/node.ts',
          external: nodeExternal,
          plugins: [errorsFromMain, ts()],
          output: [
            { file: 'dist/node.js', format: 'es', paths: { [MAIN]: './index.js' } },
            { file: 'dist/node.cjs', format: 'cjs', exports: 'named', interop: 'auto', paths: { [MAIN]: './index.cjs' } },
          ],
        },
      ]
    : []),
  ...(hasCli
    ? [
        {
          input: 'src/cli/main.ts',
          external: nodeExternal,
          plugins: [useBuiltEntries, ts()],
          output: { file: 'dist/cli.js', format: 'es', banner: '#!/usr/bin/env node' },
        },
      ]
    : []),
  {
    input: 'src/index.ts',
    plugins: [dts({ tsconfig: './tsconfig.json' })],
    output: [
      { file: 'dist/index.d.ts', format: 'es' },
      { file: 'dist/index.d.cts', format: 'es' },
    ],
  },
  ...(hasNode
    ? [
        {
          input: 'src/node.ts',
          external: nodeExternal,
          plugins: [dts({ tsconfig: './tsconfig.json' })],
          output: [
            { file: 'dist/node.d.ts', format: 'es' },
            { file: 'dist/node.d.cts', format: 'es' },
          ],
        },
      ]
    : []),
];
