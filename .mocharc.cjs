'use strict';
// Read by mocha whenever it runs from the repo root, so `npx mocha test/unit/x.test.ts` behaves
// like `npm test -- test/unit/x.test.ts` (minus the build and the network namespace).
// No `spec` here: mocha would add it to any spec given on the command line; scripts/test.mjs
// supplies the default `test/**/*.test.ts`.
module.exports = {
  'node-option': ['import=tsx'],
  extension: ['ts'],
  timeout: 20000,
  reporter: './test/reporter.cjs',
};
