// Documentation that cannot rot: every js/ts snippet of README.md and docs/*.md (and the inline
// scripts of html snippets) is type-checked under the repo's strict options against src/, and
// every JavaScript snippet that can run in Node runs, against a ws server on loopback that stands
// in for the example hosts. Conventions: test/docs/snippets.ts and docs/contributing-docs.md.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import {
  extractSnippets,
  markdownFiles,
  runnableSource,
  runnerSource,
  typeCheck,
  type Diagnostic,
  type Snippet,
} from './snippets';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** How long a snippet runs before the runner reports. */
const RUN_WINDOW_MS = 1500;
/** Snippets running at once (2 shared cores). */
const PARALLEL = 3;

const extracted = markdownFiles(root).map((file) => extractSnippets(file, readFileSync(join(root, file), 'utf8')));
const snippets: Snippet[] = extracted.flatMap((e) => e.snippets);
const name = (snippet: Snippet) => `${snippet.file}:${snippet.line}${snippet.script ? ` (<script${snippet.script === 'module' ? ' type="module"' : ''}>)` : ''}`;

/** A scratch directory inside the repo, so that imports of other packages find node_modules. */
function scratchDir(): { path: string; remove(): void } {
  const path = join(root, 'node_modules', '.cache', `docs-snippets-${process.pid}`);
  rmSync(path, { recursive: true, force: true });
  mkdirSync(path, { recursive: true });
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

describe('docs: the code snippets of README.md and docs/*.md', function () {
  it('finds the snippets, and every snippet marker is well-formed and sits on a js, ts or html block', () => {
    expect(snippets.filter((s) => s.file === 'README.md').length).to.be.at.least(3);
    expect(snippets.filter((s) => s.file === 'docs/guide.md').length).to.be.at.least(20);
    expect(extracted.flatMap((e) => e.badMarkers)).to.deep.equal([]);
  });

  it('uses no-check only with a reason, and sparingly', () => {
    const unchecked = snippets.filter((s) => s.noCheck);
    for (const snippet of unchecked) expect(snippet.noCheck, name(snippet)).to.match(/\w{3,}/);
    expect(unchecked.length, unchecked.map(name).join(', ')).to.be.at.most(Math.ceil(snippets.length / 8));
  });

  describe('type-check (strict, against src/)', function () {
    this.timeout(120_000);
    let results: Map<Snippet, Diagnostic[]>;

    before(function () {
      const dir = scratchDir();
      try {
        results = typeCheck(root, dir.path, snippets.filter((s) => !s.noCheck), (path, text) => writeFileSync(path, text));
      } finally {
        dir.remove();
      }
    });

    for (const snippet of snippets) {
      if (snippet.noCheck) {
        it(`${name(snippet)} (not checked: ${snippet.noCheck})`);
        continue;
      }
      it(`${name(snippet)} type-checks`, () => {
        const problems = results.get(snippet)!.map((d) => `${d.line ? `${snippet.file}:${d.line}: ` : ''}${d.message}`);
        expect(problems, `\n${snippet.code}\n`).to.deep.equal([]);
      });
    }
  });

  describe('run in Node against a local ws server', function () {
    this.timeout(120_000);
    const runnable = snippets.filter((s) => !s.noCheck && !s.noRun && s.lang === 'js');
    const outcomes = new Map<Snippet, Outcome>();

    before(async function () {
      for (const file of ['index.js', 'node.js']) {
        if (!existsSync(join(root, 'dist', file))) throw new Error(`dist/${file} is missing: run \`npm run build\` (npm test does).`);
      }
      const dir = scratchDir();
      try {
        const queue = runnable.map((snippet, index) => () => runSnippet(snippet, index, dir.path).then((outcome) => outcomes.set(snippet, outcome)));
        await Promise.all(Array.from({ length: PARALLEL }, async () => {
          for (let job = queue.shift(); job; job = queue.shift()) await job();
        }));
      } finally {
        dir.remove();
      }
    });

    for (const snippet of snippets.filter((s) => s.lang === 'js')) {
      if (snippet.noCheck || snippet.noRun) {
        it(`${name(snippet)} (not run: ${snippet.noCheck ?? snippet.noRun})`);
        continue;
      }
      it(`${name(snippet)} runs without an error${usesClient(snippet) ? ', and its client connects' : ''}`, () => {
        const outcome = outcomes.get(snippet);
        expect(outcome, 'the snippet was not run').to.not.equal(undefined);
        const report = `\n${snippet.code}\n--- output\n${outcome!.output}`;
        expect(outcome!.error, report).to.equal(undefined);
        if (usesClient(snippet)) expect(outcome!.connections, `WebSocket connections the server saw${report}`).to.be.greaterThan(0);
      });
    }
  });
});

/** Whether a snippet makes a client of its own (and does not close it at once), so the server must see it connect. */
function usesClient(snippet: Snippet): boolean {
  return /new SteadySocket\b/.test(snippet.code);
}

interface Outcome {
  error?: string;
  connections: number;
  messages: string[];
  output: string;
}

/**
 * Runs one snippet in its own Node process with its own server, which echoes, answers
 * `{type:'ping'}` with `{type:'pong'}` and `{type:'auth'}` with `{type:'welcome'}`.
 */
async function runSnippet(snippet: Snippet, index: number, dir: string): Promise<Outcome> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const origin = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const outcome: Outcome = { connections: 0, messages: [], output: '' };
  server.on('connection', (socket) => {
    outcome.connections++;
    socket.on('message', (data, isBinary) => {
      const text = data.toString();
      outcome.messages.push(text);
      let type: unknown;
      try {
        type = (JSON.parse(text) as { type?: unknown }).type;
      } catch {
        // not JSON: echoed below
      }
      if (type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
      else if (type === 'auth') socket.send(JSON.stringify({ type: 'welcome' }));
      else socket.send(data, { binary: isBinary });
    });
  });
  try {
    const snippetPath = join(dir, `run-${index}.mjs`);
    const runnerPath = join(dir, `runner-${index}.mjs`);
    writeFileSync(snippetPath, runnableSource(root, snippet, origin));
    writeFileSync(runnerPath, runnerSource(root, snippetPath, origin, RUN_WINDOW_MS));
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [runnerPath], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1', TOKEN: 'a-token' },
      });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), RUN_WINDOW_MS + 15_000);
      child.once('close', (exit) => {
        clearTimeout(timer);
        resolve({ code: exit, stdout: out, stderr: err });
      });
    });
    outcome.output = `${stdout}${stderr}`;
    const last = stdout.trim().split('\n').at(-1) ?? '';
    let report: { error?: string; status?: string } = {};
    try {
      report = JSON.parse(last) as typeof report;
    } catch {
      report = { error: `no report (exit ${code})` };
    }
    if (report.error || code !== 0) outcome.error = report.error ?? `exit ${code}`;
    return outcome;
  } finally {
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
