// The library the model tests run against: the TypeScript source by default, or one of the built
// bundles when STEADYSOCKET_BUILD names it (a path under dist/). The builds are the code users
// run, and the minified ones rename private members (rollup.config.mjs): a member reached by a
// name the mangler cannot see works in the source and breaks only there. Types always come from
// the source; the values from whichever library is under test.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import * as source from '../../src/index';
import type { RawMessage, WireData } from '../../src/index';

const build = process.env.STEADYSOCKET_BUILD;
/** `require` of an ES module: Node 20.19+ loads it synchronously (no top-level await in the builds). */
const lib: typeof source = build ? createRequire(import.meta.url)(resolve(build)) : source;
if (build && typeof lib.SteadySocket !== 'function') throw new Error(`STEADYSOCKET_BUILD=${build} does not export SteadySocket`);

/** Which library is under test, for titles and messages. */
export const underTest = build ?? 'src';

export const { SteadySocket, SteadySocketError, acks, debug, heartbeat, json, messages, pageSignals, persist, ready, requests, stats, ttl } = lib;
export type SteadySocket<In = RawMessage, Out = WireData> = source.SteadySocket<In, Out>;
export type SteadySocketError = source.SteadySocketError;
export type { Feature, OutboxStore, PersistFeature, RequestsFeature, State, SteadySocketOptions, StoredMessage } from '../../src/index';
