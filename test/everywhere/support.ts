// Turns one runtime's scenario results into mocha tests: one `it` per scenario in SCENARIOS, so
// the output lists the runtime and every scenario with its outcome.
import { SCENARIOS, type ScenarioResult } from './scenarios.js';

/** Where a runtime's results come from once its `before` hook has run. */
export interface Outcome {
  /** Set when the runtime could not run at all (binary absent): every scenario is skipped with it. */
  unavailable?: string;
  /** Set when the run crashed or produced no results: every scenario fails with it. */
  failure?: string;
  results?: ScenarioResult[];
}

/**
 * While working on a scenario: `EVERYWHERE_ONLY='<name>'` (names one per line) runs only those in
 * every runtime; the others are skipped and say so.
 */
export const ONLY = process.env.EVERYWHERE_ONLY ? process.env.EVERYWHERE_ONLY.split('\n') : undefined;

/** Defines one `it` per scenario; call inside the runtime's `describe`. */
export function scenarioTests(outcome: () => Outcome): void {
  for (const scenario of SCENARIOS) {
    it(scenario.name, function () {
      const { unavailable, failure, results } = outcome();
      const skip = (why: string) => {
        this.test!.title += ` (skipped: ${why})`;
        this.skip();
      };
      if (unavailable) return skip(unavailable);
      if (ONLY && !ONLY.includes(scenario.name)) return skip('not in EVERYWHERE_ONLY');
      if (failure) throw new Error(failure);
      const result = results?.find((r) => r.name === scenario.name);
      if (!result) throw new Error('the run reported no result for this scenario');
      if (result.skipped) return skip(result.detail);
      if (!result.ok) throw new Error(`${result.detail}\n  (after ${result.ms} ms)`);
      const notes = [result.detail, result.ms > 2000 ? `${result.ms} ms` : ''].filter(Boolean).join('; ');
      if (notes) this.test!.title += ` (${notes})`;
    });
  }
}
