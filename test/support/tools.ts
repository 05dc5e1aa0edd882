// The system tools a suite needs (browsers, proxies, openssl, tmux), found through the one list in
// scripts/system-deps.mjs. A suite whose tool is missing is skipped — mocha pending, with the
// reason and the command that enables it printed under the suite and again in the run's closing
// summary — except under CI=true, where a missing tool fails the suite's `before` hook.
import { enableCommand, locateTool } from '../../scripts/system-deps.mjs';

export type ToolName = 'chromium' | 'firefox' | 'nginx' | 'tinyproxy' | 'openssl' | 'tmux' | 'ip';

/** One skipped suite, as test/reporter.cjs lists it at the end of the run. */
export interface SkippedSuite {
  suite: string;
  reason: string;
  enable: string;
}

/** Shared with the reporter (CommonJS, same process) through a registered symbol. */
const REGISTRY = Symbol.for('steadysocket.skippedSuites');

export function skippedSuites(): SkippedSuite[] {
  const holder = globalThis as unknown as Record<symbol, SkippedSuite[] | undefined>;
  return (holder[REGISTRY] ??= []);
}

export const inCi = () => process.env.CI === 'true' || process.env.CI === '1';

/**
 * Skips the current suite with `reason` (call in a `before` hook): records it for the summary,
 * prints it under the suite's title and marks every test below as pending. Never returns.
 */
export function skipSuite(context: Mocha.Context, reason: string, enable: string): never {
  const parent = context.test?.parent;
  const suite = parent?.fullTitle() || 'a suite';
  skippedSuites().push({ suite, reason, enable });
  // At the indentation of the suite's tests in the spec reporter.
  let depth = 0;
  for (let s = parent; s && !s.root; s = s.parent) depth++;
  const indent = '  '.repeat(depth + 1);
  console.log(`${indent}skipped: ${reason}\n${indent}  enable: ${enable}`);
  context.skip();
}

/**
 * In a suite's `before` hook: the binaries of `names`, or — when any is missing — a skip of the
 * whole suite (outside CI) or an error that names what is missing and how to install it (CI=true).
 */
export function needTools<const N extends ToolName>(context: Mocha.Context, ...names: N[]): Record<N, string> {
  const found = {} as Record<N, string>;
  const missing: { name: N; why: string }[] = [];
  for (const name of names) {
    const located = locateTool(name);
    if (located.path !== undefined) found[name] = located.path;
    else missing.push({ name, why: located.missing });
  }
  if (!missing.length) return found;
  const reason = missing.map((m) => m.why).join('; ');
  const enable = enableCommand(missing.map((m) => m.name));
  if (inCi()) {
    throw new Error(`${reason}. Under CI=true a missing system tool fails the run. Enable: ${enable} (npm test does that itself as root on Debian).`);
  }
  return skipSuite(context, reason, enable);
}

/** The binary of one tool, or an error that says how to install it (for helpers below a `before` that called needTools). */
export function toolPath(name: ToolName): string {
  const located = locateTool(name);
  if (located.path !== undefined) return located.path;
  throw new Error(`${located.missing}. Enable: ${enableCommand([name])} (npm test does that itself as root on Debian).`);
}
