// Browser side of test/browser/models.test.ts. Plain JS on purpose: served as is, never compiled.
// models.html loads mocha's browser build first; run(bundleUrl) imports the bundled model tests
// (which call describe/it at load and import the library build under test), runs them and
// resolves with what happened, for the Node side to assert on.
'use strict';

// Node's setImmediate, which the tests use to let native promise jobs run (nativeTurns) and which
// @sinonjs/fake-timers takes, when present, to yield between timers in tickAsync(). Without it
// fake-timers falls back to setTimeout(0), which browsers clamp to 4 ms once nested: the same
// properties run 10-40x slower and stop at their time limits with a fraction of their runs (which
// models.test.ts checks). A message on a MessageChannel is a macrotask
// without the clamp. The library itself never uses setImmediate. Defined before the tests load:
// fake-timers reads it once, at load.
if (typeof window.setImmediate !== 'function') {
  const channel = new MessageChannel();
  const queue = new Map();
  let nextId = 1;
  channel.port1.onmessage = (event) => {
    const task = queue.get(event.data);
    if (!task) return; // cleared
    queue.delete(event.data);
    task.fn(...task.args);
  };
  window.setImmediate = (fn, ...args) => {
    const id = nextId++;
    queue.set(id, { fn, args });
    channel.port2.postMessage(id);
    return id;
  };
  window.clearImmediate = (id) => queue.delete(id);
}

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

/** The error's first line, and its cause's (fast-check puts the property's own error there). */
function firstLine(error) {
  const line = (e) => (e && typeof e === 'object' && 'message' in e ? `${e.name ?? 'Error'}: ${e.message}` : String(e)).split('\n')[0];
  return error && typeof error === 'object' && error.cause ? `${line(error)} (caused by ${line(error.cause)})` : line(error);
}
