import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { EXIT_CODES_HELP, ExitCode } from './exit-codes';
import { encodeInput, InputError, type Encoding } from './messages';
import { withScheme } from '../url';
import { MASK, redactUrl } from './redact';

/** Everything the command line asked for, validated. */
export interface CliOptions {
  url: string;
  subprotocols: string[];
  headers: Record<string, string>;
  origin: string | undefined;
  auth: string | undefined;
  followRedirects: boolean;
  maxRedirects: number;
  connectTimeout: number | undefined;

  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  /** The passphrase of --key; `true` for `--passphrase` without a value (ask on the terminal). */
  passphrase: string | true | undefined;
  insecure: boolean;
  /** How -k was spelled (`-n/--no-check` is wscat's name), for the warning. */
  insecureFlag: string;

  /** A proxy URL, false for --no-proxy, undefined to read the environment. */
  proxy: string | false | undefined;

  reconnect: boolean;
  maxRetries: number | undefined;
  minDelay: number | undefined;
  maxDelay: number | undefined;
  heartbeat: number | undefined;
  preamble: string[];
  /**
   * Pipe and execute modes: give up when the first connection has not opened after this many
   * attempts (0: no limit). Undefined when --max-retries governs instead.
   */
  connectAttempts: number | undefined;

  execute: string[];
  /** Seconds to wait after sending; -1 holds the connection open. With --count: the deadline (default 10). */
  wait: number | undefined;
  count: number | undefined;
  encoding: Encoding;

  json: boolean;
  showPingPong: boolean;
  quiet: boolean;
  color: boolean;
  debug: boolean;
}

/** What parsing decided: run with options, or exit now (help, version, usage error). */
export type ParseResult = { run: CliOptions } | { exit: number };

export interface ParseIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  version: string;
}

const EXAMPLES = `
Examples:
  Interactive session on a terminal:
    steadysocket ws://localhost:8080/chat
  Subprotocol and a header:
    steadysocket wss://api.example.com/ws -s chat.v2 -H "Authorization: Bearer $TOKEN"
  Pipe mode, a line in and a line out:
    echo '{"op":"ping"}' | steadysocket ws://localhost:8080
  Send two messages, wait 2 s for replies, exit:
    steadysocket ws://localhost:8080 -x hello -x world -w 2
  NDJSON events for scripts:
    steadysocket ws://localhost:8080 --json | jq .
  One request, one reply (exit 7 if none arrives within 10 s, or -w SECONDS):
    steadysocket ws://localhost:8080/rpc -x '{"id":1}' --count 1
  Authenticate on every (re)connect and watch liveness:
    steadysocket ws://localhost:8080 --preamble '{"op":"auth","token":"…"}' --heartbeat 15000

Modes: interactive when stdin and stdout are terminals (prompt, status line, /help for
commands); pipe mode otherwise (each stdin line is a message, each message one stdout
line); execute mode with -x. In pipe and execute modes a first connection that never
opens fails after --connect-attempts (default 3) tries; once connected, it reconnects.
After the input, a server closing with 1000 ends the wait (-w). Proxies: HTTPS_PROXY,
HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured unless --proxy or --no-proxy is given.
NO_COLOR turns colours off.
`;

/** A repeatable flag's values: the list is this parse's own (no default), so it grows in place, not copied per flag. */
function collect(value: string, previous: string[] | undefined): string[] {
  if (!previous) return [value];
  previous.push(value);
  return previous;
}

