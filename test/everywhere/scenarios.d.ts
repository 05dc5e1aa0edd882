// Types for scenarios.js (plain JS so it runs unchanged in browsers, Bun, Deno and Node 22).

export interface ScenarioResult {
  name: string;
  ok: boolean;
  /** Why it failed, why it was skipped, or a note about a pass. */
  detail: string;
  ms: number;
  skipped?: boolean;
}

export interface Scenario {
  name: string;
  /** 'offline': runs only where runScenarios got an `offline` option (browsers). */
  needs?: 'offline';
  /** Bound for the whole scenario in ms (default 10000). */
  ms?: number;
}

export const SCENARIOS: readonly Scenario[];

export function runScenarios(options: {
  SteadySocket: unknown;
  json?: unknown;
  SteadySocketError?: unknown;
  /** The opt-in features the scenarios use (default: the statics of the IIFE class). */
  heartbeat?: unknown;
  stats?: unknown;
  pageSignals?: unknown;
  ready?: unknown;
  WebSocket?: unknown;
  control: unknown;
  runtime: string;
  offline?: { host: string };
  only?: readonly string[];
  trace?: boolean;
}): Promise<ScenarioResult[]>;
