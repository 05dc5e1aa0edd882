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
  const errors = useReportedErrors();
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

  it('expires 5,000 messages sent five in the same millisecond, on time, still reading each expiry a few times', async () => {
    // Messages of one millisecond share an expiry: that is still send order, not a clock set back.
    const { counter, made } = countingReads();
    const socket = await open({ use: [ttl(1000), made] });
    const dropped: { data: string; at: number }[] = [];
    socket.on('drop', (drop) => dropped.push({ data: drop.data, at: Date.now() }));
    const start = Date.now();
    for (let i = 0; i < 5000; i++) {
      socket.send(String(i));
      if (i % 5 === 4) kit.clock.tick(1);
    }
    await kit.clock.tickAsync(2000);
    expect(dropped.map((d) => d.data), 'each expired, in order').to.deep.equal(Array.from({ length: 5000 }, (_, i) => String(i)));
    dropped.forEach((d, i) => expect(d.at - (start + Math.floor(i / 5)), `message ${i} dropped a ttl after it was queued`).to.equal(1000));
    // Taken for out of order, every look would walk what is left: millions of reads.
    expect(counter.reads, 'expiries read').to.be.at.most(20 * 5000);
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

  for (const ms of [1, 1000, 2 ** 31, 2 ** 40, Infinity]) {
    it(`ttl(${ms}): with drop listeners that throw, send and reconnect, every message expires exactly a ttl after it was queued, or stays`, async () => {
      const socket = await open({ use: [ttl(ms)] });
      const queuedAt = new Map<string, number>();
      const dropped: { data: string; at: number }[] = [];
      let fromListener = 0;
      socket.on('drop', (drop) => {
        dropped.push({ data: drop.data, at: Date.now() });
        throw new Error('drop listener failed');
      });
      socket.on('drop', () => {
        // From inside the expiry: send again (now and then), ask for a reconnect (now and then).
        if (fromListener < 20 && dropped.length % 3 === 0) {
          const data = `again ${fromListener++}`;
          queuedAt.set(data, Date.now());
          socket.send(data);
        }
        if (dropped.length % 7 === 0) socket.reconnect();
      });
      for (let i = 0; i < 100; i++) {
        queuedAt.set(String(i), Date.now());
        socket.send(String(i));
        kit.clock.tick(i % 10); // 0 to 9 ms apart
      }
      // Run the clock in steps a timer can hold (a timer of 2^31 ms or more fires at once otherwise).
      const horizon = Number.isFinite(ms) ? Math.min(ms, 2 ** 31 - 1) * 2 + 1000 : 10_000;
      for (let t = 0; t < horizon; t += Math.max(1, Math.floor(horizon / 200))) await kit.clock.tickAsync(Math.max(1, Math.floor(horizon / 200)));
      for (const { data, at } of dropped) expect(at - queuedAt.get(data)!, `${data} expired a ttl after it was queued`).to.equal(ms);
      const left = socket.queued as string[];
      expect(new Set([...dropped.map((d) => d.data), ...left]).size, 'each message dropped or waiting, never both, none lost').to.equal(queuedAt.size);
      expect(dropped.length + left.length).to.equal(queuedAt.size);
      if (ms <= 1000) expect(left, 'everything expired').to.deep.equal([]);
      if (ms > horizon) expect(dropped, 'nothing before its time').to.deep.equal([]);
      if (ms === 2 ** 31) expect(dropped.length, 'a timer cannot hold 2^31 ms: expired on time anyway, not at once').to.be.greaterThan(0);
      if (dropped.length) expect(errors.length, 'each throw reported').to.be.at.least(dropped.length);
    });
  }
});
