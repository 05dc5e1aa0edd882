// Many ping() calls at once on one client, against a real ws server on 127.0.0.1. Each ping used
// to add hooks of its own to the client's hook list by copying the list, and to remove them by
// filtering it: n concurrent pings copied ~n² hook references (5,000: 50 million, about a second
// of blocked event loop), and every message and pong ran past every ping waiting. The proxy here is
// deterministic: the total length of the hook lists the client is given (no timed assertion).
// Application pings (heartbeat ping/isPong), echoed by the server: the protocol pings take the same
// path through the hook list, but this ws server drops a connection sent a few hundred ping frames
// at once (observed with a bare ws client too), so they are not flooded here.
import { expect } from 'chai';
import { heartbeat, ping, SteadySocket } from '../../src/index';
import { startEchoServer, until, type EchoServer } from '../support/servers';

const N = 5_000;

/** Counts the hook references in every list assigned to `client._hooks` from now on. */
function countHookLists(client: object): { total: number; assignments: number } {
  const counts = { total: 0, assignments: 0 };
  let list = (client as { _hooks: readonly unknown[] })._hooks;
  Object.defineProperty(client, '_hooks', {
    configurable: true,
    get: () => list,
    set: (value: readonly unknown[]) => {
      counts.total += value.length;
      counts.assignments++;
      list = value;
    },
  });
  return counts;
}

describe('ping(): many concurrent calls on one client (real ws server)', function () {
  this.timeout(20_000);
  let server: EchoServer;
  let client: SteadySocket<any, any> | undefined;

  beforeEach(async () => {
    server = await startEchoServer();
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await server.close();
  });

  it(`answers ${N.toLocaleString('en')} concurrent application pings (heartbeat ping/isPong) with O(n) work, and rejects those pending at a close`, async () => {
    // The echo server sends 'ping' back: here that is the pong.
    client = new SteadySocket(server.url, { use: [heartbeat({ interval: 60_000, timeout: 60_000, ping: () => 'ping', isPong: (m: unknown) => m === 'ping' })] });
    await until(() => client!.state === 'open', 5000, 'open');
    const counts = countHookLists(client);
    const rtts = await Promise.all(Array.from({ length: N }, () => ping(client!)));
    expect(rtts).to.have.length(N);
    for (const rtt of rtts) expect(rtt).to.be.a('number').and.at.least(0);
    // Nothing of the answered pings is left behind: a later one still works.
    expect(await ping(client)).to.be.a('number');
    // Pending at a close: every one rejects with CLOSED, none is left behind.
    const pending = Array.from({ length: N }, () => ping(client!).then(() => 'answered', (error: { code?: string }) => error.code));
    await client.close();
    const outcomes = await Promise.all(pending);
    expect(outcomes.filter((code) => code !== 'CLOSED' && code !== 'answered')).to.deep.equal([]);
    expect(counts.total, 'hook references copied into new hook lists').to.be.at.most(4 * N);
  });
});
