// Runs the behaviour scenarios in a non-browser runtime (Bun, Deno, Node 22) with its global
// WebSocket, injected through the `WebSocket` option, against the self-contained ESM build.
//
//   bun run test/everywhere/run-runtime.mjs <control-url> <runtime-name>
//   deno run --allow-net=127.0.0.1 --allow-read test/everywhere/run-runtime.mjs <control-url> <runtime-name>
//   node test/everywhere/run-runtime.mjs <control-url> <runtime-name>
//
// Prints one line `@@results <json>` (the runScenarios result list) and exits 0; on a crash,
// `@@crash <message>` and exit 1. runtimes.test.ts reads that line.
import * as steadysocket from '../../dist/steadysocket.esm.min.js';
import { controlClient } from './control.js';
import { runScenarios } from './scenarios.js';

const args = globalThis.Deno ? globalThis.Deno.args : process.argv.slice(2);
const [controlUrl, runtime = 'unknown runtime'] = args;

function exit(code) {
  if (globalThis.Deno) globalThis.Deno.exit(code);
  else process.exit(code);
}

try {
  if (!controlUrl) throw new Error('usage: run-runtime.mjs <control-url> <runtime-name>');
  if (typeof globalThis.WebSocket !== 'function') throw new Error(`${runtime} has no global WebSocket`);
  const results = await runScenarios({
    SteadySocket: steadysocket.SteadySocket,
    json: steadysocket.json,
    SteadySocketError: steadysocket.SteadySocketError,
    heartbeat: steadysocket.heartbeat,
    stats: steadysocket.stats,
    pageSignals: steadysocket.pageSignals,
    ready: steadysocket.ready,
    WebSocket: globalThis.WebSocket,
    control: controlClient(controlUrl),
    runtime,
  });
  console.log(`@@results ${JSON.stringify(results)}`);
  exit(0);
} catch (error) {
  console.log(`@@crash ${error && error.stack ? error.stack : String(error)}`.replace(/\n/g, '\\n'));
  exit(1);
}
