// The code snippets of README.md and docs/*.md, and what the docs tests need to check them:
// extraction, the placeholders the snippets use for the reader's own code, the type check and a
// runner that executes a JavaScript snippet in its own Node process against a local server.
//
// Conventions in the markdown (for writers: docs/contributing-docs.md):
//   ```js / ```ts            checked with the TypeScript compiler under the repo's strict options
//                            (js as JavaScript with checkJs, ts as TypeScript); js ones also run
//   ```html                  its inline <script> bodies are checked (classic scripts see the
//                            script tag's global SteadySocket); never run
//   <!-- snippet: no-check (reason) -->   on the line before a fence: neither checked nor run
//   <!-- snippet: no-run (reason) -->     checked, not run
// A snippet that never imports from 'steadysocket' continues the text around it: it is checked
// and run with `import { SteadySocket, json, … } from 'steadysocket'` in front.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

export interface Snippet {
  /** README.md, docs/guide.md, … */
  file: string;
  /** 1-based line of the snippet's first code line in `file`. */
  line: number;
  lang: 'js' | 'ts';
  /** For scripts from an html block: a classic script sees the global `SteadySocket`. */
  script?: 'classic' | 'module';
  code: string;
  noCheck?: string;
  noRun?: string;
}

export const MARKER = /^<!-- snippet: (no-check|no-run) \((.+)\) -->$/;

/** The markdown files whose snippets are checked: README.md and docs/*.md. */
export function markdownFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

