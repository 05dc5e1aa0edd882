// Round 2 of the adversarial review of acks(), persist(), ttl(), the file and IndexedDB stores and
// the outbox (fake transport and clock; one real ws server restarted with SIGKILL). Each test in
// a 'regressions' block failed before its fix; the 'holds up' blocks are probes that passed. The IndexedDB store runs over a test double (FakeIndexedDB below:
// fake-indexeddb is not installed), faithful in the parts the store relies on.
import type { Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import fc from 'fast-check';
import { acks, json, persist, requests, SteadySocket, ttl, type SteadySocketError, type SteadySocketOptions, type StoredMessage } from '../../src/index';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileStore } from '../../src/storage/file';
import { indexedDbStore } from '../../src/storage/indexeddb';
import { encodeOutboxFile } from '../../src/storage/file-format';
import { useFakeClock } from '../support/fake-clock';
import { FakeIndexedDB, FakeLocks, listing, slotContents } from '../support/fake-indexeddb';
import { FakeWebSocket } from '../support/fake-websocket';
import { startRestartableServer, type RestartableServer } from '../support/restartable-server';
import { sleep, until } from '../support/servers';

type Msg = { id?: number; n?: number; ack?: number; re?: number; request?: unknown; result?: unknown };
const outcome = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: SteadySocketError) => error.code);
type OutboxView = { held: number; heldBytes: number; size: number; bytes: number; entries(): Iterable<{ size: number; value: Msg }> };
const outboxOf = (socket: SteadySocket<Msg, Msg>) => (socket as unknown as { _outbox?: OutboxView })._outbox;
const heldOf = (socket: SteadySocket<Msg, Msg>) =>
  (socket as unknown as { _hooks: { held?(): { size: number; value: Msg }[] }[] })._hooks.flatMap((hooks) => (hooks.held ? hooks.held() : []));

