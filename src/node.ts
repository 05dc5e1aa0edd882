/**
 * Node-only helpers: HTTP CONNECT proxy agents from the environment. Never imported by the
 * browser entry.
 * @module steadysocket/node
 */
import type { Agent, AgentOptions, ClientRequest, OutgoingHttpHeaders } from 'node:http';
import type { ConnectionOptions } from 'node:tls';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';
import { redactUrl, tokenPrefix, withScheme } from './url';

/**
 * Options for the proxy agent: `http.Agent` options, TLS options for an `https://` proxy
 * (e.g. its `ca`), and `headers` sent with every CONNECT request.
 */
export type ProxyAgentOptions = AgentOptions &
  ConnectionOptions & {
    /** Headers of every CONNECT request (e.g. `Proxy-Authorization`), or a function that makes them. */
    headers?: OutgoingHttpHeaders | (() => OutgoingHttpHeaders);
  };
// Spelled out with Node's own types rather than re-exported from https-proxy-agent, whose types
// do not resolve for TypeScript's node10 resolution.

/** The environment variables {@link proxyAgentFor} reads, as in `process.env`. */
export type ProxyEnv = Readonly<Record<string, string | undefined>>;

// ws:// is looked up as http:// and wss:// as https:// (the WHATWG mapping, reversed), so the
// variables users already set for HTTP apply: HTTP_PROXY for ws://, HTTPS_PROXY for wss://.
const LOOKUP_SCHEME: Readonly<Record<string, string>> = {
  'ws:': 'http:',
  'wss:': 'https:',
  'http:': 'http:',
  'https:': 'https:',
};

const PROXY_VARIABLES = ['http_proxy', 'https_proxy', 'all_proxy'];

/**
 * Builds an agent that tunnels every connection through an HTTP(S) proxy with `CONNECT`
 * (RFC 9110 §9.3.6). The tunnel carries ws:// and wss:// alike; for wss:// TLS runs end to end
 * inside it, so the `ca`/`cert`/`key` options of the socket still apply to the server.
 * Credentials in the URL (`http://user:pass@proxy:3128`) are sent as `Proxy-Authorization: Basic`.
 *
 * @param proxyUrl An `http://` or `https://` proxy URL. Without a scheme, `http://` is assumed.
 * @param options Agent options; for an `https://` proxy, TLS options of the hop to the proxy.
 * @returns An agent (an `HttpsProxyAgent`), to pass as the `agent` option of `SteadySocket`.
 * @throws TypeError when the URL is no string or URL, does not parse or names a proxy other than
 *   HTTP(S) (e.g. SOCKS), when `options` is no object, or a CONNECT header is unsafe to send (a
 *   `headers` function's answer is checked at each CONNECT instead: that attempt fails).
 *
 * @example
 * new SteadySocket('wss://example.com/feed', { agent: createProxyAgent('http://proxy.internal:3128') });
 */
