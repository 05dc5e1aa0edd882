// The steadysocket tour: `npm start`.
//
// With no argument it starts a small chat server in this process, connects to it, restarts the
// server while the client keeps sending, and shows the reconnect and the queued messages arriving
// in order. With a URL (`npm start -- wss://example.org/feed`) it talks to that server instead.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { json, stats, SteadySocket, type SteadySocketError, type State } from '../src/index';

/** What the demo server sends. */
interface ServerMessage {
  type: 'welcome' | 'echo';
  text: string;
  /** How many chat messages this server process has seen. */
  seen: number;
}

/** What the client sends. */
interface ClientMessage {
  type: 'chat';
  text: string;
}

// ---------------------------------------------------------------- narration

const useColour = Boolean(process.stdout.isTTY) && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '');
const paint = (code: string) => (text: string) => (useColour ? `\x1b[${code}m${text}\x1b[0m` : text);
const dim = paint('2');
const bold = paint('1');
const colours = { server: paint('36'), client: paint('32'), demo: paint('33'), error: paint('31') };

const started = Date.now();

function log(who: keyof typeof colours, text: string): void {
  const stamp = `+${Date.now() - started} ms`.padStart(9);
  console.log(`${dim(stamp)}  ${colours[who](who.padEnd(6))}  ${text}`);
}

function say(text: string, explanation?: string): void {
  console.log(`\n${bold(text)}`);
  if (explanation) console.log(dim(explanation));
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves when `test()` turns true (checked on every event), or rejects after `ms`. */
function until<In, Out>(socket: SteadySocket<In, Out>, what: string, test: () => boolean, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (test()) {
        done();
        resolve();
      } else if (socket.state === 'closed') {
        done();
        reject(new Error(`The socket closed for good while waiting for ${what}.`));
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`Timed out after ${ms} ms waiting for ${what}.`));
    }, ms);
    const done = () => {
      clearTimeout(timer);
      clearInterval(poll);
      socket.off('state', check).off('message', check);
    };
    const poll = setInterval(check, 20);
    socket.on('state', check).on('message', check);
    check();
  });
}

/** Prints every lifecycle event of the client in plain words. */
function narrate<In, Out>(socket: SteadySocket<In, Out>): void {
  socket.on('state', (state: State, previous: State) => log('client', `state ${previous} → ${bold(state)}`));
  socket.on('open', ({ attempt }) => log('client', attempt ? `open again, after ${attempt} failed attempt(s)` : 'open'));
  socket.on('close', ({ code, reason }) => {
    // A failed attempt has already been reported by its error; only report connections that were up.
    if (socket.state !== 'connecting') log('client', `connection closed (code ${code}${reason ? `, "${reason}"` : ''})`);
  });
  socket.on('reconnecting', ({ attempt, delay }) =>
    log('client', `reconnecting in ${seconds(delay)} (attempt ${attempt})`),
  );
  socket.on('error', (error: SteadySocketError) => log('error', `${error.code}: ${error.message}`));
  socket.on('drop', ({ reason }) => log('error', `a queued message was dropped (${reason})`));
}

// ---------------------------------------------------------------- the embedded server

/** A chat server that greets each client and echoes every chat message back. */
class DemoServer {
  readonly received: string[] = [];
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private seen = 0;

  async start(port = 0): Promise<number> {
    const http = createServer((_request, response) => response.writeHead(426).end('WebSocket only\n'));
    const wss = new WebSocketServer({ server: http });
    wss.on('connection', (ws) => {
      log('server', 'a client connected');
      ws.send(JSON.stringify({ type: 'welcome', text: 'welcome to the demo chat', seen: this.seen } satisfies ServerMessage));
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as ClientMessage;
        this.seen++;
        this.received.push(message.text);
        log('server', `got "${message.text}"`);
        ws.send(JSON.stringify({ type: 'echo', text: message.text, seen: this.seen } satisfies ServerMessage));
      });
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => resolve());
    });
    this.http = http;
    this.wss = wss;
    return (http.address() as AddressInfo).port;
  }

  /** Says goodbye to every client with 1001 (going away) and stops listening. */
  async stop(): Promise<void> {
    const { http, wss } = this;
    this.http = this.wss = undefined;
    if (!http || !wss) return;
    for (const ws of wss.clients) ws.close(1001, 'server restarting');
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    // A client that does not answer the close frame in time is cut off.
    const stragglers = setTimeout(() => wss.clients.forEach((ws) => ws.terminate()), 1000);
    await new Promise<void>((resolve) => http.close(() => resolve()));
    clearTimeout(stragglers);
  }
}

// ---------------------------------------------------------------- the tour