function integer(name: string, min: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} must be a whole number.`);
    const n = Number(value);
    if (n < min) throw new InvalidArgumentError(`${name} must be at least ${min}.`);
    return n;
  };
}

/** A decimal number (`2`, `0.5`, `1e3`): `Number()` alone would also take `0x10`, `0b1` and `0o7`. */
const DECIMAL = /^-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

function seconds(value: string): number {
  const n = Number(value);
  if (!DECIMAL.test(value.trim()) || !Number.isFinite(n) || (n < 0 && n !== -1)) {
    throw new InvalidArgumentError('seconds must be a number ≥ 0, or -1 to hold the connection open.');
  }
  return n;
}

/** Header fields of the WebSocket handshake itself (RFC 6455 §4.1), with what to use instead. */
const OWN_HEADERS = new Map([
  ['sec-websocket-protocol', ': offer subprotocols with -s'],
  ['sec-websocket-key', ''],
  ['sec-websocket-version', ''],
  ['sec-websocket-extensions', ''],
  ['upgrade', ''],
  ['connection', ''],
]);

function header(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const colon = value.indexOf(':');
  const name = colon > 0 ? value.slice(0, colon).trim() : '';
  // RFC 9110 §5.1: a field name is a token.
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    // Never echo the value: headers carry tokens.
    throw new InvalidArgumentError(
      colon > 0
        ? `expected "Name: value", got ${JSON.stringify(`${value.slice(0, colon)}: ${MASK}`)}: the name is no token.`
        : `expected "Name: value", got ${value.trim() ? `${value.length} characters without a colon (not shown: a header may hold a secret)` : 'nothing'}.`,
    );
  }
  // The handshake's own fields: sent by the client, and one given twice breaks the handshake.
  const own = OWN_HEADERS.get(name.toLowerCase());
  if (own !== undefined) throw new InvalidArgumentError(`${name} is set by the client for the handshake${own}.`);
  // One value would silently replace the other (field names are case-insensitive).
  if (hasHeader(previous, name)) throw new InvalidArgumentError(`${name} is given twice: give each header once (join a list with ", ").`);
  const field = value.slice(colon + 1).trim();
  // §5.5: visible characters, spaces and tabs (Node also takes Latin-1); never a line break.
  if (/[^\t\x20-\x7e\x80-\xff]/.test(field)) throw new InvalidArgumentError(`the value of ${name} holds a character no header can carry (a line break, a control character, or one beyond Latin-1).`);
  return { ...previous, [name]: field };
}

function hasHeader(headers: Record<string, string> | undefined, name: string): boolean {
  return Object.keys(headers ?? {}).some((key) => key.toLowerCase() === name.toLowerCase());
}

/** A header set by a flag and by -H too: one value would silently replace the other. */
function checkHeaderConflicts(raw: RawOptions): void {
  const given = [
    ['--host', 'Host', raw.host],
    ['-o/--origin', 'Origin', raw.origin],
    ['--auth', 'Authorization', raw.auth],
  ] as const;
  for (const [flag, name, value] of given) {
    if (value !== undefined && hasHeader(raw.header, name)) throw new UsageError(`${flag} and -H "${name}: …" both set the ${name} header: give one.`);
  }
}

function userPass(value: string): string {
  if (!value.includes(':')) throw new InvalidArgumentError('expected user:password.');
  return value;
}

/** `'--name=value'` quoted in an error as `'--name=***'` (up to the last quote of its line: a value may hold one). */
export function hideFlagValues(text: string): string {
  return text.replace(/'(--?[A-Za-z][\w-]*)=.*'/g, "'$1=***'");
}

export function buildProgram(io: ParseIo): Command {
  const program = new Command('steadysocket')
    .description('A WebSocket client that reconnects, queues and reports typed errors.')
    .usage('[options] <url>')
    .argument('[url]', 'ws://, wss://, http:// or https:// URL (ws:// is assumed without a scheme)')
    .version(io.version, '-V, --version')
    .helpOption('-h, --help', 'show this help')
    .showHelpAfterError('(run steadysocket --help for usage)')
    // A mistyped long flag written with its value (`--headers='Authorization: …'`) is quoted whole
    // in commander's "unknown option" error; the scrubber cannot know that value is a secret.
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (text, write) => write(hideFlagValues(text)) })
    .exitOverride();

  program
    .optionsGroup('Connection:')
    .option('-c, --connect <url>', 'the URL, as an option (wscat style)')
    .option('-s, --subprotocol <token>', 'offer a subprotocol; repeat to offer several, in order', collect)
    .option('-H, --header <name:value>', 'add a handshake header; repeatable (each header once)', header)
    .option('-o, --origin <origin>', 'set the Origin header', (value: string) => header(`Origin: ${value}`, undefined).Origin)
    .option('--host <host>', 'set the Host header (as wscat; same as -H "Host: <host>")', (value: string) => header(`Host: ${value}`, undefined).Host)
    .option('--auth <user:pass>', 'HTTP Basic authentication', userPass)
    .option('-L, --location', 'follow HTTP redirects during the handshake')
    .option('--max-redirects <n>', 'most redirects to follow with -L', integer('--max-redirects', 0), 10)
    .option('--connect-timeout <ms>', 'give up on an attempt after this long (default 10000)', integer('--connect-timeout', 1));

  program
    .optionsGroup('TLS:')
    .option('--ca <file>', 'trust this CA certificate (PEM) for wss://')
    .option('--cert <file>', 'client certificate (PEM)')
    .option('--key <file>', 'client certificate key (PEM)')
    .option('--passphrase [pass]', 'passphrase of --key; without a value, asked for on the terminal')
    .option('-k, --insecure', 'do NOT verify the server certificate (testing only)')
    .option('-n, --no-check', "wscat's name for -k/--insecure");

  program
    .optionsGroup('Proxy:')
    .option('--proxy <url>', 'connect through this HTTP proxy (CONNECT tunnel)')
    .option('--no-proxy', 'ignore HTTPS_PROXY/HTTP_PROXY/ALL_PROXY from the environment');

  program
    .optionsGroup('Reconnect:')
    .option('--no-reconnect', 'do not reconnect: exit when the connection ends')
    .option('--max-retries <n>', 'give up after n failed attempts in a row (default: never)', integer('--max-retries', 0))
    .option('--connect-attempts <n>', 'pipe/execute: fail if the first connection has not opened after n attempts (default 3; 0: no limit)', integer('--connect-attempts', 0))
    .option('--min-delay <ms>', 'first retry waits up to this long (default 1000)', integer('--min-delay', 0))
    .option('--max-delay <ms>', 'no retry waits longer (default 30000)', integer('--max-delay', 0))
    .option('--heartbeat <ms>', 'ping after ms of silence; reconnect if no answer within ms', integer('--heartbeat', 1))
    .option('--preamble <msg>', 'send on every connect, before anything else (auth, subscribe); repeatable', collect);

  program
    .optionsGroup('Messages:')
    .option('-x, --execute <msg>', 'send this message, then exit (see -w); repeatable', collect)
    .option('-w, --wait <seconds>', 'after sending, wait this long for replies (-1: until the server closes); with --count the deadline (default 10)', seconds)
    .option('--count <n>', 'exit 0 after receiving n messages; exit 7 if they do not arrive in time (see -w)', integer('--count', 1))
    .option('-b, --binary', 'send lines as binary frames; print binary frames as raw text')
    .option('--hex', 'lines are hex and sent as binary; binary frames print as hex (the default)')
    .option('--base64', 'lines are base64 and sent as binary; binary frames print as base64');

  program
    .optionsGroup('Output:')
    .option('--json', 'NDJSON on stdout: one object per event, with timestamps')
    .option('-P, --show-ping-pong', 'show ping and pong frames')
    .option('-q, --quiet', 'no diagnostics on stderr (the reason for a failure is still printed)')
    .option('--no-color', 'no colours (also: NO_COLOR=1)')
    .option('--debug', "print the client's lifecycle log on stderr");

  program
    .optionsGroup('wscat compatibility:')
    .option('--slash', 'accepted and ignored: slash commands are always on in interactive mode')
    .option('-p, --protocol <version>', 'WebSocket protocol version: only 13 (RFC 6455) is spoken')
    .option('-l, --listen <port>', 'refused: steadysocket is a client only (use wscat -l or websocat -s)');

  program.addHelpText('after', `${EXAMPLES}\n${EXIT_CODES_HELP}\n`);
  return program;
}

/** Parses argv (without node and the script). Never exits the process. */
export function parseArgs(argv: string[], io: ParseIo): ParseResult {
  const program = buildProgram(io);
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      return { exit: error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE };
    }
    throw error;
  }
  try {
    return { run: validate(program) };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`error: ${error.message}\n(run steadysocket --help for usage)\n`);
    return { exit: ExitCode.USAGE };
  }
}

export class UsageError extends Error {}

interface RawOptions {
  connect?: string;
  subprotocol?: string[];
  header?: Record<string, string>;
  origin?: string;
  auth?: string;
  location?: boolean;
  maxRedirects: number;
  connectTimeout?: number;
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string | true;
  insecure?: boolean;
  check: boolean;
  host?: string;
  slash?: boolean;
  protocol?: string;
  listen?: string;
  connectAttempts?: number;
  proxy?: string | boolean;
  reconnect: boolean;
  maxRetries?: number;
  minDelay?: number;
  maxDelay?: number;
  heartbeat?: number;
  preamble?: string[];
  execute?: string[];
  wait?: number;
  count?: number;
  binary?: boolean;
  hex?: boolean;
  base64?: boolean;
  json?: boolean;
  showPingPong?: boolean;
  quiet?: boolean;
  color: boolean;
  debug?: boolean;
}

function validate(program: Command): CliOptions {
  const raw = program.opts<RawOptions>();
  wscatOptions(raw);
  const execute = raw.execute ?? [];
  const preamble = raw.preamble ?? [];
  const headers = raw.host === undefined ? raw.header ?? {} : { ...raw.header, Host: raw.host };
  const positional = program.args[0];
  if (positional !== undefined && raw.connect !== undefined && positional !== raw.connect) {
    throw new UsageError('give the URL once: either as an argument or with -c/--connect.');
  }
  const given = raw.connect ?? positional;
  if (!given) throw new UsageError('missing the URL to connect to.');
  const url = checkUrl(withScheme(checkShape(given), 'ws')); // `localhost:8080/x` → `ws://localhost:8080/x`, like wscat
  checkHeaderConflicts(raw);

  const formats = [raw.binary && '--binary', raw.hex && '--hex', raw.base64 && '--base64'].filter(Boolean);
  if (formats.length > 1) throw new UsageError(`${formats.join(' and ')} cannot be combined.`);
  const encoding: Encoding = raw.hex ? 'hex' : raw.base64 ? 'base64' : raw.binary ? 'binary' : 'text';
  for (const message of [...execute, ...preamble]) {
    try {
      encodeInput(message, encoding);
    } catch (error) {
      if (error instanceof InputError) throw new UsageError(`a message is ${error.message}`);
      throw error;
    }
  }
  if (raw.minDelay !== undefined && raw.maxDelay !== undefined && raw.maxDelay < raw.minDelay) {
    throw new UsageError('--max-delay must not be below --min-delay.');
  }
  if ((raw.cert === undefined) !== (raw.key === undefined)) {
    throw new UsageError('--cert and --key go together.');
  }
  if (raw.passphrase !== undefined && raw.key === undefined) throw new UsageError('--passphrase is the passphrase of --key: give --key (and --cert) too.');

  return {
    url,
    subprotocols: raw.subprotocol ?? [],
    headers: raw.auth ? { ...headers, Authorization: `Basic ${Buffer.from(raw.auth).toString('base64')}` } : headers,
    origin: raw.origin,
    auth: raw.auth,
    followRedirects: raw.location === true,
    maxRedirects: raw.maxRedirects,
    connectTimeout: raw.connectTimeout,
    ca: raw.ca,
    cert: raw.cert,
    key: raw.key,
    passphrase: raw.passphrase,
    insecure: raw.insecure === true || raw.check === false,
    insecureFlag: raw.insecure !== true && raw.check === false ? '-n/--no-check' : '-k/--insecure',
    proxy: raw.proxy === false ? false : typeof raw.proxy === 'string' ? withScheme(raw.proxy, 'http') : undefined,
    reconnect: raw.reconnect,
    maxRetries: raw.maxRetries,
    minDelay: raw.minDelay,
    maxDelay: raw.maxDelay,
    heartbeat: raw.heartbeat,
    preamble,
    connectAttempts: raw.connectAttempts ?? (raw.maxRetries === undefined ? DEFAULT_CONNECT_ATTEMPTS : undefined),
    execute,
    wait: raw.wait,
    count: raw.count,
    encoding,
    json: raw.json === true,
    showPingPong: raw.showPingPong === true,
    quiet: raw.quiet === true,
    color: raw.color,
    debug: raw.debug === true,
  };
}

