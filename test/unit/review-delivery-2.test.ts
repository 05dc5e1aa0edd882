// Section 16 of the guide ("Delivery guarantees") off the happy path, through the fake transport
// and clock: the promises a second adversarial review found no test for.
import type { Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { getEventListeners } from 'node:events';
import { acks, heartbeat, json, persist, ping, ready, requests, type SteadySocket, type StoredMessage } from '../../src/index';
import { fakeOpener, useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';

type Msg = { id?: number; data?: unknown; ack?: number; re?: number; request?: unknown; type?: string };
const ackOptions = { id: (m: Msg) => m.id, ack: (m: Msg) => m.ack };

/** An in-memory store whose saves are promise jobs: what it holds is `contents`. */
function memoryStore(initial: number[]) {
  const store = {
    contents: initial.map((id) => ({ data: JSON.stringify({ id }) })) as StoredMessage[],
    saves: 0,
    load: async () => store.contents.slice(),
    save: async (messages: readonly StoredMessage[]) => {
      store.saves++;
      store.contents = messages.slice();
    },
    clear: async () => void (store.contents = []),
    ids: () => store.contents.map((m) => (JSON.parse(m.data as string) as Msg).id),
  };
  return store;
}

describe('delivery guarantees, second review (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const errors = useReportedErrors();
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));
  const open = fakeOpener<Msg, Msg>(kit, { codec: json<Msg, Msg>(), minDelay: 10, jitter: 0 });

  describe('acks()', () => {
    it('does not give up a message while its connection is going away (close frame in, closing handshake, reconnect()): it is sent again on the next one', async () => {
      // Guide: "at least once: every message is re-sent until the server acknowledges it"; "A
      // message not acknowledged timeout ms after it was written is given up ... Time spent
      // disconnected does not count". Once the server's close frame is in (RFC 6455 §5.5.1: no
      // data frame, so no acknowledgement, follows it), or the client is closing the connection
      // to reconnect, nothing can acknowledge the message on this connection. The wait went on
      // there: with a timeout shorter than the closing (a server that never ends TCP holds it for
      // closeTimeout), the message was given up with ACK_TIMEOUT instead of being sent again.
      const endings = {
        'the close frame in, TCP never ends': (socket: SteadySocket<Msg, Msg>) => void (FakeWebSocket.last.serverCloseFrame(), socket),
        'reconnect()': (socket: SteadySocket<Msg, Msg>) => socket.reconnect(),
      };
      for (const [ending, end] of Object.entries(endings)) {
        const socket = await open({ closeTimeout: 3000, use: [acks({ ...ackOptions, timeout: 1 })] });
        const drops: string[] = [];
        socket.on('drop', (d) => drops.push(d.reason));
        FakeWebSocket.last.serverOpen();
        const delivered = socket.deliver({ id: 1 }).then(
          () => 'resolved',
          (error: { code: string }) => error.code,
        );
        const first = FakeWebSocket.last;
        end(socket);
        await clock.tickAsync(3000); // the closing ends (5 ms; closeTimeout for a server that never ends TCP), past every ack timeout
        expect(drops, `${ending}: not given up`).to.deep.equal([]);
        await clock.tickAsync(20); // the next attempt (minDelay 10)
        expect(FakeWebSocket.last, ending).to.not.equal(first);
        FakeWebSocket.last.serverOpen();
        await clock.tickAsync(0);
        expect(FakeWebSocket.last.sent, `${ending}: sent again`).to.deep.equal(['{"id":1}']);
        FakeWebSocket.last.serverMessage(JSON.stringify({ ack: 1 }));
        expect(await delivered, ending).to.equal('resolved');
        const done = socket.close();
        await clock.tickAsync(10);
        await done;
      }
    });

    it('close() right after a write drops the unacknowledged message with CLOSED, not ACK_TIMEOUT, whatever the timeout', async () => {
      // Guide: "close() drops what is still unacknowledged, as it drops the outbox (CLOSED)".
      const socket = await open({ use: [acks({ ...ackOptions, timeout: 1 })] });
      FakeWebSocket.last.serverOpen();
      const delivered = socket.deliver({ id: 1 }).then(
        () => 'resolved',
        (error: { code: string }) => error.code,
      );
      const done = socket.close();
      await clock.tickAsync(10); // the closing handshake (5 ms) outlasts the timeout
      await done;
      expect(await delivered).to.equal('CLOSED');
    });
    it('a written message, back in the outbox unacknowledged, is not withdrawn by its signal, whether it was written at once or from the queue', async () => {
      // Guide §5: "aborting it withdraws the message if it is still queued ... A message already
      // written cannot be withdrawn"; §16: unacknowledged messages go back to the outbox when the
      // connection ends and are "sent again on the next connection". A deliver() written from the
      // queue kept watching its signal while it waited for its acknowledgement, so an abort after
      // the connection ended withdrew it (MESSAGE_WITHDRAWN, and never sent again), while the same
      // deliver() written at once (nothing queued) was sent again and resolved.
      for (const path of ['written at once', 'written from the queue'] as const) {
        const socket = await open({ use: [acks(ackOptions)] });
        const drops: string[] = [];
        socket.on('drop', (d) => drops.push(d.reason));
        const controller = new AbortController();
        if (path === 'written at once') FakeWebSocket.last.serverOpen();
        const delivered = socket.deliver({ id: 1 }, { signal: controller.signal }).then(
          () => 'resolved',
          (error: { code: string }) => error.code,
        );
        if (path === 'written from the queue') FakeWebSocket.last.serverOpen();
        await clock.tickAsync(0);
        expect(FakeWebSocket.last.sent, path).to.deep.equal(['{"id":1}']);
        expect(getEventListeners(controller.signal, 'abort'), `${path}: no longer watched once written`).to.have.length(0);
        FakeWebSocket.last.serverClose(1006);
        expect(socket.queued, `${path}: back in the outbox`).to.deep.equal([{ id: 1 }]);
        controller.abort();
        expect(socket.queued, `${path}: still there after the abort`).to.deep.equal([{ id: 1 }]);
        await clock.tickAsync(10);
        FakeWebSocket.last.serverOpen();
        await clock.tickAsync(0);
        expect(FakeWebSocket.last.sent, `${path}: sent again`).to.deep.equal(['{"id":1}']);
        FakeWebSocket.last.serverMessage(JSON.stringify({ ack: 1 }));
        expect(await delivered, path).to.equal('resolved');
        expect(drops, path).to.deep.equal([]);
      }
    });
    it("never keeps a feature's own message (the ready step's, the heartbeat's ping, ping()'s) for an acknowledgement, even when id() reads one in it", async () => {
      // Guide §6: the ready step's "send(data) writes at once on this connection"; §16: "When a
      // connection ends, its unacknowledged messages go back to the front of the outbox ... and are
      // sent again on the next connection". These messages belong to their connection: kept, a
      // hello of the first connection was sent again on the second (after that connection's own
      // hello), shown in `queued`, stored by persist(), and given up with ACK_TIMEOUT drop events
      // for messages the application never sent; flushed() waited for their acknowledgements.
      let next = 100;
      const store = memoryStore([]);
      const socket = await open({
        use: [
          acks({ ...ackOptions, timeout: 1000 }),
          ready<Msg, Msg>(({ send }) => send({ type: 'hello', id: next++ })),
          heartbeat<Msg, Msg>({ interval: 50, timeout: 10_000, ping: () => ({ type: 'ping', id: next++ }), isPong: (m) => m.type === 'pong' }),
          persist(store),
        ],
      });
      const drops: string[] = [];
      socket.on('drop', (d) => drops.push(`${d.data.type ?? d.data.id}:${d.reason}`));
      await clock.tickAsync(0); // the store loads
      FakeWebSocket.last.serverOpen();
      await clock.tickAsync(0); // the ready step
      expect(socket.state).to.equal('open');
      const rtt = ping(socket, { timeout: 5000 }); // the heartbeat's application ping, written now
      await clock.tickAsync(60); // a heartbeat ping too
      const first = FakeWebSocket.last;
      expect(first.sent.map((t) => (JSON.parse(t as string) as Msg).type), 'hello, then pings').to.include.members(['hello', 'ping']);
      let flushed = false;
      void socket.flushed().then(() => (flushed = true));
      await clock.tickAsync(20); // the drain poll (10 ms)
      expect(flushed, 'flushed(): nothing of the application waits for an acknowledgement').to.equal(true);
      expect(store.ids(), 'nothing stored').to.deep.equal([]);
      socket.send({ id: 1, data: 'a' }); // the application's own: kept until acknowledged
      first.serverClose(1006);
      expect(await rtt.catch((e: { code: string }) => e.code)).to.equal('CONNECTION_CLOSED');
      expect(socket.queued.map((m) => m.id), 'only the application\'s message waits').to.deep.equal([1]);
      await clock.tickAsync(10);
      FakeWebSocket.last.serverOpen();
      await clock.tickAsync(0);
      const second = FakeWebSocket.last.sent.map((t) => JSON.parse(t as string) as Msg);
      expect(second.slice(0, 2), "this connection's hello, then what the first did not get acknowledged").to.deep.equal([{ type: 'hello', id: second[0].id }, { id: 1, data: 'a' }]);
      expect(second[0].id, 'a new hello').to.not.equal(100);
      FakeWebSocket.last.serverMessage(JSON.stringify({ ack: 1 }));
      await clock.tickAsync(2000); // past every ack timeout
      expect(drops, 'no ACK_TIMEOUT for messages the application never sent').to.deep.equal([]);
      await clock.tickAsync(0);
      expect(store.ids(), 'nothing stored').to.deep.equal([]);
    });
  });

  describe('requests()', () => {
    it('a request() given something that is not an AbortSignal settles and leaves nothing pending: no entry, no timer, nothing sent', async () => {
      // Guide: "Every request settles" (and `pending` counts the requests not settled yet). Its
      // signal was watched after the request was counted and its timer armed: a signal without
      // addEventListener threw there, so the promise rejected but the request stayed counted in
      // `pending`, its timer armed (for ever with timeout Infinity), until its timeout settled it
      // again.
      for (const timeout of [100, Infinity]) {
        const rpc = requests({ timeout });
        const socket = await open({ use: [rpc] });
        FakeWebSocket.last.serverOpen();
        const settled = await rpc.request('x', { signal: {} as AbortSignal }).then(
          () => 'resolved',
          () => 'rejected',
        );
        expect(settled, `timeout ${timeout}`).to.equal('rejected');
        expect(rpc.pending, `timeout ${timeout}: nothing pending`).to.equal(0);
        expect(FakeWebSocket.last.sent, `timeout ${timeout}: nothing sent`).to.deep.equal([]);
        expect(clock.countTimers(), `timeout ${timeout}: no timer of it left`).to.equal(0);
        const done = socket.close();
        await clock.tickAsync(10);
        await done;
      }
    });
  });

  describe('persist()', () => {
    it('lets the next client have the store when a constructor threw after persist() took it, and the client that never was neither loads nor saves it', async () => {
      // Guide: "persist() throws INVALID_OPTION for a store another client is still using, until
      // that one is closed". A feature after persist() in `use` that throws (here a requests()
      // given to a second client) makes the constructor throw: there is no client to close. It
      // kept the store's key for good ("Another client still uses the store" for every later
      // client in the page or process), and went on to load the store and save it.
      for (const sync of [false, true]) {
        const label = sync ? 'sync' : 'async';
        const store = memoryStore([1]);
        const keyed = Object.assign(store, {
          key: `memory:review-delivery-2-${label}`,
          loadSync: () => store.contents.slice(),
          saveSync: (messages: readonly StoredMessage[]) => void (store.saves++, (store.contents = messages.slice())),
        });
        const rpc = requests();
        const first = open.create({ use: [rpc] }); // rpc now belongs to this client
        expect(() => open.create({ use: [persist(keyed, { sync }), rpc] }), `${label}: the constructor throws`)
          .to.throw()
          .with.property('message')
          .that.matches(/One requests\(\) per client/);
        await clock.tickAsync(0); // what the client that never was would have loaded, restored and saved
        expect(store.saves, `${label}: never saved by the client that never was`).to.equal(0);
        const next = open.create({ use: [persist(keyed, { sync })] }); // threw INVALID_OPTION: the store was still taken
        await clock.tickAsync(0);
        FakeWebSocket.last.serverOpen();
        await clock.tickAsync(0);
        expect(next.state, label).to.equal('open');
        expect(FakeWebSocket.last.sent, `${label}: the next client sends what was stored`).to.deep.equal(['{"id":1}']);
        await clock.tickAsync(0);
        expect(store.ids(), `${label}: and the store follows it`).to.deep.equal([]);
        const done = Promise.all([first.close(), next.close()]);
        await clock.tickAsync(20);
        await done;
      }
    });
    it('a sync client whose constructor threw never saves the store, not even for the report of the stored messages that did not fit', async () => {
      // A sync store restores in the constructor; what did not fit is reported a promise job
      // later, and that drop saved the client-that-never-was's outbox over the store the next
      // client had taken meanwhile (and written its new message to).
      const store = memoryStore([1, 2]);
      const keyed = Object.assign(store, {
        key: 'memory:review-delivery-2-overflow',
        loadSync: () => store.contents.slice(),
        saveSync: (messages: readonly StoredMessage[]) => void (store.saves++, (store.contents = messages.slice())),
      });
      const rpc = requests();
      const first = open.create({ use: [rpc] });
      expect(() => open.create({ maxMessages: 1, use: [persist(keyed, { sync: true }), rpc] })).to.throw(/One requests\(\) per client/);
      const next = open.create({ use: [persist(keyed, { sync: true })] });
      next.send({ id: 3, data: 'new' }); // saved before send() returns: 1, 2, 3
      expect(store.ids(), 'the next client saved').to.deep.equal([1, 2, 3]);
      await clock.tickAsync(0); // the report of what did not fit in the client that never was
      expect(store.ids(), 'the store is still the next client’s').to.deep.equal([1, 2, 3]);
      const done = Promise.all([first.close(), next.close()]);
      await clock.tickAsync(20);
      await done;
    });

    it("stores no id: acks() reads a restored message's id from the message itself, and holds it again", async () => {
      // Guide (the file format): each message has its "queuedAt" and, when the StoredMessage given
      // to save() had one, its "id"; persist() stores none. It used to say each message carried
      // its acknowledgement id.
      const store = memoryStore([]);
      const first = await open({ use: [acks(ackOptions), persist(store)] });
      await clock.tickAsync(0); // the store loads
      first.send({ id: 7, data: 'x' });
      await clock.tickAsync(0); // the save
      expect(store.contents.map((m) => Object.keys(m).sort()), 'data and queuedAt only').to.deep.equal([['data', 'queuedAt']]);
      // The next run (the first client is left as a crashed process leaves its store).
      const copy = memoryStore([]);
      copy.contents = store.contents.slice();
      const second = await open({ use: [acks(ackOptions), persist(copy)] });
      await clock.tickAsync(0);
      FakeWebSocket.last.serverOpen();
      await clock.tickAsync(0);
      expect(FakeWebSocket.last.sent, 'restored and sent').to.deep.equal(['{"id":7,"data":"x"}']);
      let flushed = false;
      void second.flushed().then(() => (flushed = true));
      await clock.tickAsync(20);
      expect(flushed, 'held for its acknowledgement').to.equal(false);
      FakeWebSocket.last.serverMessage(JSON.stringify({ ack: 7 }));
      await clock.tickAsync(20);
      expect(flushed, 'acknowledged by the id in the message').to.equal(true);
      expect(copy.ids(), 'and removed from the store').to.deep.equal([]);
    });
    it('the store follows a close() made by a listener of the restore\'s overflow report: the next client sends nothing it dropped', async () => {
      // Guide (A persistent outbox): "Once they are back, close() drops them with the rest of the
      // outbox (CLOSED), and the store follows ... the next run sends nothing close() dropped."
      // The stored messages that do not fit are reported a promise job after the restore put the
      // rest in the outbox; a drop listener that closes the client there drops those with CLOSED.
      // The store used to start following one promise job later still, after that close: it was
      // never written, and the next client sent all three again (the overflowed one too).
      for (const action of ['close', 'send, then close', 'throw, then close'] as const) {
        const store = memoryStore([1, 2, 3]);
        const socket = open.create({ maxMessages: 2, overflow: 'drop-oldest', use: [persist(store)] });
        const drops: string[] = [];
        let closing: Promise<void> | undefined;
        let acted = false;
        socket.on('drop', (d) => {
          drops.push(`${d.data.id}:${d.reason}`);
          if (acted) return;
          acted = true;
          if (action === 'send, then close') socket.send({ id: 4 }); // the outbox is full: 2 makes room (drop-oldest)
          closing = socket.close();
          if (action === 'throw, then close') throw new Error('a drop listener that throws');
        });
        await clock.tickAsync(0); // the load, the restore, its report
        expect(closing, `${action}: closed from the report`).to.not.equal(undefined);
        await clock.tickAsync(10); // the fake socket's close (5 ms)
        await closing;
        expect(socket.state, action).to.equal('closed');
        const dropped = action === 'send, then close' ? ['1:overflow', '2:overflow', '3:closed', '4:closed'] : ['1:overflow', '2:closed', '3:closed'];
        expect(drops, `${action}: every stored message reported once`).to.deep.equal(dropped);
        expect(store.ids(), `${action}: the store follows (close() resolved after its save)`).to.deep.equal([]);
        // The next run on the store.
        const next = open.create({ use: [persist(store)] });
        await clock.tickAsync(0);
        FakeWebSocket.last.serverOpen();
        await clock.tickAsync(0);
        expect(next.state, action).to.equal('open');
        expect(FakeWebSocket.last.sent, `${action}: the next client sends nothing close() dropped`).to.deep.equal([]);
        await clock.tickAsync(10);
        const done = next.close();
        await clock.tickAsync(10);
        await done;
        expect(errors.map((e) => (e as Error).message), action).to.deep.equal(action === 'throw, then close' ? ['a drop listener that throws'] : []);
        errors.length = 0;
      }
    });
  });
});
