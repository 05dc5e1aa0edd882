// Test harness for the CLI: loopback servers, the built CLI as a child process, and bounded waits.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** Fails the run early, with the fix, when the CLI has not been built (or is older than its source). */
export function requireBuiltCli(): void {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: build first with `npx rollup -c`.');
  const built = statSync(CLI).mtimeMs;
  const dir = fileURLToPath(new URL('../../src/cli/', import.meta.url));
  const stale = readdirSync(dir).some((f) => statSync(dir + f).mtimeMs > built);
  if (stale) throw new Error('dist/cli.js is older than src/cli: rebuild with `npx rollup -c`.');
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `predicate` holds, polling; rejects after `timeout` ms. */
export async function until(predicate: () => boolean, timeout = 5000, what = 'a condition'): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    await sleep(10);
  }
}

// ------------------------------------------------------------------------------------ servers

export interface Connection {
  path: string;
  headers: IncomingMessage['headers'];
  protocol: string;
  /** Text as is; binary as `hex:<bytes>`. */
  messages: string[];
  socket: WebSocket;
  /** Subject CN of the client certificate (wss with requestCert). */
  clientCert: string | undefined;
}

export interface ServerOptions {
  /** Picks the subprotocol from those offered. Default: the first. */
  handleProtocols?: (offered: Set<string>) => string | false;
  /** Echo every message back (default true). */
  echo?: boolean;
  /** Answer pings (default true). */
  autoPong?: boolean;
  /** Runs for each new connection. */
  onConnection?: (connection: Connection) => void;
  tls?: { key: string; cert: string; ca?: string; requestCert?: boolean; rejectUnauthorized?: boolean };
  port?: number;
}

