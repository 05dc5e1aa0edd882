// requests() against a real ws server on 127.0.0.1 that stops answering: requests sent at a steady
// rate time out one after another, each at its own millisecond. Every firing of the timeout timer
// used to look at every pending request (to find those due and the next deadline): n requests
// timing out one by one cost O(n²) callbacks. The proxy is deterministic: the requests looked at
// (InFlight's walk), counted; no timed assertion.
import { expect } from 'chai';
import { json, requests, SteadySocket } from '../../src/index';
import { InFlight } from '../../src/features/in-flight';
import { sleep, startEchoServer, until, type EchoServer } from '../support/servers';

const PER_MS = 10;
const SPREAD_MS = 1_000;

describe('requests(): many timing out one after another (real ws server that never replies)', function () {
  this.timeout(20_000);
  let server: EchoServer;
  let client: SteadySocket<any, any> | undefined;
  const each = InFlight.prototype.each;

  beforeEach(async () => {
    server = await startEchoServer({ echo: false });
  });

  afterEach(async () => {
    InFlight.prototype.each = each;
    await client?.close();
    client = undefined;
    await server.close();
  });

  it(`looks at O(n) requests in all, not O(n²), when ~${(PER_MS * SPREAD_MS).toLocaleString('en')} requests sent over ${SPREAD_MS} ms time out one after another`, async () => {
    const rpc = requests({ timeout: 500 });
    client = new SteadySocket(server.url, { codec: json(), use: [rpc] });
    await until(() => client!.state === 'open', 5000, 'open');
    let looked = 0;
    InFlight.prototype.each = function (this: InFlight<unknown, unknown>, fn) {
      return each.call(this, (...args) => (looked++, fn(...args)));
    } as typeof each;
    const outcomes: Promise<string | undefined>[] = [];
    const start = Date.now();
    while (Date.now() - start < SPREAD_MS) {
      for (let i = 0; i < PER_MS; i++) outcomes.push(rpc.request({ n: outcomes.length }).then(() => 'answered', (error: { code?: string }) => error.code));
      await sleep(1);
    }
    const n = outcomes.length;
    const codes = await Promise.all(outcomes);
    expect(codes.filter((code) => code !== 'REQUEST_TIMEOUT')).to.deep.equal([]);
    expect(rpc.pending).to.equal(0);
    expect(server.connections[0].messages).to.have.length(n);
    // Each request is looked at when it times out, plus the first one not due at each firing.
    expect(looked, `requests looked at for ${n} timeouts`).to.be.at.most(3 * n);
  });

  it('times out requests whose own timeouts put their deadlines out of order, each when due, and then looks in order again', async () => {
    const rpc = requests({ timeout: 10_000 });
    client = new SteadySocket(server.url, { codec: json(), use: [rpc] });
    await until(() => client!.state === 'open', 5000, 'open');
    const settledAt: number[] = [];
    const start = Date.now();
    // Deadlines in reverse order of sending: the last sent is due first.
    const mixed = Array.from({ length: 200 }, (_, i) =>
      rpc.request({ i }, { timeout: 400 - i }).then(
        () => 'answered',
        (error: { code?: string }) => ((settledAt[i] = Date.now() - start), error.code),
      ),
    );
    expect(await Promise.all(mixed)).to.deep.equal(Array(200).fill('REQUEST_TIMEOUT'));
    for (let i = 0; i < 200; i++) expect(settledAt[i], `request ${i}`).to.be.at.least(400 - i - 1);
    // All settled: a batch in order is looked at in order again.
    let looked = 0;
    InFlight.prototype.each = function (this: InFlight<unknown, unknown>, fn) {
      return each.call(this, (...args) => (looked++, fn(...args)));
    } as typeof each;
    const ordered: Promise<unknown>[] = [];
    for (let ms = 0; ms < 200; ms++) {
      for (let i = 0; i < 10; i++) ordered.push(rpc.request({ ms, i }, { timeout: 200 }).catch(() => undefined));
      await sleep(1);
    }
    await Promise.all(ordered);
    expect(looked).to.be.at.most(3 * ordered.length);
  });
});
