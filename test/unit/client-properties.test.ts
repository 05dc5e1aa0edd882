import FakeTimers, { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import fc from 'fast-check';
import { heartbeat, SteadySocket, SteadySocketError, ttl, type State } from '../../src/index';
import { FakeWebSocket } from '../support/fake-websocket';
import { ALLOWED_TRANSITIONS } from '../support/transitions';

const ALLOWED = ALLOWED_TRANSITIONS;

/** An API call made by the test, or from inside a listener. */
type Call = 'send' | 'deliver' | 'reconnect' | 'close' | 'clearOutbox' | 'throw';
type EventName = 'open' | 'message' | 'close' | 'error' | 'state' | 'reconnecting' | 'drop';

type Action =
  | { kind: 'serverOpen' }
  | { kind: 'serverCloseFrame' }
  | { kind: 'hook'; event: EventName; call: Call }
  | { kind: 'serverMessage' }
  | { kind: 'serverClose'; code: number }
  | { kind: 'fail' }
  | { kind: 'send' }
  | { kind: 'deliver' }
  | { kind: 'reconnect' }
  | { kind: 'close' }
  | { kind: 'tick'; ms: number }
  | { kind: 'congest' }
  | { kind: 'drain' };

const action: fc.Arbitrary<Action> = fc.oneof(
  // Weights keep the client alive for most of a run, so long interleavings get explored.
  { weight: 12, arbitrary: fc.constant({ kind: 'serverOpen' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'serverMessage' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('serverClose' as const), code: fc.constantFrom(1000, 1001, 1006, 1011, 1012, 4000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('serverClose' as const), code: fc.constantFrom(1002, 1008) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'fail' as const }) },
  { weight: 16, arbitrary: fc.constant({ kind: 'send' as const }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'deliver' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'reconnect' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 3000 }) }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'congest' as const }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'drain' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'serverCloseFrame' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('hook' as const),
      event: fc.constantFrom<EventName>('open', 'message', 'close', 'error', 'state', 'reconnecting', 'drop'),
      call: fc.constantFrom<Call>('send', 'deliver', 'reconnect', 'close', 'clearOutbox', 'throw'),
    }),
  },
);