describe('delivery: adversarial review, round 2 (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));

  describe('regressions', () => {
    it('ttl(): a message send() wrote at once expires like one from deliver() once it went back to the outbox', async () => {
      const socket = new SteadySocket<Msg, Msg>('ws://example.test/', { WebSocket: FakeWebSocket as never, codec: json<Msg, Msg>(), minDelay: 10, maxDelay: 10, jitter: 0, use: [acks<Msg, Msg>({ id: (m) => m.id, ack: (m) => m.ack }), ttl(1000)] });
      socket.on('error', () => {});
      const drops: string[] = [];
      socket.on('drop', (d) => drops.push(`${d.data.id}:${d.reason}`));
      await Promise.resolve(); // the first attempt
      FakeWebSocket.last.serverOpen();
      socket.send({ id: 1 }); // written at once, held until acknowledged
      void socket.deliver({ id: 2 }).catch(() => {}); // written at once too, held until acknowledged
      expect(FakeWebSocket.last.sent, 'both written').to.have.length(2);
      FakeWebSocket.last.serverClose(1006); // both go back to the outbox
      for (let i = 0; i < 60; i++) {
        clock.tick(1000); // the server stays down for a minute
        if (socket.state === 'connecting') FakeWebSocket.last.fail();
      }
      clock.tick(10);
      FakeWebSocket.last.serverOpen();
      const late = FakeWebSocket.last.sent.map((frame) => (JSON.parse(frame as string) as Msg).id);
      void socket.close();
      clock.tick(100);
      // The guide: ttl() "bounds how long a message may wait"; with acks() a message back in the outbox keeps its expiry.
      expect(late, 'written a minute after a ttl of 1 s').to.deep.equal([]);
      expect(drops, 'expired while the server was down').to.deep.equal(['1:expired', '2:expired']);
    });
  });

  describe('holds up', () => {
    for (const how of ['reconnect', 'close'] as const) {
      it(`${how}() from a listener of the save that fails after the flush of restored messages (with sync, once per turn): they stay in order, nothing is written twice on one connection, the store follows`, async () => {
        let stored: StoredMessage[] = [1, 2, 3, 4, 5].map((n) => ({ data: JSON.stringify({ id: n, n }) }));
        let saves = 0;
        const store = {
          load: async () => stored.slice(),
          save: async (messages: readonly StoredMessage[]) => void (stored = messages.slice()),
          clear: async () => void (stored = []),
          loadSync: () => stored.slice(),
          saveSync: (messages: readonly StoredMessage[]) => {
            // The save after the flush of the restored messages (one for the turn: the messages
            // written are kept by acks(), so nothing stored changed on the way; one per message before).
            if (++saves === 1) throw new Error('disk full');
            stored = messages.slice();
          },
        };
        const socket = new SteadySocket<Msg, Msg>('ws://example.test/', {
          WebSocket: FakeWebSocket as never,
          codec: json<Msg, Msg>(),
          minDelay: 10,
          maxDelay: 10,
          jitter: 0,
          use: [acks<Msg, Msg>({ id: (m) => m.id, ack: (m) => m.ack }), persist(store, { sync: true })],
        });
        const errors: string[] = [];
        const drops: string[] = [];
        socket.on('error', (e) => {
          errors.push(e.code);
          if (e.code === 'STORAGE_FAILED') void (how === 'reconnect' ? socket.reconnect() : socket.close());
        });
        socket.on('drop', (d) => drops.push(`${d.data.n}:${d.reason}`));
        await Promise.resolve(); // the first attempt
        expect(socket.queued.map((m) => m.n)).to.deep.equal([1, 2, 3, 4, 5]);
        FakeWebSocket.last.serverOpen();
        await clock.tickAsync(0);
        const first = FakeWebSocket.last.sent.map((f) => (JSON.parse(f as string) as Msg).n);
        expect(errors).to.deep.equal(['STORAGE_FAILED']);
        await clock.tickAsync(10);
        if (how === 'reconnect') {
          expect(first, 'written before the listener reconnected').to.deep.equal([1, 2, 3, 4, 5]);
          FakeWebSocket.last.serverOpen();
          await clock.tickAsync(0);
          expect(FakeWebSocket.last.sent.map((f) => (JSON.parse(f as string) as Msg).n), 'all again, in order').to.deep.equal([1, 2, 3, 4, 5]);
          for (const n of [1, 2, 3, 4, 5]) FakeWebSocket.last.serverMessage(JSON.stringify({ ack: n }));
          await clock.tickAsync(0); // the removals are saved on a promise job
          expect(stored, 'acknowledged: the store is empty').to.deep.equal([]);
          expect(drops).to.deep.equal([]);
          void socket.close();
          await clock.tickAsync(10);
        } else {
          expect(socket.state).to.equal('closed');
          expect(drops.sort(), 'each once').to.deep.equal(['1:closed', '2:closed', '3:closed', '4:closed', '5:closed']);
          expect(stored, 'closed: the store follows').to.deep.equal([]);
        }
        const outbox = outboxOf(socket)!;
        expect([outbox.held, outbox.heldBytes, outbox.size, outbox.bytes]).to.deep.equal([0, 0, 0, 0]);
        expect(clock.countTimers()).to.equal(0);
      });
    }
  });

  describe('holds up: dedupe', () => {
    it('hides exactly the ids among the last `window` first-seen ids (1 and "1" apart), across reconnects; an id function that throws delivers', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 5 }),
          fc.array(fc.oneof(fc.constantFrom<unknown>(1, '1', 2, '2', 3, 0, -0, 'x'), fc.constant('throw'), fc.constant('reconnect'), fc.constant('none')), { minLength: 1, maxLength: 60, size: 'max' }),
          async (window, script) => {
            FakeWebSocket.reset();
            type In = { key?: unknown; boom?: true };
            const socket = new SteadySocket<In, In>('ws://example.test/', {
              WebSocket: FakeWebSocket as never,
              codec: json<In, In>(),
              minDelay: 10,
              maxDelay: 10,
              jitter: 0,
              use: [
                acks<In, In>({
                  id: () => undefined,
                  ack: () => undefined,
                  dedupe: {
                    id: (m) => {
                      if (m.boom) throw new Error('bad id');
                      return m.key as number | string | undefined;
                    },
                    window,
                  },
                }),
              ],
            });
            socket.on('error', () => {});
            const seenByApp: unknown[] = [];
            socket.on('message', (m) => seenByApp.push(m.boom ? 'throw' : 'key' in m ? m.key : 'none'));
            await Promise.resolve(); // the first attempt
            FakeWebSocket.last.serverOpen();
            const remembered: unknown[] = [];
            const expected: unknown[] = [];
            try {
              for (const step of script) {
                if (step === 'reconnect') {
                  FakeWebSocket.last.serverClose(1006);
                  clock.tick(10);
                  FakeWebSocket.last.serverOpen();
                  continue;
                }
                if (step === 'throw') {
                  FakeWebSocket.last.serverMessage(JSON.stringify({ boom: true }));
                  expected.push('throw');
                  continue;
                }
                if (step === 'none') {
                  FakeWebSocket.last.serverMessage('{}');
                  expected.push('none');
                  continue;
                }
                FakeWebSocket.last.serverMessage(JSON.stringify({ key: step }));
                const key = JSON.parse(JSON.stringify(step)); // -0 arrives as 0
                if (remembered.some((k) => Object.is(k, key) || (k === 0 && key === 0))) continue;
                remembered.push(key);
                if (remembered.length > window) remembered.shift();
                expected.push(key);
              }
              expect(seenByApp).to.deep.equal(expected);
            } finally {
              void socket.close();
              clock.runAll();
            }
          },
        ),
        { numRuns: 300 },
      );
    });
  });

  describe('holds up: random interleavings', () => {
    type Step =
      | { op: 'deliver'; reuse: boolean; pick: number; abortable: boolean }
      | { op: 'send'; reuse: boolean; pick: number }
      | { op: 'request' }
      | { op: 'ack'; pick: number }
      | { op: 'reply'; pick: number }
      | { op: 'abort'; pick: number }
      | { op: 'drop' }
      | { op: 'open' }
      | { op: 'reconnect' }
      | { op: 'clear' }
      | { op: 'tick'; ms: number };
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant('deliver' as const), reuse: fc.boolean(), pick: fc.nat(), abortable: fc.boolean() }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('send' as const), reuse: fc.boolean(), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.constant({ op: 'request' as const }) },
      { weight: 5, arbitrary: fc.record({ op: fc.constant('ack' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('reply' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('abort' as const), pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.constant({ op: 'drop' as const }) },
      { weight: 3, arbitrary: fc.constant({ op: 'open' as const }) },
      { weight: 1, arbitrary: fc.constant({ op: 'reconnect' as const }) },
      { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 600 }) }) },
    );

    it('random interleavings: every deliver() settles once, accounting exact, nothing re-sent after its ack, first sends in order', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({ ttl: fc.boolean(), persist: fc.boolean(), maxMessages: fc.constantFrom(3, 8, 1000), overflow: fc.constantFrom('drop-oldest' as const, 'drop-newest' as const) }),
          fc.array(stepArb, { minLength: 20, maxLength: 80, size: 'max' }),
          async (config, steps) => {
            FakeWebSocket.reset();
            let stored: StoredMessage[] = [];
            const store = {
              load: async () => stored.slice(),
              save: async (messages: readonly StoredMessage[]) => void (stored = messages.slice()),
              clear: async () => void (stored = []),
            };
            const rpc = requests({ timeout: 700 });
            const use = [acks<Msg, Msg>({ id: (m) => m.id, ack: (m) => m.ack, timeout: 500 }), rpc];
            if (config.ttl) use.push(ttl(400) as never);
            const saved = persist(store);
            if (config.persist) use.push(saved as never);
            const socket = new SteadySocket<Msg, Msg>('ws://example.test/', {
              WebSocket: FakeWebSocket as never,
              codec: json<Msg, Msg>(),
              minDelay: 10,
              maxDelay: 10,
              jitter: 0,
              maxMessages: config.maxMessages,
              overflow: config.overflow,
              use: use as SteadySocketOptions<Msg, Msg>['use'],
            });
            socket.on('error', () => {});
            const settled = new Map<number, string[]>();
            const drops = new Map<number, string[]>();
            socket.on('drop', (d) => {
              if (d.data.n !== undefined) drops.set(d.data.n, [...(drops.get(d.data.n) ?? []), d.reason]);
            });
            const controllers = new Map<number, AbortController>();
            const ids: number[] = [];
            let n = 0;
            let nextId = 1;
            const received: number[] = [];
            const afterResolved: number[] = [];
            const resolvedAt = new Map<number, number>();
            const take = () => {
              for (const ws of FakeWebSocket.instances) {
                for (const frame of ws.sent.splice(0)) {
                  const m = JSON.parse(frame as string) as Msg;
                  if (m.n === undefined) continue;
                  received.push(m.n);
                  if (resolvedAt.has(m.n)) afterResolved.push(m.n);
                }
              }
            };
            const check = (label: string) => {
              const outbox = outboxOf(socket);
              if (!outbox) return;
              const held = heldOf(socket);
              const queued = [...outbox.entries()];
              expect(outbox.held, `${label}: held`).to.equal(held.length);
              expect(outbox.heldBytes, `${label}: heldBytes`).to.equal(held.reduce((s, e) => s + e.size, 0));
              expect(outbox.size, `${label}: size`).to.equal(queued.length);
              expect(outbox.bytes, `${label}: bytes`).to.equal(queued.reduce((s, e) => s + e.size, 0));
              expect(outbox.held + outbox.size, `${label}: within maxMessages`).to.be.at.most(config.maxMessages);
            };
            await Promise.resolve(); // the first attempt
            await clock.tickAsync(0);
            FakeWebSocket.last.serverOpen();
            await clock.tickAsync(0);
            try {
              for (const [index, step] of steps.entries()) {
                const label = `step ${index} ${step.op}`;
                if (step.op === 'deliver' || step.op === 'send') {
                  const id = step.reuse && ids.length ? ids[step.pick % ids.length] : nextId++;
                  ids.push(id);
                  const k = ++n;
                  if (step.op === 'send') {
                    try {
                      socket.send({ id, n: k });
                    } catch {
                      // overflow
                    }
                    continue;
                  }
                  const controller = step.abortable ? new AbortController() : undefined;
                  if (controller) controllers.set(k, controller);
                  socket.deliver({ id, n: k }, { signal: controller?.signal }).then(
                    () => {
                      settled.set(k, [...(settled.get(k) ?? []), 'resolved']);
                      resolvedAt.set(k, received.length);
                    },
                    (e: SteadySocketError) => settled.set(k, [...(settled.get(k) ?? []), e.code]),
                  );
                  settled.set(k, settled.get(k) ?? []);
                } else if (step.op === 'request') {
                  void rpc.request({ n: -1 }).catch(() => undefined);
                } else if (step.op === 'ack' && socket.state === 'open') {
                  take();
                  if (ids.length) FakeWebSocket.last.serverMessage(JSON.stringify({ ack: ids[step.pick % ids.length] }));
                } else if (step.op === 'reply' && socket.state === 'open') {
                  FakeWebSocket.last.serverMessage(JSON.stringify({ re: (step.pick % 5) + 1, result: 1 }));
                } else if (step.op === 'abort' && controllers.size) {
                  const keys = [...controllers.keys()];
                  controllers.get(keys[step.pick % keys.length])!.abort();
                } else if (step.op === 'drop' && socket.state === 'open') {
                  take();
                  FakeWebSocket.last.serverClose(1006);
                } else if (step.op === 'open') {
                  for (let i = 0; i < 10 && socket.state === 'waiting'; i++) clock.next();
                  if (socket.state === 'connecting') FakeWebSocket.last.serverOpen();
                  await clock.tickAsync(0);
                } else if (step.op === 'reconnect' && socket.state !== 'closed') {
                  take();
                  socket.reconnect();
                } else if (step.op === 'clear') socket.clearOutbox();
                else if (step.op === 'tick') {
                  take();
                  await clock.tickAsync(step.ms);
                }
                await clock.tickAsync(0);
                check(label);
              }
              take();
              void socket.close();
              await clock.tickAsync(100);
              await new Promise((resolve) => setImmediate(resolve));
              take();
              for (const [k, outcomes] of settled) expect(outcomes, `deliver #${k} settles exactly once`).to.have.length(1);
              for (const [k, reasons] of drops) expect(reasons, `message #${k}: one drop event`).to.have.length(1);
              for (const [k, outcomes] of settled) {
                if (outcomes[0] === 'resolved') expect(drops.has(k), `#${k} resolved and dropped`).to.equal(false);
                else if (outcomes[0] !== 'QUEUE_OVERFLOW' || config.overflow === 'drop-oldest') expect(drops.get(k)?.length ?? 0, `#${k} rejected ${outcomes[0]} without a drop`).to.equal(1);
              }
              expect(afterResolved, 're-sent after its deliver() resolved').to.deep.equal([]);
              const first = received.filter((k, i) => received.indexOf(k) === i);
              expect(first, 'first sends in order').to.deep.equal([...first].sort((a, b) => a - b));
            } finally {
              if (socket.state !== 'closed') void socket.close();
              clock.runAll();
            }
          },
        ),
        { numRuns: 500 },
      );
    });
  });
});


