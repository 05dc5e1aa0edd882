// Behaviour the newcomer docs promise in prose (README "Good to know", guide §1, migration notes),
// checked against the real client and a ws server on loopback, so the prose cannot drift.
import { expect } from 'chai';
import { messages, stats, SteadySocket } from '../../src/index';
import { isSteadySocketError } from '../../src/errors';
import { resolveOptions } from '../../src/options';
import { startEchoServer, until, type EchoServer } from '../support/servers';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('docs: what the prose promises', function () {
  this.timeout(15_000);
  let server: EchoServer;
  const sockets: { close(): Promise<void> }[] = [];

  before(async () => {
    server = await startEchoServer({ echo: false });
  });

  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });

  after(async () => {
    await server?.close();
  });

  it('for await: messages that arrive while the body is busy are buffered, none dropped, in order (guide: Events)', async () => {
    const socket = new SteadySocket(server.url);
    sockets.push(socket);
    await new Promise((resolve) => socket.once('open', resolve));
    const before = server.connections.at(-1)!.socket;
    before.send('sent before the loop started');
    await sleep(100);
    const got: unknown[] = [];
    const loop = (async () => {
      for await (const message of messages(socket)) {
        got.push(message);
        if (got.length === 1) await sleep(300); // busy while the other 49 arrive
        if (got.length === 50) break;
      }
    })();
    await sleep(20);
    for (let i = 0; i < 50; i++) before.send(`message ${i}`);
    await loop;
    expect(got).to.deep.equal(Array.from({ length: 50 }, (_, i) => `message ${i}`));
    // break ends the loop, not the connection.
    expect(socket.state).to.equal('open');
  });

  it('for await: after the final close, the loop gets what is still buffered, then ends', async () => {
    const counters = stats();
    const socket = new SteadySocket(server.url, { use: [counters] });
    sockets.push(socket);
    await new Promise((resolve) => socket.once('open', resolve));
    const iterator = messages(socket);
    const serverSide = server.connections.at(-1)!.socket;
    serverSide.send('one');
    serverSide.send('two');
    await until(() => counters.snapshot().messagesIn === 2, 3000, 'two messages');
    await socket.close();
    expect(await iterator.next()).to.deep.equal({ value: 'one', done: false });
    expect(await iterator.next()).to.deep.equal({ value: 'two', done: false });
    expect((await iterator.next()).done).to.equal(true);
  });

  it('React strict mode: a client closed in the same task it was made in never connects (guide: React and SSR)', async () => {
    const before = server.connections.length;
    const first = new SteadySocket(server.url);
    const closing = first.close(); // the effect's cleanup, right after the effect
    const second = new SteadySocket(server.url);
    sockets.push(second);
    await new Promise((resolve) => second.once('open', resolve));
    await closing;
    expect(first.state).to.equal('closed');
    expect(server.connections.length - before, 'connections the server saw').to.equal(1);
  });

  it("migration: binaryType defaults to 'arraybuffer', not the browser's 'blob'", () => {
    expect(resolveOptions({}).binaryType).to.equal('arraybuffer');
  });

  it("migration: reconnecting-websocket's (url, protocols, options) throws INVALID_OPTION at once, saying where protocols go", () => {
    const Loose = SteadySocket as unknown as new (url: string, ...rest: unknown[]) => SteadySocket<unknown, unknown>;
    for (const second of [['chat.v1'], 'chat.v1']) {
      let thrown: unknown;
      try {
        sockets.push(new Loose(server.url, second, { maxRetries: 0 }));
      } catch (error) {
        thrown = error;
      }
      expect(isSteadySocketError(thrown, 'INVALID_OPTION'), String(thrown)).to.equal(true);
      expect((thrown as Error).message).to.include('{ protocols: [...] }');
    }
  });
});
