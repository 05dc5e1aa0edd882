// Issue 14 §1: what the app sends while the server is closing the connection must reach the
// server on the next connection — not be written into a socket that is no longer OPEN, counted as
// sent and lost. Real servers on loopback; the link and the server's TCP behaviour are shaped by a
// relay (test/support/relay.ts) and a hand-built server (test/support/closing-server.ts).
//
// The sending pattern is the issue's: a numbered message every 10 ms (100 msg/s) for 1.5 s, each
// through deliver(), with the server starting its closing handshake 0.5 s in. The counts are
// printed (`sent / received by the server / lost`) for the closing note.
import { expect } from 'chai';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { SteadySocket } from '../../src/index';
import { startClosingServer, type ClosingServer } from '../support/closing-server';
import { startRelay, type Relay } from '../support/relay';
import { sleep, until } from '../support/servers';

const COUNT = 150;
const EVERY_MS = 10;
const CLOSE_AT_MS = 500;
/** Reconnect at once-ish, so the test takes seconds; the loss does not depend on it. */
const FAST = { minDelay: 50, maxDelay: 300, jitter: 0 } as const;

const ids = Array.from({ length: COUNT }, (_, i) => `m${String(i).padStart(4, '0')}`);

interface Sent {
  /** What each deliver() settled with, by id: 'resolved' or the rejection code. */
  outcomes: Map<string, string>;
}

/** Sends ids[] through deliver(), one every EVERY_MS (drift-corrected); bounded by count and time. */
async function sendNumbered(client: SteadySocket<unknown, string>): Promise<Sent> {
  const outcomes = new Map<string, string>();
  const started = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const id = ids[i];
    client.deliver(id).then(
      () => outcomes.set(id, 'resolved'),
      (error: { code?: string }) => outcomes.set(id, `rejected ${error.code}`),
    );
    const next = started + (i + 1) * EVERY_MS;
    if (performance.now() - started > COUNT * EVERY_MS * 3) throw new Error('the send loop ran far behind schedule');
    await sleep(Math.max(0, next - performance.now()));
  }
  return { outcomes };
}

interface Tally {
  sent: number;
  received: number;
  lost: string[];
  duplicates: number;
  /** deliver() resolved, the server never got it: the bug's signature. */
  resolvedButLost: string[];
  perConnection: number[];
}

function tally(sent: Sent, perConnection: string[][]): Tally {
  const all = perConnection.flat();
  const got = new Set(all);
  const lost = ids.filter((id) => !got.has(id));
  return {
    sent: ids.length,
    received: all.length,
    lost,
    duplicates: all.length - got.size,
    resolvedButLost: lost.filter((id) => sent.outcomes.get(id) === 'resolved'),
    perConnection: perConnection.map((m) => m.length),
  };
}

function report(what: string, t: Tally): void {
  console.log(
    `      ${what}: sent ${t.sent} / received by the server ${t.received} / lost ${t.lost.length}` +
      ` (duplicates ${t.duplicates}, deliver() resolved for ${t.resolvedButLost.length} lost; per connection ${t.perConnection.join('+')})`,
  );
}

/** Waits (bounded) until everything is flushed and the server has it all; a shortfall is asserted on by the caller. */
async function settle(client: SteadySocket<unknown, string>, total: () => number): Promise<void> {
  await Promise.race([client.flushed().catch(() => {}), sleep(5000)]);
  await until(() => total() >= COUNT, 3000, 'the server to receive every message').catch(() => {});
  await sleep(100); // a duplicate would arrive now
}

/** The first moment (performance.now()) the client left `open`. */
function watchLeavingOpen(client: SteadySocket<unknown, string>): () => number | undefined {
  let at: number | undefined;
  client.on('state', (state, previous) => {
    if (at === undefined && previous === 'open' && state !== 'open') at = performance.now();
  });
  return () => at;
}