describe('storage: adversarial review, round 2', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'review2-'));
    file = join(dir, 'outbox.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('regressions', () => {
    it('fileStore clear() also removes the temporary file of an async save a crash cut short, with its messages', async () => {
      // A process killed during an async save leaves <path>.tmp; one killed during saveSync leaves <path>.sync.tmp.
      writeFileSync(`${file}.tmp`, encodeOutboxFile([{ data: 'card 4111 1111 1111 1111' }]).subarray(0, 40));
      writeFileSync(`${file}.sync.tmp`, encodeOutboxFile([{ data: 'card 4111 1111 1111 1111' }]).subarray(0, 40));
      writeFileSync(file, encodeOutboxFile([{ data: 'older' }]));
      const store = fileStore(file, { fsync: false });
      await store.clear(); // the next run, before any save
      // "Deletes the storage": nothing of the outbox is left in its directory, but the claim on it.
      expect(readdirSync(dir)).to.deep.equal(['outbox.json.lock']);
      store.release();
      expect(readdirSync(dir)).to.deep.equal([]);
    });

    it('fileStore saveSync() throws STORAGE_FAILED, not a raw SystemError, when its leftover temporary path cannot be removed', () => {
      // What a crash can leave and rm cannot remove: here a directory (as root, an EACCES cannot be staged).
      mkdirSync(`${file}.sync.tmp`);
      let thrown: unknown;
      try {
        fileStore(file, { fsync: false }).saveSync([{ data: 'x' }]);
      } catch (error) {
        thrown = error;
      }
      // The FileStore contract: "Throws `INVALID_MESSAGE` or `STORAGE_FAILED`."
      expect((thrown as SteadySocketError)?.code, String(thrown)).to.equal('STORAGE_FAILED');
    });
  });
});

