// Real parts for the Node tests: ws servers (plain and TLS) that record handshakes, a test PKI
// made with openssl, and tinyproxy / nginx run in the foreground from temp dirs, owned by PID.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SteadySocket, type SteadySocketOptions } from '../../src/index';
import { toolPath } from '../support/tools';
import { WebSocketServer, type ServerOptions, type WebSocket as ServerSocket } from 'ws';

/** Rejects when `promise` has not settled after `ms`, so no wait is unbounded. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `test` every 10 ms until it is true; rejects after `ms`. */
export async function eventually(ms: number, what: string, test: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh temp dir and its removal. */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `steadysocket-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

// ------------------------------------------------------------------------------ ws servers

export interface Connection {
  socket: ServerSocket;
  request: IncomingMessage;
  messages: string[];
  /** Close code the server received (or 1006), once the connection has ended. */
  closeCode?: number;
}

export interface WsServer {
  url: string;
  port: number;
  connections: Connection[];
  /** TCP connections accepted, including ones that never completed a handshake. */
  tcpConnections: number;
  /** TLS handshakes that failed (client rejected our certificate, or spoke no TLS). */
  tlsErrors: Error[];
  close(): Promise<void>;
}

export interface WsServerOptions {
  /** Certificate and key: serve wss:// (https). */
  tls?: { cert: string; key: string };
  /** Called for every new connection (default: echo every message). */
  onConnection?: (connection: Connection) => void;
  /** Passed to ws (e.g. perMessageDeflate). */
  ws?: Omit<ServerOptions, 'server' | 'port' | 'noServer'>;
  /** Answers plain (non-upgrade) HTTP requests. Default: 426 Upgrade Required, as ws's standalone server does. */
  onPlainRequest?: (request: IncomingMessage, response: ServerResponse) => void;
}

/** What ws's own standalone server answers to a request without Upgrade. */
export function upgradeRequired(_request: IncomingMessage, response: ServerResponse): void {
  const body = 'Upgrade Required';
  response.writeHead(426, { 'Content-Length': body.length, 'Content-Type': 'text/plain' });
  response.end(body);
}

export const echo = (connection: Connection) => {
  connection.socket.on('message', (data, isBinary) => connection.socket.send(data, { binary: isBinary }));
};

/** A real ws server on 127.0.0.1, port 0, plain or TLS, recording each handshake request. */
export async function startWsServer(options: WsServerOptions = {}): Promise<WsServer> {
  const http: HttpServer = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key })
    : createHttpServer();
  // Without a request listener a plain GET would hang.
  http.on('request', options.onPlainRequest ?? upgradeRequired);
  const wss = new WebSocketServer({ server: http, ...options.ws });
  const sockets = new Set<Socket>();
  const server: WsServer = { url: '', port: 0, connections: [], tcpConnections: 0, tlsErrors: [], close };
  http.on('connection', (socket: Socket) => {
    server.tcpConnections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  http.on('tlsClientError', (error: Error) => server.tlsErrors.push(error));
  wss.on('connection', (socket, request) => {
    const connection: Connection = { socket, request, messages: [] };
    server.connections.push(connection);
    socket.on('message', (data, isBinary) => connection.messages.push(isBinary ? `<binary ${(data as Buffer).length}>` : data.toString()));
    socket.on('close', (code) => (connection.closeCode = code));
    socket.on('error', () => {});
    (options.onConnection ?? echo)(connection);
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  server.port = (http.address() as AddressInfo).port;
  server.url = `${options.tls ? 'wss' : 'ws'}://127.0.0.1:${server.port}/`;

  async function close(): Promise<void> {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }
  return server;
}

// ------------------------------------------------------------------------------ processes

