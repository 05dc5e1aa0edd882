// What the guide's "Testing your application with fake timers" says, with @sinonjs/fake-timers (the
// library under Jest's and Vitest's fake timers) set up as each of them does by default: Jest's
// fakes queueMicrotask with the timers and Date; Vitest's leaves queueMicrotask real.
import FakeTimers, { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acks, json, persist, SteadySocket, type SteadySocketError } from '../../src/index';
import { fileStore } from '../../src/storage/file';
import { FakeWebSocket } from '../support/fake-websocket';

type Msg = { id?: number; ack?: number };
const TIMERS = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] as const;
const JEST = [...TIMERS, 'Date', 'queueMicrotask'] as const;
const VITEST = [...TIMERS, 'Date'] as const;
/** Real turns of the event loop (setImmediate is left real here), for promise jobs and real I/O. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};
/** Real turns until `done()` or `ms` of real time (performance.now is left real; a file save with fsync takes a few ms). */
const turnsUntil = async (done: () => boolean, ms: number, step = () => {}) => {
  const end = performance.now() + ms;
  while (!done() && performance.now() < end) {
    step();
    await turns(1);
  }
  return done();
};

describe('an application tested with fake timers (guide: Testing your application with fake timers)', () => {
  let clock: InstalledClock | undefined;
  let socket: SteadySocket<Msg, Msg> | undefined;
  const install = (toFake: readonly string[]) => (clock = FakeTimers.install({ toFake: [...toFake] as never }));
  const make = (options = {}) => {
    socket = new SteadySocket<Msg, Msg>('ws://example.test/', { WebSocket: FakeWebSocket as never, codec: json<Msg, Msg>(), ...options });
    socket.on('error', () => {});
    return socket;
  };
  beforeEach(() => FakeWebSocket.reset());
  afterEach(async () => {
    if (socket && socket.state !== 'closed') {
      FakeWebSocket.last?.serverClose(1006);
      void socket.close();
    }
    clock?.runAll();
    clock?.uninstall();
    clock = socket = undefined;
  });

  it('Jest-like (queueMicrotask faked): the first attempt starts after one await, with no step of the clock', async () => {
    // Before, it started on queueMicrotask, which Jest's clock holds until the test moves it
    // (jest.advanceTimersByTime(0)); a promise job is not the clock's.
    install(JEST);
    make();
    expect(FakeWebSocket.instances, 'not in the constructor: listeners attached right after new see every event').to.have.length(0);
    await Promise.resolve();
    expect(FakeWebSocket.instances).to.have.length(1);
    expect(clock!.now, 'the clock never moved').to.equal(0);
  });

  it('Vitest-like (queueMicrotask real): the first attempt starts after one await', async () => {
    install(VITEST);
    make();
    await Promise.resolve();
    expect(FakeWebSocket.instances).to.have.length(1);
  });

  it("acks()' timeout fires when Date is faked with the timers, and not when only the timers are", async () => {
    const outcomes: Record<string, string> = {};
    for (const [name, toFake] of [
      ['timers and Date', VITEST],
      ['timers only', TIMERS],
    ] as const) {
      FakeWebSocket.reset();
      install(toFake);
      make({ use: [acks<Msg, Msg>({ id: (m) => m.id, ack: (m) => m.ack, timeout: 1000 })] });
      await Promise.resolve();
      FakeWebSocket.last.serverOpen();
      let outcome = 'pending';
      socket!.deliver({ id: 1 }).then(
        () => (outcome = 'resolved'),
        (error: SteadySocketError) => (outcome = error.code),
      );
      await clock!.tickAsync(1000);
      outcomes[name] = outcome;
      FakeWebSocket.last.serverClose(1006);
      await socket!.close().catch(() => {});
      clock!.uninstall();
      clock = undefined;
    }
    expect(outcomes).to.deep.equal({ 'timers and Date': 'ACK_TIMEOUT', 'timers only': 'pending' });
  });

  describe('persist(fileStore())', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'fake-timers-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('saved() and close() settle by themselves, also with queueMicrotask faked', async () => {
      const settledBy: Record<string, { saved: boolean; closed: boolean }> = {};
      for (const [name, toFake] of [
        ['vitest', VITEST],
        ['jest', JEST],
      ] as const) {
        FakeWebSocket.reset();
        install(toFake);
        const outbox = persist(fileStore(join(dir, `${name}.json`)));
        make({ use: [outbox] });
        let saved = false;
        let closed = false;
        await outbox.restored.then(() => {}); // the first attempt has started by then, also under Jest's setup (no clock step)
        FakeWebSocket.last.serverOpen();
        await turns();
        socket!.send({ id: 1 });
        void outbox.saved().then(() => (saved = true));
        await turnsUntil(() => saved, 500);
        FakeWebSocket.last.serverClose(1006);
        void socket!.close().then(() => (closed = true));
        await turnsUntil(() => closed, 500);
        settledBy[name] = { saved, closed };
        clock!.uninstall();
        clock = undefined;
      }
      // Before, with its saves on queueMicrotask: { saved: false, closed: false } under Jest's setup.
      expect(settledBy).to.deep.equal({ vitest: { saved: true, closed: true }, jest: { saved: true, closed: true } });
    });
  });
});
