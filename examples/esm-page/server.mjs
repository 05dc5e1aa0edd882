// Serves index.html, the ESM build and an echo WebSocket at /echo.
// Run:  node examples/esm-page/server.mjs       (PORT and HOST are optional)
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 0);

const files = {
  '/': { path: new URL('./index.html', import.meta.url), type: 'text/html; charset=utf-8' },
  '/dist/steadysocket.esm.min.js': {
    path: new URL('../../dist/steadysocket.esm.min.js', import.meta.url),
    type: 'text/javascript; charset=utf-8',
  },
};

const http = createServer(async (request, response) => {
  const file = files[new URL(request.url ?? '/', 'http://localhost').pathname];
  if (!file) return void response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
  try {
    response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' }).end(await readFile(file.path));
  } catch {
    response.writeHead(500, { 'content-type': 'text/plain' }).end('Missing file: run `npm run build` first.\n');
  }
});

const allowedOrigins = new Set();
const wss = new WebSocketServer({
  server: http,
  path: '/echo',
  maxPayload: 64 * 1024,
  // Only pages served from here may connect (a refused handshake gets HTTP 403).
  verifyClient: ({ origin }, done) => done(allowedOrigins.has(origin), 403, 'Forbidden'),
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});

http.listen(PORT, HOST, () => {
  const { port } = http.address();
  const host = HOST === '0.0.0.0' || HOST === '::' ? '127.0.0.1' : HOST.includes(':') ? `[${HOST}]` : HOST;
  for (const name of [host, '127.0.0.1', 'localhost']) allowedOrigins.add(`http://${name}:${port}`);
  console.log(`esm-page: open http://${host}:${port}/`);
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
