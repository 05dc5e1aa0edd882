import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/**
 * The house's rooms, as the pay-for-what-you-use issue set them: no source file over 600 lines,
 * no class over 500 lines of code (lines that hold code, not blank or comment-only ones), and
 * each pure room beside the client with a unit test file of its own.
 */
const MAX_FILE_LINES = 600;
const MAX_CLASS_CODE_LINES = 500;
/** The concerns that left client.ts, and the unit test file of each (the ready step and iteration share one). */
const PURE_ROOMS: Record<string, string> = {
  events: 'events',
  liveness: 'liveness',
  retry: 'retry',
  'page-signals': 'page-signals',
  ready: 'ready-iteration',
  iteration: 'ready-iteration',
  outbox: 'outbox',
  send: 'send',
  attempt: 'attempt',
};

function sources(dir = 'src'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Lines that hold code: not blank, and not only a comment (`//`, or a line of a block comment). */
export function codeLines(text: string): number {
  let inBlock = false;
  let count = 0;
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    if (inBlock) {
      const end = line.indexOf('*/');
      if (end < 0) continue;
      inBlock = false;
      line = line.slice(end + 2).trim();
    }
    while (line.startsWith('/*')) {
      const end = line.indexOf('*/', 2);
      if (end < 0) {
        inBlock = true;
        line = '';
        break;
      }
      line = line.slice(end + 2).trim();
    }
    if (line && !line.startsWith('//')) count++;
  }
  return count;
}

describe('rooms: the size of files and classes', () => {
  it('counts code lines, not comments or blank lines', () => {
    expect(codeLines('/**\n * doc\n */\nconst a = 1; // note\n\n// only a comment\n/* x */ const b = 2;\n')).to.equal(2);
    expect(codeLines('/* open\n still */ f();\n')).to.equal(1);
  });

  it(`has no source file over ${MAX_FILE_LINES} lines`, () => {
    const files = sources();
    expect(files.length).to.be.greaterThan(20);
    const over = files.map((path) => ({ path, lines: readFileSync(path, 'utf8').split('\n').length - 1 })).filter((file) => file.lines > MAX_FILE_LINES);
    expect(over, 'files over the limit').to.deep.equal([]);
  });

  it(`has no class over ${MAX_CLASS_CODE_LINES} lines of code`, () => {
    const classes: { name: string; path: string; code: number }[] = [];
    for (const path of sources()) {
      const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) {
          classes.push({ name: node.name?.text ?? '(anonymous)', path, code: codeLines(node.getText(file)) });
        }
        ts.forEachChild(node, visit);
      };
      visit(file);
    }
    const client = classes.find((c) => c.name === 'SteadySocket');
    expect(client, 'the client class is found').to.not.equal(undefined);
    expect(client!.code, 'the client class has its state machine').to.be.greaterThan(100);
    expect(classes.filter((c) => c.code > MAX_CLASS_CODE_LINES), 'classes over the limit').to.deep.equal([]);
  });

  it('gives each pure room that left the client a unit test file of its own', () => {
    for (const [room, test] of Object.entries(PURE_ROOMS)) {
      const tests = readFileSync(`test/unit/${test}.test.ts`, 'utf8');
      expect(tests, `test/unit/${test}.test.ts imports src/${room}.ts`).to.match(new RegExp(`from '\\.\\./\\.\\./src/${room}'`));
    }
  });
});
