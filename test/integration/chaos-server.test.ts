// The client's promises over a real socket, real TCP and real ws framing, with real timers,
// against a server whose every connection misbehaves as fast-check chooses
// (test/support/chaos-server.ts): graceful closes mid-stream with 1000/1001/1011/1012/4000, a
// close frame followed by a TCP connection held open for ever, TCP terminated, acknowledgements
// withheld or late, handshakes rejected (503 with Retry-After: 0, 500), dropped or never
// answered, accepts delayed past connectTimeout. Meanwhile the client (acks() in most runs, an
// optional ready() step that waits for the server's hello) sends numbered messages with send()
// and deliver() at generated moments, calls reconnect()/clearOutbox() mid-stream, aborts a
// deliver()'s signal, and its listeners throw or call send()/deliver()/reconnect()/close()/
// clearOutbox() from inside events. A run ends with flushed() then close(), or close() at once.
//
// What each run checks (docs/guide.md):
//   1. nothing asked to be sent is silently lost: with acks(), every accepted id reached the
//      server or was reported (a `drop` event, at most one per id; for deliver() also its
//      rejection, with the same code, and it resolves only for an id the server got); when the
//      app neither withdrew nor closed early, nothing is dropped, flushed() resolves and every id
//      arrives, since the server ends up behaving (section 16, at least once). Without acks(),
//      nothing arrives twice (section 16, at most once);
//   2. the ids the server sees for the first time come in the order they were sent (section 5:
//      "in order"; section 16: unacknowledged messages go back to the front, oldest first, and
//      are sent again before anything newer) — repeats are allowed, nothing else;
//   3. only documented state transitions, each following the last, ending in `closed`; every
//      listener of an event runs; at most one socket connecting or open at a time, and the newest
//      is the OPEN one when the state says open; a listener's exception reaches uncaughtException
//      once per throw (Node has no reportError) and nothing else does; no unhandled rejection;
//      every deliver() and every close() settles;
//   4. nothing left behind: when close() resolves, the client's TCP sockets are destroyed and
//      none of its timers is armed (ws's own closing-handshake timer aside); no socket is created
//      after it; all its sockets reach CLOSED and their handles go away, bounded.
//
// CHAOS_SEED, CHAOS_RUNS and CHAOS_TIME_LIMIT (ms) widen the search, e.g.
//   CHAOS_RUNS=800 CHAOS_TIME_LIMIT=600000 node scripts/test.mjs test/integration/chaos-server.test.ts
// and CHAOS_VERBOSE=1 prints one line per run (what was sent, arrived, dropped; which scripted
// behaviours were met, `!` marking those whose misbehaviour fired). CHAOS_REPLAY='<counterexample
// as printed>' runs that one scenario.
import { expect } from 'chai';
import fc from 'fast-check';
import WebSocket from 'ws';
import { acks, json, ready, SteadySocket, SteadySocketError, type Feature, type State, type SteadySocketOptions } from '../../src/index';
import { isArmed, startChaosServer, type AckMode, type ChaosServer, type ConnectionScript, type Trigger } from '../support/chaos-server';
import { count, escaped, HookError, InFlightRun, leftTimers, replayScenario, quiesce, sleep, tcpSockets, timerIds, trapProcessErrors, within } from '../support/chaos-run';
import { ALLOWED_TRANSITIONS } from '../support/transitions';

const SEED = Number(process.env.CHAOS_SEED ?? 20261130);
const RUNS = Number(process.env.CHAOS_RUNS ?? 40);
/** fast-check stops (without failing) after this many ms; a failure found before is still shrunk and reported. */
const TIME_LIMIT = Number(process.env.CHAOS_TIME_LIMIT ?? 40_000);
const REPLAY = replayScenario<Scenario>();

// Every wait of a run is bounded by one of these.
/** The server behaves once its script is over: flushed() must resolve within this much per scripted connection and then some. */
function flushBound({ script, config }: Scenario): number {
  return 2000 + script.length * (config.connectTimeout + config.closeTimeout + config.maxDelay + 800);
}
const CLOSE_BOUND_MS = 3000;
const SOCKETS_GONE_BOUND_MS = 1000;

/** `id` absent: the ready step's hello, which needs no acknowledgement. */
type Outbound = { id?: number; data: string };
type Inbound = { ack: number } | { hello: number };

type EventName = 'state' | 'open' | 'message' | 'close' | 'reconnecting' | 'drop' | 'error';
type Call = 'throw' | 'send' | 'deliver' | 'reconnect' | 'close' | 'clear-outbox';

