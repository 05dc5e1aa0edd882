// Behaviour of the CLI's session.ts (the SteadySocket the command line builds, and the exit code
// its ending maps to) and output.ts (the pipe and --json reporters) that no test pinned down, found
// by mutation testing (Stryker, December 2026): each test fails with at least one mutant that
// survived the other tests. In-process, against a real ws server on 127.0.0.1 (a Session with a
// recording Reporter; the reporters with recording streams); main.ts through the built CLI as a
// child process.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import picocolors from 'picocolors';
import { SteadySocketError, type CloseInfo, type DropInfo, type OpenInfo, type ReconnectingInfo, type WireData } from '../../src/index';
import { parseArgs, UsageError, type CliOptions } from '../../src/cli/args';
import { ExitCode } from '../../src/cli/exit-codes';
import { describeClose } from '../../src/cli/messages';
import { describe as words, JsonReporter, paint, PlainReporter } from '../../src/cli/output';
import { Scrubber } from '../../src/cli/redact';
import { Session, type Reporter } from '../../src/cli/session';
import { needTools } from '../support/tools';
import { CLI, makeCertificates, PASSPHRASE, requireBuiltCli, ROOT, runCli, sleep, startRedirector, startServer, until, type TestServer } from './helpers';

function options(...argv: string[]): CliOptions {
  let stderr = '';
  const result = parseArgs(argv, { stdout: () => {}, stderr: (text) => (stderr += text), version: '1.2.3' });
  if (!('run' in result)) throw new Error(`exit ${result.exit}: ${stderr}`);
  return result.run;
}

/** A Reporter that writes down every event, in order. */
class Recorder implements Reporter {
  events: string[] = [];
  messages: unknown[] = [];
  errors: SteadySocketError[] = [];
  closes: { info: CloseInfo; opened: boolean }[] = [];
  open(info: OpenInfo): void {
    this.events.push(`open ${info.attempt}`);
  }
  message(data: unknown): void {
    this.messages.push(data);
    this.events.push(`message ${String(data)}`);
  }
  close(info: CloseInfo, opened: boolean): void {
    this.closes.push({ info, opened });
    this.events.push(`close ${info.code} ${opened}`);
  }
  reconnecting(info: ReconnectingInfo): void {
    this.events.push(`reconnecting ${info.attempt}`);
  }
  error(error: SteadySocketError): void {
    this.errors.push(error);
    this.events.push(`error ${error.code}`);
  }
  drop(info: DropInfo<WireData>): void {
    this.events.push(`drop ${info.reason}`);
  }
  ping(data: Buffer): void {
    this.events.push(`ping ${data.toString()}`);
  }
  pong(data: Buffer, rtt: number | undefined): void {
    this.events.push(`pong ${data.toString()} ${rtt}`);
  }
  notice(text: string): void {
    this.events.push(`notice ${text}`);
  }
}

/** How many connections opened. */
const opens = (reporter: Recorder) => reporter.events.filter((e) => e.startsWith('open ')).length;