/** A port that was free a moment ago on 127.0.0.1 (for tools that cannot listen on port 0). */
export async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A foreground process we started and own by PID. */
export class OwnedProcess {
  readonly child: ChildProcess;
  output = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    cwd: string,
  ) {
    this.child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      stream.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    }
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.output += `spawn error: ${error.message}\n`;
        this.exit ??= { code: null, signal: null };
        resolve();
      });
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
    });
  }

  /** Resolves once `port` on 127.0.0.1 accepts TCP connections; rejects if the process exits first. */
  async waitForPort(port: number, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.exit) throw new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before listening:\n${this.output}`);
      if (await canConnect(port)) return;
      if (Date.now() > deadline) throw new Error(`${this.name} did not listen on ${port} within ${ms} ms:\n${this.output}`);
      await sleep(20);
    }
  }

  /** SIGTERM by PID, then SIGKILL after `ms`; resolves once it has exited. */
  async stop(ms = 3000): Promise<void> {
    if (this.exit || this.child.pid === undefined) return;
    process.kill(this.child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (!this.exit && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
    }, ms);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Starts a process that must listen on a port we pick; retries with a new port if it loses a race for it. */
async function startOnFreePort(
  name: string,
  start: (port: number) => OwnedProcess,
): Promise<{ process: OwnedProcess; port: number }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const owned = start(port);
    try {
      await owned.waitForPort(port);
      return { process: owned, port };
    } catch (error) {
      lastError = error;
      await owned.stop(1000);
    }
  }
  throw lastError;
}

// ------------------------------------------------------------------------------ tinyproxy

export interface Tinyproxy {
  url: string;
  port: number;
  /** The log file as it is now. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * tinyproxy as a CONNECT proxy, foreground (`-d`), config and log in a temp dir. A filter refuses
 * every destination but loopback; no ConnectPort line, so CONNECT reaches any test port.
 */
export async function startTinyproxy(options: { basicAuth?: { user: string; password: string } } = {}): Promise<Tinyproxy> {
  const binary = toolPath('tinyproxy');
  const dir = tempDir('tinyproxy');
  const logFile = join(dir.path, 'tinyproxy.log');
  const filter = join(dir.path, 'filter');
  writeFileSync(filter, '^127\\.0\\.0\\.1$\n^localhost$\n');
  try {
    const { process: owned, port } = await startOnFreePort('tinyproxy', (port) => {
      writeFileSync(
        join(dir.path, 'tinyproxy.conf'),
        [
          `Port ${port}`,
          'Listen 127.0.0.1',
          'Allow 127.0.0.1',
          `LogFile "${logFile}"`,
          'LogLevel Info',
          'DisableViaHeader Yes',
          `Filter "${filter}"`,
          'FilterType ere',
          'FilterDefaultDeny Yes',
          'MaxClients 50',
          'Timeout 60',
          ...(options.basicAuth ? [`BasicAuth ${options.basicAuth.user} ${options.basicAuth.password}`] : []),
          '',
        ].join('\n'),
      );
      return new OwnedProcess('tinyproxy', binary, ['-d', '-c', 'tinyproxy.conf'], dir.path);
    });
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
      async stop() {
        await owned.stop();
        dir.remove();
      },
    };
  } catch (error) {
    dir.remove();
    throw error;
  }
}

// ------------------------------------------------------------------------------ nginx

export interface Nginx {
  /** ws://127.0.0.1:PORT — append a location path. */
  origin: string;
  port: number;
  accessLog(): string;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * nginx as a reverse proxy in front of `upstreamPort`, foreground, unprivileged paths in a temp
 * dir. `/ws/` forwards Upgrade/Connection (the documented WebSocket recipe); `/plain/` does not.
 */
export async function startNginx(upstreamPort: number): Promise<Nginx> {
  const binary = toolPath('nginx');
  const dir = tempDir('nginx');
  const p = (name: string) => join(dir.path, name);
  try {
    const { process: owned, port } = await startOnFreePort('nginx', (port) => {
      writeFileSync(
        p('nginx.conf'),
        `daemon off;
