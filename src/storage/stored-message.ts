// The shape check both stores apply: on save (to refuse what cannot be stored faithfully) and on
// load (to recognise contents that are not what a store wrote). Problems name the position and
// the kind of value, never the value itself: message contents must not reach error messages.
import { SteadySocketError } from '../errors';
import type { StoredMessage } from './types';

/** What is wrong with `value` as a StoredMessage, or undefined when it is one. */
export function messageProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return `is ${kind(value)}, not an object`;
  const { data, id, queuedAt } = value as { data?: unknown; id?: unknown; queuedAt?: unknown };
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) return `has data of type ${kind(data)} (expected a string or Uint8Array)`;
  if (id !== undefined && typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) {
    return `has an id of type ${kind(id)} (expected a string or a finite number)`;
  }
  if (queuedAt !== undefined && !(typeof queuedAt === 'number' && Number.isFinite(queuedAt))) return `has a queuedAt of type ${kind(queuedAt)} (expected a finite number)`;
  return undefined;
}

/** A message of its own: text as it is, bytes copied (a new plain Uint8Array, never a view: a Buffer's slice() is one). */
export function copyMessage({ data, id, queuedAt }: StoredMessage): StoredMessage {
  const copy: StoredMessage = { data: typeof data === 'string' ? data : new Uint8Array(data) };
  if (id !== undefined) copy.id = id;
  if (queuedAt !== undefined) copy.queuedAt = queuedAt;
  return copy;
}

/** Throws INVALID_MESSAGE for the first entry of `messages` that is not a StoredMessage. */
export function checkMessages(messages: readonly StoredMessage[]): void {
  if (!Array.isArray(messages)) throw new SteadySocketError('INVALID_MESSAGE', `save() takes an array of messages, not ${kind(messages)}.`);
  for (let i = 0; i < messages.length; i++) {
    const problem = messageProblem(messages[i]);
    if (problem) throw new SteadySocketError('INVALID_MESSAGE', `Message ${i} ${problem}; it cannot be stored.`);
  }
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}
