'use strict';
// The spec reporter plus one closing line, alone, that CI reads as the test count:
//   N passed, N failed, N skipped
// "skipped" is mocha's pending (it.skip, this.skip(), tests without a body). Failures include
// failed hooks, as in the spec reporter's own summary.
const Mocha = require('mocha');

const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

class CountingSpec extends Spec {
  constructor(runner, options) {
    super(runner, options);
    // Registered after Spec's own run-end listener, so the line comes after its epilogue.
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures, pending } = this.stats;
      process.stdout.write(`${passes} passed, ${failures} failed, ${pending} skipped\n`);
    });
  }
}

CountingSpec.description = 'spec, then "N passed, N failed, N skipped" on a line of its own';

module.exports = CountingSpec;