master_process off;
worker_processes 1;
pid ${p('nginx.pid')};
error_log ${p('error.log')} info;
events { worker_connections 256; }
http {
  access_log ${p('access.log')};
  client_body_temp_path ${p('client_body')};
  proxy_temp_path ${p('proxy')};
  fastcgi_temp_path ${p('fastcgi')};
  uwsgi_temp_path ${p('uwsgi')};
  scgi_temp_path ${p('scgi')};
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream app { server 127.0.0.1:${upstreamPort}; }
  server {
    listen 127.0.0.1:${port};
    location /ws/ {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_read_timeout 60s;
    }
    location /plain/ {
      proxy_pass http://app;
      proxy_set_header Host $http_host;
    }
  }
}
`,
      );
      return new OwnedProcess('nginx', binary, ['-p', dir.path, '-e', p('error.log'), '-c', p('nginx.conf')], dir.path);
    });
    const read = (name: string) => (existsSync(p(name)) ? readFileSync(p(name), 'utf8') : '');
    return {
      origin: `ws://127.0.0.1:${port}`,
      port,
      accessLog: () => read('access.log'),
      errorLog: () => read('error.log'),
      async stop() {
        await owned.stop();
        dir.remove();
      },
    };
  } catch (error) {
    dir.remove();
    throw error;
  }
}

// ------------------------------------------------------------------------------ TLS

export interface TestPki {
  /** The test CA's certificate (PEM): pass as `ca`. */
  ca: string;
  /** Leaf for localhost, 127.0.0.1 and ::1, signed by the CA. */
  cert: string;
  key: string;
  /** Another CA that signed nothing here. */
  otherCa: string;
  /** Leaf signed by the CA whose SAN names only other.test. */
  wrongNameCert: string;
  wrongNameKey: string;
  remove(): void;
}

/** A test CA and leaves made with openssl (EC prime256v1, SAN, serverAuth) in a temp dir. */
export function makeTestPki(): TestPki {
  const openssl = toolPath('openssl');
  const dir = tempDir('pki');
  const run = (...args: string[]) => execFileSync(openssl, args, { cwd: dir.path, stdio: 'pipe', timeout: 20_000 });
  const read = (name: string) => readFileSync(join(dir.path, name), 'utf8');
  try {
    const makeCa = (name: string, cn: string) => {
      run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
      run(
        'req', '-x509', '-new', '-key', `${name}.key`, '-sha256', '-days', '2', '-subj', `/CN=${cn}`,
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        '-out', `${name}.pem`,
      );
    };
    const makeLeaf = (name: string, san: string) => {
      writeFileSync(
        join(dir.path, `${name}.ext`),
        [
          'basicConstraints=critical,CA:FALSE',
          'keyUsage=critical,digitalSignature',
          'extendedKeyUsage=serverAuth',
          `subjectAltName=${san}`,
          '',
        ].join('\n'),
      );
      run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
      run('req', '-new', '-key', `${name}.key`, '-subj', '/CN=steadysocket test server', '-out', `${name}.csr`);
      run(
        'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
        '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`,
      );
    };
    makeCa('ca', 'steadysocket test CA');
    makeCa('other-ca', 'steadysocket unrelated CA');
    makeLeaf('leaf', 'DNS:localhost,IP:127.0.0.1,IP:::1');
    makeLeaf('wrong-name', 'DNS:other.test');
    return {
      ca: read('ca.pem'),
      cert: read('leaf.pem'),
      key: read('leaf.key'),
      otherCa: read('other-ca.pem'),
      wrongNameCert: read('wrong-name.pem'),
      wrongNameKey: read('wrong-name.key'),
      remove: dir.remove,
    };
  } catch (error) {
    dir.remove();
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl failed: ${(error as Error).message}\n${stderr}`);
  }
}

/**
 * Servers and clients for one `describe` block, all stopped after each test: `server()` starts a
 * ws server on loopback, `client()` a SteadySocket that retries every 20 ms and ignores errors,
 * `opened()` waits for its next `open`.
 */
export function liveKit() {
  const sockets: SteadySocket[] = [];
  const servers: WsServer[] = [];
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  return {
    async server(options?: WsServerOptions): Promise<WsServer> {
      const started = await startWsServer(options);
      servers.push(started);
      return started;
    },
    client(url: string, options: SteadySocketOptions = {}): SteadySocket {
      const socket = new SteadySocket(url, { minDelay: 20, maxDelay: 20, ...options });
      socket.on('error', () => {});
      sockets.push(socket);
      return socket;
    },
    opened: (socket: SteadySocket) => within(5000, 'open', new Promise((resolve) => socket.once('open', resolve))),
  };
}