/** A listener that acts on occurrences `from` .. `from + times - 1` of `event`. */
interface Hook {
  event: EventName;
  call: Call;
  from: number;
  times: number;
}

type Step =
  | { kind: 'send'; count: number; size: number }
  | { kind: 'deliver'; count: number; size: number }
  | { kind: 'deliver-abortable' }
  | { kind: 'abort' }
  | { kind: 'wait'; ms: number }
  | { kind: 'reconnect' }
  | { kind: 'clear-outbox' };

interface ClientConfig {
  minDelay: number;
  maxDelay: number;
  jitter: number;
  closeTimeout: number;
  connectTimeout: number;
  /** A ready() step: await the server's hello, wait `delayMs` (ended early by its signal), optionally send a hello. */
  ready?: { delayMs: number; hello: boolean };
}

interface Scenario {
  script: ConnectionScript[];
  config: ClientConfig;
  steps: Step[];
  hooks: Hook[];
  /** After the steps: wait for flushed() then close(), or close() at once (mid-stream, with messages unacknowledged). */
  ending: 'flush' | 'close-now';
  /** With acks() (at least once: everything must arrive) or without (at most once: nothing may arrive twice). */
  acks: boolean;
}

// ------------------------------------------------------------------------------ arbitraries

const trigger: fc.Arbitrary<Trigger> = fc.record(
  { afterMs: fc.integer({ min: 0, max: 300 }), afterMessages: fc.integer({ min: 0, max: 8 }) },
  { requiredKeys: ['afterMs'] },
);
const ackMode: fc.Arbitrary<AckMode> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('each' as const) },
  { weight: 1, arbitrary: fc.constant('none' as const) },
  { weight: 2, arbitrary: fc.record({ delayMs: fc.integer({ min: 1, max: 40 }) }) },
);
/** A connection that never ends must acknowledge, or nothing could ever be flushed. */
const servingAck: fc.Arbitrary<AckMode> = fc.oneof(
  { weight: 3, arbitrary: fc.constant('each' as const) },
  { weight: 1, arbitrary: fc.record({ delayMs: fc.integer({ min: 1, max: 40 }) }) },
);
const acceptDelayMs = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 400 }) });
const closeCode = fc.constantFrom(1000, 1001, 1011, 1012, 4000);
const reason = fc.constantFrom('', 'going away', 'restart');

const connectionScript: fc.Arbitrary<ConnectionScript> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('serve' as const), ack: servingAck, acceptDelayMs }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('close' as const), code: closeCode, reason, at: trigger, ack: ackMode, acceptDelayMs }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('close-and-hold' as const), code: closeCode, reason, at: trigger, ack: ackMode, acceptDelayMs }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('terminate' as const), at: trigger, ack: ackMode, acceptDelayMs }) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constant({ kind: 'reject' as const, status: 503 as const, retryAfter: '0' }),
      fc.constant({ kind: 'reject' as const, status: 500 as const }),
    ),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'drop-handshake' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'silent' as const }) },
);

const config: fc.Arbitrary<ClientConfig> = fc
  .record({
    minDelay: fc.integer({ min: 0, max: 10 }),
    extra: fc.integer({ min: 0, max: 20 }),
    jitter: fc.constantFrom(0, 0.5, 1),
    closeTimeout: fc.integer({ min: 0, max: 200 }),
    connectTimeout: fc.integer({ min: 200, max: 1000 }),
    ready: fc.option(fc.record({ delayMs: fc.integer({ min: 0, max: 100 }), hello: fc.boolean() }), { freq: 3, nil: undefined }),
  })
  .map(({ minDelay, extra, ready, ...rest }) => ({ minDelay, maxDelay: minDelay + extra, ...rest, ...(ready ? { ready } : {}) }));

const size = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 200 }) }, { weight: 1, arbitrary: fc.constant(70_000) });

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('send' as const), count: fc.integer({ min: 1, max: 4 }), size }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('deliver' as const), count: fc.integer({ min: 1, max: 4 }), size }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'deliver-abortable' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'abort' as const }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 60 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'reconnect' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear-outbox' as const }) },
);