/** A plain HTTP proxy on 127.0.0.1 that answers every CONNECT with `status`. */
async function startRefusingProxy(status: number): Promise<{ port: number; connects: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const http: Server = createServer((_req, res) => res.writeHead(404).end());
  const proxy = {
    port: 0,
    connects: 0,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  http.on('connect', (_req, socket: Socket) => {
    proxy.connects++;
    socket.end(`HTTP/1.1 ${status} No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  proxy.port = (http.address() as AddressInfo).port;
  return proxy;
}

describe('mutation gaps: CLI session and output', () => {
  const sessions: Session[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  function session(argv: string[], mode: ConstructorParameters<typeof Session>[2] = {}): { session: Session; reporter: Recorder } {
    const reporter = new Recorder();
    const created = new Session(options(...argv), reporter, mode);
    sessions.push(created);
    return { session: created, reporter };
  }

  async function server(...args: Parameters<typeof startServer>): Promise<TestServer> {
    const started = await startServer(...args);
    closers.push(() => started.close());
    return started;
  }

  /** The session's exit code; fails the test when it does not end within 5 s. */
  async function exitOf(s: Session): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the session did not end within 5 s')), 5000)));
    try {
      return await Promise.race([s.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  afterEach(async () => {
    for (const s of sessions.splice(0)) {
      if (!s.ended) void s.end().catch(() => {});
      s.socket.close(1000);
      await Promise.race([s.done, sleep(2000)]);
    }
    for (const close of closers.splice(0)) await close();
  });

  describe('session: exit codes and why', () => {
    it('end() exits with the code it was given; a second end() keeps the first one', async () => {
      const srv = await server();
      const { session: s } = session([srv.url(), '--no-proxy']);
      await until(() => s.socket.state === 'open' && srv.connections.length === 1, 5000, 'open');
      expect(s.ended).to.equal(false);
      const closed = new Promise<string>((resolve) => srv.connections[0]!.socket.on('close', (code, reason) => resolve(`${code} "${reason.toString()}"`)));
      void s.end(1000, '', ExitCode.COUNT_NOT_REACHED);
      void s.end();
      expect(s.endedByCli).to.equal(true);
      expect(await exitOf(s)).to.equal(ExitCode.COUNT_NOT_REACHED);
      expect(s.ended).to.equal(true);
      expect(await closed).to.equal('1000 ""');
    });

    it('an end() with a code the client may not send throws and leaves the session as it was: a later end() sets the exit code', async () => {
      const srv = await server();
      const { session: s } = session([srv.url(), '--no-proxy']);
      await until(() => s.socket.state === 'open', 5000, 'open');
      expect(() => s.end(1006, '', ExitCode.COUNT_NOT_REACHED)).to.throw();
      expect(s.endedByCli).to.equal(false);
      void s.end(1000, '', ExitCode.OK);
      expect(await exitOf(s)).to.equal(ExitCode.OK);
      expect(srv.connections[0]!.socket.readyState).to.not.equal(1);
    });

    it('exits 5 when the server closes with an error code of its own while the CLI is ending normally, and 0 when it echoes our close', async () => {
      for (const [serverCode, endedWith, expected] of [
        [4001, ExitCode.OK, ExitCode.SERVER_ERROR_CLOSE],
        [undefined, ExitCode.OK, ExitCode.OK],
        // The CLI's own reason to end (here --count short) is kept over the server's code.
        [4001, ExitCode.COUNT_NOT_REACHED, ExitCode.COUNT_NOT_REACHED],
      ] as const) {
        const srv = await server();
        const { session: s } = session([srv.url(), '--no-proxy']);
        await until(() => s.socket.state === 'open' && srv.connections.length === 1, 5000, 'open');
        // The server's close frame waits in TCP while reading is stopped: it is read after end().
        s.pauseReading(true);
        if (serverCode !== undefined) srv.connections[0]!.socket.close(serverCode, 'bad');
        await sleep(100);
        void s.end(1000, '', endedWith);
        expect(await exitOf(s), `${serverCode} ${endedWith}`).to.equal(expected);
        if (expected === ExitCode.SERVER_ERROR_CLOSE) expect(s.failure(expected)).to.equal('the server closed the connection: 4001: bad');
      }
    });

    it('exits 0 when the CLI closes with an error code of its own and the server echoes it', async () => {
      const srv = await server();
      const { session: s } = session([srv.url(), '--no-proxy']);
      await until(() => s.socket.state === 'open', 5000, 'open');
      void s.end(4000, 'done');
      expect(await exitOf(s)).to.equal(ExitCode.OK);
    });

    it('exits 0 when ended while waiting to reconnect after a server error close (that close was already reported)', async () => {
      const srv = await server({ onConnection: (c) => c.socket.close(4000, 'later') });
      const { session: s, reporter } = session([srv.url(), '--no-proxy', '--min-delay', '5000', '--max-delay', '5000']);
      await until(() => reporter.events.includes('reconnecting 1'), 5000, 'reconnecting');
      expect(s.retry?.attempt).to.equal(1);
      expect(s.retry!.at).to.be.above(Date.now());
      void s.end();
      expect(s.retry).to.equal(undefined);
      expect(await exitOf(s)).to.equal(ExitCode.OK);
    });

    it('exits 5 and says why when the server closes with an error code and reconnecting is off', async () => {
      const srv = await server({ onConnection: (c) => c.socket.close(4003, 'go away') });
      const { session: s, reporter } = session([srv.url(), '--no-proxy', '--no-reconnect']);
      const code = await exitOf(s);
      expect(code).to.equal(ExitCode.SERVER_ERROR_CLOSE);
      expect(s.failure(code)).to.equal('the server closed the connection: 4003: go away');
      expect(reporter.closes.map((c) => c.opened)).to.deep.equal([true]);
      expect(s.endedByCli).to.equal(false);
      expect(s.ended).to.equal(true);
    });

    it('exits 4 naming the HTTP status of a rejected handshake, also under a first-connection limit; other codes have no failure line', async () => {
      const srv = await server();
      const { session: s, reporter } = session([srv.url('/reject/401'), '--no-proxy'], { firstConnectAttempts: 1 });
      const code = await exitOf(s);
      expect(code).to.equal(ExitCode.HANDSHAKE_REJECTED);
      expect(s.failure(code)).to.equal('the server rejected the handshake with HTTP 401');
      expect(s.failure(ExitCode.OK)).to.equal(undefined);
      expect(s.failure(ExitCode.RUNTIME_ERROR)).to.equal(undefined);
      expect(reporter.closes.map((c) => c.opened)).to.deep.equal([false]);
      expect(s.gaveUpFirstConnect).to.equal(false);
    });

    it('a 400 is a rejection, not a redirect', async () => {
      const srv = await server();
      const { session: s, reporter } = session([srv.url('/reject/400'), '--no-proxy', '--no-reconnect']);
      await exitOf(s);
      expect(reporter.errors.map((e) => e.message).join('\n')).to.not.include('redirect');
    });

    it('reports the close of an attempt that failed after one that opened as not opened', async () => {
      const srv = await server();
      const { session: s, reporter } = session([srv.url(), '--no-proxy', '--min-delay', '10', '--max-delay', '10']);
      await until(() => s.socket.state === 'open', 5000, 'open');
      await srv.kill();
      await until(() => reporter.closes.length >= 2, 5000, 'two closes');
      expect(reporter.closes.slice(0, 2).map((c) => c.opened)).to.deep.equal([true, false]);
    });

    it('a connection lost with reconnecting off: exit 3, "connection lost" with its close code', async () => {
      const srv = await server({ onConnection: (c) => c.socket.terminate() });
      const { session: s } = session([srv.url(), '--no-proxy', '--no-reconnect']);
      const code = await exitOf(s);
      expect(code).to.equal(ExitCode.CONNECTION_FAILED);
      expect(s.failure(code)).to.match(/^connection lost: 1006\b/);
    });

    it('retries spent: exit 3 with the last attempt\'s error after the library\'s message', async () => {
      const srv = await server();
      const url = srv.url();
      await srv.close();
      const { session: s } = session([url, '--no-proxy', '--max-retries', '1', '--min-delay', '10', '--max-delay', '10']);
      const code = await exitOf(s);
      expect(code).to.equal(ExitCode.CONNECTION_FAILED);
      const line = s.failure(code)!;
      expect(line).to.match(/ Last error: .*ECONNREFUSED/);
      expect(line.split(' Last error: ')[0]).to.not.include('ECONNREFUSED');
    });

    it('a first connection that never opens gives up after the attempts asked for, and says how many (one attempt, singular)', async () => {
      const srv = await server();
      const url = srv.url();
      await srv.close();
      for (const attempts of [1, 2]) {
        const { session: s, reporter } = session([url, '--no-proxy', '--min-delay', '10', '--max-delay', '10'], { firstConnectAttempts: attempts });
        const code = await exitOf(s);
        expect(code).to.equal(ExitCode.CONNECTION_FAILED);
        expect(s.gaveUpFirstConnect).to.equal(true);
        expect(reporter.events.filter((e) => e.startsWith('error CONNECT_FAILED'))).to.have.length(attempts);
        expect(s.failure(code)).to.match(
          new RegExp(`^could not connect: the first connection did not open after ${attempts} attempts? \\(--connect-attempts\\)\\. Last error: .*ECONNREFUSED`),
        );
        expect(s.failure(code)).to.include(attempts === 1 ? 'after 1 attempt (' : 'after 2 attempts (');
      }
    });

    it('a session that opened is not bound by the first-connection limit, and gaveUpFirstConnect stays false', async () => {
      const srv = await server({ onConnection: (c) => (srv.connections.length === 1 ? c.socket.terminate() : undefined) });
      const { session: s, reporter } = session([srv.url(), '--no-proxy', '--min-delay', '10', '--max-delay', '10'], { firstConnectAttempts: 1 });
      await until(() => opens(reporter) === 2, 5000, 'the second open');
      expect(s.gaveUpFirstConnect).to.equal(false);
    });
  });

  describe('session: when to reconnect', () => {
    it('while finishing, a close with 1000 or with no status (1005) ends the session; without finishing, 1000 reconnects', async () => {
      for (const code of [1000, undefined]) {
        const srv = await server();
        const { session: s, reporter } = session([srv.url(), '--no-proxy', ...['--min-delay', '10', '--max-delay', '10']]);
        await until(() => srv.connections.length === 1 && s.socket.state === 'open', 5000, 'open');
        s.finishing = true;
        srv.connections[0]!.socket.close(code);
        expect(await exitOf(s)).to.equal(ExitCode.OK);
        expect(reporter.events.filter((e) => e.startsWith('reconnecting')), String(code)).to.deep.equal([]);
      }
      const srv = await server();
      const { reporter } = session([srv.url(), '--no-proxy', '--min-delay', '10', '--max-delay', '10']);
      await until(() => srv.connections.length === 1, 5000, 'open');
      srv.connections[0]!.socket.close(1000);
      await until(() => opens(reporter) === 2, 5000, 'the reconnect');
    });

    it('while finishing, a server error close still reconnects (more may come)', async () => {
      const srv = await server();
      const { session: s, reporter } = session([srv.url(), '--no-proxy', '--min-delay', '10', '--max-delay', '10']);
      await until(() => srv.connections.length === 1 && s.socket.state === 'open', 5000, 'open');
      s.finishing = true;
      srv.connections[0]!.socket.close(4000);
      await until(() => opens(reporter) === 2, 5000, 'the reconnect');
    });

    it('--no-reconnect ends at the first close, even a normal one', async () => {
      const srv = await server({ onConnection: (c) => c.socket.close(1000) });
      const { session: s, reporter } = session([srv.url(), '--no-proxy', '--no-reconnect']);
      expect(await exitOf(s)).to.equal(ExitCode.OK);
      expect(opens(reporter)).to.equal(1);
    });
  });

  describe('session: messages', () => {
    it('--count n reports exactly n messages even when more arrive at once, then ends with 0', async () => {
      const srv = await server({ onConnection: (c) => ['1', '2', '3', '4', '5'].forEach((m) => c.socket.send(m)) });
      const { session: s, reporter } = session([srv.url(), '--no-proxy', '--count', '2']);
      expect(await exitOf(s)).to.equal(ExitCode.OK);
      expect(reporter.messages.map(String)).to.deep.equal(['1', '2']);
      expect(s.received).to.equal(2);
      expect(s.endedByCli).to.equal(true);
    });

    it('--count 2 does not end the session after the first message', async () => {
      const srv = await server({
        echo: false,
        onConnection: (c) => {
          c.socket.send('1');
          c.socket.on('message', () => c.socket.send('2'));
        },
      });
      const { session: s, reporter } = session([srv.url(), '--no-proxy', '--count', '2']);
      await until(() => reporter.messages.length === 1, 5000, 'the first message');
      await sleep(100);
      expect(s.socket.state).to.equal('open');
      s.send('next');
      expect(await exitOf(s)).to.equal(ExitCode.OK);
      expect(reporter.messages.map(String)).to.deep.equal(['1', '2']);
    });

    it('a message the session could not send is reported as dropped', async () => {
      const srv = await server();
      const url = srv.url();
      await srv.close();
      const { session: s, reporter } = session([url, '--no-proxy', '--no-reconnect']);
      s.send('never sent');
      await exitOf(s);
      expect(reporter.events.filter((e) => e.startsWith('drop'))).to.have.length(1);
    });

    it('without --count every message is reported and received stays 0', async () => {
      const srv = await server({ onConnection: (c) => ['1', '2', '3'].forEach((m) => c.socket.send(m)) });
      const { session: s, reporter } = session([srv.url(), '--no-proxy']);
      await until(() => reporter.messages.length === 3, 5000, 'three messages');
      expect(s.received).to.equal(0);
      expect(s.endedByCli).to.equal(false);
    });

    it('a connection that opens while reading is stopped starts stopped; resuming delivers what waited', async () => {
      const srv = await server({ onConnection: (c) => c.socket.send('early') });
      const { session: s, reporter } = session([srv.url(), '--no-proxy']);
      s.pauseReading(true);
      await until(() => srv.connections.length === 1 && s.socket.state === 'open', 5000, 'open');
      await sleep(200);
      expect(reporter.messages).to.deep.equal([]);
      s.pauseReading(false);
      await until(() => reporter.messages.length === 1, 5000, 'the message');
      expect(String(reporter.messages[0])).to.equal('early');
    });

    it('send() says whether the message went out at once: false while not open, true when open and nothing waits', async () => {
      const srv = await server();
      const { session: s } = session([srv.url(), '--no-proxy']);
      expect(s.send('queued')).to.equal(false);
      await until(() => srv.connections[0]?.messages.length === 1, 5000, 'the queued message');
      expect(s.send('direct')).to.equal(true);
      await until(() => srv.connections[0]!.messages.length === 2, 5000, 'the second message');
      expect(srv.connections[0]!.messages).to.deep.equal(['queued', 'direct']);
    });

    it('the preamble goes first on every connection, before what was queued', async () => {
      const srv = await server();
      const { session: s, reporter } = session([srv.url(), '--no-proxy', '--preamble', 'hello', '--preamble', 'again', '--min-delay', '10', '--max-delay', '10']);
      s.send('queued');
      await until(() => srv.connections[0]?.messages.length === 3, 5000, 'three messages');
      expect(srv.connections[0]!.messages).to.deep.equal(['hello', 'again', 'queued']);
      srv.connections[0]!.socket.terminate();
      await until(() => opens(reporter) === 2 && srv.connections[1]?.messages.length === 2, 5000, 'the preamble again');
      expect(srv.connections[1]!.messages).to.deep.equal(['hello', 'again']);
    });
  });

  describe('session: ping and pong', () => {
    it('-P reports the server\'s pings and unsolicited pongs with their payloads, but not the pong that answers a /ping', async () => {
      const srv = await server({ autoPong: false });
      const { session: s, reporter } = session([srv.url(), '--no-proxy', '-P']);
      await until(() => srv.connections.length === 1 && s.socket.state === 'open', 5000, 'open');
      const conn = srv.connections[0]!.socket;
      const pings: string[] = [];
      conn.on('ping', (data) => {
        pings.push(data.toString());
        conn.pong(data);
      });
      conn.ping('from server');
      conn.pong('unasked');
      await until(() => reporter.events.includes('pong unasked undefined'), 5000, 'the pong');
      expect(reporter.events).to.include('ping from server');
      const rtt = await s.ping('mine');
      expect(rtt).to.be.a('number');
      expect(s.rtt).to.equal(rtt);
      expect(pings).to.deep.equal(['mine']);
      conn.pong('after');
      await until(() => reporter.events.includes('pong after undefined'), 5000, 'the later pong');
      expect(reporter.events.filter((e) => e.startsWith('pong'))).to.deep.equal(['pong unasked undefined', 'pong after undefined']);
    });

    it('without -P no ping or pong is reported', async () => {
      const srv = await server();
      const { session: s, reporter } = session([srv.url(), '--no-proxy']);
      await until(() => srv.connections.length === 1 && s.socket.state === 'open', 5000, 'open');
      srv.connections[0]!.socket.ping('x');
      srv.connections[0]!.socket.pong('y');
      await s.ping();
      expect(reporter.events.filter((e) => e.startsWith('ping') || e.startsWith('pong'))).to.deep.equal([]);
    });

    it('a new connection forgets the round trip of the last one', async () => {
      const srv = await server();
      const { session: s, reporter } = session([srv.url(), '--no-proxy', '--min-delay', '10', '--max-delay', '10']);
      await until(() => srv.connections.length === 1 && s.socket.state === 'open', 5000, 'open');
      expect(s.rtt).to.equal(undefined);
      await s.ping();
      expect(s.rtt).to.be.a('number');
      srv.connections[0]!.socket.terminate();
      await until(() => opens(reporter) === 2, 5000, 'the reconnect');
      expect(s.rtt).to.equal(undefined);
    });

    it('--heartbeat measures the round trip without a /ping', async () => {
      const srv = await server();
      const { session: s } = session([srv.url(), '--no-proxy', '--heartbeat', '50']);
      await until(() => s.rtt !== undefined, 5000, 'a heartbeat round trip');
      expect(s.rtt).to.be.at.least(0);
    });
  });

  describe('session: options built from the command line', () => {
    it('a URL the library refuses is a usage error', () => {
      const o = options('ws://h', '--no-proxy');
      o.url = 'ws://[::1';
      expect(() => new Session(o, new Recorder())).to.throw(UsageError);
    });

    it('--max-delay under 1 s alone lowers the first delay to it, and --min-delay over 30 s alone raises the cap to it', async () => {
      const srv = await server({ onConnection: (c) => c.socket.terminate() });
      const { session: s } = session([srv.url(), '--no-proxy', '--max-delay', '40']);
      await until(() => s.retry !== undefined, 5000, 'a retry');
      expect(s.retry!.at - Date.now()).to.be.at.most(40);
      expect(() => session([srv.url(), '--no-proxy', '--min-delay', '40000'])).to.not.throw();
    });

    it('-H headers are sent; none given sends none of ours', async () => {
      const srv = await server();
      session([srv.url(), '--no-proxy', '-H', 'X-One: 1']);
      await until(() => srv.connections.length === 1, 5000, 'connect');
      expect(srv.connections[0]!.headers['x-one']).to.equal('1');
    });

    it('--ca, --cert and --key files are checked before connecting, with the flag and file named', function () {
      this.timeout(20_000);
      const dir = mkdtempSync(join(tmpdir(), 'steadysocket-session-'));
      closers.push(async () => rmSync(dir, { recursive: true, force: true }));
      const certs = makeCertificates(dir);
      const missing = join(dir, 'missing.pem');
      const empty = join(dir, 'empty.pem');
      writeFileSync(empty, 'no certificate here\n');
      const broken = join(dir, 'broken.pem');
      writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      const fails = (...argv: string[]) => {
        try {
          session(['wss://127.0.0.1:1', '--no-proxy', ...argv]);
        } catch (error) {
          expect(error).to.be.instanceOf(UsageError);
          return (error as Error).message;
        }
        throw new Error('no error');
      };
      expect(fails('--ca', missing)).to.equal(`--ca ${missing}: ENOENT`);
      expect(fails('--cert', missing, '--key', certs.clientKey)).to.equal(`--cert ${missing}: ENOENT`);
      expect(fails('--ca', empty)).to.equal(`--ca ${empty}: holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block).`);
      expect(fails('--cert', empty, '--key', certs.clientKey)).to.match(/^--cert .*: holds no PEM certificate/);
      expect(fails('--ca', broken)).to.match(new RegExp(`^--ca ${broken}: a certificate in it does not parse \\(.+\\)\\.$`));
      expect(fails('--cert', certs.clientCert, '--key', missing)).to.equal(`--key ${missing}: ENOENT`);
      expect(fails('--cert', certs.clientCert, '--key', certs.clientKey)).to.match(/ \(encrypted\? give --passphrase\)$/);
      const wrong = fails('--cert', certs.clientCert, '--key', certs.clientKey, '--passphrase', 'wrong-pass');
      expect(wrong).to.match(new RegExp(`^--key ${certs.clientKey}: .+ \\(wrong --passphrase\\?\\)$`));
      expect(wrong).to.not.include('wrong-pass');
      expect(() => session(['wss://127.0.0.1:1', '--no-proxy', '--ca', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey, '--passphrase', PASSPHRASE])).to.not.throw();
      const asked = options('wss://127.0.0.1:1', '--no-proxy', '--cert', certs.clientCert, '--key', certs.clientKey, '--passphrase', 'x');
      asked.passphrase = true;
      expect(() => new Session(asked, new Recorder())).to.throw(Error, 'the --passphrase prompt must run before the session starts');
    });
  });

  describe('session: errors reworded', () => {
    it('names the proxy and what its refusal means (407 without and with credentials, 403, 400), exit 6, no retry, no password shown', async () => {
      const srv = await server();
      const cases = [
        [407, '', 'it wants credentials: put them in the proxy URL (http://user:pass@proxy:port)'],
        [407, 'me:s3cret-pw@', 'it refused the credentials in the proxy URL: check the user name and password'],
        [407, 'me@', 'it refused the credentials in the proxy URL: check the user name and password'],
        [403, '', 'its access rules do not allow this destination'],
        [400, '', 'it refused the request'],
        [499, '', 'it refused the request'],
      ] as const;
      for (const [status, credentials, why] of cases) {
        const proxy = await startRefusingProxy(status);
        closers.push(() => proxy.close());
        const { session: s, reporter } = session([srv.url(), '--proxy', `http://${credentials}127.0.0.1:${proxy.port}`, '--min-delay', '10', '--max-delay', '10']);
        const code = await exitOf(s);
        const message = `the proxy 127.0.0.1:${proxy.port} refused the tunnel to 127.0.0.1:${srv.port}: CONNECT answered HTTP ${status} (${why}). The server was not reached.`;
        expect(code, String(status)).to.equal(ExitCode.PROXY_REFUSED);
        expect(reporter.errors.map((e) => e.message)).to.deep.equal([message]);
        expect((reporter.errors[0] as { proxy?: string }).proxy).to.equal(`127.0.0.1:${proxy.port}`);
        expect(reporter.errors[0]!.status).to.equal(status);
        expect(s.failure(code)).to.equal(message);
        expect(proxy.connects).to.equal(1);
        expect(srv.connections).to.have.length(0);
      }
    });

    it('a 5xx from the proxy is retried as a network failure, with the default port of the target named', async () => {
      const proxy = await startRefusingProxy(502);
      closers.push(() => proxy.close());
      for (const [url, target] of [
        ['ws://example.invalid/', 'example.invalid:80'],
        ['wss://example.invalid/', 'example.invalid:443'],
      ] as const) {
        const { session: s, reporter } = session([url, '--proxy', `http://127.0.0.1:${proxy.port}`, '--max-retries', '1', '--min-delay', '10', '--max-delay', '10']);
        const code = await exitOf(s);
        expect(code).to.equal(ExitCode.CONNECTION_FAILED);
        const message = `the proxy 127.0.0.1:${proxy.port} could not open a tunnel to ${target}: CONNECT answered HTTP 502 (it could not reach the server). The server was not reached.`;
        expect(reporter.errors.filter((e) => e.code === 'HANDSHAKE_REJECTED').map((e) => e.message)).to.deep.equal([message, message]);
        expect(s.failure(code)).to.match(new RegExp(` Last error: the proxy 127\\.0\\.0\\.1:${proxy.port} could not open a tunnel to`));
      }
    });

    it('a 500 from the proxy is no refusal either', async () => {
      const proxy = await startRefusingProxy(500);
      closers.push(() => proxy.close());
      const { session: s, reporter } = session(['ws://example.invalid/', '--proxy', `http://127.0.0.1:${proxy.port}`, '--max-retries', '1', '--min-delay', '10', '--max-delay', '10']);
      expect(await exitOf(s)).to.equal(ExitCode.CONNECTION_FAILED);
      expect(reporter.errors[0]!.message).to.include('could not open a tunnel to example.invalid:80: CONNECT answered HTTP 500 (it could not reach the server)');
      expect(proxy.connects).to.equal(2);
    });

    it('a proxy that cannot be reached is named, and the server is not blamed', async () => {
      const proxy = await startRefusingProxy(502);
      await proxy.close();
      const srv = await server();
      const { session: s, reporter } = session([srv.url(), '--proxy', `http://u:pw-secret@127.0.0.1:${proxy.port}`, '--no-reconnect']);
      expect(await exitOf(s)).to.equal(ExitCode.CONNECTION_FAILED);
      expect(reporter.errors.map((e) => e.message)).to.deep.equal([`could not reach the proxy 127.0.0.1:${proxy.port} (ECONNREFUSED): the server was not tried.`]);
      expect((reporter.errors[0] as { proxy?: string }).proxy).to.equal(`127.0.0.1:${proxy.port}`);
    });

    it('a server that cannot be reached directly is not blamed on a proxy', async () => {
      const srv = await server();
      const url = srv.url();
      await srv.close();
      const { session: s, reporter } = session([url, '--no-proxy', '--no-reconnect']);
      await exitOf(s);
      expect(reporter.errors[0]!.message).to.not.include('proxy');
    });

    it('a redirect without -L points to -L; too many with -L says how many (1 time, 2 times) and the limit', async () => {
      const srv = await server();
      const { session: s, reporter } = session([srv.url('/redirect'), '--no-proxy', '--no-reconnect']);
      await exitOf(s);
      expect(reporter.errors.map((e) => e.message)).to.deep.equal(['the server redirected the handshake (HTTP 302): follow redirects with -L.']);
      const loop = await startRedirector(() => '/again');
      closers.push(() => loop.close());
      for (const [max, times] of [
        ['1', '1 time'],
        ['2', '2 times'],
      ]) {
        const { session: s2, reporter: r2 } = session([loop.url(), '--no-proxy', '--no-reconnect', '-L', '--max-redirects', max]);
        await exitOf(s2);
        expect(r2.errors.map((e) => e.message)).to.deep.equal([
          `too many redirects: the handshake was redirected ${times} (--max-redirects ${max}) and the server answered with one more (HTTP 302). Raise --max-redirects, or connect to the final URL.`,
        ]);
        expect(r2.errors[0]!.redirects).to.equal(Number(max));
      }
    });

    it('wss:// to a plain server suggests ws:// with the query values hidden, and does not retry', async () => {
      const srv = await server();
      const { session: s, reporter } = session([`wss://127.0.0.1:${srv.port}/?token=tls-secret`, '--no-proxy', '--min-delay', '10', '--max-delay', '10']);
      const code = await exitOf(s);
      expect(code).to.equal(ExitCode.CONNECTION_FAILED);
      const message = `the server did not answer TLS; is it ws://? (try ws://127.0.0.1:${srv.port}/?token=***) Not retrying: it would fail the same way.`;
      expect(reporter.errors.map((e) => e.message)).to.deep.equal([message]);
      expect(s.failure(code)).to.equal(message);
    });
  });

  describe('output: words', () => {
    const info = (extra: Partial<CloseInfo>): CloseInfo => ({ code: 1006, reason: '', wasClean: false, attempt: 1, ...extra });

    it('names the protocol only when there is one, and the HTTP status of a close only when there is one', () => {
      expect(words.open({ url: 'ws://h/?k=v', protocol: 'chat', attempt: 1 } as OpenInfo)).to.deep.equal({ text: 'connected to ws://h/?k=*** (protocol chat)', tone: 'good' });
      expect(words.open({ url: 'ws://h/', protocol: '', attempt: 1 } as OpenInfo).text).to.equal('connected to ws://h/');
      expect(words.close(info({ code: 1002, reason: 'r', status: 401 } as Partial<CloseInfo>)).text).to.equal(`disconnected: ${describeClose(1002, 'r')} (HTTP 401)`);
      expect(words.close(info({ code: 1006 })).text).to.not.include('HTTP');
    });

    it('a close with 1000 or 1001 is a note, any other a warning; errors are bad, opens good', () => {
      expect(words.close(info({ code: 1000 })).tone).to.equal('note');
      expect(words.close(info({ code: 1001 })).tone).to.equal('note');
      expect(words.close(info({ code: 1006 })).tone).to.equal('warn');
      expect(words.close(info({ code: 4000 })).tone).to.equal('warn');
      expect(words.error(new SteadySocketError('CLOSED', 'm')).tone).to.equal('bad');
      expect(words.error(new SteadySocketError('CLOSED', 'm')).text).to.equal('error CLOSED: m');
    });

    it('reconnecting: the delay, "or when back online" when offline, and no delay when waiting for a signal', () => {
      const cause = info({});
      expect(words.reconnecting({ attempt: 3, delay: 1500, offline: false, cause }).text).to.equal('reconnecting in 1.5 s (attempt 3)');
      expect(words.reconnecting({ attempt: 3, delay: 200, offline: true, cause }).text).to.equal('reconnecting in 200 ms or when back online (attempt 3)');
      expect(words.reconnecting({ attempt: 4, delay: Infinity, offline: true, cause }).text).to.equal('waiting to resume (attempt 4)');
      expect(words.reconnecting({ attempt: 4, delay: Infinity, offline: true, cause }).tone).to.equal('warn');
    });

    it('ping and pong with and without payload, and a pong with its round trip', () => {
      expect(words.ping(Buffer.from('hi'))).to.deep.equal({ text: 'ping received: hi', tone: 'note' });
      expect(words.ping(Buffer.alloc(0)).text).to.equal('ping received');
      expect(words.pong(Buffer.from('yo'), undefined)).to.deep.equal({ text: 'pong received: yo', tone: 'note' });
      expect(words.pong(Buffer.alloc(0), undefined).text).to.equal('pong received');
      expect(words.pong(Buffer.from('yo'), 12)).to.deep.equal({ text: 'pong in 12 ms', tone: 'note' });
    });

    it('paints each tone in its colour', () => {
      const c = picocolors.createColors(true);
      expect(paint(c, { text: 't', tone: 'good' })).to.equal(c.green('t'));
      expect(paint(c, { text: 't', tone: 'warn' })).to.equal(c.yellow('t'));
      expect(paint(c, { text: 't', tone: 'bad' })).to.equal(c.red('t'));
      expect(paint(c, { text: 't', tone: 'note' })).to.equal(c.dim('t'));
    });
  });

  describe('output: PlainReporter', () => {
    function plain(encoding: 'text' | 'hex' | 'base64' | 'binary', quiet = false, tty = false) {
      const out: (string | Uint8Array)[] = [];
      const err: string[] = [];
      const stdout = { isTTY: tty, write: (t: string | Uint8Array) => out.push(t) };
      const scrubber = new Scrubber();
      scrubber.add('top-secret');
      const reporter = new PlainReporter(stdout, { write: (t: string | Uint8Array) => err.push(String(t)) }, picocolors.createColors(false), encoding, quiet, scrubber);
      return { reporter, out, err };
    }

    it('prints text as is, binary frames per encoding, and -b binary frames as their bytes', () => {
      const text = plain('text');
      text.reporter.message('a\u001b[2Jb');
      text.reporter.message(Buffer.from([0xff, 0x01]));
      expect(text.out).to.deep.equal(['a\u001b[2Jb\n', 'ff01\n']);
      const raw = plain('binary');
      raw.reporter.message(Buffer.from([0xff, 0x01]));
      raw.reporter.message('text');
      expect(Buffer.from(raw.out[0] as Uint8Array)).to.deep.equal(Buffer.from([0xff, 0x01, 0x0a]));
      expect(raw.out[1]).to.equal('text\n');
    });

    it('on a terminal shows control characters as escapes, -b frames decoded as UTF-8', () => {
      const text = plain('text', false, true);
      text.reporter.message('a\u001b[2Jb');
      expect(text.out[0]).to.be.a('string').and.not.include('\u001b');
      expect(text.out[0]).to.match(/^a.+b\n$/);
      const raw = plain('binary', false, true);
      raw.reporter.message(Buffer.from('héllo\u0007'));
      expect(raw.out[0]).to.be.a('string').and.match(/^héllo.+\n$/);
      expect(raw.out[0]).to.not.include('\u0007');
      const hex = plain('hex', false, true);
      hex.reporter.message(Buffer.from([0xab]));
      expect(hex.out).to.deep.equal(['ab\n']);
    });

    it('diagnostics go to stderr, scrubbed and prefixed; none with -q; a failed attempt\'s close is left to its error', () => {
      const { reporter, out, err } = plain('text');
      reporter.open({ url: 'ws://h/', protocol: '', attempt: 1 } as OpenInfo);
      reporter.error(new SteadySocketError('CONNECT_FAILED', 'top-secret gone'));
      reporter.close({ code: 1006, reason: '', wasClean: false, attempt: 1, error: new SteadySocketError('CONNECT_FAILED', 'x') } as CloseInfo, false);
      reporter.close({ code: 1006, reason: '', wasClean: false, attempt: 1, error: new SteadySocketError('CONNECT_FAILED', 'x') } as CloseInfo, true);
      reporter.close({ code: 1000, reason: '', wasClean: true, attempt: 1 } as CloseInfo, false);
      reporter.reconnecting({ attempt: 2, delay: 100, offline: false, cause: { code: 1006, reason: '', wasClean: false, attempt: 1 } });
      reporter.drop({ reason: 'closed', data: 'lost', error: new SteadySocketError('CLOSED', 'c') } as unknown as DropInfo<WireData>);
      reporter.ping(Buffer.from('p'));
      reporter.pong(Buffer.from('q'), undefined);
      reporter.notice('note top-secret');
      expect(out).to.deep.equal([]);
      expect(err.join('')).to.not.include('top-secret');
      expect(err.map((l) => l.replace(/\n$/, ''))).to.deep.equal([
        'steadysocket: connected to ws://h/',
        'steadysocket: error CONNECT_FAILED: *** gone',
        `steadysocket: disconnected: ${describeClose(1006, '')}`,
        `steadysocket: disconnected: ${describeClose(1000, '')}`,
        'steadysocket: reconnecting in 100 ms (attempt 2)',
        'steadysocket: dropped a message (closed): lost',
        'steadysocket: ping received: p',
        'steadysocket: pong received: q',
        'steadysocket: note ***',
      ]);
      const quiet = plain('text', true);
      quiet.reporter.error(new SteadySocketError('CLOSED', 'm'));
      quiet.reporter.notice('n');
      expect(quiet.err).to.deep.equal([]);
    });
  });

  describe('output: JsonReporter', () => {
    const now = () => new Date('2026-01-02T03:04:05.678Z');
    function json(encoding: 'text' | 'hex' | 'base64' | 'binary' = 'text', quiet = false) {
      const out: string[] = [];
      const err: string[] = [];
      const scrubber = new Scrubber();
      scrubber.add('top-secret');
      const reporter = new JsonReporter({ write: (t) => out.push(String(t)) }, { write: (t) => err.push(String(t)) }, encoding, quiet, scrubber, now);
      return { reporter, out, err, parsed: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
    }

    it('writes every event with its fields, scrubbed, the optional ones only when set', () => {
      const j = json('hex');
      j.reporter.message('hi');
      j.reporter.message(Buffer.from([1, 2]));
      j.reporter.open({ url: 'ws://u:p@h/?a=b', protocol: 'top-secret', attempt: 2 } as OpenInfo);
      j.reporter.close({ code: 4000, reason: 'why top-secret', wasClean: true, attempt: 2 } as CloseInfo, true);
      j.reporter.close({ code: 1006, reason: '', wasClean: false, attempt: 3, status: 503, error: new SteadySocketError('HANDSHAKE_REJECTED', 'x') } as CloseInfo, false);
      j.reporter.reconnecting({ attempt: 3, delay: 250, offline: false, cause: { code: 1006, reason: '', wasClean: false, attempt: 2 } });
      j.reporter.error(Object.assign(new SteadySocketError('CLOSED', 'top-secret here', undefined, { closeCode: 4001, redirects: 2 }), { proxy: 'p:1' }));
      j.reporter.error(new SteadySocketError('CLOSED', 'plain'));
      j.reporter.drop({ reason: 'closed', data: 'gone', error: new SteadySocketError('CLOSED', 'c') } as unknown as DropInfo<WireData>);
      j.reporter.drop({ reason: 'overflow', data: Buffer.from([0xab]), error: new SteadySocketError('QUEUE_FULL' as never, 'q') } as unknown as DropInfo<WireData>);
      j.reporter.ping(Buffer.from('pi'));
      j.reporter.pong(Buffer.from('po'), undefined);
      j.reporter.pong(Buffer.alloc(0), 7);
      const ts = '2026-01-02T03:04:05.678Z';
      expect(j.parsed()).to.deep.equal([
        { type: 'message', ts, data: 'hi', binary: false },
        { type: 'message', ts, data: '0102', binary: true, encoding: 'hex', bytes: 2 },
        { type: 'open', ts, url: 'ws://***:***@h/?a=***', protocol: '***', attempt: 2 },
        { type: 'close', ts, opened: true, code: 4000, reason: 'why ***', wasClean: true },
        { type: 'close', ts, opened: false, code: 1006, reason: '', wasClean: false, status: 503, error: 'HANDSHAKE_REJECTED' },
        { type: 'reconnecting', ts, attempt: 3, delay: 250, offline: false },
        { type: 'error', ts, code: 'CLOSED', message: '*** here', proxy: 'p:1', closeCode: 4001, redirects: 2 },
        { type: 'error', ts, code: 'CLOSED', message: 'plain' },
        { type: 'drop', ts, reason: 'closed', code: 'CLOSED', data: 'gone', binary: false },
        { type: 'drop', ts, reason: 'overflow', code: 'QUEUE_FULL', data: 'ab', binary: true, encoding: 'hex' },
        { type: 'ping', ts, data: 'pi' },
        { type: 'pong', ts, data: 'po' },
        { type: 'pong', ts, data: '', rtt: 7 },
      ]);
      expect(j.out.every((l) => l.endsWith('}\n'))).to.equal(true);
      expect(j.err).to.deep.equal([]);
    });

    it('stamps each line with the time now by default', () => {
      const out: string[] = [];
      const before = Date.now();
      new JsonReporter({ write: (t) => out.push(String(t)) }, { write: () => {} }, 'text', false).ping(Buffer.alloc(0));
      const ts = Date.parse((JSON.parse(out[0]!) as { ts: string }).ts);
      expect(ts).to.be.within(before, Date.now());
    });

    it('notices go to stderr, scrubbed, with control characters as escapes; none with -q', () => {
      const j = json();
      j.reporter.notice('skipped top-secret\u001b[2J');
      expect(j.err).to.have.length(1);
      expect(j.err[0]).to.match(/^steadysocket: skipped \*\*\*.+\n$/);
      expect(j.err[0]).to.not.include('\u001b');
      expect(j.out).to.deep.equal([]);
      const q = json('text', true);
      q.reporter.notice('n');
      expect(q.err).to.deep.equal([]);
    });
  });

  describe('main: the command', () => {
    before(requireBuiltCli);

    it('--version prints the version in package.json', async () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
      const result = await runCli(['--version']);
      expect(result.code).to.equal(ExitCode.OK);
      expect(result.stdout).to.equal(`${pkg.version}\n`);
    });

    it('a usage error found after parsing is one line, then the pointer to --help, exit 2', async () => {
      const missing = join(tmpdir(), 'steadysocket-no-such-ca.pem');
      const result = await runCli(['ws://127.0.0.1:1/', '--no-proxy', '--ca', missing]);
      expect(result.code).to.equal(ExitCode.USAGE);
      expect(result.stderr).to.equal(`error: --ca ${missing}: ENOENT\n(run steadysocket --help for usage)\n`);
    });

    it('-x and --json on a terminal run without the interactive UI (the messages sent, then exit 0); Ctrl-C at the passphrase prompt exits 130', async function () {
      needTools(this, 'tmux');
      const srv = await server();
      const socket = `steadysocket-mutants-session-${process.pid}`;
      const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
      closers.push(async () => void spawnSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' }));
      const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
      const screenOf = async (name: string, what: string) => {
        let screen = '';
        await until(() => (screen = tmux('capture-pane', '-p', '-t', name)).includes(what), 10_000, `${what} on the screen (${name})`).catch((error: Error) => {
          throw new Error(`${error.message}\n--- screen ---\n${screen}`);
        });
        return screen;
      };
      const start = (name: string, flags: string[]) => {
        const line = [process.execPath, CLI, srv.url(), '--no-proxy', ...flags].map(quote).join(' ');
        tmux('new-session', '-d', '-x', '120', '-y', '30', '-s', name, `env -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY TERM=xterm-256color ${line}; echo "EXIT=$?"; sleep 30`);
      };
      start('x', ['-x', 'from-x']);
      const x = await screenOf('x', 'EXIT=');
      expect(x).to.include('EXIT=0').and.include('from-x');
      // --json reads stdin, here the terminal, until its end (Ctrl-D).
      start('json', ['--json']);
      await screenOf('json', '"type":"open"');
      tmux('send-keys', '-t', 'json', 'from-json', 'Enter');
      await screenOf('json', '"data":"from-json"');
      tmux('send-keys', '-t', 'json', 'C-d');
      expect(await screenOf('json', 'EXIT=')).to.include('EXIT=0');
      expect(srv.connections.map((c) => c.messages)).to.deep.equal([['from-x'], ['from-json']]);
      // Ctrl-C at the --passphrase prompt: exit 130, nothing connected.
      const dir = mkdtempSync(join(tmpdir(), 'steadysocket-session-'));
      closers.push(async () => rmSync(dir, { recursive: true, force: true }));
      const certs = makeCertificates(dir);
      start('prompt', ['--cert', certs.clientCert, '--key', certs.clientKey, '--passphrase']);
      await screenOf('prompt', `Passphrase for ${certs.clientKey}:`);
      tmux('send-keys', '-t', 'prompt', 'C-c');
      expect(await screenOf('prompt', 'EXIT=')).to.include('EXIT=130');
      expect(srv.connections).to.have.length(2);
    });
  });
});
