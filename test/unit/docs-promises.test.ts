// Promises of README.md, docs/guide.md and CHANGELOG.md [Unreleased] that no other test pinned,
// each checked against the client on the fake transport with a fake clock. Every test quotes
// the doc line it pins: if the behaviour changes, the test (or the doc) has to change with it.
import FakeTimers, { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import {
  acks,
  debug,
  heartbeat,
  json,
  ping,
  ready,
  requests,
  stats,
  SteadySocket,
  ttl,
  type CloseInfo,
  type DropInfo,
  type SteadySocketOptions,
} from '../../src/index';
import { resolveOptions } from '../../src/options';
import { FakeWebSocket } from '../support/fake-websocket';
import { rejection } from '../support/rejection';

type Options = SteadySocketOptions<unknown, unknown>;
type Client = SteadySocket<unknown, unknown>;

describe('docs promises without another test (fake transport, fake clock)', () => {
  let clock: InstalledClock;
  const sockets: Client[] = [];

  beforeEach(() => {
    FakeWebSocket.reset();
    clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'queueMicrotask'] });
  });

  afterEach(() => {
    for (const s of sockets.splice(0)) if (s.state !== 'closed') void s.close();
    clock.runAll();
    clock.uninstall();
  });

  /** A client, closed after the test; its first attempt not started yet (what the constructor throws, it throws). */
  function create(options: Options = {}, url: ConstructorParameters<typeof SteadySocket>[0] = 'ws://example.test/'): Client {
    const socket = new SteadySocket<unknown, unknown>(url, { WebSocket: FakeWebSocket as never, ...options });
    sockets.push(socket);
    return socket;
  }

  async function make(options?: Options, url?: ConstructorParameters<typeof SteadySocket>[0]): Promise<Client> {
    const socket = create(options, url);
    await Promise.resolve(); // the first attempt starts on a promise job, which the fake clock does not hold
    return socket;
  }

  /** Every event in order, as `name:detail`. */
  function record(socket: Client): string[] {
    const events: string[] = [];
    socket.on('state', (s, p) => events.push(`state:${p}->${s}`));
    socket.on('open', (i) => events.push(`open:attempt=${i.attempt}`));
    socket.on('close', (i) => events.push(`close:${i.code}:attempt=${i.attempt}${i.error ? `:${i.error.code}` : ''}`));
    socket.on('reconnecting', (i) => events.push(`reconnecting:attempt=${i.attempt}`));
    socket.on('error', (e) => events.push(`error:${e.code}`));
    socket.on('drop', (d) => events.push(`drop:${d.reason}`));
    return events;
  }

  describe('guide §2 States: the order of events', () => {
    it('a dropped connection that comes back emits close, state waiting, reconnecting, state connecting, state open, flushes, then open', async () => {
      // guide §2: "1. `close` with the code, reason and `attempt` (1 for the first failure in a row);
      // 2. `state` (`waiting`, `open`) and `reconnecting` with the delay; 3. after the delay, `state`
      // (`connecting`, `waiting`); 4. `state` (`open`, `connecting`), the outbox is flushed, then `open`."
      const socket = await make();
      FakeWebSocket.last.serverOpen();
      const events = record(socket);
      FakeWebSocket.last.serverClose(1001, 'bye');
      socket.send('queued while waiting');
      clock.tick(1000); // full jitter: at most minDelay
      const next = FakeWebSocket.last;
      let sentBeforeOpen: unknown[] = [];
      socket.once('open', () => (sentBeforeOpen = [...next.sent]));
      next.serverOpen();
      expect(events).to.deep.equal([
        'close:1001:attempt=1',
        'state:open->waiting',
        'reconnecting:attempt=1',
        'state:waiting->connecting',
        'state:connecting->open',
        'open:attempt=1',
      ]);
      expect(sentBeforeOpen, 'the outbox is flushed before open is emitted').to.deep.equal(['queued while waiting']);
    });

    it('a failed attempt emits error first, then close with 1006 and that error in info.error', async () => {
      // guide §2: "A failed attempt emits `error` first (for example `CONNECT_FAILED` or
      // `CONNECT_TIMEOUT`), then `close` with code 1006 and that error in `info.error`."
      const socket = await make();
      const events = record(socket);
      let closeInfo: CloseInfo | undefined;
      socket.once('close', (info) => (closeInfo = info));
      clock.tick(10_000); // connectTimeout default
      expect(events.slice(0, 2)).to.deep.equal(['error:CONNECT_TIMEOUT', 'close:1006:attempt=1:CONNECT_TIMEOUT']);
      expect(closeInfo!.error!.code).to.equal('CONNECT_TIMEOUT');
      expect(closeInfo!.wasClean).to.equal(false);
    });

    it('reconnecting carries { attempt, delay, offline, cause } with cause the close that led to it', async () => {
      // README: "`reconnecting` | `{ attempt, delay, offline, cause }` before each wait"
      const socket = await make();
      FakeWebSocket.last.serverOpen();
      let closed: CloseInfo | undefined;
      let info: { attempt: number; delay: number; offline: boolean; cause: CloseInfo } | undefined;
      socket.once('close', (i) => (closed = i));
      socket.once('reconnecting', (i) => (info = i));
      FakeWebSocket.last.serverClose(4000, 'app');
      expect(Object.keys(info!).sort()).to.deep.equal(['attempt', 'cause', 'delay', 'offline']);
      expect(info!.cause).to.equal(closed);
      expect(info!.attempt).to.equal(1);
      expect(info!.offline).to.equal(false);
      expect(info!.delay).to.be.within(0, 1000);
    });
  });

  describe('guide §3 Reconnect and backoff', () => {
    it('the very first attempt starts at once, without a wait', async () => {
      // guide §3: "The very first attempt starts at once, without a wait."
      await make();
      expect(FakeWebSocket.instances).to.have.length(1);
      expect(clock.now).to.equal(0);
    });

    it('maxRetries: 3 retries after failures 1, 2 and 3 and gives up at failure 4 with RETRIES_EXHAUSTED, then closed', async () => {
      // guide §3: "With `maxRetries: 3` the client retries after failures 1, 2 and 3 and gives up at
      // failure 4 (emitting `error` with `RETRIES_EXHAUSTED`, then going to `closed`)"
      const socket = await make({ maxRetries: 3 });
      const events = record(socket);
      for (let i = 0; i < 3; i++) {
        FakeWebSocket.last.fail();
        clock.tick(30_000);
      }
      expect(FakeWebSocket.instances).to.have.length(4);
      FakeWebSocket.last.fail();
      const tail = events.slice(events.indexOf('close:1006:attempt=4:CONNECT_FAILED'));
      expect(tail).to.deep.equal(['close:1006:attempt=4:CONNECT_FAILED', 'error:RETRIES_EXHAUSTED', 'state:connecting->closed']);
      clock.tick(60_000);
      expect(FakeWebSocket.instances).to.have.length(4);
    });

    it('maxRetries: 0 never retries', async () => {
      // guide §3: "`maxRetries: 0` never retries."
      const socket = await make({ maxRetries: 0 });
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1001);
      expect(socket.state).to.equal('closed');
      clock.tick(60_000);
      expect(FakeWebSocket.instances).to.have.length(1);
    });

    it('a minDelay above 30000 given alone raises maxDelay', () => {
      // guide §3 table: "`maxDelay` | `30000` | no wait is longer, in ms (a `minDelay` above 30000
      // given alone raises it)"
      expect(resolveOptions({ minDelay: 45_000 }).maxDelay).to.equal(45_000);
      expect(resolveOptions({}).maxDelay).to.equal(30_000);
    });

    it('reconnect() closes with 1000 "reconnect" and connects again at once with the failure count reset', async () => {
      // guide §3: "`reconnect()` drops the current connection (closing it with 1000, reason
      // `reconnect`) and connects again at once with the failure count reset."
      const socket = await make();
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1001); // failure 1
      clock.tick(1000);
      FakeWebSocket.last.serverOpen(); // opened, but not stable: the count stays at 1
      const old = FakeWebSocket.last;
      socket.reconnect();
      expect(old.closeCalls).to.deep.equal([{ code: 1000, reason: 'reconnect' }]);
      clock.tick(5); // the fake's closing handshake
      expect(FakeWebSocket.instances).to.have.length(3);
      expect(socket.state).to.equal('connecting');
      let attempt: number | undefined;
      socket.once('close', (info) => (attempt = info.attempt));
      FakeWebSocket.last.fail();
      expect(attempt, 'the count starts again from 1').to.equal(1);
    });

    it('reconnect() while waiting skips the rest of the wait', async () => {
      // guide §3: "While waiting, it skips the rest of the wait."
      const socket = await make({ minDelay: 60_000, maxDelay: 60_000, jitter: 0 });
      FakeWebSocket.last.fail();
      expect(socket.state).to.equal('waiting');
      socket.reconnect();
      expect(socket.state).to.equal('connecting');
      expect(FakeWebSocket.instances).to.have.length(2);
      expect(clock.now).to.equal(0);
    });
  });

  describe('guide §4 The close-code policy', () => {
    it('shouldReconnect is not asked after your own close() or reconnect(), and close() is final whatever it says', async () => {
      // guide §4: "Every time a connection or an attempt ends (other than by your own `close()` or
      // `reconnect()`), `shouldReconnect(info)` decides" and "you call `close()` — it never
      // reconnects after that, whatever the hook says"
      const asked: number[] = [];
      const socket = await make({ shouldReconnect: (info) => (asked.push(info.code), true) });
      FakeWebSocket.last.serverOpen();
      socket.reconnect();
      clock.tick(5);
      FakeWebSocket.last.serverOpen();
      const closing = socket.close();
      clock.tick(5);
      await closing;
      clock.tick(60_000);
      expect(asked).to.deep.equal([]);
      expect(FakeWebSocket.instances).to.have.length(2);
    });

    it('CloseInfo gives shouldReconnect code, reason, wasClean, attempt and the error behind an abnormal close', async () => {
      // guide §4 "Your own policy": "`shouldReconnect` receives a `CloseInfo`" with `code`, `reason`,
      // `wasClean`, `attempt` (failures in a row, counting this one), `error`
      const seen: CloseInfo[] = [];
      await make({ shouldReconnect: (info) => (seen.push({ ...info }), true) });
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(4001, 'expired');
      clock.tick(1000);
      FakeWebSocket.last.fail();
      expect(seen[0]).to.include({ code: 4001, reason: 'expired', wasClean: true, attempt: 1 });
      expect(seen[1]).to.include({ code: 1006, wasClean: false, attempt: 2 });
      expect(seen[1].error?.code).to.equal('CONNECT_FAILED');
    });
  });

  describe('guide §1 Closing', () => {
    it('close() defaults to code 1000 and reason "", and calling it again returns the same promise', async () => {
      // guide §1 Closing: "`close(code = 1000, reason = '')` is final" … "Calling it again returns
      // the same promise."
      const socket = await make();
      FakeWebSocket.last.serverOpen();
      const first = socket.close();
      const second = socket.close();
      expect(second).to.equal(first);
      expect(FakeWebSocket.last.closeCalls).to.deep.equal([{ code: 1000, reason: '' }]);
      clock.tick(5);
      await first;
      expect(socket.close()).to.equal(first);
    });

    it('send(), deliver() and reconnect() throw CLOSED from the moment close() is called (while still closing)', async () => {
      // guide §1 Closing: "From the moment `close()` is called, `send()`, `deliver()` and
      // `reconnect()` throw `CLOSED`"
      const socket = await make();
      FakeWebSocket.last.serverOpen();
      void socket.close();
      expect(socket.state).to.equal('closing');
      expect(() => socket.send('x')).to.throw().with.property('code', 'CLOSED');
      expect(() => socket.deliver('x')).to.throw().with.property('code', 'CLOSED');
      expect(() => socket.reconnect()).to.throw().with.property('code', 'CLOSED');
    });

    it('close() drops queued messages, each announced with a drop event, reason closed', async () => {
      // guide §1 Closing: "queued messages are dropped (each announced with a `drop` event, reason `closed`)"
      const socket = await make();
      socket.send('a');
      socket.send('b');
      const drops: DropInfo<unknown>[] = [];
      socket.on('drop', (d) => drops.push(d));
      const closing = socket.close();
      clock.tick(5);
      await closing;
      expect(drops.map((d) => [d.data, d.reason, d.error.code])).to.deep.equal([
        ['a', 'closed', 'CLOSED'],
        ['b', 'closed', 'CLOSED'],
      ]);
    });

    it('await using: Symbol.asyncDispose closes the client and waits for the close', async () => {
      // guide §1 Closing: "`await using socket = new SteadySocket(url)` closes it at the end of the
      // block (and waits for the close)"
      const socket = await make();
      FakeWebSocket.last.serverOpen();
      const disposed = socket[Symbol.asyncDispose]();
      expect(FakeWebSocket.last.closeCalls).to.deep.equal([{ code: 1000, reason: '' }]);
      let done = false;
      void disposed.then(() => (done = true));
      await Promise.resolve();
      expect(done, 'not before the socket is closed').to.equal(false);
      clock.tick(5);
      await disposed;
      expect(socket.state).to.equal('closed');
    });
  });

  describe('guide §1 Events', () => {
    it('an error without listeners is not thrown', async () => {
      // guide §1 Events: "Listening for `error` is optional: an `error` without listeners is not thrown."
      const socket = await make();
      expect(socket.listenerCount('error')).to.equal(0);
      expect(() => FakeWebSocket.last.fail()).not.to.throw();
      expect(() => clock.tick(1000)).not.to.throw();
      expect(socket.state).to.equal('connecting');
    });

    it("socket.protocol is the negotiated name while open, '' when none", async () => {
      // guide §9: "`socket.protocol` (and `open`'s `protocol`) is the negotiated name, `''` when none."
      const offered = await make({ protocols: ['chat.v2', 'chat.v1'] });
      let opened = '';
      offered.once('open', (info) => (opened = info.protocol));
      FakeWebSocket.last.serverOpen('chat.v1');
      expect(offered.protocol).to.equal('chat.v1');
      expect(opened).to.equal('chat.v1');
      const none = await make();
      none.once('open', (info) => (opened = info.protocol));
      FakeWebSocket.last.serverOpen();
      expect(none.protocol).to.equal('');
      expect(opened).to.equal('');
    });
  });

  describe('guide §1/§4/§13: input checked later', () => {
    it('a protocols function that returns an invalid token ends the client with INVALID_PROTOCOL', async () => {
      // guide §9: "a `protocols` function is checked before each attempt"; §4: the client ends when
      // "a URL, `protocols` or `headers` function returns something invalid (`INVALID_URL`, `INVALID_PROTOCOL`)"
      for (const protocols of [() => ['bad token'], async () => ['a', 'a']]) {
        const socket = new SteadySocket<unknown, unknown>('ws://example.test/', { WebSocket: FakeWebSocket as never, protocols });
        sockets.push(socket);
        const seen = record(socket);
        await Promise.resolve(); // the first attempt
        for (let i = 0; i < 5; i++) await Promise.resolve(); // the async provider's promise
        clock.tick(0); // the failed attempt is told on a timer of its own
        expect(seen).to.deep.equal(['error:INVALID_PROTOCOL', 'close:1006:attempt=1:INVALID_PROTOCOL', 'state:connecting->closed']);
        clock.tick(60_000);
        expect(FakeWebSocket.instances).to.have.length(0);
      }
    });

    it('in a page, a relative URL resolves against the page address, and http(s) pages map to ws(s)', async () => {
      // guide §1 The URL: "In a page, a relative URL (`'/ws'`) resolves against the page's address."
      const global = globalThis as { location?: unknown };
      const had = 'location' in global;
      const previous = global.location;
      global.location = { href: 'https://chat.example.org/room/7?x=1' };
      try {
        const socket = await make({}, '/ws');
        expect(FakeWebSocket.last.url).to.equal('wss://chat.example.org/ws');
        expect(socket.url).to.equal('wss://chat.example.org/ws');
      } finally {
        if (had) global.location = previous;
        else delete global.location;
      }
      // Outside a page there is nothing to resolve against: INVALID_URL.
      expect(() => new SteadySocket('/ws', { WebSocket: FakeWebSocket as never })).to.throw().with.property('code', 'INVALID_URL');
    });

    it('an empty URL list throws INVALID_URL from the constructor', () => {
      // guide §13: "`INVALID_URL` | bad scheme, a fragment, not a URL, an empty list; …"
      expect(() => new SteadySocket([], { WebSocket: FakeWebSocket as never })).to.throw().with.property('code', 'INVALID_URL');
    });

    it('an unknown option is a process warning with code STEADYSOCKET_OPTION, once per process', async () => {
      // guide §13: "reported once per process: as a process warning in Node
      // (`process.on('warning')`, code `STEADYSOCKET_OPTION`)"
      const seen: { code?: string; message: string }[] = [];
      const onWarning = (warning: Error & { code?: string }) => seen.push({ code: warning.code, message: warning.message });
      process.on('warning', onWarning);
      try {
        await make({ docsPromiseTypo: 1 } as Options);
        await make({ docsPromiseTypo: 2 } as Options);
        clock.uninstall();
        await new Promise((resolve) => setTimeout(resolve, 20));
        clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'queueMicrotask'] });
      } finally {
        process.off('warning', onWarning);
      }
      const ours = seen.filter((w) => w.message.includes('docsPromiseTypo'));
      expect(ours).to.have.length(1);
      expect(ours[0].code).to.equal('STEADYSOCKET_OPTION');
    });

    it('send() while closing after reconnect() queues, and the message goes out on the next connection', async () => {
      // guide §2 states table: "`closing` | … after `close()` or `reconnect()` … | queues (dropped if this is the final close)"
      const socket = await make();
      FakeWebSocket.last.serverOpen();
      socket.reconnect();
      expect(socket.state).to.equal('closing');
      socket.send('during closing');
      expect(socket.queued).to.deep.equal(['during closing']);
      clock.tick(5);
      FakeWebSocket.last.serverOpen();
      expect(FakeWebSocket.last.sent).to.deep.equal(['during closing']);
    });
  });

  describe('guide §5 The outbox', () => {
    it('socket.queued is a copy, oldest first', async () => {
      // guide §5: "socket.queued; // the queued messages, oldest first (a copy)"
      const socket = await make();
      socket.send('a');
      socket.send('b');
      const copy = socket.queued;
      expect(copy).to.deep.equal(['a', 'b']);
      copy.length = 0;
      copy.push('intruder');
      expect(socket.queued).to.deep.equal(['a', 'b']);
    });

    it('maxMessages: 0 turns queueing off: a message that cannot be sent at once overflows', async () => {
      // guide §5: "`maxMessages: 0` turns queueing off: a message that cannot be sent at once overflows."
      const strict = await make({ maxMessages: 0 });
      expect(() => strict.send('x')).to.throw().with.property('code', 'QUEUE_OVERFLOW');
      const lenient = await make({ maxMessages: 0, overflow: 'drop-newest' });
      const drops: string[] = [];
      lenient.on('drop', (d) => drops.push(`${d.data}:${d.reason}`));
      lenient.send('y');
      expect(drops).to.deep.equal(['y:overflow']);
      FakeWebSocket.last.serverOpen();
      lenient.send('z');
      expect(FakeWebSocket.last.sent).to.deep.equal(['z']);
    });

    it('a message larger than maxBytes throws under error and is dropped under drop-oldest and drop-newest, the queued ones kept', async () => {
      // guide §5: "A message larger than `maxBytes` can never fit: it throws under `'error'` and is
      // dropped under the other two."
      const strict = await make({ maxBytes: 10 });
      strict.send('abc');
      expect(() => strict.send('x'.repeat(11))).to.throw().with.property('code', 'QUEUE_OVERFLOW');
      expect(strict.queued).to.deep.equal(['abc']);
      for (const overflow of ['drop-oldest', 'drop-newest'] as const) {
        const socket = await make({ maxBytes: 10, overflow });
        socket.send('abc');
        socket.send('def');
        const drops: string[] = [];
        socket.on('drop', (d) => drops.push(`${String(d.data).length}:${d.reason}:${d.error.code}`));
        socket.send('x'.repeat(11));
        expect(drops, overflow).to.deep.equal(['11:overflow:QUEUE_OVERFLOW']);
        expect(socket.queued, `${overflow}: nothing queued is evicted for a message that can never fit`).to.deep.equal(['abc', 'def']);
      }
    });

    it('clearOutbox() withdraws every queued message, each a drop with reason withdrawn, and its deliver() rejects MESSAGE_WITHDRAWN', async () => {
      // guide §5: "`clearOutbox()` withdraws every queued message at once, each reported as a `drop`."
      // and the drop table: "`withdrawn` | `MESSAGE_WITHDRAWN` | you withdrew it (an aborted signal, or `clearOutbox()`)"
      const socket = await make();
      const pending = rejection(socket.deliver('a'));
      socket.send('b');
      const drops: string[] = [];
      socket.on('drop', (d) => drops.push(`${d.data}:${d.reason}:${d.error.code}`));
      socket.clearOutbox();
      expect(drops).to.deep.equal(['a:withdrawn:MESSAGE_WITHDRAWN', 'b:withdrawn:MESSAGE_WITHDRAWN']);
      expect((await pending)).to.have.property('code', 'MESSAGE_WITHDRAWN');
      expect(socket.queued).to.deep.equal([]);
    });

    it('deliver() with an aborted signal withdraws a queued message: rejects MESSAGE_WITHDRAWN and a drop says withdrawn', async () => {
      // guide §5 "Withdrawing a queued message": "aborting it withdraws the message if it is still
      // queued (the promise rejects with `MESSAGE_WITHDRAWN` and a `drop` event reports reason `withdrawn`)"
      const socket = await make();
      const controller = new AbortController();
      const drops: string[] = [];
      socket.on('drop', (d) => drops.push(`${d.data}:${d.reason}`));
      const pending = rejection(socket.deliver('draft', { signal: controller.signal }));
      socket.send('kept');
      controller.abort();
      expect((await pending)).to.have.property('code', 'MESSAGE_WITHDRAWN');
      expect(drops).to.deep.equal(['draft:withdrawn']);
      FakeWebSocket.last.serverOpen();
      expect(FakeWebSocket.last.sent).to.deep.equal(['kept']);
    });

    it('deliver() throws input errors synchronously and queues nothing', async () => {
      // guide §5: "Input errors (`INVALID_MESSAGE`, an `ENCODE_FAILED` found at once, …) are thrown
      // synchronously, as from `send()`, and nothing is queued."
      const raw = await make();
      expect(() => raw.deliver({ not: 'sendable' })).to.throw().with.property('code', 'INVALID_MESSAGE');
      const coded = await make({ codec: json() });
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      expect(() => coded.deliver(circular)).to.throw().with.property('code', 'ENCODE_FAILED');
      expect(raw.queued).to.deep.equal([]);
      expect(coded.queued).to.deep.equal([]);
    });
  });

  describe('guide §7 Backpressure', () => {
    it('bufferedAmount is the bytes waiting in the socket plus the bytes waiting in the outbox', async () => {
      // guide §7: "`socket.bufferedAmount` is the bytes waiting in the socket plus the bytes waiting in the outbox."
      const socket = await make({ highWaterMark: 100 });
      socket.send('héllo'); // 6 UTF-8 bytes, queued
      expect(socket.bufferedAmount).to.equal(6);
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.bufferedAmount = 500; // above the mark: new messages wait
      socket.send('0123456789');
      expect(socket.bufferedAmount).to.equal(510);
    });

    it('flushed() waits for a connection if there is none, and resolves once the outbox went out', async () => {
      // guide §1 Closing: "`flushed()` waits for a connection if there is none"
      const socket = await make();
      socket.send('a');
      let done = false;
      const flushed = socket.flushed().then(() => (done = true));
      FakeWebSocket.last.fail();
      clock.tick(1000);
      await Promise.resolve();
      expect(done).to.equal(false);
      FakeWebSocket.last.serverOpen();
      clock.tick(10); // the drain poll (no platform has a drain event for WebSockets)
      await flushed;
      expect(done).to.equal(true);
      expect(FakeWebSocket.last.sent).to.deep.equal(['a']);
    });
  });

  describe('guide §8 Heartbeats', () => {
    it('ping and isPong go together: one without the other throws INVALID_OPTION', () => {
      // guide §8: "`ping` and `isPong` go together: give both or neither."
      // @ts-expect-error the types refuse one without the other too
      expect(() => heartbeat({ interval: 1000, timeout: 500, ping: () => 'ping' })).to.throw().with.property('code', 'INVALID_OPTION');
      // @ts-expect-error the types refuse one without the other too
      expect(() => heartbeat({ interval: 1000, timeout: 500, isPong: () => true })).to.throw().with.property('code', 'INVALID_OPTION');
    });

    it('pongs (isPong) are not delivered as message events', async () => {
      // guide §8 (the example): "isPong: (message) => message.type === 'pong', // gets Inbound; pongs are not delivered as `message`"
      const socket = await make({ codec: json(), use: [heartbeat({ interval: 1000, timeout: 500, ping: () => ({ type: 'ping' }), isPong: (m) => (m as { type?: string }).type === 'pong' })] });
      FakeWebSocket.last.serverOpen();
      const got: unknown[] = [];
      socket.on('message', (m) => got.push(m));
      clock.tick(1000);
      expect(FakeWebSocket.last.sent).to.deep.equal(['{"type":"ping"}']);
      FakeWebSocket.last.serverMessage('{"type":"pong"}');
      FakeWebSocket.last.serverMessage('{"type":"chat"}');
      expect(got).to.deep.equal([{ type: 'chat' }]);
    });

    it('a dead connection is noticed between interval + timeout and interval + timeout + max(interval, timeout) ms after the last message', async () => {
      // guide §8: "A dead connection is therefore noticed between `interval + timeout` and
      // `interval + timeout + max(interval, timeout)` ms after the last message: `2 × interval +
      // timeout` with the usual `timeout ≤ interval`." (Here timeout ≤ interval; the features
      // model pins timeout > interval.)
      for (const lastMessageAt of [1, 500, 999, 1001]) {
        FakeWebSocket.reset();
        const socket = await make({ use: [heartbeat({ interval: 1000, timeout: 500, ping: () => 'ping', isPong: (m) => m === 'pong' })] });
        const start = clock.now;
        FakeWebSocket.last.serverOpen();
        clock.tick(lastMessageAt);
        FakeWebSocket.last.serverMessage('last words');
        let deadAt: number | undefined;
        socket.once('error', (e) => e.code === 'HEARTBEAT_TIMEOUT' && (deadAt = clock.now - start - lastMessageAt));
        for (let i = 0; i < 400 && deadAt === undefined; i++) clock.tick(10);
        expect(deadAt, `last message at ${lastMessageAt}`).to.be.within(1500, 2500);
        void socket.close();
        clock.runAll();
      }
    });
  });

  describe('features: defaults and limits', () => {
    it('stats(): one belongs to one client; a second client given the same one throws INVALID_OPTION', async () => {
      // guide §11: "One `stats()` belongs to one client (a second client given the same one throws `INVALID_OPTION`)."
      const counters = stats();
      await make({ use: [counters] });
      expect(() => create({ use: [counters] })).to.throw().with.property('code', 'INVALID_OPTION');
    });

    it('stats() snapshot has the documented fields', async () => {
      // guide §11: the snapshot's fields: attempts, reconnects, messagesIn, messagesOut, bytesIn,
      // bytesOut, rtt, connectedTime, queued
      const counters = stats();
      await make({ use: [counters] });
      expect(Object.keys(counters.snapshot()).sort()).to.deep.equal(
        ['attempts', 'bytesIn', 'bytesOut', 'connectedTime', 'messagesIn', 'messagesOut', 'queued', 'reconnects', 'rtt'].sort(),
      );
    });

    it('debug() logs to console.debug by default, each line starting with [steadysocket]', async () => {
      // guide §11: "to `log` (default `console.debug`), each starting with `[steadysocket]`"
      const original = console.debug;
      const lines: string[] = [];
      console.debug = (line: string) => lines.push(line);
      try {
        const socket = await make({ use: [debug()] });
        FakeWebSocket.last.serverOpen();
        FakeWebSocket.last.fail();
        void socket.close();
        clock.runAll();
      } finally {
        console.debug = original;
      }
      expect(lines.length).to.be.greaterThan(2);
      expect(lines.filter((line) => !line.startsWith('[steadysocket]'))).to.deep.equal([]);
    });

    it('acks(): the default timeout is 30000 ms (ACK_TIMEOUT and a drop with reason ack-timeout)', async () => {
      // guide §16: "timeout: 30_000, // default; Infinity: wait for ever" and "its `deliver()` rejects
      // with `ACK_TIMEOUT` and a `drop` event reports reason `ack-timeout`"
      const socket = await make({ use: [acks({ id: (m: unknown) => (m as string).slice(0, 1), ack: (m: unknown) => (m === 'ack' ? 'x' : undefined) })] });
      FakeWebSocket.last.serverOpen();
      const drops: string[] = [];
      socket.on('drop', (d) => drops.push(`${d.reason}:${d.error.code}`));
      const pending = rejection(socket.deliver('a1'));
      clock.tick(29_999);
      expect(drops).to.deep.equal([]);
      clock.tick(1);
      expect((await pending)).to.have.property('code', 'ACK_TIMEOUT');
      expect(drops).to.deep.equal(['ack-timeout:ACK_TIMEOUT']);
    });

    it('acks(): time spent disconnected does not count; the wait starts again at every write', async () => {
      // guide §16: "Time spent disconnected does not count: the wait starts again at every write."
      const socket = await make({ use: [acks({ id: (m: unknown) => m as string, ack: () => undefined, timeout: 1000 })] });
      FakeWebSocket.last.serverOpen();
      let settled = '';
      socket.deliver('m').then(() => (settled = 'resolved'), (e) => (settled = e.code));
      clock.tick(600);
      FakeWebSocket.last.serverClose(1001); // back to the outbox
      clock.tick(5000); // disconnected for a long time: minDelay 1000 passes, next attempt
      expect(settled).to.equal('');
      FakeWebSocket.last.serverOpen(); // re-written now
      expect(FakeWebSocket.last.sent).to.deep.equal(['m']);
      clock.tick(999);
      await Promise.resolve();
      expect(settled).to.equal('');
      clock.tick(1);
      await Promise.resolve();
      expect(settled).to.equal('ACK_TIMEOUT');
    });

    it('ping(): the default timeout is 10 s (PING_TIMEOUT), and CONNECTION_CLOSED when not open', async () => {
      // guide §16 ping(): "It rejects with `PING_TIMEOUT` (no pong within `timeout`, default 10 s),
      // `CONNECTION_CLOSED` (not open, or the connection ended)"
      const socket = await make({ use: [heartbeat({ interval: 60_000, timeout: 60_000, ping: () => 'ping', isPong: (m) => m === 'pong' })] });
      expect((await rejection(ping(socket)))).to.have.property('code', 'CONNECTION_CLOSED');
      FakeWebSocket.last.serverOpen();
      let settled = '';
      ping(socket).then(() => (settled = 'resolved'), (e) => (settled = e.code));
      clock.tick(9_999);
      await Promise.resolve();
      expect(settled).to.equal('');
      clock.tick(1);
      await Promise.resolve();
      expect(settled).to.equal('PING_TIMEOUT');
    });

    it('requests(): a request times out after the source default of 30000 ms (REQUEST_TIMEOUT); the docs do not state it', async () => {
      // guide §16: "`REQUEST_TIMEOUT` | no reply within `timeout` (per feature, or per request)" —
      // the default is only in src/features/requests.ts ("Default: 30000"); pinned here.
      const rpc = requests();
      const socket = await make({ codec: json(), use: [rpc] });
      FakeWebSocket.last.serverOpen();
      let settled = '';
      rpc.request({ op: 'x' }).then(() => (settled = 'resolved'), (e) => (settled = e.code));
      expect(FakeWebSocket.last.sent).to.deep.equal(['{"id":1,"request":{"op":"x"}}']);
      clock.tick(29_999);
      await Promise.resolve();
      expect(settled).to.equal('');
      clock.tick(1);
      await Promise.resolve();
      expect(settled).to.equal('REQUEST_TIMEOUT');
      void socket;
    });

    it('ttl(): expired messages are dropped with reason expired while the socket is still down', async () => {
      // guide §5: "expired messages are dropped with reason `expired`, whether the socket is still down or not"
      const socket = await make({ use: [ttl(500)] });
      const drops: string[] = [];
      socket.on('drop', (d) => drops.push(`${d.data}:${d.reason}:${d.error.code}`));
      socket.send('late');
      clock.tick(499);
      expect(drops).to.deep.equal([]);
      clock.tick(1);
      expect(drops).to.deep.equal(['late:expired:MESSAGE_EXPIRED']);
      expect(socket.state).to.equal('connecting');
    });

    it('ready(): while the step runs the state is connecting and send() from the app queues behind the step', async () => {
      // guide §6: "While the step runs the state is still `connecting`, so `send()` from the rest of the app queues."
      let release!: () => void;
      const socket = await make({ use: [ready(async ({ send }) => { send('hello'); await new Promise<void>((r) => (release = r)); })] });
      FakeWebSocket.last.serverOpen();
      await Promise.resolve();
      expect(socket.state).to.equal('connecting');
      socket.send('app');
      expect(FakeWebSocket.last.sent).to.deep.equal(['hello']);
      release();
      for (let i = 0; i < 5; i++) await Promise.resolve();
      expect(socket.state).to.equal('open');
      expect(FakeWebSocket.last.sent).to.deep.equal(['hello', 'app']);
    });

    it('json({ reviver, replacer }) passes both through', () => {
      // guide §9: "`json({ reviver, replacer })` passes both through."
      const codec = json({
        replacer: (_key: string, value: unknown) => (typeof value === 'number' ? value * 10 : value),
        reviver: (_key: string, value: unknown) => (typeof value === 'number' ? value + 1 : value),
      } as never);
      expect(codec.encode({ n: 1 } as never)).to.equal('{"n":10}');
      expect(codec.decode('{"n":1}')).to.deep.equal({ n: 2 });
    });
  });
});
