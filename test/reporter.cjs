'use strict';
// The spec reporter, then a summary of the suites that were skipped (each with the command that
// enables it), then one closing line, alone, that CI reads as the test count:
//   N passed, N failed, N skipped
// "skipped" is mocha's pending (it.skip, this.skip(), tests without a body). Failures include
// failed hooks, as in the spec reporter's own summary. Skipped suites are recorded by
// test/support/tools.ts (a missing system tool or runtime) under a registered symbol.
const Mocha = require('mocha');

const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

const REGISTRY = Symbol.for('steadysocket.skippedSuites');

class CountingSpec extends Spec {
  constructor(runner, options) {
    super(runner, options);
    // Registered after Spec's own run-end listener, so these lines come after its epilogue.
    runner.once(EVENT_RUN_END, () => {
      const skipped = globalThis[REGISTRY] ?? [];
      if (skipped.length) {
        const lines = [`  Skipped suites (${skipped.length}): their tests are counted as skipped`];
        for (const { suite, reason, enable } of skipped) lines.push(`    - ${suite}: ${reason}`, `        enable: ${enable}`);
        process.stdout.write(`${lines.join('\n')}\n\n`);
      }
      const { passes, failures, pending } = this.stats;
      process.stdout.write(`${passes} passed, ${failures} failed, ${pending} skipped\n`);
    });
  }
}

CountingSpec.description = 'spec, skipped suites with how to enable them, then "N passed, N failed, N skipped" on a line of its own';

module.exports = CountingSpec;
