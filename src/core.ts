/**
 * The entry of the core-only script-tag bundle (dist/steadysocket.core.min.js): the client, its
 * errors and the JSON codec, without any feature.
 * @module
 */
export { SteadySocket } from './client';
export { SteadySocketError, isSteadySocketError } from './errors';
export { json } from './codecs';
