// Browser glue for the behaviour scenarios: the HTML pages load a build and call expose(); the
// test calls `everywhere.run()` with page.evaluate (a string, so tsx never rewrites it).
//   ?control=<control server URL>&runtime=<name>&offlineHost=<host name that maps to 127.0.0.1>
//   &only=<scenario names, one per line> (EVERYWHERE_ONLY, see support.ts)
import { controlClient } from '../control.js';
import { runScenarios } from '../scenarios.js';

/** @param {{ SteadySocket: Function, json?: Function, SteadySocketError?: Function, heartbeat?: Function, stats?: Function, pageSignals?: Function, ready?: Function }} lib */
export function expose(lib) {
  const params = new URLSearchParams(location.search);
  const offlineHost = params.get('offlineHost');
  window.everywhere = {
    run: () =>
      runScenarios({
        ...lib,
        control: controlClient(params.get('control')),
        runtime: params.get('runtime') ?? 'browser',
        offline: offlineHost ? { host: offlineHost } : undefined,
        only: params.get('only')?.split('\n'),
      }),
  };
}
