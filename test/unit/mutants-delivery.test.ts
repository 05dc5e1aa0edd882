// Behaviour of the outbox and the delivery features (in-flight, ttl, acks, requests) that
// mutation testing (Stryker over the unit suite, each survivor then tried against the
// integration tests) found no test pinning down.
import { expect } from 'chai';
import { InFlight } from '../../src/features/in-flight';
import { acks, json, requests, SteadySocketError, ttl } from '../../src/index';
import { fakeOpener, useFakeClock } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';
import { arrayLength, entry, make, slots, values } from '../support/outbox';
import { rejection } from '../support/rejection';

describe('delivery: behaviour found unpinned by mutation testing', () => {
  describe('Outbox', () => {
    it('drop-oldest counts the bytes of unacknowledged (held) messages when it makes room', () => {
      const { outbox, drops } = make(100, 10, 'drop-oldest');
      outbox.held = 1;
      outbox.heldBytes = 4;
      outbox.push(entry(1, 2));
      outbox.push(entry(2, 2));
      expect(outbox.push(entry(3, 3))).to.equal(true); // 4 held + 4 queued + 3 > 10: one must go
      expect(values(outbox)).to.deep.equal([2, 3]);
      expect(drops).to.deep.equal([[1, 'overflow']]);
      expect(outbox.bytes + outbox.heldBytes).to.equal(9);
    });

    it('drop-oldest evicts only what is needed: the outbox may end exactly full in bytes', () => {
      const { outbox, drops } = make(100, 4, 'drop-oldest');
      outbox.push(entry(1, 2));
      outbox.push(entry(2, 2));
      expect(outbox.push(entry(3, 2))).to.equal(true);
      expect(values(outbox)).to.deep.equal([2, 3]);
      expect(outbox.bytes).to.equal(4);
      expect(drops).to.deep.equal([[1, 'overflow']]);
    });

    it('shift() drops an entry whose expiry is exactly now, as expireEntries() does', () => {
      const { outbox, drops } = make(10, 100, 'error');
      outbox.push(entry(1, 1, 100));
      outbox.push(entry(2, 1, 101));
      expect(outbox.shift(100)?.value).to.equal(2);
      expect(drops).to.deep.equal([[1, 'expired']]);
    });

    it('lets go of withdrawn entries (and their data) once the last one is withdrawn', () => {
      const { outbox } = make(10, 100, 'error');
      const queued = [entry(1), entry(2), entry(3)];
      for (const e of queued) outbox.push(e);
      for (const e of queued) expect(outbox.remove(e)).to.equal(true);
      expect(outbox.size).to.equal(0);
      expect(arrayLength(outbox), 'slots still holding withdrawn entries').to.equal(0);
    });

    it('keeps its array bounded when newer entries are withdrawn over and over behind one that stays', () => {
      // One message waits (offline) while others are queued and withdrawn (deliver() signals):
      // their tombstones are never at the front, so only compaction clears them.
      const { outbox } = make(10, Infinity, 'error');
      outbox.push(entry(0));
      for (let i = 1; i <= 10_000; i++) {
        const e = entry(i);
        outbox.push(e);
        outbox.remove(e);
      }
      expect(values(outbox)).to.deep.equal([0]);
      expect(slots(outbox)).to.be.at.most(2 * 2 + 64 + 1);
    });

    it('keeps its array bounded while a backlog is sent and refilled without ever emptying', () => {
      // A connection that writes while the producer keeps `backlog` messages queued: the slots
      // emptied in front must be given back although the outbox never empties.
      for (const backlog of [2, 2000]) {
        const { outbox } = make(10_000, Infinity, 'error');
        let next = 0;
        for (; next < backlog; next++) outbox.push(entry(next));
        for (let i = 0; i < 10_000; i++) {
          outbox.push(entry(next++));
          expect(outbox.shift(0)?.value).to.equal(next - backlog - 1);
        }
        expect(outbox.size).to.equal(backlog);
        expect(arrayLength(outbox), `backlog ${backlog}`).to.be.at.most(2 * Math.max(1024, backlog) + 64);
      }
    });
  });

  describe('InFlight', () => {
    it('finds an id added again whatever mix of number and string ids came between', () => {
      // '9' < 10 < '100' as JavaScript compares them, yet '9' > '100' as strings: the id added
      // again is still in flight, and must be taken out, not added beside it.
      const flight = new InFlight<string | number, string>();
      flight.add('9', 'first', 0);
      flight.add(10, 'ten', 0);
      flight.add('100', 'hundred', 0);
      expect(flight.add('9', 'again', 0)).to.equal('first');
      expect(flight.size).to.equal(3);
      expect(flight.take('9')).to.equal('again');
      expect(flight.take('9')).to.equal(undefined);
    });

    it('finds an id of -Infinity added again', () => {
      const flight = new InFlight<number, string>();
      flight.add(-Infinity, 'first', 0);
      expect(flight.add(-Infinity, 'again', 0)).to.equal('first');
      expect(flight.size).to.equal(1);
    });
  });

  describe('acks()', () => {
    type Msg = { id?: number; data?: string; ack?: number; request?: unknown };
    const ackOptions = { id: (m: Msg) => m.id, ack: (m: Msg) => m.ack };
    const kit = useFakeClock();
    const open = fakeOpener<Msg, Msg>(kit, { codec: json<Msg, Msg>(), minDelay: 10, jitter: 0 });

    it('refuses options without an id() and an ack() function, or a dedupe without an id(), with INVALID_OPTION naming what it takes', () => {
      const bad: unknown[] = [null, undefined, { ack: ackOptions.ack }, { id: ackOptions.id }];
      for (const options of bad) {
        expect(() => acks(options as never), String(options && Object.keys(options)))
          .to.throw(SteadySocketError, 'acks() takes { id(message), ack(message) }')
          .with.property('code', 'INVALID_OPTION');
      }
      for (const dedupe of [{}, null]) {
        expect(() => acks({ ...ackOptions, dedupe: dedupe as never }), String(dedupe))
          .to.throw(SteadySocketError, 'acks() dedupe takes { id(message), window }')
          .with.property('code', 'INVALID_OPTION');
      }
    });

    it('names the option in the INVALID_OPTION of a timeout or a dedupe window below 1', () => {
      expect(() => acks({ ...ackOptions, timeout: 0 })).to.throw(SteadySocketError, 'Option acks timeout must be a number from 1');
      expect(() => acks({ ...ackOptions, dedupe: { id: (m: Msg) => m.id, window: 0 } })).to.throw(SteadySocketError, 'Option acks dedupe window must be a number from 1');
    });

    it("reports the drop of a superseded write as 'ack-timeout' when the newer write, sent again after a reconnect, is never acknowledged", async () => {
      // handOver: the reason of an error no outbox drop makes ('ack-timeout' → '').
      const socket = await open({ use: [acks({ ...ackOptions, timeout: 1000 })] });
      const drops: [string | undefined, string][] = [];
      socket.on('drop', (d) => drops.push([d.data.data, d.reason]));
      FakeWebSocket.last.serverOpen();
      socket.send({ id: 1, data: 'a' });
      socket.send({ id: 1, data: 'b' });
      FakeWebSocket.last.serverClose(1006);
      kit.clock.tick(10);
      FakeWebSocket.last.serverOpen();
      kit.clock.tick(1000);
      expect(drops).to.deep.equal([
        ['a', 'ack-timeout'],
        ['b', 'ack-timeout'],
      ]);
    });

    it('times out each unacknowledged message one timeout after its write, also when several wait on the re-armed timer', async () => {
      // checkTimeouts stops at the first message still in time (return false → true re-armed for the last one's deadline).
      const socket = await open({ use: [acks({ ...ackOptions, timeout: 1000 })] });
      const drops: [number | undefined, number][] = [];
      socket.on('drop', (d) => drops.push([d.data.id, Date.now()]));
      FakeWebSocket.last.serverOpen();
      const first = socket.deliver({ id: 1 }).catch((e: SteadySocketError) => e);
      kit.clock.tick(500);
      socket.send({ id: 2 });
      kit.clock.tick(100);
      socket.send({ id: 3 });
      kit.clock.tick(1000); // to t=1600
      expect(drops).to.deep.equal([
        [1, 1000],
        [2, 1500],
        [3, 1600],
      ]);
      expect(await first).to.include({ code: 'ACK_TIMEOUT', message: 'No acknowledgement of message 1 within 1000 ms.' });
    });

    it('drops with CLOSED an unacknowledged message when a drop listener closes the client while the connection is being released', async () => {
      // finish() (emptied: the message's deliver() never settled). requests() first: its resend
      // re-queues a request during the close, which overflows, and that drop's listener closes the
      // client before acks() has put its message back in the outbox.
      const rpc = requests<Msg>({ resend: true });
      const socket = await open({ maxMessages: 1, overflow: 'drop-newest', use: [rpc, acks(ackOptions)] });
      const drops: [Msg, string][] = [];
      socket.on('drop', (d) => {
        drops.push([d.data, d.reason]);
        void socket.close();
      });
      FakeWebSocket.last.serverOpen();
      const request = rpc.request('r').catch((e: SteadySocketError) => e.code);
      const kept = socket.deliver({ id: 1, data: 'a' }).then(
        () => 'delivered',
        (e: SteadySocketError) => e.code,
      );
      FakeWebSocket.last.serverClose(1006);
      await kit.turns();
      expect(socket.state).to.equal('closed');
      expect(drops).to.deep.equal([
        [{ id: 1, request: 'r' }, 'overflow'],
        [{ id: 1, data: 'a' }, 'closed'],
      ]);
      expect(await Promise.race([kept, kit.turns().then(() => 'pending')])).to.equal('CLOSED');
      expect(await request).to.equal('QUEUE_OVERFLOW');
    });
  });

  describe('requests()', () => {
    type Msg = { id?: number; request?: unknown; re?: number; result?: unknown };
    const kit = useFakeClock();
    const open = fakeOpener<Msg, Msg>(kit, { codec: json<Msg, Msg>(), minDelay: 10, jitter: 0 });
    const code = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: SteadySocketError) => error.code);

    it('refuses options that are not an object, or a wrap or match that is not a function, with INVALID_OPTION', () => {
      for (const options of [null, 'options']) {
        expect(() => requests(options as never), String(options))
          .to.throw(SteadySocketError, 'requests() takes an options object')
          .with.property('code', 'INVALID_OPTION');
      }
      for (const options of [{ wrap: 1 }, { match: 1 }]) {
        expect(() => requests(options as never), Object.keys(options)[0])
          .to.throw(SteadySocketError, 'requests() wrap and match must be functions')
          .with.property('code', 'INVALID_OPTION');
      }
    });

    it('names the option in the INVALID_OPTION of a timeout below 1, for the feature and for one request', async () => {
      expect(() => requests({ timeout: 0 })).to.throw(SteadySocketError, 'Option requests timeout must be a number from 1');
      const rpc = requests();
      await open({ use: [rpc] });
      expect(() => rpc.request('x', { timeout: 0 })).to.throw(SteadySocketError, 'Option request timeout must be a number from 1');
    });

    it('rejects (does not throw) a request() of a feature no client uses, with INVALID_OPTION', async () => {
      const rpc = requests();
      let request: Promise<unknown> | undefined;
      expect(() => (request = rpc.request('x'))).to.not.throw();
      const error = await rejection(request!);
      expect(error).to.be.instanceOf(SteadySocketError);
      expect(error).to.include({ code: 'INVALID_OPTION' });
      expect(error.message).to.contain('request() needs the feature in a client');
    });

    it('says which request and why in the errors of a timeout, an abort, and a close for good', async () => {
      const rpc = requests<Msg>({ timeout: 100 });
      const socket = await open({ use: [rpc] });
      FakeWebSocket.last.serverOpen();
      const timedOut = rejection(rpc.request('a')); // id 1
      const controller = new AbortController();
      const aborted = rejection(rpc.request('b', { signal: controller.signal })); // id 2
      controller.abort('stop');
      kit.clock.tick(100);
      const closed = rejection(rpc.request('c', { timeout: 1000 })); // id 3
      const closing = socket.close();
      kit.clock.tick(10);
      await closing;
      expect((await timedOut).message).to.equal('No reply to request 1 within 100 ms.');
      expect(await aborted).to.include({ code: 'REQUEST_ABORTED', message: 'Request 2 was aborted.', cause: 'stop' });
      expect(await closed).to.include({ code: 'CLOSED', message: 'The socket closed for good before request 3 was answered.' });
      const early = await rejection(requests().request('x')); // not in a client: no id given
      expect(early?.code).to.equal('INVALID_OPTION');
      const rpc2 = requests();
      await open({ use: [rpc2] });
      const signal = AbortSignal.abort('gone');
      expect(await rejection(rpc2.request('d', { signal }))).to.include({ code: 'REQUEST_ABORTED', message: 'The request was aborted before it was sent.', cause: 'gone' });
    });

    it('stops listening to the abort signal of a request once it settles', async () => {
      // A long-lived signal shared by many requests must not collect their listeners (removeEventListener('') left them).
      const rpc = requests<Msg>();
      await open({ use: [rpc] });
      FakeWebSocket.last.serverOpen();
      const signal = new EventTarget() as AbortSignal & EventTarget;
      const listeners = new Set<unknown>();
      const add = signal.addEventListener.bind(signal);
      const remove = signal.removeEventListener.bind(signal);
      signal.addEventListener = ((type: string, listener: EventListener, options?: AddEventListenerOptions) => {
        listeners.add(`${type}`);
        add(type, listener, options);
      }) as never;
      signal.removeEventListener = ((type: string, listener: EventListener) => {
        listeners.delete(`${type}`);
        remove(type, listener);
      }) as never;
      const reply = rpc.request('x', { signal });
      expect([...listeners]).to.deep.equal(['abort']);
      FakeWebSocket.last.serverMessage(JSON.stringify({ re: 1, result: 'ok' }));
      expect(await reply).to.equal('ok');
      expect([...listeners], 'listeners left on the signal').to.deep.equal([]);
    });

    it('rejects a request its codec cannot encode, written at once on an open connection, and counts it no more', async () => {
      // The request's catch around send() (emptied: the request stayed pending for good).
      const rpc = requests<Msg>();
      await open({ use: [rpc] });
      FakeWebSocket.last.serverOpen();
      expect(await code(rpc.request(10n))).to.equal('ENCODE_FAILED');
      expect(rpc.pending).to.equal(0);
    });
  });

  describe('ttl()', () => {
    const kit = useFakeClock();
    // Never opens unless told: every message waits in the outbox.
    const open = fakeOpener<string, string>(kit, { connectTimeout: Infinity });

    it('names itself when given a ttl below 1 ms', () => {
      expect(() => ttl(0))
        .to.throw(SteadySocketError, 'Option ttl must be a number from 1')
        .with.property('code', 'INVALID_OPTION');
    });

    it('leaves no timer behind when a drop listener closes the client while messages out of order remain', async () => {
      const socket = await open({ use: [ttl(1000)], minDelay: 60_000, jitter: 0 });
      FakeWebSocket.last.serverClose(1006); // waiting, no socket: close() ends at once
      expect(socket.state).to.equal('waiting');
      socket.on('drop', (drop) => {
        if (drop.reason === 'expired') void socket.close();
      });
      socket.send('a'); // wall clock 0: expires at 1000
      kit.clock.setSystemTime(Date.now() - 500); // the wall clock goes back: out of order from here
      socket.send('b'); // expires at 500, behind 'a'
      await kit.clock.tickAsync(1000); // 'b' expires, its listener closes with 'a' still due later
      expect(socket.state).to.equal('closed');
      expect(kit.clock.countTimers(), 'timers left after the client closed').to.equal(0);
    });
  });
});
