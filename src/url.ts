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
  } catch {
    // No cause: the parser's own error carries the whole input (Node's `input`, Firefox's message).
    throw new SteadySocketError('INVALID_URL', `Invalid WebSocket URL "${redactUrl(text)}": not a valid URL (check the host and port).`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new SteadySocketError(
      'INVALID_URL',
      `Invalid WebSocket URL "${redactUrl(url.href)}": the scheme must be ws:, wss:, http: or https:, not ${url.protocol}`,
    );
  }
  // Quoted in its parsed form: the parser drops leading spaces and control characters, and tabs
  // and line breaks anywhere, which would hide the scheme or the user info from redactUrl's
  // shapes (` wss://user:pw@host/#x`).
  if (url.hash || text.includes('#')) {
    throw new SteadySocketError('INVALID_URL', `Invalid WebSocket URL "${redactUrl(url.href)}": a fragment (#...) is not allowed.`);
  }
  last.text = text;
  last.base = base;
  last.href = url.href;
  return last.href;
}

/** The constructor's URL argument, validated: a normalised URL, a non-empty list of them, or the provider as given. */
export function normalizeSource<T extends () => unknown>(source: string | URL | readonly (string | URL)[] | T): string | string[] | T {
  if (typeof source === 'function') return source;
  if (!Array.isArray(source)) return normalizeUrl(source as string | URL);
  if (!source.length) throw new SteadySocketError('INVALID_URL', 'The list of URLs is empty.');
  return source.map(normalizeUrl);
}

/**
 * `url` with `scheme://` put before it unless it starts with a scheme and `//` (`localhost:8080/x`
 * → `ws://localhost:8080/x`). A `://` further on (a password holding one, `?next=http://…`) is no
 * scheme: `user:pw@host/?u=http://x` read as is has the scheme `user:`, and an error that names
 * the scheme would name the user.
 */
export function withScheme(url: string, scheme: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `${scheme}://${url}`;
}

/**
 * The part of a header name up to its first character that a name (a token, RFC 9110 §5.6.2)
 * cannot hold: all an error may quote of a bad name, since a value typed into the name
 * (`Authorization: Bearer <token>`) may follow.
 */
export function tokenPrefix(name: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]*/.exec(name)![0];
}

/**
 * The URL with its secrets replaced by `***`, safe to log: `wss://user:pw@host/p?token=abc#x`
 * becomes `wss://***:***@host/p?token=***#***`. User name and password, every query value (and
 * a query part without a name) and the fragment are hidden. Text that does not parse is redacted
 * by shape: everything before the last `@` of what follows the scheme (a mistyped password may
 * hold `/`, `?` or `#`), the query values and anything after `#`.
 */
export function redactUrl(text: string): string {
  // Every `open` event carries the redacted URL, and many clients of one app share their URL:
  // they share one redaction too (it parses the URL, which costs time and, in bench/, heap).
  if (text !== lastRedacted.text) {
    lastRedacted.redacted = redact(text);
    lastRedacted.text = text;
  }
  return lastRedacted.redacted;
}

/**
 * Every URL inside `text` (`scheme://...`, any scheme, any case) redacted by redactUrl(). A URL
 * ends at white space or at a character the URL parser would have encoded there (`"`, `<`, `>`, a
 * backtick, a non-ASCII character such as `…`), and punctuation that ends a sentence, a closing
 * bracket or quote at its end are not part of it. Its user info, though, runs to the last `@`
 * before white space or the path, whatever it holds: a password written raw in an error text may
 * hold any of those (the parser keeps `'` raw), and ending the URL there showed the rest of it.
 * Node only (the CLI, a provider's error): the browser builds do not carry it.
 */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/(?:[^\s/?#]*@)?[^\s"<>`\u0080-\uffff]*/gi, (match) => {
    const url = match.replace(/[.,;:!?)\]']+$/, '');
    return redactUrl(url) + match.slice(url.length);
  });
}

/** The last URL redacted, and its redaction. */
const lastRedacted = { text: '', redacted: '' };

