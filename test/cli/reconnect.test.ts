import { expect } from 'chai';
import { FAST, killAll, ndjson, requireBuiltCli, startCli, startServer, until } from './helpers';

describe('steadysocket CLI: reconnecting', function () {
  this.timeout(20_000);
  before(() => requireBuiltCli());
  afterEach(() => killAll());

  it('reconnects after a server restart, replays the preamble first, then flushes what was queued', async () => {
    const server = await startServer({ echo: false });
    try {
      const cli = startCli([server.url('/feed'), '--preamble', 'AUTH token', '--preamble', 'SUBSCRIBE news', ...FAST, '--json']);
      await until(() => server.connections[0]?.messages.length === 2, 5000, 'the first preamble');
      cli.write('before restart\n');
      await until(() => server.connections[0].messages.length === 3, 5000, 'the first message');

      await server.kill();
      await cli.waitForLine('"type":"reconnecting"');
      cli.write('while down 1\nwhile down 2\n');
      await cli.waitForLine('"type":"error"'); // at least one refused attempt while down
      await server.start();

      await until(() => server.connections[1]?.messages.length === 4, 5000, 'the replayed preamble and the queue');
      cli.write('after restart\n');
      await until(() => server.connections[1].messages.length === 5, 5000, 'the last message');
      cli.end();
      const result = await cli.exited();

      expect(result.code).to.equal(0);
      expect(server.connections.map((c) => c.messages)).to.deep.equal([
        ['AUTH token', 'SUBSCRIBE news', 'before restart'],
        ['AUTH token', 'SUBSCRIBE news', 'while down 1', 'while down 2', 'after restart'],
      ]);
      const events = ndjson(result.stdout);
      const types = events.map((e) => e.type);
      expect(types[0]).to.equal('open');
      expect(types.filter((t) => t === 'open')).to.have.length(2);
      expect(types.indexOf('reconnecting')).to.be.greaterThan(types.indexOf('close'));
      expect(events.find((e) => e.type === 'close')).to.include({ code: 1006, wasClean: false, opened: true });
    } finally {
      await server.close();
    }
  });

  it('keeps retrying while the server is down and exits 0 once input is sent after it returns', async () => {
    const server = await startServer();
    const port = server.port;
    await server.kill();
    // Pipe mode gives a first connection --connect-attempts tries (default 3): ask for more here.
    const cli = startCli([`ws://127.0.0.1:${port}/late`, '--connect-attempts', '50', ...FAST]);
    cli.write('queued before any connection\n');
    cli.end();
    await cli.waitForStderr(/reconnecting in .* \(attempt 2\)/);
    await server.start();
    try {
      const result = await cli.exited();
      expect(result.code).to.equal(0);
      expect(result.stdout).to.equal('queued before any connection\n');
      expect(server.connections[0].messages).to.deep.equal(['queued before any connection']);
    } finally {
      await server.close();
    }
  });
});