async function tour(): Promise<void> {
  console.log(bold('steadysocket demo: a chat server, a client, a server restart, and nothing lost'));

  say('1. Start a chat server and connect to it');
  const server = new DemoServer();
  const port = await server.start();
  const url = `ws://127.0.0.1:${port}/chat`;
  log('server', `listening on ${url}`);

  const counters = stats(); // an opt-in feature: counts attempts, messages and what waits in the outbox
  const socket = new SteadySocket<ServerMessage, ClientMessage>(url, {
    codec: json(), // send and receive plain objects as JSON text
    minDelay: 300, // first retry within 0.3 s (default 1 s)
    maxDelay: 1200, // never wait longer than 1.2 s between attempts (default 30 s)
    use: [counters],
  });
  narrate(socket);
  const inbox: ServerMessage[] = [];
  socket.on('message', (message) => {
    inbox.push(message);
    log('client', `received ${message.type}: "${message.text}"`);
  });
  log('client', `new SteadySocket("${url}") — state ${socket.state}`);

  try {
    await until(socket, 'the connection to open', () => socket.state === 'open');
    await until(socket, 'the welcome message', () => inbox.some((m) => m.type === 'welcome'));

    say('2. Chat a little');
    for (const text of ['hello', 'how is everyone?']) {
      log('client', `send "${text}"`);
      socket.send({ type: 'chat', text });
    }
    await until(socket, 'two echoes', () => inbox.filter((m) => m.type === 'echo').length === 2);

    say(
      '3. Stop the server — the client notices and starts retrying',
      'Each wait is random and grows after every failed attempt (backoff): a crowd of clients does not stampede a restarted server.',
    );
    await server.stop();
    log('server', 'stopped');
    await until(socket, 'the client to notice', () => socket.state !== 'open');

    say(
      '4. Keep sending while the server is down — the messages wait in the outbox',
      'send() does not fail or lose anything just because the connection is down.',
    );
    const numbered = [1, 2, 3, 4, 5].map((n) => `queued message #${n}`);
    for (const text of numbered) {
      socket.send({ type: 'chat', text });
      log('client', `send "${text}" → outbox holds ${counters.snapshot().queued}`);
    }
    await sleep(1200);

    say('5. Start the server again on the same port — the client reconnects and flushes the outbox');
    const before = server.received.length;
    await server.start(port);
    log('server', `listening again on ${url}`);
    await until(socket, 'the reconnect', () => socket.state === 'open', 5000);
    await socket.flushed(); // resolves once the outbox is empty and the socket has written everything
    log('client', `flushed(): outbox holds ${counters.snapshot().queued}, every queued message is on the wire`);
    await until(socket, 'the queued messages', () => server.received.length - before >= numbered.length);
    await until(socket, 'their echoes', () => inbox.filter((m) => m.type === 'echo').length === 2 + numbered.length);

    const arrived = server.received.slice(before);
    const inOrder = arrived.length === numbered.length && arrived.every((text, i) => text === numbered[i]);
    log(
      'demo',
      inOrder
        ? `all ${numbered.length} queued messages arrived in order, each exactly once`
        : `unexpected arrival: ${JSON.stringify(arrived)}`,
    );
    const { attempts, reconnects, messagesOut, messagesIn } = counters.snapshot();
    log('demo', `stats: ${attempts} connection attempts, ${reconnects} reconnect, ${messagesOut} messages out, ${messagesIn} in`);
    if (!inOrder) process.exitCode = 1;
  } finally {
    say('6. Close everything');
    await socket.close(1000, 'demo finished');
    log('client', 'closed for good (no timers left running)');
    await server.stop();
    log('server', 'stopped');
  }
}

/** With a URL: connect, send a few lines (queued until the socket opens), print what comes back. */
async function talkTo(url: string): Promise<void> {
  console.log(bold(`steadysocket demo against ${url}`));
  const counters = stats();
  const socket = new SteadySocket<string, string>(url, { minDelay: 300, maxDelay: 5000, maxRetries: 5, use: [counters] });
  narrate(socket);
  socket.on('message', (data) => log('client', `received ${JSON.stringify(String(data)).slice(0, 200)}`));
  for (let n = 1; n <= 3; n++) {
    socket.send(`hello #${n} from the steadysocket demo`);
    log('client', `send "hello #${n} from the steadysocket demo" (state ${socket.state}, outbox ${counters.snapshot().queued})`);
  }
  try {
    await until(socket, 'the connection to open', () => socket.state === 'open', 10_000);
    log('demo', 'listening for 3 s…');
    await sleep(3000);
    log('demo', 'forcing a reconnect with socket.reconnect()');
    socket.reconnect();
    await until(socket, 'the reconnect', () => socket.state === 'open', 10_000);
    await sleep(1000);
  } finally {
    await socket.close();
    log('client', 'closed');
  }
}

// A hung demo must not hang its caller: give up after 20 s (unref: never keeps the process alive).
setTimeout(() => {
  log('error', 'the demo took longer than 20 s; giving up');
  process.exit(1);
}, 20_000).unref();

const target = process.argv[2];
(target ? talkTo(target) : tour()).then(
  () => console.log(dim('\nDone. Read demo/demo.ts to see how little code this took.')),
  (error: unknown) => {
    log('error', error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  },
);
