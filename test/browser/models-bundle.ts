// Bundles the model-based property tests (test/unit/*-model.test.ts) for a browser page, for
// test/browser/models.test.ts: one ES module per library build, with chai, fast-check and
// @sinonjs/fake-timers inside and the library left out — `test/support/under-test.ts` is replaced
// by a module that re-exports the build, imported from the page server's /dist/ by URL, so the
// browser runs exactly the file users load. dist/index.browser.js imports `eventemitter3` (it is
// made for bundlers): the page maps that name to eventemitter3.js, written here as an ES module,
// as an import map (or a CDN) does for ESM users without a bundler.
//
// TypeScript is only stripped here (ts.transpileModule with the options of tsconfig.test.json):
// `npm run typecheck` checks the types. `process.env` in the test files (MODEL_SEED, MODEL_RUNS,
// MODEL_STATS) reads a constant object instead, filled from this process's environment.
import commonjs from '@rollup/plugin-commonjs';
import nodeResolve from '@rollup/plugin-node-resolve';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rollup, type Plugin } from 'rollup';
import ts from 'typescript';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const testDir = resolve(repoRoot, 'test') + sep;
const srcDir = resolve(repoRoot, 'src') + sep;
const underTestSource = resolve(repoRoot, 'test/support/under-test.ts');

export const MODEL_TESTS = ['test/unit/client-model.test.ts', 'test/unit/delivery-model.test.ts', 'test/unit/features-model.test.ts'];

const ENTRY = '\0models-entry';
const UNDER_TEST = '\0steadysocket-under-test';
/** The library's specifier in the bundle; `output.paths` turns it into the build's URL. */
const LIBRARY = 'steadysocket-build-under-test';

function compilerOptions(): ts.CompilerOptions {
  const configFile = resolve(repoRoot, 'tsconfig.test.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(configFile, { noEmit: false, declaration: false, sourceMap: false }, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error(`cannot read ${configFile}`);
  return parsed.options;
}

/** Strips the types of the repo's .ts files; points their `process.env` at `__modelEnv`. */
function stripTypes(): Plugin {
  const options = compilerOptions();
  return {
    name: 'strip-types',
    transform(code, id) {
      if (!id.endsWith('.ts') || id.includes(`${sep}node_modules${sep}`)) return null;
      const { outputText } = ts.transpileModule(code, { compilerOptions: options, fileName: id });
      return { code: id.startsWith(testDir) ? outputText.replace(/\bprocess\.env\b/g, '__modelEnv') : outputText, map: null };
    },
  };
}

/** The entry (the three test files, in order) and the stand-in for test/support/under-test.ts. */
function modelModules(): Plugin {
  return {
    name: 'model-modules',
    async resolveId(source, importer) {
      if (source === ENTRY || source === UNDER_TEST) return source;
      if (source === LIBRARY) return { id: LIBRARY, external: true };
      if (!importer?.startsWith(testDir) && importer !== ENTRY) return null;
      const resolved = await this.resolve(source, importer, { skipSelf: true });
      return resolved?.id === underTestSource ? UNDER_TEST : null;
    },
    load(id) {
      if (id === ENTRY) return MODEL_TESTS.map((file) => `import ${JSON.stringify(resolve(repoRoot, file))};`).join('\n');
      if (id === UNDER_TEST) {
        return [
          `import * as lib from ${JSON.stringify(LIBRARY)};`,
          `if (typeof lib.SteadySocket !== 'function') throw new Error('the build under test does not export SteadySocket');`,
          `export * from ${JSON.stringify(LIBRARY)};`,
          `export const underTest = 'browser build';`,
        ].join('\n');
      }
      return null;
    },
  };
}

/** Writes eventemitter3's ES entry with its CommonJS body inlined to `dir/eventemitter3.js`. */
async function bundleEventEmitter(dir: string): Promise<void> {
  const bundle = await rollup({ input: resolve(repoRoot, 'node_modules/eventemitter3/index.mjs'), plugins: [commonjs()] });
  try {
    const { output } = await bundle.write({ file: join(dir, 'eventemitter3.js'), format: 'es' });
    if (!output[0].exports.includes('EventEmitter')) throw new Error(`eventemitter3.js exports ${output[0].exports.join(', ')}, not EventEmitter`);
  } finally {
    await bundle.close();
  }
}

/**
 * Writes `models-<name>.js` into `dir` for each build (`{ name: '/dist/…js' URL }`), and
 * eventemitter3.js; returns the file names by build name. Throws if a module of src/ ended up in
 * the bundle (the tests must reach the library only through the build) or an import stayed
 * unresolved.
 */
export async function bundleModelTests(dir: string, builds: Record<string, string>, env: Record<string, string>): Promise<Record<string, string>> {
  const bundle = await rollup({
    input: ENTRY,
    // The repo's package.json says sideEffects: false; test files are nothing but side effects.
    treeshake: false,
    plugins: [
      modelModules(),
      stripTypes(),
      nodeResolve({ browser: true, extensions: ['.ts', '.mjs', '.js', '.json'] }),
      // fake-timers reaches `require('util')` only where `process` exists (Node): left as it is.
      commonjs({ ignore: ['util'] }),
    ],
    onwarn(warning, warn) {
      if (warning.code === 'UNRESOLVED_IMPORT') throw new Error(`model test bundle: ${warning.message}`);
      if (warning.code === 'CIRCULAR_DEPENDENCY' || warning.code === 'EVAL') return;
      warn(warning);
    },
  });
  const files: Record<string, string> = {};
  try {
    const fromSource = bundle.watchFiles.filter((file) => file.startsWith(srcDir));
    if (fromSource.length) throw new Error(`the model test bundle includes the source, not only the build: ${fromSource.join(', ')}`);
    for (const [name, url] of Object.entries(builds)) {
      files[name] = `models-${name}.js`;
      const { output } = await bundle.write({
        file: join(dir, files[name]),
        format: 'es',
        paths: { [LIBRARY]: url },
        intro: `const __modelEnv = ${JSON.stringify(env)};`,
      });
      // A bare name would fail in the page (a Node built-in, say): only the library is imported.
      if (output[0].imports.join() !== url) throw new Error(`${files[name]} imports ${output[0].imports.join(', ')}, not only ${url}`);
    }
  } finally {
    await bundle.close();
  }
  await bundleEventEmitter(dir);
  return files;
}
