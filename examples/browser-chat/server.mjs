// A small chat server for index.html that follows RFC 6455's security advice (§10.2, §10.5):
//   - the WebSocket upgrade is refused with 403 unless its Origin is on an allow-list, which stops
//     other sites from opening sockets with your users' browsers (Cross-Site WebSocket Hijacking);
//   - every connection needs a token (401 without one), not just a cookie. The page fetches a token
//     from GET /token — same-origin, so other sites cannot read it — right before each connection
//     attempt. Tokens are single-use and expire after 30 s, so one that leaks into a log is useless.
//
// Run:  node examples/browser-chat/server.mjs       (PORT, HOST and ALLOWED_ORIGINS are optional)
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 0);
const TOKEN_TTL_MS = 30_000;
const MAX_TEXT = 500;

const files = {
  '/': { path: new URL('./index.html', import.meta.url), type: 'text/html; charset=utf-8' },
  '/dist/steadysocket.min.js': {
    path: new URL('../../dist/steadysocket.min.js', import.meta.url),
    type: 'text/javascript; charset=utf-8',
  },
};

/** token → { name, expires }. */
const tokens = new Map();

function issueToken(name) {
  const token = randomBytes(24).toString('base64url');
  tokens.set(token, { name, expires: Date.now() + TOKEN_TTL_MS });
  return token;
}

/** Returns the name bound to a valid token and burns the token; undefined when it is not valid. */
function redeemToken(token) {
  const entry = token ? tokens.get(token) : undefined;
  if (!entry) return undefined;
  tokens.delete(token);
  return entry.expires > Date.now() ? entry.name : undefined;
}

function cleanName(raw) {
  const name = String(raw ?? '').replace(/[^\p{L}\p{N} _.-]/gu, '').trim().slice(0, 20);
  return name || `guest-${randomBytes(2).toString('hex')}`;
}

const http = createServer(async (request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (request.method === 'GET' && url.pathname === '/token') {
    const name = cleanName(url.searchParams.get('name'));
    // No CORS headers: a page on another origin can call this but cannot read the answer.
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    response.end(JSON.stringify({ token: issueToken(name), name, expiresIn: TOKEN_TTL_MS }));
    return;
  }
  const file = files[url.pathname];
  if ((request.method !== 'GET' && request.method !== 'HEAD') || !file) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
    return;
  }
  try {
    const body = await readFile(file.path);
    response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' }).end(body);
  } catch {
    response.writeHead(500, { 'content-type': 'text/plain' }).end('Missing file: run `npm run build` first.\n');
  }
});

// noServer: we answer the upgrade ourselves, so a refused handshake gets a real HTTP status.
const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
/** Origins allowed to connect; filled in once the port is known. */
const allowedOrigins = new Set(
  (process.env.ALLOWED_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean),
);

function refuse(socket, status, text) {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length + 1}\r\n\r\n${text}\n`);
}

http.on('upgrade', (request, socket, head) => {
  socket.on('error', () => socket.destroy());
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (url.pathname !== '/chat') return refuse(socket, 404, 'Not Found');
  // Browsers always send Origin on a WebSocket handshake and scripts cannot forge it.
  if (!allowedOrigins.has(request.headers.origin ?? '')) return refuse(socket, 403, 'Forbidden');
  const name = redeemToken(url.searchParams.get('token'));
  if (name === undefined) return refuse(socket, 401, 'Unauthorized');
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request, name));
});

function broadcast(message) {
  const text = JSON.stringify(message);
  for (const client of wss.clients) if (client.readyState === client.OPEN) client.send(text);
}

wss.on('connection', (ws, _request, name) => {
  broadcast({ type: 'system', text: `${name} joined`, at: Date.now() });
  ws.on('message', (data, isBinary) => {
    let message;
    try {
      message = isBinary ? undefined : JSON.parse(String(data));
    } catch {
      // Not JSON: ignored below.
    }
    if (message?.type !== 'chat' || typeof message.text !== 'string' || !message.text.trim()) return;
    // The sender's name comes from its token, never from the message.
    broadcast({ type: 'chat', from: name, text: message.text.slice(0, MAX_TEXT), at: Date.now() });
  });
  ws.on('close', () => broadcast({ type: 'system', text: `${name} left`, at: Date.now() }));
  ws.on('error', () => ws.terminate());
});

// Forget expired tokens now and then (unref: this timer never keeps the process alive).
setInterval(() => {
  const now = Date.now();
  for (const [token, entry] of tokens) if (entry.expires <= now) tokens.delete(token);
}, TOKEN_TTL_MS).unref();

http.listen(PORT, HOST, () => {
  const { port } = http.address();
  const host = HOST === '0.0.0.0' || HOST === '::' ? '127.0.0.1' : HOST.includes(':') ? `[${HOST}]` : HOST;
  for (const name of [host, '127.0.0.1', 'localhost']) allowedOrigins.add(`http://${name}:${port}`);
  console.log(`browser-chat: open http://${host}:${port}/ in two browser windows`);
  console.log(`allowed origins: ${[...allowedOrigins].join(', ')}`);
});

function shutdown() {
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  wss.close();
  http.close(() => process.exit(0));
  http.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