const hook: fc.Arbitrary<Hook> = fc.record({
  event: fc.constantFrom<EventName>('state', 'open', 'message', 'close', 'reconnecting', 'drop', 'error'),
  call: fc.oneof(
    { weight: 4, arbitrary: fc.constant<Call>('throw') },
    { weight: 3, arbitrary: fc.constant<Call>('send') },
    { weight: 2, arbitrary: fc.constant<Call>('deliver') },
    { weight: 2, arbitrary: fc.constant<Call>('reconnect') },
    { weight: 1, arbitrary: fc.constant<Call>('close') },
    { weight: 1, arbitrary: fc.constant<Call>('clear-outbox') },
  ),
  from: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: fc.integer({ min: 2, max: 4 }) }),
  times: fc.integer({ min: 1, max: 2 }),
});

const scenario: fc.Arbitrary<Scenario> = fc.record({
  script: fc.array(connectionScript, { minLength: 0, maxLength: 8 }),
  config,
  steps: fc.array(step, { minLength: 1, maxLength: 40 }),
  hooks: fc.array(hook, { maxLength: 4 }),
  ending: fc.oneof({ weight: 6, arbitrary: fc.constant('flush' as const) }, { weight: 1, arbitrary: fc.constant('close-now' as const) }),
  acks: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
});

// ------------------------------------------------------------------------------ one run

interface Outcome {
  /** Violations of the guide's promises found in this run (empty: it passed). */
  failures: string[];
  /** For the log line. */
  summary: string;
}