describe('SteadySocket invariants (property-based, fake transport and clock)', () => {
  let clock: InstalledClock;

  const global = globalThis as { reportError?: (error: unknown) => void };
  let reported: unknown[];

  beforeEach(() => {
    clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'queueMicrotask'] });
    reported = [];
    global.reportError = (error) => reported.push(error);
  });

  afterEach(() => {
    clock.uninstall();
    delete global.reportError;
  });

  it('for any sequence, API calls from inside any listener and throwing listeners included: one live transport at most, nothing written to a socket that is not OPEN, messages leave in order exactly once, every deliver() settles, only documented transitions, no timer after the final close', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(action, { minLength: 10, maxLength: 150, size: 'max' }),
        fc.boolean(),
        fc.integer({ min: 1, max: 50 }),
        async (actions, withHeartbeat, maxMessages) => {
          FakeWebSocket.reset();
          reported = [];
          const socket = new SteadySocket<string, string>('ws://example.test/', {
            WebSocket: FakeWebSocket as never,
            minDelay: 100,
            maxDelay: 2000,
            connectTimeout: 1500,
            highWaterMark: 1000,
            closeTimeout: 500,
            maxMessages,
            overflow: 'drop-oldest',
            use: withHeartbeat ? [ttl(5000), heartbeat({ interval: 700, timeout: 300 })] : [ttl(5000)],
          });
          const transitions: string[] = [];
          const dropped = new Set<string>();
          const rejected = new Set<string>();
          socket.on('state', (next: State, previous: State) => transitions.push(`${previous}->${next}`));
          socket.on('drop', (d) => dropped.add(d.data));
          socket.on('error', () => {});
          await Promise.resolve(); // the first attempt
          let seq = 0;
          const refused = new Set<string>();
          const pending = new Set<string>();
          let closing: Promise<void> | undefined;
          let thrown = 0;

          const perform = (call: Call) => {
            switch (call) {
              case 'send':
              case 'deliver': {
                const id = String(seq++);
                try {
                  if (call === 'send') socket.send(id);
                  else {
                    pending.add(id);
                    socket.deliver(id).then(
                      () => pending.delete(id),
                      (e: SteadySocketError) => (pending.delete(id), rejected.add(`${id}:${e.code}`)),
                    );
                  }
                } catch (error) {
                  pending.delete(id);
                  expect((error as SteadySocketError).code).to.equal('CLOSED');
                  refused.add(id);
                }
                break;
              }
              case 'reconnect':
                try {
                  socket.reconnect();
                } catch (error) {
                  expect((error as SteadySocketError).code).to.equal('CLOSED');
                }
                break;
              case 'close':
                closing = socket.close();
                break;
              case 'clearOutbox':
                socket.clearOutbox();
                break;
              case 'throw':
                thrown++;
                throw new Error('a listener bug');
            }
          };

          for (const a of actions) {
            const ws = FakeWebSocket.instances.length ? FakeWebSocket.last : undefined;
            switch (a.kind) {
              case 'serverCloseFrame':
                ws?.serverCloseFrame();
                break;
              case 'hook':
                socket.once(a.event, () => perform(a.call));
                break;
              case 'serverOpen':
                ws?.serverOpen();
                break;
              case 'serverMessage':
                ws?.serverMessage('m');
                break;
              case 'serverClose':
                ws?.serverClose(a.code);
                break;
              case 'fail':
                ws?.fail();
                break;
              case 'send':
              case 'deliver':
              case 'reconnect':
              case 'close':
                perform(a.kind);
                break;
              case 'tick':
                clock.tick(a.ms);
                break;
              case 'congest':
                if (ws) ws.bufferedAmount = 10_000;
                break;
              case 'drain':
                if (ws) ws.bufferedAmount = 0;
                break;
            }
            await Promise.resolve(); // the action's promise jobs (the heartbeat's release, ttl()'s look)
            clock.runMicrotasks(); // and its reports of throwing listeners
            const live = FakeWebSocket.instances.filter((w) => w.live);
            expect(live.length, 'live transports').to.be.at.most(1);
          }

          // Finish: close for good and let the closing handshake complete.
          const done = closing ?? socket.close();
          clock.tick(1000);
          await done;
          await Promise.resolve();
          expect([...pending], 'deliver() promises still pending').to.deep.equal([]);
          expect(socket.queued, 'messages left in a closed client').to.deep.equal([]);
          // Every listener exception was reported, none swallowed (a hook whose event never came did not throw).
          expect(reported.length, `reported listener exceptions: ${reported.map(String).join('; ')}`).to.equal(thrown);
          expect(socket.state).to.equal('closed');
          expect(clock.countTimers(), 'timers after close').to.equal(0);
          expect(FakeWebSocket.instances.filter((w) => w.live)).to.have.length(0);

          for (const t of transitions) expect(ALLOWED.has(t), t).to.equal(true);
          expect(transitions[transitions.length - 1]).to.match(/->closed$/);

          // Every message was sent exactly once, in order, or dropped/refused with a reason — never both.
          const sent = FakeWebSocket.instances.flatMap((w) => w.sent as string[]);
          const lost = FakeWebSocket.instances.flatMap((w) => w.lost as string[]);
          expect(lost, 'sent on a socket that was not open').to.deep.equal([]);
          expect(new Set(sent).size).to.equal(sent.length);
          for (let i = 1; i < sent.length; i++) expect(Number(sent[i])).to.be.greaterThan(Number(sent[i - 1]));
          for (let i = 0; i < seq; i++) {
            const id = String(i);
            const outcomes = [sent.includes(id), dropped.has(id), refused.has(id)].filter(Boolean).length;
            expect(outcomes, `message ${id}`).to.equal(1);
          }
          await Promise.resolve();
          for (const r of rejected) expect(dropped.has(r.split(':')[0])).to.equal(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
