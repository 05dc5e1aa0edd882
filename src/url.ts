import { SteadySocketError } from './errors';

/** The last URL normalised, with the page location it was resolved against. */
const last: { text?: string; base?: string; href: string } = { href: '' };

/**
 * Validates a WebSocket URL and returns it normalised (WHATWG "establish a WebSocket
 * connection"): http/https map to ws/wss, relative URLs resolve against the page where there
 * is one, and a fragment is an error (RFC 6455 §3).
 */
export function normalizeUrl(input: string | URL): string {
  if (typeof input !== 'string' && !(input instanceof URL)) {
    throw new SteadySocketError('INVALID_URL', `Expected a URL string, got ${typeof input}.`);
  }
  const text = String(input);
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  // Many clients of one app connect to the same URL: they share one normalised string.
  if (text === last.text && base === last.base) return last.href;
  let url: URL;
  try {
    url = new URL(text, base);
  } catch (cause) {
    throw new SteadySocketError('INVALID_URL', `Invalid WebSocket URL "${redactUrl(text)}": not a URL.`, cause);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new SteadySocketError(
      'INVALID_URL',
      `Invalid WebSocket URL "${redactUrl(text)}": the scheme must be ws:, wss:, http: or https:, not ${url.protocol}`,
    );
  }
  if (url.hash || text.includes('#')) {
    throw new SteadySocketError('INVALID_URL', `Invalid WebSocket URL "${redactUrl(text)}": a fragment (#...) is not allowed.`);
  }
  last.text = text;
  last.base = base;
  last.href = url.href;
  return last.href;
}

/** The URL with credentials and every query value replaced by `***`, safe to log. */
export function redactUrl(text: string): string {
  return text
    .replace(/\/\/[^/?#@]*@/, '//***@')
    .replace(/([?&][^=&#]*)=[^&#]*/g, '$1=***');
}
