import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { cleanEnv, FAST, killAll, ndjson, requireBuiltCli, runCli, startCli, startRedirector, startServer, until, type TestServer } from './helpers';

describe('steadysocket CLI: pipe and execute modes', function () {
  this.timeout(20_000);
  let server: TestServer;

  before(async () => {
    requireBuiltCli();
    server = await startServer({ handleProtocols: (offered) => (offered.has('chat.v2') ? 'chat.v2' : false) });
  });
  after(() => server.close());
  afterEach(() => killAll());

  it('sends each stdin line as a message and prints each reply as one undecorated stdout line', async () => {
    const before = server.connections.length;
    const result = await runCli([server.url('/pipe')], { input: 'one\ntwo words\n\nthree\n' });
    expect(result.code).to.equal(0);
    expect(result.stdout).to.equal('one\ntwo words\n\nthree\n');
    expect(server.connections.slice(before)[0].messages).to.deep.equal(['one', 'two words', '', 'three']);
  });

  it('streams a large input in order, pausing stdin instead of overflowing the outbox', async () => {
    const count = 20_000;
    const lines = Array.from({ length: count }, (_, i) => `message ${i}`);
    const result = await runCli([server.url('/bulk')], { input: `${lines.join('\n')}\n`, timeout: 15_000 });
    expect(result.code).to.equal(0);
    expect(result.stderr).not.to.include('not sent');
    expect(server.connections.find((c) => c.path === '/bulk')!.messages).to.deep.equal(lines);
    expect(result.stdout).to.equal(`${lines.join('\n')}\n`);
  });

  it('prints what the server sends while stdin stays open, and exits 0 once stdin ends', async () => {
    const cli = startCli([server.url('/listen')]);
    await until(() => server.connections.some((c) => c.path === '/listen'), 5000, 'the connection');
    const connection = server.connections.find((c) => c.path === '/listen')!;
    connection.socket.send('pushed by the server');
    connection.socket.send('and another');
    await cli.waitForLine('and another');
    expect(cli.lines()).to.deep.equal(['pushed by the server', 'and another']);
    cli.end();
    const result = await cli.exited();
    expect(result.code).to.equal(0);
    expect(result.stderr).to.match(/connected to ws:\/\/127\.0\.0\.1:\d+\/listen/);
  });

  it('says so, and never exits 0, when the connection ends before stdin does (the rest is not read)', async () => {
    // The server ends each connection after its first message: 1000 (normal, no reconnect with
    // --no-reconnect) or 1008 (a stop code). What stdin still holds then is never read nor sent.
    for (const [code, flags, exit] of [[1000, ['--no-reconnect'], 8], [1000, ['--no-reconnect', '-q'], 8], [1008, ['--json'], 5]] as const) {
      const closing = await startServer({ echo: false, onConnection: (c) => c.socket.once('message', () => c.socket.close(code)) });
      try {
        const cli = startCli([closing.url('/'), ...flags]);
        cli.write('a\n');
        // Ends by itself while stdin stays open (exited() fails after 5 s).
        const result = await cli.exited(5000);
        cli.end();
        expect(result.code, `${code} ${flags.join(' ')}: ${result.stderr}`).to.equal(exit);
        expect(result.stderr).to.include('the connection ended before the input did: the rest of stdin was not read, nor sent');
        expect(closing.connections.map((c) => c.messages)).to.deep.equal([['a']]);
      } finally {
        await closing.close();
      }
    }
  });

  it('connects once even with empty input, then exits 0 (a reachability check)', async () => {
    const before = server.connections.length;
    const result = await runCli([server.url('/empty')], { input: '' });
    expect(result.code).to.equal(0);
    expect(server.connections.length).to.equal(before + 1);
  });

  it('-x sends messages in order, -w waits for late replies, then exits 0', async () => {
    const late = await startServer({
      echo: false,
      onConnection: (c) => c.socket.on('message', (data) => setTimeout(() => c.socket.send(`late ${data}`), 300)),
    });
    try {
      const result = await runCli([late.url(), '-x', 'first', '--execute', 'second', '-w', '1.5']);
      expect(result.code).to.equal(0);
      expect(result.stdout).to.equal('late first\nlate second\n');
      expect(late.connections[0].messages).to.deep.equal(['first', 'second']);
    } finally {
      await late.close();
    }
  });

  it('-w -1 holds the connection open until the server ends it', async () => {
    const slow = await startServer({
      echo: false,
      onConnection: (c) =>
        setTimeout(() => {
          c.socket.send('much later');
          c.socket.close(1000);
        }, 600),
    });
    try {
      const result = await runCli([slow.url(), '-x', 'hi', '-w', '-1', '--no-reconnect']);
      expect(result.code).to.equal(0);
      expect(result.stdout).to.equal('much later\n');
    } finally {
      await slow.close();
    }
  });

  it('-c/--connect is the URL in wscat style, and a URL without a scheme means ws://', async () => {
    const result = await runCli(['-c', `127.0.0.1:${server.port}/noscheme`, '-x', 'hi']);
    expect(result.code).to.equal(0);
    expect(result.stdout).to.equal('hi\n');
    expect(server.connections.some((c) => c.path === '/noscheme')).to.equal(true);
  });

  it('--count exits 0 after n messages', async () => {
    const cli = startCli([server.url('/count'), '--count', '2']);
    await until(() => server.connections.some((c) => c.path === '/count'), 5000, 'the connection');
    const connection = server.connections.find((c) => c.path === '/count')!;
    for (const n of [1, 2, 3]) connection.socket.send(`m${n}`);
    const result = await cli.exited();
    expect(result.code).to.equal(0);
    expect(result.stdout).to.equal('m1\nm2\n');
  });

  it('offers every -s subprotocol in order and sends -H headers, -o origin and --auth', async () => {
    const result = await runCli([
      server.url('/handshake'),
      '-s', 'chat.v1', '--subprotocol', 'chat.v2',
      '-H', 'X-One: 1', '--header', 'X-Two:two words',
      '-o', 'https://app.example',
      '--auth', 'alice:s3cret',
      '--json', '-x', 'hello',
    ]);
    expect(result.code).to.equal(0);
    const connection = server.connections.find((c) => c.path === '/handshake')!;
    expect(connection.headers['sec-websocket-protocol']).to.equal('chat.v1,chat.v2');
    expect(connection.protocol).to.equal('chat.v2');
    expect(connection.headers['x-one']).to.equal('1');
    expect(connection.headers['x-two']).to.equal('two words');
    expect(connection.headers.origin).to.equal('https://app.example');
    expect(connection.headers.authorization).to.equal(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
    const open = ndjson(result.stdout).find((e) => e.type === 'open')!;
    expect(open.protocol).to.equal('chat.v2');
  });

  it('-L follows a redirect during the handshake; without it the redirect fails the connection', async () => {
    const followed = await runCli([server.url('/redirect'), '-L', '--max-redirects', '2', '-x', 'after redirect']);
    expect(followed.code).to.equal(0);
    expect(followed.stdout).to.equal('after redirect\n');
    expect(server.connections.some((c) => c.path === '/redirected')).to.equal(true);

    const refused = await runCli([server.url('/redirect'), '--no-reconnect', '-x', 'x']);
    expect(refused.code).to.equal(3);
  });

  it('-L follows a 302 from a separate HTTP server to the ws server it names', async () => {
    const redirector = await startRedirector(() => server.url('/landed'));
    try {
      const result = await runCli([redirector.url('/start'), '-L', '-x', 'via redirect']);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('via redirect\n');
      expect(redirector.requests).to.deep.equal(['/start']);
      expect(server.connections.find((c) => c.path === '/landed')?.messages).to.deep.equal(['via redirect']);
    } finally {
      await redirector.close();
    }
  });

  it('-L gives up after --max-redirects (default 10); without -L the message points to it', async () => {
    const looping = await startRedirector((path) => `${path}x`); // each answer names a new path on itself
    try {
      const limited = await runCli([looping.url('/loop'), '-L', '--max-redirects', '2', '--no-reconnect', '-x', 'never']);
      expect(limited.code).to.equal(3);
      expect(looping.requests).to.deep.equal(['/loop', '/loopx', '/loopxx']); // the first request and 2 redirects
      expect(limited.stderr).to.include(
        'error HANDSHAKE_REJECTED: too many redirects: the handshake was redirected 2 times (--max-redirects 2) and the server answered with one more (HTTP 302). Raise --max-redirects, or connect to the final URL.',
      );
      expect(limited.stdout).to.equal('');

      looping.requests.length = 0;
      const byDefault = await runCli([looping.url('/default'), '-L', '--no-reconnect', '--json', '-x', 'never']);
      expect(byDefault.code).to.equal(3);
      expect(looping.requests).to.have.length(11);
      const error = ndjson(byDefault.stdout).find((e) => e.type === 'error')!;
      expect(error).to.include({ code: 'HANDSHAKE_REJECTED', status: 302, redirects: 10 });
      expect(error.message).to.include('too many redirects: the handshake was redirected 10 times (--max-redirects 10)');

      looping.requests.length = 0;
      const unfollowed = await runCli([looping.url('/plain'), '--no-reconnect', '-x', 'never']);
      expect(unfollowed.code).to.equal(3);
      expect(looping.requests).to.deep.equal(['/plain']);
      expect(unfollowed.stderr).to.include('the server redirected the handshake (HTTP 302): follow redirects with -L');
    } finally {
      await looping.close();
    }
  });

  it('-L: a redirect without a Location is named as such, not as too many redirects', async () => {
    const nowhere = createHttpServer();
    nowhere.on('upgrade', (_request, socket: Socket) => socket.end('HTTP/1.1 307 Temporary Redirect\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'));
    await new Promise<void>((resolve) => nowhere.listen(0, '127.0.0.1', resolve));
    try {
      const url = `ws://127.0.0.1:${(nowhere.address() as AddressInfo).port}/`;
      const result = await runCli([url, '-L', '--no-reconnect', '--json', '-x', 'never']);
      expect(result.code).to.equal(3);
      const error = ndjson(result.stdout).find((e) => e.type === 'error')!;
      expect(error).to.include({ code: 'HANDSHAKE_REJECTED', status: 307 });
      expect(error).not.to.have.property('redirects');
      expect(error.message).to.equal('the server answered the handshake with a redirect (HTTP 307) but no Location to follow.');
    } finally {
      nowhere.closeAllConnections();
      await new Promise((resolve) => nowhere.close(resolve));
    }
  });

  describe('in scripts: --count, -w and the first connection', () => {
    let late: TestServer;
    before(async () => {
      late = await startServer({
        echo: false,
        onConnection: (c) => {
          c.socket.on('message', (data) => setTimeout(() => c.socket.send(`late ${data}`), 500));
          if (c.path === '/bye') setTimeout(() => c.socket.close(1000), 200);
        },
      });
    });
    after(() => late.close());

    it('-x with --count 1 waits for a reply that comes 500 ms later, prints it and exits 0', async () => {
      const result = await runCli([late.url('/rpc'), '-x', 'REQ', '--count', '1']);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('late REQ\n');
    });

    it('piped input with --count 1 waits for the reply too', async () => {
      const result = await runCli([late.url('/rpc-pipe'), '--count', '1', '-q'], { input: 'req\n' });
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('late req\n');
      expect(result.stderr).to.equal('');
    });

    it('exits 7 and says why when the --count messages do not arrive within -w', async () => {
      const result = await runCli([late.url('/slow'), '-x', 'one', '--count', '2', '-w', '1']);
      expect(result.code).to.equal(7);
      expect(result.stdout).to.equal('late one\n');
      expect(result.stderr).to.include('only 1 of 2 messages (--count) arrived within 1 s (-w) (exit 7)');
    });

    it('exits 7, not 0, when the server closes normally before the reply (no -w: it waited)', async () => {
      // The server says goodbye with 1000 after 200 ms, before its 500 ms reply.
      const before = late.connections.length;
      const result = await runCli([late.url('/bye'), '-x', 'REQ', '--count', '1', '-q']);
      expect(result.code).to.equal(7);
      expect(result.stdout).to.equal('');
      expect(result.stderr).to.equal('steadysocket: the connection ended after only 0 of 1 message (--count) (exit 7)\n');
      expect(late.connections.length - before).to.equal(1);
    });

    it('-w -1 ends, exit 0, when the server closes with 1000: no reconnect', async () => {
      const before = late.connections.length;
      const result = await runCli([late.url('/bye'), '-x', 'hi', '-w', '-1', ...FAST], { timeout: 5000 });
      expect(result.code).to.equal(0);
      expect(result.stderr).to.include('disconnected: 1000 normal closure').and.not.include('reconnecting');
      expect(late.connections.length - before).to.equal(1);
    });

    it('-w -1 reconnects after a drop without a close frame, and ends at the close that follows', async () => {
      let n = 0;
      const flaky = await startServer({
        onConnection: (c) => (++n === 1 ? setTimeout(() => c.socket.terminate(), 100) : setTimeout(() => c.socket.close(1000), 100)),
      });
      try {
        const result = await runCli([flaky.url(), '-x', 'hi', '-w', '-1', ...FAST]);
        expect(result.code).to.equal(0);
        expect(flaky.connections).to.have.length(2);
        expect(result.stderr).to.include('1006 abnormal closure').and.include('reconnecting');
      } finally {
        await flaky.close();
      }
    });

    it('a first connection that never opens fails with exit 3 after 3 attempts, from </dev/null, a pipe or -x', async () => {
      const down = await startServer();
      const url = down.url('/down');
      await down.close();
      for (const [args, input] of [[[], ''], [[], 'x\n'], [['-x', 'x'], undefined]] as [string[], string | undefined][]) {
        const result = await runCli([url, ...args, ...FAST], { input, timeout: 5000 });
        expect(result.code, args.join(' ')).to.equal(3);
        expect(result.stderr.match(/ECONNREFUSED/g)?.length ?? 0, result.stderr).to.be.at.least(3);
        expect(result.stderr).to.include('could not connect: the first connection did not open after 3 attempts (--connect-attempts)');
        expect(result.stderr).to.match(/\(exit 3\)\n$/);
      }
      const once = await runCli([url, '--connect-attempts', '1', '-q'], { input: '' });
      expect(once.code).to.equal(3);
      expect(once.stderr).to.match(/^steadysocket: could not connect: the first connection did not open after 1 attempt \(--connect-attempts\)\. Last error: .*ECONNREFUSED.*\(exit 3\)\n$/);
    });
  });

  describe('binary messages', () => {
    it('--hex sends hex lines as binary frames and prints binary frames as hex', async () => {
      const result = await runCli([server.url('/hex'), '--hex'], { input: '00ff10\nDE AD be ef\nnot hex\n' });
      // The line that could not be sent is no quiet success: exit 8, with or without -q.
      expect(result.code).to.equal(8);
      expect(result.stdout).to.equal('00ff10\ndeadbeef\n');
      expect(result.stderr).to.include('skipped a line that is not hex');
      expect(result.stderr).to.include('steadysocket: 1 input line was not sent (skipped: see the notes above) (exit 8)');
      expect(server.connections.find((c) => c.path === '/hex')!.messages).to.deep.equal(['hex:00ff10', 'hex:deadbeef']);
      const quiet = await runCli([server.url('/hex-q'), '--hex', '-q'], { input: 'zz\nab\nDEADBEE\n' });
      expect(quiet.code).to.equal(8);
      // -q kept the notes off stderr: the line does not point to them.
      expect(quiet.stderr).to.equal('steadysocket: 2 input lines were not sent (skipped: not valid for --hex/--base64, or refused by the client; run without -q to see each) (exit 8)\n');
      expect(server.connections.find((c) => c.path === '/hex-q')!.messages).to.deep.equal(['hex:ab']);
    });

    it('--base64 sends base64 lines as binary frames and prints binary frames as base64', async () => {
      const result = await runCli([server.url('/b64'), '--base64', '-x', 'AAEC/w==']);
      expect(result.code).to.equal(0);
      expect(result.stdout).to.equal('AAEC/w==\n');
      expect(server.connections.find((c) => c.path === '/b64')!.messages).to.deep.equal(['hex:000102ff']);
    });

    it('-b/--binary sends lines as binary frames and prints binary frames as raw text', async () => {
      const result = await runCli([server.url('/bin'), '--binary'], { input: 'héllo\n' });
      expect(result.code).to.equal(0);
      expect(result.stdout).to.equal('héllo\n');
      expect(server.connections.find((c) => c.path === '/bin')!.messages).to.deep.equal([`hex:${Buffer.from('héllo').toString('hex')}`]);
    });

    it('-b sends each line byte for byte: only \\n ends a line, every \\r stays; text drops the \\r of a CRLF only', async () => {
      // readline also ended a line at a lone \r: one line became two frames, its \r bytes gone.
      const input = Buffer.from([0x61, 0x0d, 0x62, 0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x63, 0x0a, 0x0a, 0x64]);
      const binary = await runCli([server.url('/bin-cr'), '-b', '-q'], { input });
      expect(binary.code, binary.stderr).to.equal(0);
      expect(server.connections.find((c) => c.path === '/bin-cr')!.messages).to.deep.equal(['hex:610d6200fffe0d', 'hex:63', 'hex:', 'hex:64']);
      const text = await runCli([server.url('/text-cr'), '-q'], { input: 'a\rb\r\nc\n' });
      expect(text.code, text.stderr).to.equal(0);
      expect(server.connections.find((c) => c.path === '/text-cr')!.messages).to.deep.equal(['a\rb', 'c']);
    });

    it('--json -b gives a binary frame as utf8 when it is UTF-8, else as base64: no byte lost', async () => {
      // The echo server sends each binary frame back: one UTF-8, one not.
      const input = Buffer.concat([Buffer.from('héllo\n'), Buffer.from([0xde, 0xad, 0xff, 0xfe, 0x0a])]);
      const result = await runCli([server.url('/json-b'), '--json', '-b', '-w', '0.5'], { input });
      expect(result.code, result.stderr).to.equal(0);
      const messages = ndjson(result.stdout).filter((event) => event.type === 'message');
      expect(messages.map(({ data, binary, encoding, bytes }) => ({ data, binary, encoding, bytes }))).to.deep.equal([
        { data: 'héllo', binary: true, encoding: 'utf8', bytes: 6 },
        { data: Buffer.from([0xde, 0xad, 0xff, 0xfe]).toString('base64'), binary: true, encoding: 'base64', bytes: 4 },
      ]);
    });

    it('prints a binary frame as hex by default, so one message stays one line', async () => {
      const cli = startCli([server.url('/binout')]);
      await until(() => server.connections.some((c) => c.path === '/binout'), 5000, 'the connection');
      server.connections.find((c) => c.path === '/binout')!.socket.send(Buffer.from([0x0a, 0x00, 0x41]));
      await cli.waitForLine('0a0041');
      cli.end();
      expect((await cli.exited()).code).to.equal(0);
    });
  });

  describe('--json', () => {
    it('prints one parseable object per event, with ISO timestamps, and nothing else on stdout', async () => {
      const result = await runCli([server.url('/json'), '--json', '--hex'], { input: 'cafe\n' });
      expect(result.code).to.equal(0);
      const events = ndjson(result.stdout);
      expect(events.map((e) => e.type)).to.deep.equal(['open', 'message', 'close']);
      for (const event of events) expect(new Date(event.ts as string).toISOString()).to.equal(event.ts);
      expect(events[1]).to.include({ data: 'cafe', binary: true, encoding: 'hex', bytes: 2 });
      expect(events[2]).to.include({ code: 1000, wasClean: true, opened: true });
      expect(result.stderr).to.equal('');
    });

    it('reports error, reconnecting, drop and close, each line valid JSON', async () => {
      const result = await runCli([`ws://127.0.0.1:1/`, '--json', '--max-retries', '1', ...FAST, '-x', 'never sent']);
      expect(result.code).to.equal(3);
      const events = ndjson(result.stdout);
      const types = events.map((e) => e.type);
      expect(types).to.include.members(['error', 'close', 'reconnecting', 'drop']);
      expect(events.find((e) => e.type === 'reconnecting')).to.include({ attempt: 1 });
      expect(events.find((e) => e.type === 'drop')).to.include({ reason: 'closed', code: 'CLOSED', data: 'never sent' });
      expect(events.filter((e) => e.type === 'error').map((e) => e.code)).to.include.members(['CONNECT_FAILED', 'RETRIES_EXHAUSTED']);
      expect(result.stderr).to.match(/Gave up at failure 2 \(maxRetries 1\).*\(exit 3\)/);
    });
  });

  describe('liveness', () => {
    it('-P shows the server\'s pings, and --heartbeat pings show their pongs', async () => {
      const pinger = await startServer({ onConnection: (c) => c.socket.ping('from-server') });
      try {
        const cli = startCli([pinger.url(), '-P', '--heartbeat', '100', '--json']);
        await cli.waitForLine('"type":"pong"');
        await cli.waitForLine('"type":"ping"');
        cli.end();
        const result = await cli.exited();
        expect(result.code).to.equal(0);
        const events = ndjson(result.stdout);
        expect(events.find((e) => e.type === 'ping')).to.include({ data: 'from-server' });
      } finally {
        await pinger.close();
      }
    });

    it('-P shows each ping and pong frame with its payload, unsolicited pongs too, in pipe mode on stderr', async () => {
      const framer = await startServer({
        echo: false,
        onConnection: (c) =>
          c.socket.on('message', () => {
            c.socket.ping('are you there');
            c.socket.pong('unasked');
          }),
      });
      try {
        const cli = startCli([framer.url(), '-P']);
        await until(() => framer.connections.length === 1, 5000, 'the connection');
        const answered = new Promise<string>((resolve) => framer.connections[0].socket.once('pong', (data) => resolve(data.toString())));
        cli.write('go\n');
        expect(await answered, 'ws answered the ping').to.equal('are you there');
        await cli.waitForStderr('pong received: unasked');
        cli.end();
        const result = await cli.exited();
        expect(result.code).to.equal(0);
        expect(result.stderr).to.include('ping received: are you there');
        expect(result.stderr).to.include('pong received: unasked');
        expect(result.stdout).to.equal('');
      } finally {
        await framer.close();
      }
    });

    it('-P listens through the client\'s ping and pong events: the CLI no longer subclasses ws', () => {
      const source = readFileSync(new URL('../../src/cli/session.ts', import.meta.url), 'utf8');
      expect(source).not.to.match(/extends\s+WebSocket\b/);
      expect(source).not.to.match(/^import WebSocket from 'ws'/m);
      expect(source).not.to.match(/\bWebSocket:/);
      expect(source).to.match(/socket\.on\('ping'/);
      expect(source).to.match(/socket\.on\('pong'/);
    });

    it('--heartbeat drops a connection whose server stops answering pings, then reconnects', async () => {
      const silent = await startServer({ autoPong: false });
      try {
        const cli = startCli([silent.url(), '--heartbeat', '100', ...FAST, '--json']);
        await cli.waitForLine('HEARTBEAT_TIMEOUT');
        await until(() => silent.connections.length >= 2, 5000, 'a second connection');
        cli.end();
        await cli.exited();
      } finally {
        await silent.close();
      }
    });
  });

  describe('diagnostics', () => {
    it('-q keeps stderr empty on success', async () => {
      const result = await runCli([server.url('/quiet'), '-q', '-x', 'hi']);
      expect(result.code).to.equal(0);
      expect(result.stderr).to.equal('');
    });

    it('--debug prints the client lifecycle log on stderr, with query strings redacted', async () => {
      const result = await runCli([server.url('/debug?token=secret-token'), '--debug', '-q', '-x', 'hi']);
      expect(result.code).to.equal(0);
      expect(result.stderr).to.include('[steadysocket] state connecting -> open');
      expect(result.stderr).not.to.include('secret-token');
    });

    it('uses no colours when stderr is not a terminal, and FORCE_COLOR turns them on unless NO_COLOR is set', async () => {
      const plain = await runCli([server.url('/c1'), '-x', 'hi']);
      expect(plain.stderr).to.include('connected to').and.not.include('\u001b[');
      const forced = await runCli([server.url('/c2'), '-x', 'hi'], { env: cleanEnv({ FORCE_COLOR: '1' }) });
      expect(forced.stderr).to.include('\u001b[32mconnected to');
      const vetoed = await runCli([server.url('/c3'), '-x', 'hi'], { env: cleanEnv({ FORCE_COLOR: '1', NO_COLOR: '1' }) });
      expect(vetoed.stderr).to.include('connected to').and.not.include('\u001b[');
      const flagged = await runCli([server.url('/c4'), '-x', 'hi', '--no-color'], { env: cleanEnv({ FORCE_COLOR: '1' }) });
      expect(flagged.stderr).not.to.include('\u001b[');
    });
  });
});