describe('storage: indexedDbStore over an IndexedDB double, round 2', () => {
  const settle = <T>(promise: Promise<T>) => promise.then((value) => ({ value }), (error: SteadySocketError) => ({ code: error.code, message: error.message }));

  describe('regressions', () => {
    it('keeps the contents of a save() called right after clear() (calls take effect in call order)', async () => {
      const factory = new FakeIndexedDB();
      const store = indexedDbStore('outbox', { indexedDB: factory as unknown as IDBFactory });
      expect(await store.load()).to.deep.equal([]); // persist() loads first: the store has a connection
      const cleared = settle(store.clear());
      const saved = settle(store.save([{ data: 'after the clear' }]));
      expect(await cleared).to.deep.equal({ value: undefined });
      expect(await saved, 'save() resolved: "once the new contents are durable"').to.deep.equal({ value: undefined });
      expect(await store.load(), 'what the last call saved').to.deep.equal([{ data: 'after the clear' }]);
    });

    it('persist(): a message another tab saved (saved() resolved) survives this tab saving its own outbox', async () => {
      // The guide's example, open in two tabs: persist(indexedDbStore('chat-outbox')) in each.
      const factory = new FakeIndexedDB() as unknown as IDBFactory;
      const locks = new FakeLocks();
      FakeWebSocket.reset();
      const make = () => {
        const tab = locks.tab();
        const outbox = persist(indexedDbStore('chat-outbox', { indexedDB: factory, locks: tab }));
        const socket = new SteadySocket<Msg, Msg>('ws://example.test/', { WebSocket: FakeWebSocket as never, codec: json<Msg, Msg>(), use: [outbox] });
        socket.on('error', () => {});
        return { socket, outbox, tab };
      };
      const tabB = make();
      await tabB.outbox.restored;
      await new Promise((resolve) => setImmediate(resolve));
      const socketB = FakeWebSocket.last;
      socketB.serverOpen();
      await new Promise((resolve) => setImmediate(resolve));
      expect(tabB.socket.state).to.equal('open');
      const tabA = make(); // its server is unreachable: it stays connecting
      await tabA.outbox.restored;
      tabA.socket.send({ id: 1, n: 1 });
      await tabA.outbox.saved();
      // Tab B holds the name itself; tab A has the second slot.
      expect(slotContents(factory, 'chat-outbox#2').map((m) => m.data), 'tab A: durable').to.deep.equal(['{"id":1,"n":1}']);
      try {
        socketB.serverClose(1006); // tab B's connection drops: it saves its own (empty) outbox
        await tabB.outbox.saved();
        // Tab A is closed now (or crashes): the next start (tab B still open) finds...
        tabA.tab.close();
        const left = await indexedDbStore('chat-outbox', { indexedDB: listing(factory as unknown as FakeIndexedDB), locks: locks.tab() }).load();
        expect(left.map((m) => m.data), "tab A's message, which saved() said would survive a reload").to.deep.equal(['{"id":1,"n":1}']);
      } finally {
        await Promise.all([tabA.socket.close(), tabB.socket.close()]);
      }
    });

    it('two clients of one page on one outbox name: the second throws INVALID_OPTION (they would share the page\'s slot)', async () => {
      // Before: both saved into the page's one slot, the last save wiping the other's messages.
      const factory = listing(new FakeIndexedDB());
      const page = new FakeLocks().tab();
      const make = (name: string) => new SteadySocket<Msg, Msg>('ws://example.test/', { WebSocket: FakeWebSocket as never, codec: json<Msg, Msg>(), use: [persist(indexedDbStore(name, { indexedDB: factory, locks: page }))] });
      const first = make('chat-outbox');
      first.on('error', () => {});
      try {
        expect(() => make('chat-outbox')).to.throw().with.property('code', 'INVALID_OPTION');
        const second = make('another-outbox');
        second.on('error', () => {});
        await second.close();
      } finally {
        await first.close();
      }
      const third = make('chat-outbox'); // once the first has closed
      third.on('error', () => {});
      await third.close();
    });

    it('tabs: each live store has a slot of its own; a closed tab\'s messages go to the next store that takes its slot, or are adopted', async () => {
      const fake = new FakeIndexedDB();
      const factory = listing(fake);
      const locks = new FakeLocks();
      const [tabA, tabB] = [locks.tab(), locks.tab()];
      const storeA = indexedDbStore('outbox', { indexedDB: factory, locks: tabA });
      const storeB = indexedDbStore('outbox', { indexedDB: factory, locks: tabB });
      expect(await storeA.load()).to.deep.equal([]);
      expect(await storeB.load()).to.deep.equal([]);
      await storeA.save([{ data: 'a1' }]);
      await storeB.save([{ data: 'b1' }]);
      expect([...fake.databases.keys()].sort(), 'two databases: the name, and its second slot').to.deep.equal(['outbox', 'outbox#2']);
      // B's save did not touch A's messages.
      expect(await indexedDbStore('outbox', { indexedDB: factory, locks: locks.tab() }).load(), 'a third tab meanwhile: slot 3, nothing to adopt from live tabs').to.deep.equal([]);
      tabB.close(); // tab B is closed: its slot is free
      const storeC = indexedDbStore('outbox', { indexedDB: factory, locks: locks.tab() });
      expect(await storeC.load(), 'the next tab takes the free slot 2 and finds B\'s messages').to.deep.equal([{ data: 'b1' }]);
      // All tabs closed; one new tab takes slot 1 and adopts what the others left.
      locks.closeAll();
      await indexedDbStore('outbox', { indexedDB: factory, locks: locks.tab() }).save([]); // a tab that cleared slot 3 meanwhile
      locks.closeAll();
      const storeD = indexedDbStore('outbox', { indexedDB: factory, locks: locks.tab() });
      const loaded = (await storeD.load()).map((m) => m.data);
      expect(loaded, 'its own slot first, then the adopted ones').to.deep.equal(['a1', 'b1']);
      expect([...fake.databases.keys()].filter((n) => n !== 'outbox#3'), 'the adopted slot is deleted').to.deep.equal(['outbox']);
      expect(slotContents(fake, 'outbox#2'), 'nothing left in slot 2').to.deep.equal([]);
    });
  });

  describe('holds up', () => {
    it('a save aborted mid-transaction (quota) rejects STORAGE_FAILED naming the error and keeps the old contents', async () => {
      const factory = new FakeIndexedDB();
      const store = indexedDbStore('outbox', { indexedDB: factory as unknown as IDBFactory });
      await store.save([{ data: 'old', id: 1 }]);
      factory.abortNext = 'QuotaExceededError';
      const result = await settle(store.save([{ data: 'new' }, { data: new Uint8Array([1, 2]) }]));
      expect(result).to.include({ code: 'STORAGE_FAILED' });
      expect((result as { message: string }).message).to.include('QuotaExceededError');
      expect(await store.load()).to.deep.equal([{ data: 'old', id: 1 }]);
    });

    it("another tab's clear() (versionchange) closes this tab's connection without blocking it; this tab's next save reopens and lands", async () => {
      const factory = new FakeIndexedDB();
      const blocked: string[] = [];
      const tab1 = indexedDbStore('outbox', { indexedDB: factory as unknown as IDBFactory });
      const tab2 = indexedDbStore('outbox', { indexedDB: factory as unknown as IDBFactory });
      await tab1.save([{ data: 'x' }]);
      await tab2.load();
      const original = factory.deleteDatabase.bind(factory);
      factory.deleteDatabase = (name: string) => {
        const request = original(name);
        request.onblocked = () => blocked.push(name);
        return request;
      };
      await tab2.clear();
      expect(blocked, 'the other connection let go at once').to.deep.equal([]);
      await tab1.save([{ data: 'y' }]);
      expect(await tab2.load()).to.deep.equal([{ data: 'y' }]);
    });

    it('records another writer left (wrong keys, wrong shapes) load as STORAGE_CORRUPT and are cleared; a newer database version is STORAGE_FAILED and left alone', async () => {
      const factory = new FakeIndexedDB();
      factory.databases.set('odd', { version: 1, stores: new Map([['outbox', new Map<number, unknown>([[0, { data: 'a' }], [1.5, { data: 'b' }]])]]) });
      factory.databases.set('shape', { version: 1, stores: new Map([['outbox', new Map<number, unknown>([[0, { text: 'v2 record' }]])]]) });
      factory.databases.set('newer', { version: 2, stores: new Map([['outbox', new Map<number, unknown>([[0, { data: 'keep' }]])]]) });
      for (const name of ['odd', 'shape']) {
        const store = indexedDbStore(name, { indexedDB: factory as unknown as IDBFactory });
        expect(await settle(store.load()), name).to.include({ code: 'STORAGE_CORRUPT' });
        expect(await store.load(), `${name}: reset`).to.deep.equal([]);
      }
      const newer = indexedDbStore('newer', { indexedDB: factory as unknown as IDBFactory });
      expect(await settle(newer.load())).to.include({ code: 'STORAGE_FAILED' });
      expect(await settle(newer.save([{ data: 'z' }]))).to.include({ code: 'STORAGE_FAILED' });
      expect([...factory.databases.get('newer')!.stores.get('outbox')!.values()]).to.deep.equal([{ data: 'keep' }]);
    });
  });
});

