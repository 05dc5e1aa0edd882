// An acknowledging WebSocket server for trying steadysocket's delivery guarantees: it logs every
// message to a file BEFORE acknowledging it, so "acknowledged" means "on record", even if the
// server is SIGKILLed right after. The protocol is in README.md beside this file.
//
// Run:   node examples/ack-server/server.mjs --port 8080 --log acks.ndjson --token T \
//             --origin http://localhost:3000 [--echo] [--ack-delay MS]
//        (the token may come from $ACK_SERVER_TOKEN instead, which keeps it out of `ps`)
// Use:   import { startAckServer } from './examples/ack-server/server.mjs';
//        const server = await startAckServer({ port: 0, token, origins: [...], log: 'acks.ndjson' });
import { createHash, timingSafeEqual } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

const MAX_PAYLOAD = 1024 * 1024;
const MAX_DELAY_MS = 60_000;

/**
 * Starts the server on `host:port` (port 0: any free port).
 * @param {{ port?: number, host?: string, token: string, origins?: string[], log: string, echo?: boolean, ackDelay?: number }} options
 *   `origins`: the Origin values allowed to connect (a request without Origin — not a browser — is
 *   allowed); `log`: the NDJSON file every received message is appended to; `echo`: send every
 *   logged message back as `{ id, echo: data }` before its ack, duplicates included; `ackDelay`: ms
 *   to hold each ack after logging (at most 60 000), so a kill loses acks of logged messages.
 * @returns {Promise<{ port: number, close(): Promise<void> }>}
 */
export async function startAckServer({ port = 0, host = '127.0.0.1', token, origins = [], log, echo = false, ackDelay = 0 }) {
  if (!(ackDelay >= 0 && ackDelay <= MAX_DELAY_MS)) throw new Error(`ackDelay must be 0…${MAX_DELAY_MS} ms`);
  if (typeof token !== 'string' || token === '') throw new Error('startAckServer needs a non-empty token');
  if (typeof log !== 'string' || log === '') throw new Error('startAckServer needs a log file path');
  const expectedToken = digest(token);
  const allowedOrigins = new Set(origins);
  // Ids already logged, across restarts: a re-sent message is acknowledged again, not logged as new.
  const seen = readSeenIds(log);
  const timers = new Set();
  let connections = 0;

  const http = createServer((request, response) => {
    response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('This is a WebSocket endpoint.\n');
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD });

  http.on('upgrade', (request, socket, head) => {
    const origin = request.headers.origin;
    if (origin !== undefined && !allowedOrigins.has(origin)) return refuse(socket, 403, 'Forbidden');
    if (!tokenMatches(requestToken(request), expectedToken)) return refuse(socket, 401, 'Unauthorized', 'WWW-Authenticate: Bearer\r\n');
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });

  wss.on('connection', (ws) => {
    const connection = ++connections;
    ws.on('error', () => {});
    ws.on('message', (raw, isBinary) => {
      if (isBinary) return reply(ws, { error: 'binary frames are not part of this protocol' });
      let message;
      try {
        message = JSON.parse(raw.toString('utf8'));
      } catch {
        return reply(ws, { error: 'not JSON' });
      }
      if (typeof message !== 'object' || message === null || Array.isArray(message)) return reply(ws, { error: 'not a JSON object' });
      if ('ping' in message) return reply(ws, { pong: message.ping });
      const { id } = message;
      if (!(typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)))) return reply(ws, { error: 'id must be a string or a finite number' });
      if ('request' in message) return answer(ws, id, message.request);
      if (!('data' in message)) return reply(ws, { error: 'a message needs data (or request, or ping)', id });
      const key = JSON.stringify(id);
      const duplicate = seen.has(key);
      seen.add(key);
      const entry = { id, data: message.data, connection, receivedAt: new Date().toISOString() };
      if (duplicate) entry.duplicate = true;
      // Synchronous and before the ack: once the client has the ack, the line is in the file.
      try {
        appendFileSync(log, JSON.stringify(entry) + '\n');
      } catch (error) {
        if (!duplicate) seen.delete(key);
        return reply(ws, { error: `not logged (${error.code ?? 'write failed'}), so not acknowledged`, id });
      }
      // A server that re-sends what it got (duplicates too), for clients to show their de-duplication.
      if (echo) reply(ws, { id, echo: message.data });
      if (ackDelay > 0) later(ackDelay, () => reply(ws, { ack: id }));
      else reply(ws, { ack: id });
    });
  });

  function answer(ws, id, request) {
    if (request !== null && typeof request === 'object' && typeof request.fail === 'string') {
      return reply(ws, { re: id, error: request.fail });
    }
    const delay = request !== null && typeof request === 'object' ? Number(request.delay) : NaN;
    if (!(delay > 0)) return reply(ws, { re: id, result: request });
    later(Math.min(delay, MAX_DELAY_MS), () => reply(ws, { re: id, result: request }));
  }

  function later(ms, fn) {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  }

  await new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });

  return {
    port: http.address().port,
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const client of wss.clients) client.terminate();
      wss.close();
      return new Promise((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

function reply(ws, value) {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(value));
}

/** The token from `?token=` or `Authorization: Bearer`, or undefined. */
function requestToken(request) {
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && /^Bearer /i.test(auth)) return auth.slice(7).trim();
  return new URL(request.url ?? '/', 'http://localhost').searchParams.get('token') ?? undefined;
}

/** Compares digests of equal length in constant time, so neither content nor length leaks. */
function tokenMatches(given, expectedDigest) {
  return typeof given === 'string' && timingSafeEqual(digest(given), expectedDigest);
}

function digest(text) {
  return createHash('sha256').update(text, 'utf8').digest();
}

function refuse(socket, status, text, extraHeaders = '') {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n${extraHeaders}\r\n`);
}

function readSeenIds(log) {
  const seen = new Set();
  if (!existsSync(log)) return seen;
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      seen.add(JSON.stringify(JSON.parse(line).id));
    } catch {
      // A line cut short by a crash of an older version: nothing was acknowledged for it.
    }
  }
  return seen;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      log: { type: 'string', default: 'ack-server.ndjson' },
      token: { type: 'string' },
      origin: { type: 'string', multiple: true, default: [] },
      echo: { type: 'boolean', default: false },
      'ack-delay': { type: 'string', default: '0' },
    },
  });
  const token = values.token ?? process.env.ACK_SERVER_TOKEN;
  if (!token) {
    console.error('ack-server: give a token with --token T or $ACK_SERVER_TOKEN');
    process.exit(2);
  }
  const origins = values.origin.flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean);
  startAckServer({ port: Number(values.port), host: values.host, token, origins, log: values.log, echo: values.echo, ackDelay: Number(values['ack-delay']) }).then(
    (server) => {
      // The token is never printed: only where to connect and where the log goes.
      console.log(`ack-server listening on ws://${values.host}:${server.port}/ (log: ${values.log})`);
      const stop = () => server.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (error) => {
      console.error(`ack-server: ${error.code ?? ''} ${error.message}`);
      process.exit(1);
    },
  );
}
