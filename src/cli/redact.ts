// Keeping secrets out of everything the CLI prints. Pure: no I/O.
//
// Two layers. `redactUrl` hides the secret-bearing parts of a URL by its structure, so a URL can
// be shown wherever the CLI names one. A `Scrubber` knows the literal secrets of this run (URL
// credentials and query values, header values, --auth, --passphrase, proxy credentials) and
// removes them from any diagnostic text, including messages that come from the library, Node or
// a dependency: defence in depth for text the CLI did not write itself.

import { redactUrl } from '../index';
import { redactUrlsIn } from '../url';

/** Shown in place of a secret. */
export const MASK = '***';

// URLs are redacted by the library's own `redactUrl` (the same format everywhere), also inside text.
export { redactUrl, redactUrlsIn };

/** HTTP authentication schemes (the IANA registry's, and `Token`): the first word of an `Authorization` value. */
const AUTH_SCHEMES = new Set(['basic', 'bearer', 'digest', 'hoba', 'mutual', 'negotiate', 'ntlm', 'oauth', 'scram-sha-1', 'scram-sha-256', 'vapid', 'token']);

/** Secrets shorter than this are masked only as whole words (not inside a longer run of letters and digits). */
const WHOLE_WORD_BELOW = 12;

/** Shorter literal secrets are not scrubbed from free text: they would mangle ordinary words and numbers. */
const MIN_SECRET_LENGTH = 4;

/** Removes this run's secrets, and the secret parts of any URL, from text meant for humans or logs. */
export class Scrubber {
  private found = new Set<string>();
  /** The secrets longest first; undefined after an add, sorted at the next scrub (not once per add: a command line may add thousands). */
  private secrets: string[] | undefined = [];

  add(...values: (string | undefined)[]): void {
    for (const value of values) {
      if (value === undefined) continue;
      for (const form of [value, value.trim(), safeDecode(value), encodeURIComponent(value)]) {
        if (form.length >= MIN_SECRET_LENGTH && !this.found.has(form)) {
          this.found.add(form);
          this.secrets = undefined;
        }
      }
    }
  }