export interface TestServer {
  port: number;
  /** `ws://127.0.0.1:PORT` + path (or wss). */
  url(path?: string): string;
  connections: Connection[];
  /** Stops at once: clients see 1006. */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A ws server on 127.0.0.1 with special paths:
 *   /reject/<status>   refuses the handshake with that HTTP status
 *   /redirect          answers 302 to /
 *   /hang              accepts TCP, never answers the handshake
 * Every other path upgrades, records the connection and echoes.
 */
export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  let http: Server | undefined;
  let wss: WebSocketServer | undefined;
  const sockets = new Set<Socket>();
  const connections: Connection[] = [];
  const scheme = options.tls ? 'wss' : 'ws';
  const server: TestServer = {
    port: options.port ?? 0,
    url: (path = '/') => `${scheme}://127.0.0.1:${server.port}${path}`,
    connections,
    async start() {
      http = options.tls
        ? createHttpsServer({ rejectUnauthorized: false, ...options.tls })
        : createHttpServer();
      http.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      http.on('secureConnection', (socket: Socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      wss = new WebSocketServer({
        noServer: true,
        autoPong: options.autoPong ?? true,
        handleProtocols: options.handleProtocols ?? ((offered) => [...offered][0] ?? false),
      });
      http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
        const path = req.url ?? '/';
        const reject = /^\/reject\/(\d{3})/.exec(path);
        if (reject) {
          socket.end(`HTTP/1.1 ${reject[1]} Rejected\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
          return;
        }
        if (path === '/redirect') {
          socket.end('HTTP/1.1 302 Found\r\nLocation: /redirected\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
          return;
        }
        if (path.startsWith('/hang')) return;
        wss!.handleUpgrade(req, socket, head, (ws) => {
          const peer = (socket as TLSSocket).getPeerCertificate?.();
          const connection: Connection = {
            path,
            headers: req.headers,
            protocol: ws.protocol,
            messages: [],
            socket: ws,
            clientCert: (socket as TLSSocket).authorized && peer?.subject ? String(peer.subject.CN) : undefined,
          };
          connections.push(connection);
          ws.on('error', () => {});
          ws.on('message', (data, isBinary) => {
            connection.messages.push(isBinary ? `hex:${(data as Buffer).toString('hex')}` : data.toString());
            if (options.echo !== false) ws.send(data, { binary: isBinary });
          });
          options.onConnection?.(connection);
        });
      });
      await new Promise<void>((resolve, reject) => {
        http!.once('error', reject);
        http!.listen(server.port, '127.0.0.1', () => resolve());
      });
      server.port = (http.address() as AddressInfo).port;
    },
    async kill() {
      for (const client of wss?.clients ?? []) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
      await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
      http = undefined;
      wss = undefined;
    },
    close() {
      return server.kill();
    },
  };
  await server.start();
  return server;
}

export interface Redirector {
  port: number;
  /** `ws://127.0.0.1:PORT` + path. */
  url(path?: string): string;
  /** The paths of the upgrade requests it answered, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A plain HTTP server on 127.0.0.1 that answers every upgrade request with `302 Found` and the
 * Location `location(path)` gives (absolute, or relative to itself).
 */
export async function startRedirector(location: (path: string) => string): Promise<Redirector> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const http = createHttpServer((_req, res) => res.writeHead(404).end());
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  http.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    const path = req.url ?? '/';
    requests.push(path);
    socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location(path)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  return {
    port,
    url: (path = '/') => `ws://127.0.0.1:${port}${path}`,
    requests,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

// ------------------------------------------------------------------------------------ TLS

export const PASSPHRASE = 'hunter2';

/** A throwaway CA, a server leaf for 127.0.0.1/localhost and a client certificate with an encrypted key. */
export function makeCertificates(dir: string): Record<'ca' | 'serverKey' | 'serverCert' | 'clientCert' | 'clientKey', string> {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  openssl('req', '-x509', ...ec, '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=steadysocket test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n');
  openssl('req', ...ec, '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl('req', ...ec, '-passout', `pass:${PASSPHRASE}`, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=steadysocket-test-client');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2', '-extfile', 'client.ext');
  return {
    ca: join(dir, 'ca.pem'),
    serverKey: join(dir, 'server.key'),
    serverCert: join(dir, 'server.pem'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}

// ------------------------------------------------------------------------------------ the CLI

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Complete stdout lines so far. */
  lines(): string[];
  write(text: string | Buffer): void;
  end(): void;
  /** Resolves when a stdout line matches. */
  waitForLine(match: string | RegExp, timeout?: number): Promise<string>;
  waitForStderr(match: string | RegExp, timeout?: number): Promise<void>;
  /** Resolves with the result once the process exits; kills it (and rejects) after `timeout` ms. */
  exited(timeout?: number): Promise<CliResult>;
  kill(): void;
}

const running = new Set<ChildProcessWithoutNullStreams>();

/** Kills every CLI process a test left behind (call in afterEach). */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** Base environment for the child: no proxies, no colours forced, from this machine's env. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(https?_proxy|all_proxy|no_proxy|force_color|no_color)$/i.test(name)) delete env[name];
  }
  return { ...env, ...extra };
}

export function startCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: options.env ?? cleanEnv(), cwd: ROOT });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => {}); // the CLI may exit before reading everything
  const result = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  const test = (match: string | RegExp, text: string) => (typeof match === 'string' ? text.includes(match) : match.test(text));
  const lines = () => stdout.split('\n').slice(0, -1);
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    lines,
    write: (text) => child.stdin.write(text),
    end: () => child.stdin.end(),
    async waitForLine(match, timeout = 5000) {
      await until(() => lines().some((line) => test(match, line)), timeout, `stdout line ${match}; stdout so far: ${JSON.stringify(stdout)}; stderr: ${JSON.stringify(stderr)}`);
      return lines().find((line) => test(match, line))!;
    },
    async waitForStderr(match, timeout = 5000) {
      await until(() => test(match, stderr), timeout, `stderr ${match}; stderr so far: ${JSON.stringify(stderr)}`);
    },
    async exited(timeout = 10_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`CLI did not exit within ${timeout} ms; stdout: ${JSON.stringify(stdout)}; stderr: ${JSON.stringify(stderr)}`));
        }, timeout);
      });
      try {
        return await Promise.race([result, timedOut]);
      } finally {
        clearTimeout(timer);
      }
    },
    kill: () => child.kill('SIGKILL'),
  };
}

/** Runs the CLI to completion with `input` on stdin (closed at once when absent). */
export async function runCli(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<CliResult> {
  const cli = startCli(args, options);
  if (options.input !== undefined) cli.write(options.input);
  cli.end();
  return cli.exited(options.timeout);
}

/** Parses NDJSON output, failing on any line that is not a JSON object. */
export function ndjson(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const value = JSON.parse(line) as unknown;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`not an object: ${line}`);
      return value as Record<string, unknown>;
    });
}

/** Fast reconnects for tests. */
export const FAST = ['--min-delay', '20', '--max-delay', '100'];
