// ttl() at scale and with expiries out of send order, through the fake transport and clock: a
// long queue expires one timer at a time in O(n) (each look used to walk the whole outbox: O(n²)),
// and a message whose expiry comes before one queued ahead of it (a wall clock set back) still
// expires on time.
import { expect } from 'chai';
import { SteadySocket, ttl } from '../../src/index';
import { feature, type FeatureHooks } from '../../src/feature';
import { fakeOpener, useFakeClock, useReportedErrors } from '../support/fake-clock';

describe('ttl() (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  useReportedErrors();
  // Never opens (the fake server is not told to): every message waits in the outbox.
  const open = fakeOpener<string, string>(kit, { connectTimeout: Infinity, maxMessages: 100_000 });

  /** A feature after ttl() that counts how often each queued message's expiry is read. */
  function countingReads() {
    const counter = { reads: 0 };
    const made = feature<string, string>(() => {
      const hooks: FeatureHooks<string, string> = {
        queued(entry) {
          let expires = entry.expires;
          Object.defineProperty(entry, 'expires', {
            get: () => (counter.reads++, expires),
            set: (value: number) => (expires = value),
            configurable: true,
          });
        },
      };
      return hooks;
    });
    return { counter, made };
  }

  it('expires 5,000 messages queued a millisecond apart, each on time, reading each expiry a few times, not at every look', async () => {
    const { counter, made } = countingReads();
    const socket = await open({ use: [ttl(1000), made] });
    const dropped: { data: string; at: number }[] = [];
    socket.on('drop', (drop) => {
      expect(drop.reason).to.equal('expired');
      dropped.push({ data: drop.data, at: Date.now() });
    });
    const start = Date.now();
    for (let i = 0; i < 5000; i++) {
      socket.send(String(i));
      kit.clock.tick(1);
    }
    await kit.clock.tickAsync(2000);
    expect(dropped.map((d) => d.data), 'each expired, in order').to.deep.equal(Array.from({ length: 5000 }, (_, i) => String(i)));
    dropped.forEach((d, i) => expect(d.at - (start + i), `message ${i} dropped a ttl after it was queued`).to.equal(1000));
    // A walk of the whole outbox at each of the 5,000 expiries reads about 12.5 million.
    expect(counter.reads, 'expiries read').to.be.at.most(20 * 5000);
    expect(socket.queued).to.deep.equal([]);
  });

  it('with a wall clock set back, a message expiring before those queued ahead of it is dropped on time, and the order is learnt again once the outbox is empty', async () => {
    const socket = await open({ use: [ttl(1000)] });
    const dropped: string[] = [];
    socket.on('drop', (drop) => dropped.push(drop.data));
    socket.send('a'); // wall clock 0: expires at 1000
    kit.clock.tick(100);
    kit.clock.setSystemTime(Date.now() - 600); // the wall clock goes back from 100 to -500
    socket.send('b'); // expires at 500 (wall clock), before 'a' ahead of it: 1,000 ms from now
    socket.send('c'); // the same
    await kit.clock.tickAsync(999);
    expect(dropped, 'nothing due yet').to.deep.equal([]);
    await kit.clock.tickAsync(1);
    expect(dropped, 'b and c, queued behind a, expired first, on time').to.deep.equal(['b', 'c']);
    await kit.clock.tickAsync(499);
    expect(dropped).to.deep.equal(['b', 'c']);
    await kit.clock.tickAsync(1);
    expect(dropped, 'then a, when the wall clock reached its expiry').to.deep.equal(['b', 'c', 'a']);
    // Empty again: later messages expire in order, each on time.
    socket.send('d');
    await kit.clock.tickAsync(10);
    socket.send('e');
    await kit.clock.tickAsync(989);
    expect(dropped).to.deep.equal(['b', 'c', 'a']);
    await kit.clock.tickAsync(1);
    expect(dropped).to.deep.equal(['b', 'c', 'a', 'd']);
    await kit.clock.tickAsync(10);
    expect(dropped).to.deep.equal(['b', 'c', 'a', 'd', 'e']);
    expect(socket).to.be.instanceOf(SteadySocket);
  });
});
