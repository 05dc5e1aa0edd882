#!/usr/bin/env node
// tail.mjs — follow a WebSocket feed and print it as NDJSON, one JSON object per line:
//   {"t":1767225600000,"type":"message","data":"..."}
//   {"t":...,"type":"open","url":"...","protocol":"","attempt":0}
//   {"t":...,"type":"close","code":1006,"reason":""}
//   {"t":...,"type":"reconnecting","attempt":1,"delay":734}
//   {"t":...,"type":"error","code":"CONNECT_FAILED","message":"..."}
//   {"t":...,"type":"exit","reason":"max","messages":10}     (then a last "close" line)
// `t` is milliseconds since the epoch. Binary messages print as base64 with "binary":true.
// Messages that were lost while the connection was down are not replayed (the server decides that).
//
//   node examples/node-tool/tail.mjs [options] <url>
//     --max N             exit after N messages
//     --json              decode messages as JSON ("data" is then the parsed value)
//     --protocol P        offer subprotocol P (repeatable)
//     --header "K: V"     extra handshake header (repeatable), e.g. an Authorization header
//     --origin O          Origin header to send
//     --send TEXT         send TEXT on every (re)connection before anything else, e.g. a subscription
//
//   node examples/node-tool/tail.mjs --max 10 wss://example.org/feed | jq -c 'select(.type=="message")'
//
// Installed from npm, import from 'steadysocket' instead of the relative path.
import { json, ready, SteadySocket } from '../../dist/index.js';

const USAGE = 'usage: node tail.mjs [--max N] [--json] [--protocol P]... [--header "K: V"]... [--origin O] [--send TEXT] <url>';

function parseArgs(argv) {
  const options = { max: Infinity, json: false, protocols: [], headers: {}, origin: undefined, send: undefined, url: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--max') {
      options.max = Number(value());
      if (!Number.isInteger(options.max) || options.max < 1) fail('--max must be a positive integer');
    } else if (arg === '--json') options.json = true;
    else if (arg === '--protocol') options.protocols.push(value());
    else if (arg === '--header') {
      const header = value();
      const colon = header.indexOf(':');
      if (colon < 1) fail(`--header must look like "Name: value", got "${header}"`);
      options.headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
    } else if (arg === '--origin') options.origin = value();
    else if (arg === '--send') options.send = value();
    else if (arg === '-h' || arg === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (arg.startsWith('-')) fail(`unknown option ${arg}`);
    else if (options.url === undefined) options.url = arg;
    else fail(`unexpected argument ${arg}`);
  }
  if (options.url === undefined) fail('a URL is required');
  if (options.json && options.send !== undefined) {
    try {
      options.send = JSON.parse(options.send);
    } catch {
      fail('with --json, --send must be JSON');
    }
  }
  return options;
}

function fail(message) {
  console.error(`tail: ${message}\n${USAGE}`);
  process.exit(2);
}

const options = parseArgs(process.argv.slice(2));

function emit(type, fields) {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), type, ...fields })}\n`);
}

let socket;
try {
  socket = new SteadySocket(options.url, {
    protocols: options.protocols.length ? options.protocols : undefined,
    headers: Object.keys(options.headers).length ? options.headers : undefined,
    origin: options.origin,
    codec: options.json ? json() : undefined,
    binaryType: 'nodebuffer',
    // The ready step (an opt-in feature) runs on every open, before anything else is sent:
    // resubscribe after each reconnect.
    use: options.send === undefined ? [] : [ready(({ send }) => send(options.send))],
  });
} catch (error) {
  // A bad URL or subprotocol fails at once, with a typed code.
  fail(`${error.code ?? 'ERROR'}: ${error.message}`);
}

let received = 0;
let stopping = false;
socket.on('open', ({ url, protocol, attempt }) => emit('open', { url, protocol, attempt }));
socket.on('close', ({ code, reason }) => emit('close', { code, reason }));
socket.on('reconnecting', ({ attempt, delay }) => emit('reconnecting', { attempt, delay }));
socket.on('error', (error) => emit('error', { code: error.code, message: error.message, status: error.status }));
socket.on('message', (data) => {
  if (received >= options.max) return;
  received++;
  if (Buffer.isBuffer(data)) emit('message', { data: data.toString('base64'), binary: true });
  else emit('message', { data });
  if (received === options.max) stop('max');
});
// The client gave up for good (e.g. HTTP 401, or a close code that means "do not come back").
socket.on('state', (state) => {
  if (state === 'closed' && !stopping) process.exitCode = 1;
});

async function stop(why) {
  if (stopping) return;
  stopping = true;
  emit('exit', { reason: why, messages: received });
  process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  // Settles once the socket is closed and every timer is cleared: the process then exits by itself.
  await socket.close(1000, 'tail finished');
}

const onSignal = (signal) => stop(signal);
process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
// `tail.mjs ... | head -3` closes our stdout: stop quietly.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') {
    stopping = true;
    socket.close().then(() => process.exit(0));
  } else throw error;
});