function redact(text: string): string {
  // The URL parser skips every tab and line break, and C0 controls and spaces before the scheme
  // (WHATWG URL; SCHEME keeps those): `w\tss://user:pw@host` hid its user info from these shapes.
  text = text.replace(/[\t\n\r]/g, '');
  const scheme = SCHEME.exec(text)?.[0] ?? '';
  let rest = text.slice(scheme.length);
  // In a URL that parses, the user info ends at the first `@` of the authority; in one that does
  // not, with or without a scheme (`wss//user:pw@host`, `//user:pw@host`), a mistyped password
  // may hold `/`, `?` or `#`: take everything before the last `@`.
  const authority = /^[^/?#]*@/.exec(rest)?.[0];
  const at = parses(text) ? (authority ? authority.length - 1 : -1) : rest.lastIndexOf('@');
  if (at >= 0) rest = `${rest.slice(0, at).includes(':') ? '***:***' : '***'}${rest.slice(at)}`;
  const hash = rest.indexOf('#');
  const fragment = hash >= 0 ? '#***' : '';
  if (hash >= 0) rest = rest.slice(0, hash);
  const query = rest.indexOf('?');
  return scheme + (query >= 0 ? rest.slice(0, query) + redactQuery(rest.slice(query)) : rest) + fragment;
}

function parses(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

// Any slashes: the URL parser also takes `ws:user:pass@host` and `ws:\\host` for special schemes.
// Leading C0 controls and spaces, which it skips, are kept with the scheme.
const SCHEME = /^[\0- ]*[a-z][a-z\d+.-]*:[/\\]*/i;

/** `?a=1&b&c=2` → `?a=***&***&c=***`: values hidden, and a part without a name (it may be a bare token). */
function redactQuery(search: string): string {
  if (search.length <= 1) return search;
  const parts = search.slice(1).split('&').map((part) => {
    const equals = part.indexOf('=');
    return equals >= 0 ? `${part.slice(0, equals)}=***` : part === '' ? part : '***';
  });
  return `?${parts.join('&')}`;
}

/** Secrets shorter than this are not searched for in other libraries' messages (too many false hits). */
const MIN_SECRET = 4;

/** The name of an HTTP authentication scheme: the first word of an `Authorization` value, no secret. */
const AUTH_SCHEME = /^(?:basic|bearer|digest|negotiate|token)$/i;

/**
 * Removes a connection's secrets from text written by someone else (a runtime's error message,
 * a stack): the URL itself, then its user name, password and query values, and header values
 * (each word of them too), raw and percent-decoded.
 */
export function secretScrubber(url: string, headers?: Record<string, string>): (text: string) => string {
  const secrets = new Set<string>();
  const add = (value: string | undefined) => {
    if (!value) return;
    for (const form of [value, safeDecode(value), encodeURIComponent(value)]) if (form.length >= MIN_SECRET) secrets.add(form);
  };
  try {
    const parsed = new URL(url);
    add(parsed.username);
    add(parsed.password);
    // Raw values (a bare part is a value too); add() also takes their decoded form.
    for (const part of parsed.search.slice(1).split('&')) add(part.slice(part.indexOf('=') + 1));
  } catch {
    // Not a URL: only the whole text is replaced.
  }
  // A header value, and each word of it but an auth scheme's name: a server may quote the token alone.
  if (headers) {
    for (const name of Object.keys(headers)) {
      const value = String(headers[name]);
      add(value);
      for (const word of value.split(/[\s,;]+/)) if (!AUTH_SCHEME.test(word)) add(word);
    }
  }
  const ordered = [...secrets].sort((a, b) => b.length - a.length);
  const redacted = redactUrl(url);
  return (text) => {
    let out = text.split(url).join(redacted);
    for (const secret of ordered) out = out.split(secret).join('***');
    return out;
  };
}

/** Fields of an underlying error worth keeping; anything else may hold a URL or a header. */
const SAFE_FIELDS = ['code', 'errno', 'syscall', 'address', 'port', 'status', 'statusCode'] as const;

/**
 * A copy of `cause` that holds nothing `scrub` would remove: for an Error its name, message,
 * stack and plain diagnostic fields (scrubbed), and its own cause likewise; anything else
 * (an `Event` whose target holds the URL, an object) becomes an Error with its message.
 */
export function scrubCause(cause: unknown, scrub: (text: string) => string, depth = 0): unknown {
  if (cause === undefined || cause === null) return cause;
  if (typeof cause === 'string') return scrub(cause);
  if (typeof cause !== 'object') return cause;
  const source = cause as { name?: unknown; message?: unknown; stack?: unknown; type?: unknown; cause?: unknown };
  const copy = new Error() as Error & Record<string, unknown>;
  // A getter of the application's object may throw: the copy keeps what was read before it.
  try {
    copy.message = scrub(typeof source.message === 'string' ? source.message : typeof source.type === 'string' ? `${source.type} event` : 'error');
    if (typeof source.name === 'string') copy.name = source.name;
    copy.stack = typeof source.stack === 'string' ? scrub(source.stack) : `${copy.name}: ${copy.message}`;
    for (const field of SAFE_FIELDS) {
      const value = (cause as Record<string, unknown>)[field];
      if (typeof value === 'number') copy[field] = value;
      else if (typeof value === 'string') copy[field] = scrub(value);
    }
    if (source.cause !== undefined && depth < 4) copy.cause = scrubCause(source.cause, scrub, depth + 1);
  } catch {
    // what was read is kept
  }
  return copy;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