export function createProxyAgent(proxyUrl: string | URL, options?: ProxyAgentOptions): Agent {
  if (typeof proxyUrl !== 'string' && !(proxyUrl instanceof URL)) {
    throw new TypeError(`Invalid proxy URL: expected a string or a URL, got ${proxyUrl === null ? 'null' : typeof proxyUrl}.`);
  }
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError(`Invalid proxy agent options: expected an object, got ${options === null ? 'null' : typeof options}.`);
  }
  // Also for the message: redacted without its scheme, `user:pass@host` would read `user:` as one.
  const text = withScheme(String(proxyUrl).trim(), 'http');
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new TypeError(`Invalid proxy URL ${JSON.stringify(redactUrl(text))}: expected http://host:port or https://host:port.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(
      `Unsupported proxy ${redactUrl(parsed.href)}: steadysocket/node tunnels through HTTP(S) proxies with CONNECT. ` +
        `For a ${parsed.protocol.slice(0, -1)} proxy, pass your own agent (e.g. from socks-proxy-agent) as the agent option.`,
    );
  }
  // https-proxy-agent writes these into the CONNECT request as they are: a line break would add
  // header lines (Node's own requests refuse one; so does this). A function's answer is checked
  // at each CONNECT (TunnelAgent).
  const headers = options?.headers;
  if (headers && typeof headers === 'object') checkProxyHeaders(headers);
  return new TunnelAgent(parsed.href, options as ConstructorParameters<typeof HttpsProxyAgent<string>>[1]);
}

/** Throws a TypeError for a CONNECT header whose name is no token or whose value holds a line break or NUL. */
function checkProxyHeaders(headers: unknown): OutgoingHttpHeaders {
  if (!headers || typeof headers !== 'object') throw new TypeError('Invalid proxy headers: the headers function must return an object.');
  for (const name of Object.keys(headers)) {
    const values = ([] as unknown[]).concat((headers as Record<string, unknown>)[name]);
    const good = tokenPrefix(name); // quoted only up to its first bad character, as the headers option's names
    if (!name || good !== name || values.some((value) => /[\r\n\0]/.test(String(value)))) {
      throw new TypeError(`Invalid proxy header ${JSON.stringify(good.slice(0, 40))}: a header name is a token, and a value holds no line break or NUL.`);
    }
  }
  return headers as OutgoingHttpHeaders;
}

type Connect = (this: HttpsProxyAgent<string>, req: ClientRequest, ...rest: never[]) => Promise<unknown>;

/**
 * An HttpsProxyAgent whose socket to the proxy ends with the request it was opened for.
 * https-proxy-agent 9.1 waits for the proxy's answer to CONNECT without end, also when the request
 * is aborted (a connect timeout, `close()`): a proxy that never answers kept one TCP socket per
 * attempt open, and the process alive. Here each socket to the proxy gets an abort signal that
 * fires when its request is aborted before the tunnel is up (ws aborts its request on a connect
 * timeout and on `close()`). A request ended with `destroy()` instead emits `close` only once it
 * has a socket, that is once the proxy answered: such a one still waits for the answer.
 *
 * https-proxy-agent reads `connectOpts` synchronously when it opens the socket (in `connect()`,
 * and in its retry after a 407 when `onProxyAuth` is given), so the signal is put there for that
 * moment only. The tests against a proxy that never answers fail if a new version stops doing so.
 */
class TunnelAgent extends HttpsProxyAgent<string> {}

for (const name of ['connect', '_connectWithAuth'] as const) {
  const prototype = HttpsProxyAgent.prototype as unknown as Record<string, Connect>;
  const open = prototype[name];
  (TunnelAgent.prototype as unknown as Record<string, Connect>)[name] = function (this: HttpsProxyAgent<string>, req, ...rest) {
    // A headers function is asked here, before a socket to the proxy is opened, and its answer
    // checked: https-proxy-agent would call it after opening one (which a throw then left open)
    // and write its answer into the CONNECT as it is. Read synchronously, like connectOpts.
    const makeHeaders = this.proxyHeaders;
    const made = typeof makeHeaders === 'function' ? checkProxyHeaders(makeHeaders()) : makeHeaders;
    const controller = new AbortController();
    const abort = () => controller.abort();
    if (req.destroyed) abort();
    req.once('abort', abort).once('close', abort);
    const base = this.connectOpts;
    this.connectOpts = { ...base, signal: controller.signal };
    this.proxyHeaders = made;
    let tunnel: Promise<unknown>;
    try {
      tunnel = open.call(this, req, ...rest);
    } finally {
      this.connectOpts = base;
      this.proxyHeaders = makeHeaders;
    }
    // Once the tunnel is up, the socket is the request's own: it ends with it.
    return tunnel.finally(() => req.off('abort', abort).off('close', abort));
  };
}

/**
 * The proxy agent the environment asks for when connecting to `url`, or `undefined` for a direct
 * connection. ws:// uses `HTTP_PROXY`, wss:// uses `HTTPS_PROXY`, each falling back to
 * `ALL_PROXY`; lower-case names win over upper-case ones. `NO_PROXY` lists hosts (optionally
 * `host:port`; an IPv6 address bare, `::1`, or in brackets, `[::1]:8080`, in any spelling) to reach directly: entries match the host exactly (`localhost` does not cover
 * `127.0.0.1`), except those starting with `.` or `*`, which match by suffix; `*` alone turns
 * proxying off. A proxy value without a scheme is taken as `http://`.
 *
 * The lookup is done by `proxy-from-env`. That library reads `process.env` only, so `process.env`
 * is replaced by a view of the proxy variables of `env` for the duration of the lookup and
 * restored before returning. The lookup is synchronous: no other code can observe the swap.
 *
 * Call it per URL: with failover URLs, or a URL function, build the agent for the URL you use.
 *
 * @param url The WebSocket URL (`ws:`, `wss:`, or `http:`/`https:` as the WHATWG standard maps them).
 * @param env Where to read the variables. Default: `process.env`.
 * @param options Options for the agent (see {@link createProxyAgent}).
 * @returns An `HttpsProxyAgent` for the `agent` option, or `undefined` when no proxy applies.
 * @throws TypeError when `url` is not a WebSocket URL, or the chosen proxy value is not an HTTP(S) proxy URL.
 *
 * @example
 * const url = 'wss://example.com/feed';
 * const socket = new SteadySocket(url, { agent: proxyAgentFor(url) });
 */
export function proxyAgentFor(url: string | URL, env: ProxyEnv = process.env, options?: ProxyAgentOptions): Agent | undefined {
  let target: URL;
  try {
    target = new URL(String(url));
  } catch {
    throw new TypeError(`Invalid WebSocket URL ${JSON.stringify(redactUrl(String(url)))}.`);
  }
  const scheme = LOOKUP_SCHEME[target.protocol];
  if (!scheme) throw new TypeError(`Not a WebSocket URL: ${target.protocol} (expected ws: or wss:).`);
  // Both schemes are special, so the port survives the change (a default port stays default).
  target.protocol = scheme;
  const proxy = lookUp(target.href, env);
  return proxy ? createProxyAgent(proxy, options) : undefined;
}

function lookUp(url: string, env: ProxyEnv): string {
  const view = proxyView(env);
  const original = process.env;
  process.env = view as NodeJS.ProcessEnv;
  try {
    return getProxyForUrl(url);
  } finally {
    process.env = original;
  }
}

/** The proxy variables of `env` only, with scheme-less proxy values made `http://` (as curl does). */
function proxyView(env: ProxyEnv): Record<string, string> {
  const view: Record<string, string> = {};
  for (const lower of [...PROXY_VARIABLES, 'no_proxy']) {
    for (const name of [lower, lower.toUpperCase()]) {
      const value = env[name]?.trim();
      if (!value) continue;
      view[name] = lower === 'no_proxy' ? bracketIpv6(value) : withScheme(value, 'http');
    }
  }
  return view;
}

/**
 * NO_PROXY with each IPv6 address in brackets and in the form URLs give it (`::1` → `[::1]`,
 * `0:0:0:0:0:0:0:1` → `[::1]`, `::ffff:127.0.0.1` → `[::ffff:7f00:1]`), so it compares equal to
 * the URL's host: proxy-from-env would read `::1` as host `:` and port `1`, and compares text.
 */
function bracketIpv6(noProxy: string): string {
  return noProxy
    .split(/[,\s]+/)
    .map((entry) => {
      // `[address]` with an optional port, or a bare address (which has no port).
      const ipv6 = /^\[([^\]]*)\](:\d+)?$/.exec(entry) ?? (/^[0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*$/i.test(entry) ? [entry, entry] : null);
      if (!ipv6) return entry;
      try {
        return `${new URL(`http://[${ipv6[1]}]`).hostname}${ipv6[2] ?? ''}`;
      } catch {
        return entry;
      }
    })
    .join(',');
}

export { fileStore } from './storage/file';
export type { FileStore, FileStoreOptions } from './storage/file';