/** Pipe and execute modes: attempts a first connection gets before the run fails (wscat: one). */
export const DEFAULT_CONNECT_ATTEMPTS = 3;

/** -w when --count is given without it: how long to wait for the messages, in seconds. */
export const DEFAULT_COUNT_WAIT = 10;

/** wscat flags that steadysocket takes (-n, --slash, --host, -p 13) or refuses with what to do instead. */
function wscatOptions(raw: RawOptions): void {
  if (raw.listen !== undefined) {
    throw new UsageError(
      `-l/--listen: steadysocket is a WebSocket client only and cannot listen on port ${raw.listen}. ` +
        `For a quick server use \`npx wscat -l ${raw.listen}\` or \`websocat -s ${raw.listen}\`.`,
    );
  }
  if (raw.protocol !== undefined && raw.protocol.trim() !== '13') {
    throw new UsageError(
      `-p/--protocol ${raw.protocol}: steadysocket speaks WebSocket version 13 (RFC 6455) only, as every current server does; ` +
        `the old hybi drafts (e.g. 8) are not supported. To offer a subprotocol, use -s <token>.`,
    );
  }
}

/** What `withScheme` would misread: white space around the URL, and a WebSocket or HTTP scheme without its `//` (`ws:/host`). */
function checkShape(url: string): string {
  const shown = JSON.stringify(redactUrl(url));
  if (url !== url.trim()) throw new UsageError(`invalid URL ${shown}: it starts or ends with white space.`);
  const scheme = /^(wss?|https?):(?!\/\/)/i.exec(url)?.[1];
  if (scheme) throw new UsageError(`invalid URL ${shown}: the scheme ${scheme}: must be followed by // and the host (${scheme.toLowerCase()}://host/).`);
  return url;
}