  /** The secrets in a URL: user, password and every query value. Also for URLs that do not parse. */
  addUrl(url: string | undefined): void {
    if (url === undefined) return;
    url = url.trim(); // as the proxy support reads a proxy variable
    const info = /^(?:[a-z][a-z0-9+.-]*:\/\/)?([^/?#\s]*)@/i.exec(url)?.[1];
    if (info !== undefined) {
      const colon = info.indexOf(':');
      this.add(info, colon < 0 ? info : info.slice(0, colon), colon < 0 ? undefined : info.slice(colon + 1));
      // Sent as `Authorization: Basic base64(user:password)` (as written, and decoded): a server may quote that.
      this.add(...[info, safeDecode(info)].map((form) => Buffer.from(form).toString('base64')));
    }
    const query = /\?([^#]*)/.exec(url)?.[1];
    for (const part of query?.split('&') ?? []) {
      const equals = part.indexOf('=');
      this.add(equals < 0 ? part : part.slice(equals + 1));
    }
  }

  /**
   * A header value, and each word of it (`Bearer <token>` hides the token wherever it shows up
   * alone), but an authentication scheme's name: `Bearer` or `Basic` is no secret, and masking it
   * would mangle ordinary text.
   */
  addHeaderValue(value: string): void {
    const trimmed = value.trim(); // `Name: value` (the space after the colon is no part of it)
    const words = trimmed.split(/[\s,;]+/);
    this.add(trimmed, ...(words.length > 1 ? words.filter((word) => !AUTH_SCHEMES.has(word.toLowerCase())) : words));
  }

  scrub(text: string): string {
    let out = redactUrlsIn(text);
    // Longest first, so a secret that contains another is removed whole.
    this.secrets ??= [...this.found].sort((a, b) => b.length - a.length);
    for (const secret of this.secrets) {
      if (!out.includes(secret)) continue;
      // A short secret only where it stands alone: inside a longer word (`connected` in
      // `disconnected`, `1000` in `41000`) masking it would mangle the text and point at it.
      if (secret.length < WHOLE_WORD_BELOW) out = out.replace(new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(secret)}(?![A-Za-z0-9])`, 'g'), MASK);
      else out = out.split(secret).join(MASK);
    }
    return out;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The environment variables that may hold a proxy URL with credentials. */
const PROXY_ENV = ['http_proxy', 'https_proxy', 'all_proxy', 'ws_proxy', 'wss_proxy'].flatMap((n) => [n, n.toUpperCase()]);

/** Short flags that take a value (args.ts); the others are switches. */
const SHORT_WITH_VALUE = new Set(['c', 's', 'H', 'o', 'x', 'w', 'p', 'l']);

/**
 * The command line with each cluster of short flags written out (`-qs tok` → `-q -s tok`,
 * `-PsTOKEN` → `-P -s TOKEN`), as commander reads it: switches until the first flag that takes a
 * value, which takes the rest of the word or else the next one.
 */
export function expandShortFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    if (!/^-[A-Za-z]{2}/.test(arg)) {
      out.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      out.push(`-${arg[j]}`);
      if (SHORT_WITH_VALUE.has(arg[j])) {
        if (j + 1 < arg.length) out.push(arg.slice(j + 1));
        break;
      }
    }
  }
  return out;
}

/**
 * A scrubber for one run, from the raw command line and the environment, before any parsing:
 * so even an error about a flag (which may quote its value) cannot print a secret. Read twice,
 * as written and with its short-flag clusters written out: what either reading calls a secret is one.
 */
export function scrubberFor(argv: readonly string[], env: NodeJS.ProcessEnv): Scrubber {
  const scrubber = new Scrubber();
  for (const words of [argv, expandShortFlags(argv)]) scan(scrubber, words);
  for (const name of PROXY_ENV) scrubber.addUrl(env[name]);
  return scrubber;
}

function scan(scrubber: Scrubber, argv: readonly string[]): void {
  const valueOf = (i: number, flag: string): string | undefined => {
    const arg = argv[i];
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
    return arg === flag ? argv[i + 1] : arg.startsWith(flag) && !flag.startsWith('--') ? arg.slice(flag.length) : undefined;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    for (const flag of ['-H', '--header']) {
      const value = valueOf(i, flag);
      if (value !== undefined) {
        const colon = value.indexOf(':');
        scrubber.addHeaderValue(colon >= 0 ? value.slice(colon + 1) : value);
      }
    }
    const auth = valueOf(i, '--auth');
    if (auth !== undefined) {
      const colon = auth.indexOf(':');
      // The user name too, as a URL's: the whole value, each part, and the Basic credentials made of it.
      scrubber.add(auth, ...(colon < 0 ? [] : [auth.slice(0, colon), auth.slice(colon + 1)]), Buffer.from(auth).toString('base64'));
    }
    const passphrase = valueOf(i, '--passphrase');
    // A passphrase may start with '-' (commander then calls it an unknown option and quotes it):
    // only what is shaped like a long flag is taken for the next flag (short ones are too short to mask).
    if (passphrase !== undefined && !/^--[a-z][a-z-]*$/.test(passphrase)) scrubber.add(passphrase);
    for (const flag of ['-c', '--connect', '--proxy']) scrubber.addUrl(valueOf(i, flag));
    // A long subprotocol is where a browser-style API takes a token (the library's errors show only its length).
    for (const flag of ['-s', '--subprotocol']) {
      const value = valueOf(i, flag);
      if (value !== undefined && value.length > 24) scrubber.add(value);
    }
    // Anything that looks like a URL, wherever it stands (the positional URL among them).
    if (/[/@?]/.test(arg)) scrubber.addUrl(arg);
  }
}
