// Section 16 of the guide ("Delivery guarantees") off the happy path, through the fake transport
// and clock: the promises a second adversarial review found no test for.
import type { Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { json, persist, type StoredMessage } from '../../src/index';
import { fakeOpener, useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';

type Msg = { id?: number; data?: unknown; ack?: number; re?: number; request?: unknown };

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

  describe('persist()', () => {
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