async function runScenario(server: ChaosServer, s: Scenario): Promise<Outcome> {
  const failures: string[] = [];
  const fail = (what: string) => failures.push(what);
  escaped.hookErrors = 0;
  escaped.others = [];

  const run = server.begin(s.script);
  const baselineTimeouts = count('Timeout');
  const baselineTimerIds = timerIds();
  const baselineSockets = new Set(tcpSockets());

  // The client's sockets, as ws instances (a subclass of ws: the same transport the default uses).
  const sockets: WebSocket[] = [];
  let closeResolved = false;
  class TrackedWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      const live = sockets.filter((ws) => ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN);
      if (live.length) fail(`socket #${sockets.length} created while socket(s) #${live.map((ws) => sockets.indexOf(ws)).join(',')} were still connecting or open`);
      if (closeResolved) fail(`socket #${sockets.length} created after close() resolved`);
      sockets.push(this);
    }
  }

  const { ready: readyStep, ...config } = s.config;
  const use: Feature<Inbound, Outbound>[] = s.acks ? [acks<Inbound, Outbound>({ id: (m) => m.id, ack: (m) => ('ack' in m ? m.ack : undefined) })] : [];
  if (readyStep) {
    use.push(
      ready<Inbound, Outbound>(async ({ next, send, signal }) => {
        await next();
        // The step's own timer: the signal must end it when the connection is abandoned, or it is left behind.
        await new Promise<void>((resolve) => {
          if (signal.aborted) return resolve();
          const timer = setTimeout(resolve, readyStep.delayMs);
          signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
        });
        if (readyStep.hello && !signal.aborted) send({ data: 'hello' });
      }),
    );
  }
  const options: SteadySocketOptions<Inbound, Outbound> = {
    ...config,
    WebSocket: TrackedWebSocket as unknown as SteadySocketOptions<Inbound, Outbound>['WebSocket'],
    codec: json<Inbound, Outbound>(),
    use,
  };
  const client = new SteadySocket<Inbound, Outbound>(run.url, options);

  // What the app asked for, and what it was told.
  let nextId = 1;
  const accepted: number[] = [];
  const viaDeliver = new Map<number, { outcome: 'pending' | 'resolved' | string }>();
  const drops = new Map<number, string[]>();
  const controllers: AbortController[] = [];
  const closePromises: { from: string; settled: boolean }[] = [];
  /** The app withdrew or closed: drops are expected, and arrival of everything is not. */
  let appGaveUp = false;
  /** close() was called (by the app, a listener or the end of the run): CLOSED from send() is then expected. */
  let closeCalled = false;
  let hookThrows = 0;
  let hookCalls = 0;

  const message = (id: number, bytes: number): Outbound => ({ id, data: 'x'.repeat(bytes) });

  /** send() or deliver() a new numbered message; an id refused synchronously with CLOSED is not accepted. */
  function submit(how: 'send' | 'deliver', bytes: number, signal?: AbortSignal): void {
    const id = nextId++;
    try {
      if (how === 'send') client.send(message(id, bytes));
      else {
        const record: { outcome: 'pending' | 'resolved' | string } = { outcome: 'pending' };
        const promise = client.deliver(message(id, bytes), signal ? { signal } : undefined);
        viaDeliver.set(id, record);
        promise.then(
          () => (record.outcome = 'resolved'),
          (error: unknown) => (record.outcome = error instanceof SteadySocketError ? `rejected ${error.code}` : `rejected with a non-SteadySocketError ${String(error)}`),
        );
      }
      accepted.push(id);
    } catch (error) {
      const code = (error as SteadySocketError)?.code;
      if (code === 'CLOSED' && (client.state === 'closed' || closeCalled)) return;
      fail(`${how}(${id}) threw ${code ?? String(error)} in state ${client.state}`);
    }
  }

  function callClose(from: string): void {
    appGaveUp = true;
    closeCalled = true;
    const record = { from, settled: false };
    closePromises.push(record);
    client.close().then(
      () => (record.settled = true),
      (error: unknown) => fail(`close() from ${from} rejected: ${String(error)}`),
    );
  }

  function call(what: Call | Step['kind'], from: string): void {
    switch (what) {
      case 'throw':
        hookThrows++;
        throw new HookError(`thrown by a listener of ${from}`);
      case 'send':
      case 'deliver':
        return submit(what, 10);
      case 'reconnect':
        try {
          client.reconnect();
        } catch (error) {
          if ((error as SteadySocketError)?.code !== 'CLOSED' || !closeCalled) fail(`reconnect() from ${from} threw ${String(error)}`);
        }
        return;
      case 'clear-outbox':
        appGaveUp = true;
        return client.clearOutbox();
      case 'close':
        return callClose(from);
    }
  }

  // Recording listeners first; the hooks after them; one more recorder last (every listener runs).
  const transitions: string[] = [];
  const transitionsSeenLast: string[] = [];
  let current: State = 'connecting';
  client.on('state', (state, previous) => {
    const edge = `${previous}->${state}`;
    transitions.push(edge);
    if (!ALLOWED_TRANSITIONS.has(edge)) fail(`undocumented transition ${edge}`);
    if (previous !== current) fail(`state event says ${edge} but the last state was ${current}`);
    current = state;
    if (state === 'open') {
      const open = sockets.filter((ws) => ws.readyState === WebSocket.OPEN);
      if (open.length !== 1 || open[0] !== sockets[sockets.length - 1]) fail(`state open with ${open.length} OPEN socket(s), the newest being OPEN: ${sockets.at(-1)?.readyState === WebSocket.OPEN}`);
    }
  });
  client.on('drop', ({ data, error }) => {
    if (data.id === undefined) return fail(`the ready step's hello was dropped (${error?.code})`);
    const list = drops.get(data.id) ?? [];
    list.push(error?.code ?? 'no code');
    drops.set(data.id, list);
  });
  client.on('error', () => {});

  const occurrences = new Map<EventName, number>();
  for (const name of ['state', 'open', 'message', 'close', 'reconnecting', 'drop', 'error'] as const) {
    client.on(name, () => occurrences.set(name, (occurrences.get(name) ?? 0) + 1));
  }
  for (const h of s.hooks) {
    client.on(h.event, () => {
      const n = occurrences.get(h.event) ?? 0;
      if (n < h.from || n >= h.from + h.times) return;
      hookCalls++;
      call(h.call, `${h.event} #${n}`);
    });
  }
  client.on('state', (state, previous) => transitionsSeenLast.push(`${previous}->${state}`));

  // The app's script.
  for (const st of s.steps) {
    if (client.state === 'closed' && closeCalled) break;
    switch (st.kind) {
      case 'send':
      case 'deliver':
        for (let i = 0; i < st.count; i++) submit(st.kind, st.size);
        break;
      case 'deliver-abortable': {
        const controller = new AbortController();
        controllers.push(controller);
        submit('deliver', 10, controller.signal);
        break;
      }
      case 'abort': {
        const controller = controllers.shift();
        if (controller) {
          appGaveUp = true;
          controller.abort();
        }
        break;
      }
      case 'wait':
        await sleep(st.ms);
        break;
      default:
        call(st.kind, 'the app');
    }
  }

  // The end: everything flushed (acknowledged) while the server behaves, then the final close.
  if (s.ending === 'flush') {
    const bound = flushBound(s);
    const flushed = await within(client.flushed(), bound);
    if (flushed.kind === 'pending') fail(`flushed() not settled within ${bound} ms (state ${client.state}, queued ${client.queued.length})`);
    else if (flushed.kind === 'rejected' && !closePromises.length) fail(`flushed() rejected without close(): ${String(flushed.error)}`);
  } else appGaveUp = true;

  let atClose: { timeouts: number; serverTimers: number; clientWsTimers: number; tcpLive: number; left: string } | undefined;
  closeCalled = true;
  const closing = client.close().then(() => {
    closeResolved = true;
    // Synchronously at resolution: the client's sockets must be destroyed, its timers cleared.
    const tcpLive = sockets.filter((ws) => {
      const tcp = (ws as unknown as { _socket?: { destroyed: boolean } | null })._socket;
      return tcp ? !tcp.destroyed : ws.readyState !== WebSocket.CLOSED && ws.readyState !== WebSocket.CLOSING;
    }).length;
    // ws's own closing-handshake timer of a client socket whose TCP is still ending is not the client's.
    const clientWsTimers = sockets.filter((ws) => isArmed((ws as unknown as { _closeTimer?: unknown })._closeTimer)).length;
    atClose = { timeouts: count('Timeout'), serverTimers: run.timers + run.wsCloseTimers, clientWsTimers, tcpLive, left: leftTimers(baselineTimerIds) };
  });
  // `within` has one timer of its own armed while it waits.
  const closed = await within(closing, CLOSE_BOUND_MS);
  if (closed.kind !== 'resolved') fail(`close() did not resolve within ${CLOSE_BOUND_MS} ms (state ${client.state})`);
  else if (atClose) {
    const clientWsTimers = atClose.clientWsTimers;
    const expected = baselineTimeouts + 1 + atClose.serverTimers + clientWsTimers;
    if (atClose.timeouts > expected) fail(`${atClose.timeouts - expected} timer(s) left armed when close() resolved; alive then:\n    ${atClose.left}`);
    if (atClose.tcpLive) fail(`${atClose.tcpLive} client TCP socket(s) not destroyed when close() resolved`);
  }
  if (client.state !== 'closed') fail(`state ${client.state} after close()`);

  const deadline = performance.now() + SOCKETS_GONE_BOUND_MS;
  while (sockets.some((ws) => ws.readyState !== WebSocket.CLOSED) && performance.now() < deadline) await sleep(2);
  const notClosed = sockets.filter((ws) => ws.readyState !== WebSocket.CLOSED).length;
  if (notClosed) fail(`${notClosed} client socket(s) not CLOSED ${SOCKETS_GONE_BOUND_MS} ms after close()`);
  await run.end();
  await quiesce();
  for (const record of closePromises) if (!record.settled) fail(`close() called from ${record.from} never settled`);
  if (count('Timeout') > baselineTimeouts) fail(`${count('Timeout') - baselineTimeouts} timer(s) left after the run:\n    ${leftTimers(baselineTimerIds)}`);
  // The server may still be accepting a connection the client gave up on at once: only the
  // client's ends count (a TCP socket whose local port is not the server's). A socket destroyed
  // while its connect was pending (an attempt superseded mid-handshake) keeps its handle for a
  // moment after ws reports CLOSED: waited for, bounded.
  const clientLeft = () => tcpSockets().filter((socket) => !baselineSockets.has(socket) && socket.localPort !== server.port);
  const handlesDeadline = performance.now() + SOCKETS_GONE_BOUND_MS;
  while (clientLeft().length && performance.now() < handlesDeadline) await sleep(2);
  const leftover = clientLeft();
  if (leftover.length) {
    const what = leftover.map((socket) => `destroyed ${socket.destroyed}, remote port ${socket.remotePort}`).join('; ');
    fail(`${leftover.length} client TCP socket(s) left ${SOCKETS_GONE_BOUND_MS} ms after the run (${what}; ws readyStates ${sockets.map((ws) => ws.readyState).join(',')})`);
  }

  // 3. listeners' exceptions reached uncaughtException, once each; nothing else did.
  if (escaped.hookErrors !== hookThrows) fail(`listeners threw ${hookThrows} time(s), uncaughtException saw ${escaped.hookErrors}`);
  for (const error of escaped.others) fail(`escaped: ${String((error as Error)?.stack ?? error)}`);
  const sorted = (list: string[]) => [...list].sort().join(' ');
  if (sorted(transitions) !== sorted(transitionsSeenLast)) fail('the last state listener did not see every transition');
  if (transitions.at(-1)?.endsWith('->closed') !== true) fail(`last transition ${transitions.at(-1)}`);

  // 1. nothing silently lost.
  const firstSeen: number[] = [];
  const seen = new Set<number>();
  for (const receipt of run.received) {
    if (!seen.has(receipt.id)) firstSeen.push(receipt.id);
    seen.add(receipt.id);
  }
  const acceptedSet = new Set(accepted);
  for (const id of seen) if (!acceptedSet.has(id)) fail(`the server got id ${id}, which was never accepted`);
  // Without acks() a message written just before a connection died may be lost, unreported (section 16).
  const lost = s.acks ? accepted.filter((id) => !seen.has(id) && !drops.has(id)) : [];
  if (lost.length) fail(`lost without a drop event: ${lost.join(',')}`);
  for (const [id, codes] of drops) if (codes.length > 1) fail(`id ${id} dropped ${codes.length} times (${codes.join(',')})`);
  for (const [id, record] of viaDeliver) {
    const dropped = drops.get(id);
    if (record.outcome === 'pending') fail(`deliver(${id}) never settled`);
    else if (record.outcome === 'resolved') {
      // With acks() it resolves on the server's acknowledgement; without, once written (which the server may never read).
      if (s.acks && !seen.has(id)) fail(`deliver(${id}) resolved but the server never got it`);
      if (dropped) fail(`deliver(${id}) resolved and was dropped (${dropped.join(',')})`);
    } else if (!dropped) fail(`deliver(${id}) ${record.outcome} without a drop event`);
    else if (record.outcome !== `rejected ${dropped[0]}`) fail(`deliver(${id}) ${record.outcome}, its drop said ${dropped[0]}`);
  }
  if (!appGaveUp && drops.size) fail(`dropped without the app withdrawing or closing: ${[...drops].map(([id, codes]) => `${id} (${codes.join(",")})`).join(", ")}`);
  if (s.acks) {
    // At least once (section 16): with a server that ends up behaving, everything arrives.
    const missing = appGaveUp ? [] : accepted.filter((id) => !seen.has(id));
    if (missing.length) fail(`never reached the server although it ended up behaving: ${missing.join(',')}`);
  } else {
    // At most once (section 16, the core): nothing is written twice.
    if (run.received.length !== seen.size) fail(`without acks() the server got ${run.received.length - seen.size} repeat(s)`);
  }

  // 2. order of first receipt is the order of sending.
  for (let i = 1; i < firstSeen.length; i++) {
    if (firstSeen[i] < firstSeen[i - 1]) {
      fail(`first receipt out of order: ${firstSeen[i]} after ${firstSeen[i - 1]} (first-seen order ${firstSeen.join(',')})`);
      break;
    }
  }

  const duplicates = run.received.length - seen.size;
  const summary =
    `${accepted.length} sent, ${seen.size} arrived (+${duplicates} repeats), ${drops.size} dropped, ` +
    `${run.connections.length} connection(s) [${run.connections.map((c) => c.behaviour.kind + (c.misbehavedAt === undefined ? '' : '!')).join(' ')}], ` +
    `${hookCalls} listener call(s) (${hookThrows} throw(s)), ending ${s.ending}`;
  return { failures, summary };
}

