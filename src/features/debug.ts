/**
 * The debug feature: one line per lifecycle event and per decision a feature makes, for a
 * console or a log. URLs are redacted and header values never printed.
 */
import { feature, type Feature } from '../feature';
import { invalidOption } from '../options';
import { showProtocol } from '../protocol';
import { secretScrubber } from '../url';

/** The hint for PartySocket's URL parts (host, room, query, …). */
const IN_URL = 'no option: put it in the URL, or pass a url function';

/** Option names of other reconnecting clients (reconnecting-websocket, partysocket, sockette, websocket-ts), and ours. */
const PEER_NAMES: Readonly<Record<string, string>> = {
  minReconnectionDelay: 'minDelay',
  maxReconnectionDelay: 'maxDelay',
  reconnectionDelayGrowFactor: 'factor',
  minUptime: 'stableAfter',
  connectionTimeout: 'connectTimeout',
  timeout: 'minDelay and maxDelay (the same value) with jitter: 0, for a fixed wait between attempts',
  maxEnqueuedMessages: 'maxMessages',
  reconnectInterval: 'minDelay',
  maxReconnectInterval: 'maxDelay',
  reconnectDecay: 'factor',
  maxAttempts: 'maxRetries',
  maxReconnectAttempts: 'maxRetries',
  retries: 'maxRetries',
  startClosed: 'no option: create the client when you want it to connect',
  query: IN_URL,
  host: IN_URL,
  room: IN_URL,
  party: IN_URL,
  id: IN_URL,
  basePath: IN_URL,
  prefix: IN_URL,
  path: IN_URL,
  protocol: 'protocols; the scheme (ws, wss) is in the URL',
  shouldReconnectOnClose: 'shouldReconnect',
  debugLogger: 'use: [debug(log)]',
  retry: 'maxRetries, minDelay, maxDelay, factor',
  buffer: 'maxMessages, overflow',
  listeners: 'socket.on(...)',
  onopen: "socket.on('open', ...)",
  onmessage: "socket.on('message', ...)",
  onclose: "socket.on('close', ...)",
  onerror: "socket.on('error', ...)",
  onreconnect: "socket.on('reconnecting', ...)",
};

/**
 * Logs what the client does: state changes, opens and closes, waits, drops, errors, and the
 * decisions of other features (a late heartbeat, the page going offline). Also names the
 * steadysocket option behind another client's option name given by mistake.
 * `log` defaults to `console.debug`.
 * @throws {SteadySocketError} `INVALID_OPTION` when `log` is not a function (`debug(console)`
 *   would log nothing).
 */
export function debug(log: (line: string) => void = (line) => console.debug(line)): Feature {
  // debug(console) or debug(logger) would log nothing (each call's TypeError is swallowed below).
  if (typeof log != 'function') invalidOption('debug() takes a function of a line: debug((line) => logger.debug(line)).');
  return feature((client) => {
    const out = (line: string) => {
      try {
        log(`[steadysocket] ${line}`);
      } catch {
        // A log never changes what the client does (a sink that throws is the log's problem).
      }
    };
    client._log = out;
    for (const key of Object.keys(client._opts)) {
      if (Object.prototype.hasOwnProperty.call(PEER_NAMES, key)) {
        out(`warning: option ${key} is another client's; steadysocket: ${PEER_NAMES[key]}`);
      }
    }
    // The URL an attempt tries is known once its providers ran: the client logs it then ('connecting to').
    client.on('state', (state, previous) => out(`state ${previous} -> ${state}`));
    client.on('open', (info) => out(`open ${info.url}${info.protocol ? ` with ${showProtocol(info.protocol)}` : ''}`));
    // A server may quote the connection's token back in its close reason: scrubbed as in errors,
    // with the headers this attempt sent (a headers function's answer too, not only an object).
    const reason = (text: string) => {
      const url = client._currentUrl;
      return url ? secretScrubber(url, (client as { _attempt?: { headers?: Record<string, string> } })._attempt?.headers)(text) : text;
    };
    client.on('close', (info) => out(`closed with ${info.code}${info.reason ? ` ${reason(info.reason)}` : ''}`));
    client.on('reconnecting', (info) =>
      out(info.delay === Infinity ? 'waiting until woken' : `${info.offline ? 'offline: ' : ''}retry ${info.attempt} in ${info.delay} ms`),
    );
    client.on('drop', (info) => out(`dropped a queued message: ${info.reason}`));
    client.on('error', (error) => out(`error ${error.code}: ${error.message}`));
  });
}
