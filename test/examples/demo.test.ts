// Keeps `npm start` (demo/demo.ts) honest: it must run without setup, show the reconnect and the
// flushed outbox, and exit by itself.
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { Child } from './support';

const DEMO = ['--import', 'tsx', 'demo/demo.ts'];

/** The lines of the demo's output that come from `who` (server/client/demo/error). */
function linesOf(output: string, who: string): string[] {
  return output
    .split('\n')
    .filter((line) => new RegExp(`^\\s*\\+\\d+ ms  ${who}\\b`).test(line))
    .map((line) => line.replace(/^\s*\+\d+ ms  \S+\s+/, ''));
}

describe('demo (npm start)', function () {
  this.timeout(30_000);
  let child: Child | undefined;

  afterEach(async () => {
    await child?.stop();
    child = undefined;
  });

  it('runs on its embedded server, shows a reconnect and the queued messages flushed in order, and exits 0', async () => {
    const started = Date.now();
    child = new Child(DEMO);
    const exit = await child.waitForExit(20_000);
    const elapsed = Date.now() - started;
    const output = child.stdout;
    expect(exit, child.output()).to.deep.equal({ code: 0, signal: null });
    expect(elapsed, 'the demo should finish within ~10 s').to.be.below(12_000);
    expect(output, 'no colour codes when stdout is not a terminal').not.to.include('\x1b[');

    const client = linesOf(output, 'client');
    const server = linesOf(output, 'server');
    // The state machine, step by step.
    expect(client).to.include('state connecting → open');
    expect(client).to.include('state open → waiting');
    expect(client).to.include('state waiting → connecting');
    expect(client).to.include('state open → closing');
    expect(client).to.include('state closing → closed');
    expect(client.some((line) => /^reconnecting in \d+\.\d s \(attempt 1\)$/.test(line)), output).to.equal(true);
    expect(client.some((line) => /^open again, after \d+ failed attempt\(s\)$/.test(line)), output).to.equal(true);

    // While the server is down the outbox grows one message at a time.
    const queued = client.filter((line) => line.startsWith('send "queued message #'));
    expect(queued).to.deep.equal([1, 2, 3, 4, 5].map((n) => `send "queued message #${n}" → outbox holds ${n}`));

    // After the restart the server receives exactly those messages, once each, in order.
    const restart = server.findIndex((line) => line.startsWith('listening again on ws://127.0.0.1:'));
    expect(restart, output).to.be.greaterThan(0);
    const afterRestart = server.slice(restart).filter((line) => line.startsWith('got '));
    expect(afterRestart).to.deep.equal([1, 2, 3, 4, 5].map((n) => `got "queued message #${n}"`));
    expect(linesOf(output, 'demo')).to.include('all 5 queued messages arrived in order, each exactly once');
    expect(linesOf(output, 'error').every((line) => line.startsWith('CONNECT_FAILED')), output).to.equal(true);
  });

  describe('with a URL argument', () => {
    let http: Server | undefined;
    let wss: WebSocketServer | undefined;

    afterEach(async () => {
      for (const socket of wss?.clients ?? []) socket.terminate();
      await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
      await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
      http = wss = undefined;
    });

    it('talks to that server instead of the embedded one', async () => {
      http = createServer();
      wss = new WebSocketServer({ server: http });
      const received: string[] = [];
      wss.on('connection', (socket) =>
        socket.on('message', (data) => {
          received.push(String(data));
          socket.send(`echo: ${data}`);
        }),
      );
      await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
      const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/feed`;

      child = new Child([...DEMO, url]);
      const exit = await child.waitForExit(20_000);
      expect(exit, child.output()).to.deep.equal({ code: 0, signal: null });
      expect(received).to.deep.equal([1, 2, 3].map((n) => `hello #${n} from the steadysocket demo`));
      const client = linesOf(child.stdout, 'client');
      expect(client).to.include('received "echo: hello #3 from the steadysocket demo"');
      expect(client).to.include('state closing → connecting'); // the forced reconnect
      expect(client).to.include('state closing → closed');
    });
  });
});
