import { expect } from 'chai';
import { needTools } from '../support/tools';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SLASH_COMMANDS } from '../../src/cli/interactive';
import { makeCertificates, PASSPHRASE, requireBuiltCli, startServer, until, type TestServer } from './helpers';
import { cliCommand, Tmux } from './tmux';

describe('steadysocket CLI: interactive mode in a real terminal (tmux)', function () {
  this.timeout(30_000);
  let server: TestServer;
  let tmux: Tmux;

  before(async function () {
    requireBuiltCli();
    needTools(this, 'tmux');
    server = await startServer({ handleProtocols: (offered) => (offered.has('chat.v2') ? 'chat.v2' : false) });
  });
  after(async () => {
    tmux?.kill();
    await server?.close();
  });
  beforeEach(() => {
    tmux = new Tmux();
  });
  afterEach(() => tmux.kill());

  it('shows a live status line, prints messages above what is being typed, and runs slash commands', async () => {
    tmux.start(cliCommand([server.url('/tty'), '-s', 'chat.v2', '--min-delay', '300', '--max-delay', '600']));
    await tmux.waitFor('● connected · protocol chat.v2');
    expect(tmux.tail(2)).to.deep.equal(['● connected · protocol chat.v2', '>']);
    const connection = () => server.connections.filter((c) => c.path === '/tty').at(-1)!;

    // A message arriving while the user types lands above the status line; the typing survives.
    tmux.keys('half-typed');
    await tmux.waitFor('> half-typed');
    connection().socket.send('arrived while typing');
    await tmux.waitFor('< arrived while typing');
    expect(tmux.tail(3)).to.deep.equal(['< arrived while typing', '● connected · protocol chat.v2', '> half-typed']);

    // Enter sends the line; the echo comes back as a received message.
    tmux.keys(' and finished', 'Enter');
    await until(() => connection().messages.includes('half-typed and finished'), 5000, 'the typed message');
    await tmux.waitFor('< half-typed and finished');

    tmux.keys('/stats', 'Enter');
    await tmux.waitFor(/state open · connected for .* · attempts 1 · reconnects 0/);
    tmux.keys('/ping', 'Enter');
    await tmux.waitFor(/pong in \d+ ms/);
    await tmux.waitFor(/● connected · protocol chat\.v2 · rtt \d+ ms/);

    // The server goes away: the status line counts down to the next attempt, then recovers.
    await server.kill();
    await tmux.waitFor(/● reconnecting in \d+(\.\d)? m?s \(attempt \d+\)/);
    await server.start();
    await tmux.waitFor(/connected to .*\n(.*\n)*● connected · protocol chat\.v2/, 8000);

    tmux.keys('/quit', 'Enter');
    await tmux.waitFor('EXIT=0');
    expect(tmux.screen()).to.include('● closed');
  });

  it('with 2>file shows just the conversation and the answers to slash commands; connection events go to the file; -q shows none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steadysocket-cli-'));
    try {
      const file = join(dir, 'stderr.txt');
      tmux.start(cliCommand([server.url('/quiet-tty')], { stderrTo: file }));
      await until(() => server.connections.some((c) => c.path === '/quiet-tty'), 5000, 'the connection');
      await until(() => readFileSync(file, 'utf8').includes('connected to'), 5000, 'the open event in the file');
      server.connections.find((c) => c.path === '/quiet-tty')!.socket.send('hello from the server');
      await tmux.waitFor('< hello from the server');
      tmux.keys('/stats', 'Enter');
      await tmux.waitFor(/state open · connected for/);
      expect(tmux.screen(), 'no connection event on the terminal').not.to.include('connected to');
      tmux.keys('/quit', 'Enter');
      await tmux.waitFor('EXIT=0');
      expect(readFileSync(file, 'utf8'), 'the file has the events, not the answers').to.include('connected to').and.not.include('state open');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    tmux.kill();
    tmux = new Tmux();
    tmux.start(cliCommand([server.url('/quiet-q'), '-q']));
    await until(() => server.connections.some((c) => c.path === '/quiet-q'), 5000, 'the connection');
    server.connections.find((c) => c.path === '/quiet-q')!.socket.send('quietly');
    await tmux.waitFor('< quietly');
    tmux.keys('/stats', 'Enter');
    await tmux.waitFor(/state open · connected for/);
    expect(tmux.screen(), '-q: no connection event').not.to.include('connected to');
    tmux.keys('/quit', 'Enter');
    await tmux.waitFor('EXIT=0');
  });

  it('shows control characters a server sends as escapes: no colour, title or screen clearing reaches the terminal', async () => {
    tmux.start(cliCommand([server.url('/tty-escapes')]));
    await tmux.waitFor('● connected');
    const connection = server.connections.filter((c) => c.path === '/tty-escapes').at(-1)!;
    const title = () => tmux.run('display-message', '-p', '-t', 'cli', '#{pane_title}').trim();
    const before = title();
    connection.socket.send('\x1b]2;owned\x07\x1b[31mred\x1b[0m \u202eevil\x1b[2J');
    await tmux.waitFor('< \\x1b]2;owned\\x07\\x1b[31mred\\x1b[0m \\u202eevil\\x1b[2J');
    connection.socket.close(4000, 'bye\x1b]2;owned too\x07');
    await tmux.waitFor('bye\\x1b]2;owned too\\x07');
    expect(title(), 'the pane title').to.equal(before);
    expect(tmux.screen(true), 'no red from the server').not.to.include('\x1b[31m');
    // /quit while waiting to reconnect is a normal end: the 4000 before it was already reported.
    await tmux.waitFor(/reconnecting in/);
    tmux.keys('/quit', 'Enter');
    await tmux.waitFor('EXIT=0');
  });

  it('pipe mode into a terminal (echo sub | steadysocket URL) shows a server\'s control characters as escapes too', async () => {
    tmux.start(cliCommand([server.url('/pipe-tty'), '-w', '2'], { input: 'subscribe\n' }));
    await until(() => server.connections.some((c) => c.path === '/pipe-tty' && c.messages.includes('subscribe')), 5000, 'the piped line');
    const title = () => tmux.run('display-message', '-p', '-t', 'cli', '#{pane_title}').trim();
    const before = title();
    server.connections.find((c) => c.path === '/pipe-tty')!.socket.send('\x1b]2;owned\x07\x1b[31mred\x1b[0m');
    await tmux.waitFor('\\x1b]2;owned\\x07\\x1b[31mred\\x1b[0m');
    expect(title(), 'the pane title').to.equal(before);
    expect(tmux.screen(true), 'no red from the server').not.to.include('\x1b[31m');
    await tmux.waitFor('EXIT=0');
  });

  it('/ping sends a ping and shows its round trip once, even with -P; text is its payload (at most 125 bytes), and the status line keeps the rtt', async () => {
    tmux.start(cliCommand([server.url('/tty-ping'), '-P']));
    await tmux.waitFor('● connected');
    const connection = server.connections.filter((c) => c.path === '/tty-ping').at(-1)!;
    const pings: string[] = [];
    connection.socket.on('ping', (data) => pings.push(data.toString()));

    tmux.keys('/ping', 'Enter');
    await tmux.waitFor(/pong in \d+ ms/);
    await tmux.waitFor(/● connected · rtt \d+ ms/);
    tmux.keys('/ping hello  there', 'Enter');
    await until(() => tmux.screen().match(/pong in \d+ ms/g)?.length === 2, 5000, 'the second pong');
    tmux.keys(`/ping ${'x'.repeat(126)}`, 'Enter');
    await tmux.waitFor('/ping: the text is 126 bytes; a ping frame carries at most 125 (not sent)');
    expect(pings).to.deep.equal(['', 'hello  there']);
    // -P shows pongs, but the answer to a /ping only once, with its round trip.
    expect(tmux.screen()).not.to.include('pong received');
    tmux.keys('/quit', 'Enter');
    await tmux.waitFor('EXIT=0');
  });

  it('/ping reports why there is no round trip with the typed code: the connection ended, or there is none', async () => {
    const silent = await startServer({ autoPong: false });
    try {
      tmux.start(cliCommand([silent.url('/tty-no-pong'), '--min-delay', '20000', '--max-delay', '20000']));
      await tmux.waitFor('● connected');
      const connection = silent.connections.at(-1)!;
      const pinged = new Promise<void>((resolve) => connection.socket.once('ping', () => resolve()));
      tmux.keys('/ping', 'Enter');
      await pinged;
      // Killed, not just this connection dropped: with full jitter the 20 s wait may be a few ms,
      // and a reconnect that succeeds at once would hide the waiting state from the screen.
      await silent.kill();
      await tmux.waitFor('ping failed: CONNECTION_CLOSED: The connection closed before the pong came.');
      await tmux.waitFor(/● reconnecting in/);
      tmux.keys('/ping', 'Enter');
      await tmux.waitFor('not connected: no ping sent (CONNECTION_CLOSED)');
      expect(tmux.screen()).not.to.match(/pong in/);
      tmux.keys('/quit', 'Enter');
      await tmux.waitFor('EXIT=0');
    } finally {
      await silent.close();
    }
  });

  it('shows the heartbeat\'s round trip (the stats feature) in the status line and /stats without a /ping', async () => {
    tmux.start(cliCommand([server.url('/tty-heartbeat'), '--heartbeat', '100']));
    await tmux.waitFor(/● connected · rtt \d+ ms/);
    tmux.keys('/stats', 'Enter');
    await tmux.waitFor(/rtt \d+ ms · queued 0/);
    expect(tmux.screen()).not.to.match(/pong in/);
    tmux.keys('/quit', 'Enter');
    await tmux.waitFor('EXIT=0');
  });

  it('/close sends the code and reason and exits 0; unknown commands are refused; // sends a leading slash', async () => {
    tmux.start(cliCommand([server.url('/tty-close')]));
    await tmux.waitFor('● connected');
    const connection = server.connections.filter((c) => c.path === '/tty-close').at(-1)!;
    const closed = new Promise<[number, string]>((resolve) => connection.socket.once('close', (code, reason) => resolve([code, reason.toString()])));

    tmux.keys('/nope', 'Enter');
    await tmux.waitFor('unknown command /nope');
    tmux.keys('//not a command', 'Enter');
    await until(() => connection.messages.includes('/not a command'), 5000, 'the slash message');
    tmux.keys('/help', 'Enter');
    await tmux.waitFor('/reconnect');

    tmux.keys('/close 4001 see you', 'Enter');
    expect(await closed).to.deep.equal([4001, 'see you']);
    await tmux.waitFor('EXIT=0');
  });

  it('/help wraps at word boundaries in an 80-column terminal', async () => {
    tmux.start(cliCommand([server.url('/tty-help')]), 80);
    await tmux.waitFor('● connected');
    tmux.keys('/help', 'Enter');
    await tmux.waitFor('send a message that starts with /');
    const lines = tmux.screen().split('\n');
    const first = lines.findIndex((line) => line.startsWith('/ping'));
    const last = lines.findIndex((line) => line.startsWith('//text'));
    const help = lines.slice(first, last + 1);
    for (const line of help) {
      expect(line.length, line).to.be.at.most(79);
      // Either a command line, or a continuation indented under the descriptions.
      expect(line, line).to.match(/^(\/\S+.{0,30} \S|\s{25}\S)/);
    }
    expect(help.length).to.be.greaterThan(SLASH_COMMANDS.length + 1); // the /quit line did wrap
    // Every description reads whole: no word was cut at the edge.
    const text = help.map((line) => line.slice(25).trim()).join(' ');
    for (const c of SLASH_COMMANDS) expect(text).to.include(c.help);
    tmux.keys('/quit', 'Enter');
    await tmux.waitFor('EXIT=0');
  });

  it('keeps URL credentials and query values out of the status line and the screen', async () => {
    const secret = `s${process.pid}x${Date.now()}`;
    // /hang never answers the handshake: the status line keeps showing the URL it connects to.
    tmux.start(cliCommand([`ws://u${secret}:p${secret}@127.0.0.1:${server.port}/hang?token=${secret}`, '-H', `X-Key: ${secret}`]));
    await tmux.waitFor(`● connecting to ws://***:***@127.0.0.1:${server.port}/hang?token=***…`);
    expect(tmux.screen()).not.to.include(secret);
    tmux.keys('C-c');
    await tmux.waitFor('EXIT=0');
    expect(tmux.screen()).not.to.include(secret);
  });

  it('--passphrase without a value asks on the terminal, without echo', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steadysocket-cli-pass-'));
    try {
      const files = makeCertificates(dir);
      const secure = await startServer({
        tls: { key: readFileSync(files.serverKey, 'utf8'), cert: readFileSync(files.serverCert, 'utf8'), ca: readFileSync(files.ca, 'utf8'), requestCert: true },
      });
      try {
        tmux.start(cliCommand([secure.url('/asked'), '--ca', files.ca, '--cert', files.clientCert, '--key', files.clientKey, '--passphrase']));
        await tmux.waitFor(`Passphrase for ${files.clientKey}:`);
        tmux.keys(PASSPHRASE, 'Enter');
        await tmux.waitFor('● connected');
        expect(tmux.screen()).not.to.include(PASSPHRASE);
        expect(secure.connections.find((c) => c.path === '/asked')!.clientCert).to.equal('steadysocket-test-client');
        tmux.keys('C-d');
        await tmux.waitFor('EXIT=0');
      } finally {
        await secure.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses colours on a terminal, and none when NO_COLOR is set', async () => {
    tmux.start(cliCommand([server.url('/tty-colour')]));
    await tmux.waitFor('● connected');
    expect(tmux.screen(true)).to.match(/\u001b\[3\dm/);
    tmux.keys('C-d');
    await tmux.waitFor('EXIT=0');
    tmux.kill();

    tmux = new Tmux();
    tmux.start(cliCommand([server.url('/tty-plain')], { env: { NO_COLOR: '1' } }));
    await tmux.waitFor('● connected');
    expect(tmux.screen(true)).not.to.match(/\u001b\[3\dm/);
    tmux.keys('C-c');
    await tmux.waitFor('EXIT=0');
  });
});