describe('messages sent while the server closes the connection (issue 14 §1)', function () {
  this.timeout(20_000);
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  function client(url: string, options: ConstructorParameters<typeof SteadySocket<unknown, string>>[1] = {}) {
    const socket = new SteadySocket<unknown, string>(url, { ...FAST, ...options });
    socket.on('error', () => {});
    cleanup.push(() => socket.close());
    return socket;
  }

  async function opened(socket: SteadySocket<unknown, string>): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no open within 3000 ms')), 3000);
      socket.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  it('loses nothing when a ws server closes with 1001 over a link with 50 ms latency', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => new Promise((resolve) => wss.close(resolve)));
    await new Promise((resolve) => wss.once('listening', resolve));
    const perConnection: string[][] = [];
    const sockets: ServerSocket[] = [];
    wss.on('connection', (socket) => {
      const messages: string[] = [];
      perConnection.push(messages);
      sockets.push(socket);
      socket.on('error', () => {});
      // ws hands the app every message that arrives, also after its own close frame went out.
      socket.on('message', (data) => messages.push(data.toString()));
    });
    cleanup.push(() => sockets.forEach((s) => s.terminate()));
    const relay: Relay = await startRelay({ target: (wss.address() as { port: number }).port, latencyMs: 50 });
    cleanup.push(() => relay.close());

    const socket = client(relay.url);
    await opened(socket);
    const closing = setTimeout(() => sockets[0].close(1001, 'going away'), CLOSE_AT_MS);
    cleanup.push(() => clearTimeout(closing));
    const sent = await sendNumbered(socket);
    await settle(socket, () => perConnection.flat().length);

    const t = tally(sent, perConnection);
    report('node ws, close 1001 through a 50 ms relay', t);
    expect(perConnection.length, 'connections the server saw (the close happened, the client came back)').to.be.at.least(2);
    expect(t.perConnection[0], 'messages on the first connection').to.be.above(0);
    expect(t.lost, `lost ${t.lost.length} of ${t.sent} (deliver() resolved for ${t.resolvedButLost.length} of them)`).to.deep.equal([]);
    expect(perConnection.flat(), 'every id exactly once, in order across connections').to.deep.equal(ids);
    expect([...sent.outcomes.values()].filter((o) => o !== 'resolved'), 'deliver() outcomes other than resolved').to.deep.equal([]);
  });

  for (const closeTimeout of [undefined, 300]) {
    const hold = 1000;
    const title =
      closeTimeout === undefined
        ? `loses nothing when the server sends its close frame and holds TCP open for ${hold} ms (default closeTimeout)`
        : `leaves a socket whose server holds TCP open after closeTimeout (${closeTimeout} ms < the ${hold} ms hold) and loses nothing`;
    it(title, async () => {
      const server: ClosingServer = await startClosingServer({ closeAtMs: CLOSE_AT_MS, holdMs: hold });
      cleanup.push(() => server.close());
      const socket = client(server.url, closeTimeout === undefined ? {} : { closeTimeout });
      const leftOpen = watchLeavingOpen(socket);
      await opened(socket);
      const sent = await sendNumbered(socket);
      await settle(socket, () => server.connections.reduce((n, c) => n + c.messages.length, 0));

      const perConnection = server.connections.map((c) => c.messages);
      const t = tally(sent, perConnection);
      const first = server.connections[0];
      const openAfterClose = Math.round((leftOpen() ?? Infinity) - (first.closeSentAt ?? Infinity));
      report(`node ws, close frame then TCP held ${hold} ms, closeTimeout ${closeTimeout ?? 'default 3000'}; open ${openAfterClose} ms after the close frame`, t);
      expect(first.closeSentAt, 'the server sent its close frame').to.be.a('number');
      expect(server.connections.length, 'connections the server saw').to.be.at.least(2);
      expect(t.lost, `lost ${t.lost.length} of ${t.sent} (deliver() resolved for ${t.resolvedButLost.length} of them)`).to.deep.equal([]);
      expect(perConnection.flat(), 'every id exactly once, in order across connections').to.deep.equal(ids);
      const bound = (closeTimeout ?? 3000) + 250;
      expect(openAfterClose, `ms the client stayed open after the close frame (bound: closeTimeout + 250)`).to.be.at.most(bound);
      if (closeTimeout !== undefined) {
        // Not merely the server's own end of TCP: the client let go before the hold was over.
        expect(server.connections[1].acceptedAt, 'the reconnect came before the server ended TCP').to.be.below(first.closeSentAt! + hold);
      }
    });
  }
});