/**
 * The URL, checked before anything uses it (the proxy lookup among them), with what is wrong in
 * words. The URL in messages is redacted: a mistyped URL still holds its token.
 */
function checkUrl(url: string): string {
  const shown = JSON.stringify(redactUrl(url));
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`invalid URL ${shown}: ${urlProblem(url)}.`);
  }
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(parsed.protocol)) {
    throw new UsageError(`invalid URL ${shown}: the scheme must be ws://, wss://, http:// or https://, not ${parsed.protocol}//.`);
  }
  if (/\s/.test(url)) throw new UsageError(`invalid URL ${shown}: it contains white space (percent-encode a space in a path or query as %20).`);
  if (url.includes('#')) throw new UsageError(`invalid URL ${shown}: a fragment (#…) is not allowed in a WebSocket URL (RFC 6455 §3).`);
  // `ws:///path` parses with `path` as its host.
  if (!parsed.hostname || /^[a-z][a-z0-9+.-]*:\/\/[/?]/i.test(url)) throw new UsageError(`invalid URL ${shown}: there is no host name.`);
  if (parsed.port === '0') throw new UsageError(`invalid URL ${shown}: the port 0 is out of range (1–65535).`);
  return url;
}

/** Why `new URL` refused a URL, as far as can be told. */
function urlProblem(url: string): string {
  const parts = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#\s]*@)?(\[[^\]]*\]|[^/?#:]*)(?::([^/?#]*))?/i.exec(url);
  if (!parts) return 'not a URL';
  const [, host, port] = parts;
  if (host === '') return 'there is no host name';
  if (host.startsWith('[') && !host.endsWith(']')) return 'the IPv6 address lacks its closing "]"';
  if (/\s/.test(host)) return `the host ${JSON.stringify(host)} contains white space`;
  if (port !== undefined && port !== '') {
    if (!/^\d+$/.test(port)) return `the port ${JSON.stringify(port)} is not a number`;
    if (Number(port) > 65535) return `the port ${port} is out of range (1–65535)`;
  }
  return `the host ${JSON.stringify(host)} is not a valid host name`;
}