/** The js, ts and html snippets of one markdown file, with the markers that apply to them. */
export function extractSnippets(file: string, markdown: string): { snippets: Snippet[]; badMarkers: string[] } {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  const badMarkers: string[] = [];
  let marker: { kind: string; reason: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i];
    if (text.startsWith('<!-- snippet')) {
      const match = MARKER.exec(text.trim());
      if (!match) badMarkers.push(`${file}:${i + 1}: ${text}`);
      else marker = { kind: match[1], reason: match[2] };
      continue;
    }
    const fence = /^```(\w*)/.exec(text);
    if (!fence) {
      if (text.trim() && marker) {
        badMarkers.push(`${file}:${i}: a snippet marker must be followed by a code fence`);
        marker = undefined;
      }
      continue;
    }
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    const body = lines.slice(start, end).join('\n');
    const lang = fence[1];
    const flags = marker ? { [marker.kind === 'no-check' ? 'noCheck' : 'noRun']: marker.reason } : {};
    if (lang === 'js' || lang === 'ts') snippets.push({ file, line: start + 1, lang, code: body, ...flags });
    else if (lang === 'html') {
      for (const match of body.matchAll(/<script(\s[^>]*)?>([\s\S]*?)<\/script>/g)) {
        const attributes = match[1] ?? '';
        if (/\bsrc=/.test(attributes) || /type="importmap"/.test(attributes) || !match[2].trim()) continue;
        const line = start + 1 + body.slice(0, match.index! + match[0].indexOf('>') + 1).split('\n').length - 1;
        const script = /type="module"/.test(attributes) ? 'module' : 'classic';
        snippets.push({ file, line, lang: 'js', script, code: match[2], ...flags, noRun: 'a script in a web page' });
      }
    } else if (marker) badMarkers.push(`${file}:${i + 1}: snippet markers apply to js, ts and html blocks, not ${lang || 'plain'} ones`);
    marker = undefined;
    i = end;
  }
  return { snippets, badMarkers };
}

/** What a snippet that continues the text gets in front of it. */
export const IMPLICIT_IMPORT =
  "import { SteadySocket, SteadySocketError, isSteadySocketError, json, defaultShouldReconnect, STOP_CODES, STOP_STATUSES, heartbeat, pageSignals, ready, ttl, stats, debug, messages } from 'steadysocket';";

export function importsSteadysocket(code: string): boolean {
  return /\bfrom\s+['"]steadysocket(\/node)?['"]|require\(['"]steadysocket['"]\)/.test(code);
}

/**
 * The placeholders: names the docs use for the reader's own code (`url`, `getToken()`,
 * `render(message)`, an existing `socket`, …). Declared for the type check; defined at run time
 * by the runner. A name of the library's API is never a placeholder, so a misspelt API still fails.
 */
export const PLACEHOLDER_TYPES = `
import type { SteadySocket } from 'steadysocket';
declare global {
  /** A WebSocket URL. */
  const url: string;
  /** A client made earlier in the text (with the json() codec at run time). */
  const socket: SteadySocket<unknown, unknown>;
  function getToken(): Promise<string>;
  function refreshToken(): Promise<string>;
  function token(): Promise<string>;
  function getQuery(): Promise<Record<string, string>>;
  function render(message: unknown): void;
  function handle(message: unknown): void;
  function markSent(id: string): void;
  function markFailed(id: string, code: string): void;
  const id: string;
  const draft: { text: string };
  const chunks: string[];
  const subscriptions: string[];
  const cancelButton: { onclick: (() => void) | null };
}
export {};
`;

/** A minimal 'react' for the React snippets (the package is not a dependency here). */
export const REACT_STUB = `
export type SetStateAction<S> = S | ((previous: S) => S);
export type Dispatch<A> = (value: A) => void;
export function useState<S>(initial: S | (() => S)): [S, Dispatch<SetStateAction<S>>];
export function useState<S = undefined>(): [S | undefined, Dispatch<SetStateAction<S | undefined>>];
export function useEffect(effect: () => void | (() => void), deps?: readonly unknown[]): void;
`;

export const PLACEHOLDER_VALUES = `
globalThis.url = SERVER + '/placeholder';
globalThis.getToken = async () => 'token-1';
globalThis.refreshToken = async () => 'token-2';
globalThis.token = async () => 'token-3';
globalThis.getQuery = async () => ({ user: 'someone' });
globalThis.render = (message) => record('render', message);
globalThis.handle = (message) => record('handle', message);
globalThis.markSent = (id) => record('markSent', id);
globalThis.markFailed = (id, code) => record('markFailed', id, code);
globalThis.id = 'order-1';
globalThis.draft = { text: 'a draft' };
globalThis.chunks = ['chunk 1', 'chunk 2'];
globalThis.subscriptions = ['prices'];
globalThis.cancelButton = { onclick: null };
let placeholderSocket;
Object.defineProperty(globalThis, 'socket', {
  configurable: true,
  get: () => (placeholderSocket ??= new SteadySocket(SERVER + '/placeholder-socket', { codec: json() })),
});
`;

/** The source a snippet is checked or run as: the implicit import and a module boundary. */
export function sourceOf(snippet: Snippet): { text: string; offset: number } {
  if (snippet.script === 'classic') {
    const prelude = "import type * as Steady from 'steadysocket';\ndeclare const SteadySocket: typeof Steady.SteadySocket & typeof Steady;\n";
    return snippet.lang === 'ts'
      ? { text: `${prelude}${snippet.code}\nexport {};\n`, offset: 2 }
      : // A classic script in a .js file: the global comes from a JSDoc type.
        { text: `/** @type {typeof import('steadysocket').SteadySocket & typeof import('steadysocket')} */\nconst SteadySocket = /** @type {any} */ (undefined);\n${snippet.code}\nexport {};\n`, offset: 2 };
  }
  const implicit = !importsSteadysocket(snippet.code);
  return { text: `${implicit ? `${IMPLICIT_IMPORT}\n` : ''}${snippet.code}\nexport {};\n`, offset: implicit ? 1 : 0 };
}

export interface Diagnostic {
  line: number;
  message: string;
}

/**
 * Type-checks `snippets` in one program, under the compiler options of tsconfig.json (strict)
 * with JavaScript checked too. 'steadysocket' resolves to src/, so the check follows the source.
 * `dir` is a scratch directory inside the repo (for node_modules lookups of other packages).
 */
/** How to check: which compiler, against src/ (default) or the built typings in dist/ (what users get), and options to add. */
export interface CheckWith {
  compiler?: typeof ts;
  against?: 'src' | 'dist';
  options?: ts.CompilerOptions;
}

export function typeCheck(root: string, dir: string, snippets: Snippet[], write: (path: string, text: string) => void, using: CheckWith = {}): Map<Snippet, Diagnostic[]> {
  const { compiler: tsc = ts, against = 'src' } = using;
  const config = tsc.readConfigFile(join(root, 'tsconfig.json'), tsc.sys.readFile);
  const parsed = tsc.parseJsonConfigFileContent(config.config, tsc.sys, root);
  const entry = (name: string) => (against === 'src' ? join(root, 'src', `${name}.ts`) : join(root, 'dist', `${name}.d.ts`));
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: true,
    declaration: false,
    rootDir: undefined,
    outDir: undefined,
    allowJs: true,
    checkJs: true,
    lib: [...(parsed.options.lib ?? []), 'lib.esnext.disposable.d.ts'],
    typeRoots: [join(root, 'node_modules', '@types')],
    types: ['node'],
    paths: {
      steadysocket: [entry('index')],
      'steadysocket/node': [entry('node')],
      react: [join(dir, 'react-stub.d.ts')],
    },
    ...using.options,
  };
  write(join(dir, 'placeholders.d.ts'), PLACEHOLDER_TYPES);
  write(join(dir, 'react-stub.d.ts'), REACT_STUB);
  const files = new Map<string, { snippet: Snippet; offset: number }>();
  snippets.forEach((snippet, index) => {
    const { text, offset } = sourceOf(snippet);
    const path = join(dir, `snippet-${index}.${snippet.lang}`);
    write(path, text);
    files.set(path, { snippet, offset });
  });
  const program = tsc.createProgram([join(dir, 'placeholders.d.ts'), ...files.keys()], options);
  const results = new Map<Snippet, Diagnostic[]>(snippets.map((snippet) => [snippet, []]));
  const all = [...program.getGlobalDiagnostics(), ...program.getOptionsDiagnostics(), ...tsc.getPreEmitDiagnostics(program)];
  for (const diagnostic of all) {
    const message = tsc.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    const entry = diagnostic.file && files.get(diagnostic.file.fileName);
    if (!entry) {
      // Outside the snippets (options, src/): every snippet reports it, so it cannot go unseen.
      const where = diagnostic.file ? `${diagnostic.file.fileName}: ` : '';
      for (const list of results.values()) list.push({ line: 0, message: `${where}${message}` });
      continue;
    }
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    results.get(entry.snippet)!.push({ line: entry.snippet.line + line - entry.offset, message: `TS${diagnostic.code}: ${message}` });
  }
  return results;
}

/** Example hosts in the docs, rewritten to the local test server when a snippet runs. */
const EXAMPLE_ORIGIN = /\bwss?:\/\/(?:[\w-]+\.)*example(?:\.(?:org|com|net))?(?::\d+)?/g;

/** A snippet as a module that runs against `origin` and loads the built package from dist/. */
export function runnableSource(root: string, snippet: Snippet, origin: string): string {
  const dist = (file: string) => new URL(`file://${join(root, 'dist', file)}`).href;
  const { text } = sourceOf(snippet);
  return text
    .replace(EXAMPLE_ORIGIN, origin)
    .replace(/(['"])steadysocket\/node\1/g, `'${dist('node.js')}'`)
    .replace(/(['"])steadysocket\1/g, `'${dist('index.js')}'`);
}

/**
 * The runner: defines the placeholders, imports the snippet, and after `windowMs` prints one JSON
 * line (`{ status: 'completed' | 'running', records }`) and exits 0. Anything thrown, rejected
 * unhandled or uncaught makes it print `{ error }` and exit 1.
 */
export function runnerSource(root: string, snippetPath: string, origin: string, windowMs: number): string {
  const index = new URL(`file://${join(root, 'dist', 'index.js')}`).href;
  return `
import { SteadySocket, json } from '${index}';
import { WebSocket as NodeWebSocket } from 'ws';
const SERVER = ${JSON.stringify(origin)};
const records = [];
const record = (...values) => records.push(values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' '));
// A WHATWG-style global WebSocket, as in browsers and Node 22 (Node 20 has none).
globalThis.WebSocket ??= NodeWebSocket;
${PLACEHOLDER_VALUES}
const fail = (error) => {
  process.stdout.write(JSON.stringify({ error: String(error?.stack ?? error) }) + '\\n');
  process.exit(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
let status = 'running';
setTimeout(() => {
  process.stdout.write(JSON.stringify({ status, records }) + '\\n');
  process.exit(0);
}, ${windowMs});
import(${JSON.stringify(new URL(`file://${snippetPath}`).href)}).then(() => (status = 'completed'), fail);
`;
}