describe('persist() + ttl() + acks() + requests() on a real ws server on 127.0.0.1, restarted with SIGKILL', function () {
  this.timeout(60_000);
  let server: RestartableServer | undefined;
  let dir: string;
  const clients: SteadySocket<Msg, Msg>[] = [];
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'review2-ws-'))));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds up: nothing lost or reordered through 3 kills and a process restart from a copy of the store; every request and deliver() settles; nothing left', async () => {
    server = await startRestartableServer({ ackDelay: 20 });
    const url = `${server.url}?token=${encodeURIComponent(server.token)}`;
    type Data = { id?: number; data?: unknown; ack?: number; re?: number; request?: unknown; result?: unknown };
    const make = (file: string) => {
      const rpc = requests<Data, Data>({ timeout: 20_000, resend: true });
      const outbox = persist(fileStore(file), { sync: true });
      const client = new SteadySocket<Data, Data>(url, {
        codec: json<Data, Data>(),
        minDelay: 20,
        maxDelay: 200,
        use: [acks<Data, Data>({ id: (m) => m.id, ack: (m) => m.ack, timeout: 30_000 }), rpc, ttl(30_000), outbox],
      });
      client.on('error', () => {});
      clients.push(client as never);
      return { client, rpc, outbox };
    };
    // Run 1: queues 20 while the server is down, then "crashes" (its store file is copied as it is).
    await server.kill();
    const run1 = make(join(dir, 'run1.json'));
    for (let id = 1; id <= 20; id++) run1.client.send({ id, data: id });
    copyFileSync(join(dir, 'run1.json'), join(dir, 'run2.json'));
    await run1.client.close();
    await server.start();
    // Run 2: restores them, sends more through 3 kills.
    const run2 = make(join(dir, 'run2.json'));
    const deliveries: Promise<string>[] = [];
    const replies: Promise<string>[] = [];
    let next = 21;
    const sender = setInterval(() => {
      if (next > 220) return;
      const id = next++;
      deliveries.push(outcome(run2.client.deliver({ id, data: id })));
      if (id % 4 === 0) replies.push(outcome(run2.rpc.request({ n: id })));
    }, 5);
    try {
      for (let kill = 0; kill < 3; kill++) {
        await sleep(150);
        await server.restart();
      }
      await until(() => next > 220, 20_000, 'all sends');
    } finally {
      clearInterval(sender);
    }
    const settled = await Promise.race([Promise.all([...deliveries, ...replies]), sleep(30_000).then(() => ['not settled'])]);
    expect(new Set(settled)).to.deep.equal(new Set(['resolved']));
    await run2.client.flushed();
    await run2.outbox.saved();
    expect(fileStore(join(dir, 'run2.json')).loadSync(), 'everything acknowledged: the store is empty').to.deep.equal([]);
    const log = server.readLog();
    const sent = Array.from({ length: 220 }, (_, i) => i + 1);
    expect(log.lostFrom(sent), 'lost').to.deep.equal([]);
    expect(log.ids, 'first receipts in order').to.deep.equal(sent);
    expect(run2.rpc.pending).to.equal(0);
  });
});