// ------------------------------------------------------------------------------ the property

describe('a real ws server that misbehaves per connection (property-based, real timers)', function () {
  this.timeout(TIME_LIMIT + 60_000);
  let server: ChaosServer | undefined;

  before(async () => {
    server = await startChaosServer();
  });
  after(async () => {
    await server?.close();
  });

  it('loses nothing silently, keeps first receipts in order, stays in documented states and leaves nothing behind, whatever the server and the listeners do', async () => {
    let runs = 0;
    const summaries: string[] = [];
    const inFlight = new InFlightRun();
    await trapProcessErrors(async () => {
      try {
        await fc.assert(
          fc.asyncProperty(REPLAY ? fc.constant(REPLAY) : scenario, async (s) => {
            runs++;
            const outcome = await inFlight.track(runScenario(server!, s));
            summaries.push(outcome.summary);
            expect(outcome.failures, `${outcome.summary}\n${outcome.failures.join('\n')}`).to.deep.equal([]);
          }),
          { seed: SEED, numRuns: REPLAY ? 1 : RUNS, interruptAfterTimeLimit: TIME_LIMIT, markInterruptAsFailure: false, endOnFailure: false },
        );
      } finally {
        // A run the time limit interrupted goes on by itself: not into the server's next user.
        await inFlight.settled();
      }
    });
    const sent = summaries.reduce((n, line) => n + Number(line.split(' ')[0]), 0);
    console.log(`      ${runs} run(s) (seed ${SEED}), ${sent} messages; e.g. ${summaries[0]}`);
    if (process.env.CHAOS_VERBOSE) for (const line of summaries) console.log(`        ${line}`);
  });
});
