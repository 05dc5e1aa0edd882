// Browser side of test/browser/models.test.ts. Plain JS on purpose: served as is, never compiled.
// models.html loads mocha's browser build first; run(bundleUrl) imports the bundled model tests
// (which call describe/it at load and import the library build under test), runs them and
// resolves with what happened, for the Node side to assert on.
'use strict';

window.models = {
  // console.log lines of the run (the tests print their property run counts with MODEL_STATS).
  log: [],

  /** Runs the model tests in `bundleUrl` once; resolves with titles of passes, failures and pending. */
  async run(bundleUrl) {
    const log = this.log;
    const originalLog = console.log;
    console.log = (...args) => {
      log.push(args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' '));
      originalLog.apply(console, args);
    };

    const passes = [];
    const failures = [];
    const pending = [];
    let current = '(outside any test)';

    // Node's default for an unhandled rejection is to throw it, which fails the running test;
    // mocha's browser build does not listen for them, so they are collected here.
    const unhandled = [];
    window.addEventListener('unhandledrejection', (event) => {
      unhandled.push({ title: current, message: `unhandled rejection: ${firstLine(event.reason)}` });
    });

    // Reports nothing on its own: the runner's events are collected below.
    function Quiet() {}
    mocha.setup({ ui: 'bdd', reporter: Quiet, timeout: 20000 });
    await import(bundleUrl);
    const total = mocha.suite.total();
    const started = performance.now();

    return new Promise((resolve) => {
      const runner = mocha.run();
      runner.on('test', (test) => (current = test.fullTitle()));
      runner.on('pass', (test) => passes.push(test.fullTitle()));
      runner.on('pending', (test) => pending.push(test.fullTitle()));
      // Tests and hooks alike ("before all" hook: …).
      runner.on('fail', (runnable, error) => failures.push({ title: runnable.fullTitle(), message: firstLine(error) }));
      runner.on('end', () => {
        console.log = originalLog;
        resolve({ total, passes, failures: [...failures, ...unhandled], pending, ms: Math.round(performance.now() - started), log });
      });
    });
  },
};

function firstLine(error) {
  const text = error && typeof error === 'object' && 'message' in error ? `${error.name ?? 'Error'}: ${error.message}` : String(error);
  return text.split('\n')[0];
}
