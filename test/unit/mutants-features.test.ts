// Behaviour of the opt-in features and the pure rooms below them (liveness, heartbeat, ping,
// page signals, the ready step, iteration, codecs, stats, debug) that mutation testing (Stryker) found
// no test pinning down. Fake transport, fake clock, fake window; each test names the behaviour,
// and a comment names the change to the source it catches.
import { expect } from 'chai';
import fc from 'fast-check';
import { debug, heartbeat, json, pageSignals, ping, ready, stats, SteadySocket, SteadySocketError, type ReconnectingInfo, type SteadySocketOptions } from '../../src/index';
import { utf8Length, wireSize } from '../../src/codecs';
import { isOffline, listenToPage, type PageSignalHandlers } from '../../src/page-signals';
import { createLiveness, judge, LATE_TIMER_MS, sawActivity, sawPong, startInterval, startProbe } from '../../src/liveness';
import { fakeOpener, useFakeClock } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';
import { FakeWindow } from '../support/fake-window';
import { rejection } from '../support/rejection';

const appPing = { ping: () => 'ping', isPong: (message: unknown) => message === 'pong' };

describe('liveness rules at their edges (given the time)', () => {
  const timing = { interval: 1000, timeout: 300 };

  // liveness.ts createLiveness: `seen: false` → true, `probing: false` → true
  it('a fresh state has seen nothing and has no probe out: a pong answers nothing, a check probes', () => {
    const state = createLiveness();
    expect(sawPong(createLiveness(), 10)).to.equal(false);
    expect(judge(state, 0, timing)).to.equal('probe');
  });

  // liveness.ts judge: `late > LATE_TIMER_MS` → `>=`
  it(`a probe's timer exactly ${LATE_TIMER_MS} ms late is on time: no grace, dead`, () => {
    const state = createLiveness();
    startProbe(state, 0, timing);
    expect(judge(state, timing.timeout + LATE_TIMER_MS, timing)).to.equal('dead');
  });

  // liveness.ts judge: `late > Math.max(timing.interval, 1000)` → `>=`
  it('a quiet check exactly an interval late, after traffic, re-arms (the machine did not sleep)', () => {
    const state = createLiveness();
    startInterval(state, 0, timing);
    sawActivity(state);
    expect(judge(state, 2 * timing.interval, timing)).to.equal('rearm');
  });

  // liveness.ts judge: `Math.max(timing.interval, 1000)` → `Math.min`
  it('with a long interval, a check late by less than the interval is no sleep: traffic re-arms', () => {
    const long = { interval: 5000, timeout: 300 };
    const state = createLiveness();
    startInterval(state, 0, long);
    sawActivity(state);
    expect(judge(state, long.interval + 2000, long)).to.equal('rearm');
    startInterval(state, 0, long);
    sawActivity(state);
    expect(judge(state, 2 * long.interval + 1, long), 'later than an interval: slept').to.equal('probe');
  });
});

describe('heartbeat(): behaviour found unpinned by mutation testing (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const open = fakeOpener<unknown, unknown>(kit, {});
  type Options = SteadySocketOptions<unknown, unknown>;

  /** A client over the fake transport, open, with the heartbeat (application ping) and `extra` options. */
  async function opened(extra: Options = {}, timing = { interval: 1000, timeout: 500 }) {
    const errors: SteadySocketError[] = [];
    const socket = await open({ minDelay: 60_000, jitter: 0, closeTimeout: 60_000, ...extra, use: [...(extra.use ?? []), heartbeat({ ...timing, ...appPing })] });
    socket.on('error', (error) => errors.push(error));
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    return { socket, ws, errors };
  }

  describe('options', () => {
    // heartbeat.ts: the `options === null || typeof options !== 'object'` check, each half
    it('heartbeat(null) and heartbeat(5) throw INVALID_OPTION saying it takes { interval, timeout }', () => {
      for (const bad of [null, 5]) {
        expect(() => heartbeat(bad as never), String(bad))
          .to.throw(SteadySocketError, 'heartbeat() takes { interval, timeout }')
          .with.property('code', 'INVALID_OPTION');
      }
    });

    // heartbeat.ts: the names given to checkNumber and the ping/isPong message, each → ""
    it('a bad interval, timeout or ping pair is named in the INVALID_OPTION message', () => {
      expect(() => heartbeat({ interval: 0, timeout: 1 })).to.throw(SteadySocketError, 'heartbeat interval');
      expect(() => heartbeat({ interval: 1, timeout: 0 })).to.throw(SteadySocketError, 'heartbeat timeout');
      expect(() => heartbeat({ interval: 1, timeout: 1, ping: () => 'ping' } as never)).to.throw(SteadySocketError, 'ping and isPong go together');
    });
  });

  describe('the timer', () => {
    // heartbeat.ts tick: `!conn || !live || client.state !== 'open'` → `false`, → `(!conn || !live) && …`, → `… || false`
    it('does not cut a closing handshake short: close() waits closeTimeout, no HEARTBEAT_TIMEOUT', async () => {
      const { socket, ws, errors } = await opened();
      ws.close = (code?: number, reason?: string) => {
        ws.closeCalls.push({ code, reason });
        ws.readyState = FakeWebSocket.CLOSING; // the server never answers the close frame
      };
      const closes: string[] = [];
      socket.on('close', (info) => closes.push(info.reason));
      const done = socket.close();
      kit.clock.tick(30_000);
      expect(errors.map((error) => error.code)).to.deep.equal([]);
      expect(socket.state).to.equal('closing');
      kit.clock.tick(30_000);
      await done;
      expect(closes).to.deep.equal(['close timed out']);
    });

    // heartbeat.ts tick: `now - live.pingAt` → `now + live.pingAt` in the message
    it('HEARTBEAT_TIMEOUT says how long the ping went unanswered', async () => {
      kit.clock.setSystemTime(1_000_000);
      const { errors } = await opened();
      kit.clock.tick(1500);
      expect(errors.map((error) => error.message)).to.deep.equal(['No sign of life for 500 ms after a ping (heartbeat).']);
    });

    // heartbeat.ts tick: `now - live.due` → `+`, and `late > options.interval` → true, false, >=, <= (the debug line)
    it('debug() says the machine slept only when a quiet check ran more than an interval late', async () => {
      const lines: string[] = [];
      const { ws } = await opened({ use: [debug((line) => lines.push(line))] });
      const slept = () => lines.filter((line) => line.includes('the machine slept'));
      kit.clock.tick(1000); // on time: a probe, no sleep
      expect(ws.sent).to.deep.equal(['ping']);
      ws.serverMessage('pong');
      kit.clock.setSystemTime(kit.clock.now + 1000); // exactly an interval late: not a sleep
      kit.clock.tick(1000);
      expect(ws.sent).to.deep.equal(['ping', 'ping']);
      expect(slept()).to.deep.equal([]);
      ws.serverMessage('pong');
      kit.clock.setSystemTime(kit.clock.now + 1001);
      kit.clock.tick(1000);
      expect(slept()).to.deep.equal(['[steadysocket] timer fired 1001 ms late: the machine slept; checking the connection']);
    });
    // heartbeat.ts tick: the grace's debug line → ""
    it('debug() says when a pong timeout ran late and how long the grace is', async () => {
      const lines: string[] = [];
      const { socket, ws } = await opened({ use: [debug((line) => lines.push(line))] });
      kit.clock.tick(1000); // quiet: ping
      expect(ws.sent).to.deep.equal(['ping']);
      kit.clock.setSystemTime(kit.clock.now + 200); // the pong timeout runs 200 ms late: grace
      kit.clock.tick(500);
      expect(lines.filter((line) => line.includes('late'))).to.deep.equal(['[steadysocket] heartbeat timeout ran 200 ms late: waiting 500 ms more for the pong']);
      expect(socket.state, 'still open during the grace').to.equal('open');
    });
  });

  describe('the probe', () => {
    // heartbeat.ts probe: `client._writable() === target` → true
    it('sends no ping on a connection the server started closing (its close event not come yet)', async () => {
      const { ws } = await opened();
      ws.serverCloseFrame();
      kit.clock.tick(1000);
      expect(ws.sent).to.deep.equal([]);
      expect(ws.lost, 'nothing written to the closing socket').to.deep.equal([]);
    });

    // heartbeat.ts probe: the wrapping of an error that is no SteadySocketError, its code and message → ""
    it('a ping that cannot be written is reported as HEARTBEAT_TIMEOUT "Sending a ping failed.", with the cause', async () => {
      const { ws, errors } = await opened();
      const boom = new Error('EPIPE');
      ws.send = () => {
        throw boom;
      };
      kit.clock.tick(1000);
      expect(errors.map(({ code, message, cause }) => ({ code, message, cause }))).to.deep.equal([{ code: 'HEARTBEAT_TIMEOUT', message: 'Sending a ping failed.', cause: boom }]);
    });

    // heartbeat.ts matchesPong: `return false` in its catch → true
    it('an isPong that throws matches nothing: the message is delivered', async () => {
      const socket = await open({
        use: [heartbeat({ interval: 1000, timeout: 500, ping: () => 'ping', isPong: () => JSON.parse('{') })],
      });
      const received: unknown[] = [];
      socket.on('message', (message) => received.push(message));
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverMessage('pong');
      expect(received).to.deep.equal(['pong']);
    });
  });

  describe('offline while open (pageSignals)', () => {
    // heartbeat.ts probe hook: `if (!live.probing) probe()` → `if (true) probe()`
    it('offline during a probe sends no second ping and keeps its deadline', async () => {
      const page = new FakeWindow();
      const { socket, ws } = await opened({ use: [pageSignals(page)] });
      kit.clock.tick(1000);
      expect(ws.sent).to.deep.equal(['ping']);
      kit.clock.tick(300);
      page.navigator.onLine = false;
      page.dispatch('offline');
      expect(ws.sent).to.deep.equal(['ping']);
      kit.clock.tick(200);
      expect(socket.state, 'dropped 500 ms after the ping').to.equal('waiting');
    });

    // heartbeat.ts release: `if (!client._held) return` → false; its debug lines → ""
    it('debug() tells when the offline probe holds new messages and when the answer releases them, and only then', async () => {
      const page = new FakeWindow();
      const lines: string[] = [];
      const { ws } = await opened({ use: [pageSignals(page), debug((line) => lines.push(line))] });
      ws.serverMessage('hello');
      const held = () => lines.filter((line) => /offline: probing|writing what waited/.test(line));
      expect(held()).to.deep.equal([]);
      page.navigator.onLine = false;
      page.dispatch('offline');
      ws.serverMessage('pong');
      ws.serverMessage('more');
      expect(held()).to.deep.equal([
        '[steadysocket] offline: probing the connection; new messages wait for its answer',
        '[steadysocket] the connection answered: writing what waited',
      ]);
    });
  });

  describe('ping() with the heartbeat', () => {
    // heartbeat.ts hooks: `appPing: ping && isPong ? … : undefined` → `true ? …`
    it('a heartbeat without an application ping gives ping() none: INVALID_OPTION on a socket with no protocol ping', async () => {
      const socket = await open({ use: [heartbeat({ interval: 1000, timeout: 500 })] });
      FakeWebSocket.last.serverOpen();
      const error = await ping(socket).catch((caught: unknown) => caught);
      expect(error).to.be.instanceOf(SteadySocketError).with.property('code', 'INVALID_OPTION');
      expect(FakeWebSocket.last.sent).to.deep.equal([]);
    });
  });
});

describe('ping(): behaviour found unpinned by mutation testing (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const open = fakeOpener<unknown, unknown>(kit, {});

  /** An open client whose heartbeat has an application ping (the fake socket has no protocol ping). */
  async function opened() {
    const socket = await open({ minDelay: 60_000, jitter: 0, use: [heartbeat({ interval: 60_000, timeout: 60_000, ...appPing })] });
    const ws = FakeWebSocket.last;
    ws.serverOpen();
    return { socket, ws };
  }

  // ping.ts: `Date.now() - started` → `+`
  it('resolves with the round trip in ms: from the ping to its pong', async () => {
    kit.clock.setSystemTime(1_000_000);
    const { ws, socket } = await opened();
    const rtt = ping(socket);
    expect(ws.sent).to.deep.equal(['ping']);
    kit.clock.tick(42);
    ws.serverMessage('pong');
    expect(await rtt).to.equal(42);
  });

  // ping.ts message hook: `isPong && matchesPong(isPong, value) && end(from)` → `true && end(from)`, → `isPong || …`
  it('with an application ping, only the message isPong recognises ends it', async () => {
    const { ws, socket } = await opened();
    const received: unknown[] = [];
    socket.on('message', (message) => received.push(message));
    let rtt: number | undefined;
    void ping(socket).then((value) => (rtt = value));
    kit.clock.tick(5);
    ws.serverMessage('hello');
    await kit.turns();
    expect(rtt, 'not a pong').to.equal(undefined);
    kit.clock.tick(5);
    ws.serverMessage('pong');
    await kit.turns();
    expect(rtt).to.equal(10);
    expect(received).to.deep.equal(['hello']);
  });

  // ping.ts: the catch around the write (no coverage), its code and message → ""
  it('a ping that cannot be written rejects with CONNECTION_CLOSED "The ping could not be sent.", with the cause', async () => {
    const { ws, socket } = await opened();
    const boom = new Error('EPIPE');
    ws.send = () => {
      throw boom;
    };
    const error = await rejection(ping(socket));
    expect({ code: error.code, message: error.message, cause: error.cause }).to.deep.equal({ code: 'CONNECTION_CLOSED', message: 'The ping could not be sent.', cause: boom });
  });

  // ping.ts: the messages of INVALID_OPTION, CONNECTION_CLOSED and PING_TIMEOUT → ""
  it('says why it failed: a bad timeout, not connected, no way to ping, no pong in time, the connection closed', async () => {
    const { ws, socket } = await opened();
    expect(() => ping(socket, { timeout: 0 })).to.throw(SteadySocketError, 'ping timeout');
    const late = rejection(ping(socket, { timeout: 100 }));
    kit.clock.tick(100);
    expect((await late).message).to.equal('No pong within 100 ms.');
    const cut = rejection(ping(socket));
    ws.serverClose(1001);
    expect(await cut).to.include({ code: 'CONNECTION_CLOSED', message: 'The connection closed before the pong came.' });
    expect(await rejection(ping(socket))).to.include({ code: 'CONNECTION_CLOSED', message: 'Not connected (state waiting): nothing to ping.' });
    const bare = await open({ use: [heartbeat({ interval: 60_000, timeout: 60_000 })] });
    FakeWebSocket.last.serverOpen();
    expect((await rejection(ping(bare))).message).to.equal('This WebSocket has no protocol ping: give the client heartbeat({ interval, timeout, ping, isPong }).');
  });
});

describe('page signals where the page is partial or the host odd (listenToPage, isOffline)', () => {
  const handlers: PageSignalHandlers = { online() {}, offline() {}, visible() {}, suspend() {}, resume() {} };
  const offlinePage = { navigator: { onLine: false } };

  // page-signals.ts listenToPage: the `typeof … !== 'function' || typeof document?.addEventListener !== 'function'` check, its halves and `?.`
  it('subscribes nothing where there is no window with a document (Node, workers)', () => {
    const window = new FakeWindow();
    expect(listenToPage({}, handlers)).to.equal(undefined);
    expect(listenToPage({ addEventListener: window.addEventListener.bind(window) }, handlers)).to.equal(undefined);
    expect(listenToPage({ document: window.document }, handlers)).to.equal(undefined);
    expect(window.count).to.equal(0);
  });

  // page-signals.ts the undo: `target.removeEventListener?.(…)` → `target.removeEventListener(…)`
  it('the undo works on a target that cannot remove listeners (it removes what it can)', () => {
    const window = new FakeWindow();
    const undo = listenToPage({ addEventListener: window.addEventListener.bind(window), document: window.document }, handlers)!;
    expect(undo).to.not.throw();
    expect(window.listeners.get('visibilitychange')?.size).to.equal(0);
  });

  // page-signals.ts isOffline/isLoopback: `navigator?.` → `navigator.`; `if (!url) return false` → true; the catch's false → true; the anchors and \d{1,3} of LOOPBACK
  it('is offline only when the navigator says so, for any host that is not exactly loopback', () => {
    expect(isOffline({}, 'ws://example.test/'), 'no navigator').to.equal(false);
    expect(isOffline(offlinePage, undefined), 'no URL yet').to.equal(true);
    expect(isOffline(offlinePage, 'not a url'), 'an unparsable URL').to.equal(true);
    for (const host of ['localhost.example.test', 'mylocalhost', '127.0.0.1000', '127.0.0.10.example.test']) {
      expect(isOffline(offlinePage, `ws://${host}/`), host).to.equal(true);
    }
    for (const host of ['localhost', '127.0.0.1', '127.255.255.254', '[::1]']) {
      expect(isOffline(offlinePage, `ws://${host}/`), host).to.equal(false);
    }
  });
});

describe('pageSignals(): behaviour found unpinned by mutation testing (fake window, transport and clock)', () => {
  const kit = useFakeClock();
  const open = fakeOpener<unknown, unknown>(kit, { minDelay: 60_000, maxDelay: 60_000, jitter: 0 });

  /** What each `reconnecting` event of `socket` said. */
  function waits(socket: SteadySocket<unknown, unknown>) {
    const seen: ReconnectingInfo[] = [];
    socket.on('reconnecting', (info) => seen.push(info));
    return seen;
  }

  // page.ts: `if (!remove) return` → `if (false) return`
  it('does nothing where there is no page: a worker that reports offline still backs off as usual', async () => {
    const worker = { addEventListener() {}, navigator: { onLine: false } };
    const socket = await open({ minDelay: 100, use: [pageSignals(worker)] });
    const seen = waits(socket);
    FakeWebSocket.last.fail();
    expect(seen.map((info) => ({ delay: info.delay, offline: info.offline }))).to.deep.equal([{ delay: 100, offline: false }]);
  });

  // page.ts resume: `if (!suspended) return` → `if (false) return`
  it('a pageshow from the cache the client was not hidden for leaves its wait alone', async () => {
    const page = new FakeWindow();
    const socket = await open({ use: [pageSignals(page)] });
    FakeWebSocket.last.fail();
    page.dispatch('pageshow', { persisted: true });
    expect(socket.state).to.equal('waiting');
    expect(FakeWebSocket.instances).to.have.length(1);
  });

  // page.ts: the 'page visible again' debug line → ""
  it('debug() says why it tries at once when the page becomes visible', async () => {
    const page = new FakeWindow();
    const lines: string[] = [];
    const socket = await open({ use: [pageSignals(page), debug((line) => lines.push(line))] });
    FakeWebSocket.last.fail();
    page.dispatch('visibilitychange');
    expect(socket.state).to.equal('connecting');
    expect(lines).to.include('[steadysocket] page visible again: trying at once');
  });

  // page.ts holds: the CloseInfo → `{}`, `wasClean: true` → false
  it('a reconnect that was closing when the page was hidden waits for good, saying the page was hidden', async () => {
    const page = new FakeWindow();
    const socket = await open({ use: [pageSignals(page)] });
    FakeWebSocket.last.serverOpen();
    const seen = waits(socket);
    socket.reconnect();
    page.dispatch('pagehide', { persisted: true });
    kit.clock.tick(5); // the closing handshake ends
    expect(FakeWebSocket.instances, 'no socket opened in the cache').to.have.length(1);
    expect(seen).to.deep.equal([{ attempt: 0, delay: Infinity, offline: false, cause: { code: 1000, reason: 'page hidden', wasClean: true, attempt: 0 } }]);
  });

  // page.ts: `open() { suspended = false }` → `open() {}`
  it('a connection that opens after the page was hidden (its URL came late) reconnects with the usual backoff when it drops', async () => {
    const page = new FakeWindow();
    let give: (url: string) => void = () => {};
    const socket = kit.track(
      new SteadySocket<unknown, unknown>(() => new Promise<string>((resolve) => (give = resolve)), { WebSocket: FakeWebSocket as never, minDelay: 100, jitter: 0, use: [pageSignals(page)] }),
    );
    socket.on('error', () => {});
    await kit.turns();
    page.dispatch('pagehide', { persisted: true });
    give('ws://example.test/');
    await kit.turns();
    FakeWebSocket.last.serverOpen();
    expect(socket.state).to.equal('open');
    const seen = waits(socket);
    FakeWebSocket.last.serverClose(1006);
    expect(seen.map((info) => info.delay)).to.deep.equal([100]);
  });
});

describe('ready(): behaviour found unpinned by mutation testing (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const open = fakeOpener<unknown, unknown>(kit, { minDelay: 60_000, jitter: 0 });

  // ready.ts ReadyStep finish: `this.waiters = undefined` → `{}`
  it('a next() the step left pending when it finished never settles: later messages go to the application only, and its close rejects nothing', async () => {
    const late: unknown[] = [];
    const socket = await open({
      use: [
        ready((context) => {
          void context.next().then(
            (message) => late.push(message),
            (error: SteadySocketError) => late.push(error.code),
          );
        }),
      ],
    });
    const received: unknown[] = [];
    socket.on('message', (message) => received.push(message));
    FakeWebSocket.last.serverOpen();
    await kit.turns();
    expect(socket.state).to.equal('open');
    FakeWebSocket.last.serverMessage('after');
    await kit.turns();
    expect(received).to.deep.equal(['after']);
    expect(late).to.deep.equal([]);
    // Nor is it rejected when that connection closes (as documented: it never settles).
    FakeWebSocket.last.serverClose(1006);
    await kit.turns();
    expect(socket.state).to.equal('waiting');
    expect(late).to.deep.equal([]);
  });

  // features/ready.ts: `if (typeof step !== 'function')` → false; its message → ""
  it('ready() without a function throws INVALID_OPTION at once, saying it takes a function', () => {
    expect(() => ready(5 as never))
      .to.throw(SteadySocketError, 'ready() takes a function.')
      .with.property('code', 'INVALID_OPTION');
  });

  // features/ready.ts: the READY_FAILED message → ``
  it('READY_FAILED says the ready step failed, and why', async () => {
    const messages: string[] = [];
    const socket = await open({
      use: [
        ready(() => {
          throw new Error('no hello');
        }),
      ],
    });
    socket.on('error', (error) => messages.push(error.message));
    FakeWebSocket.last.serverOpen();
    await kit.turns();
    expect(messages).to.deep.equal(['The ready step failed: no hello']);
  });

  // features/ready.ts connectionClosed: its message → ""
  it('a next() the connection ends under rejects with CONNECTION_CLOSED saying the step did not finish', async () => {
    let caught: unknown;
    await open({
      use: [
        ready(async (context) => {
          caught = await context.next().catch((error: unknown) => error);
        }),
      ],
    });
    FakeWebSocket.last.serverOpen();
    FakeWebSocket.last.serverClose(1001);
    await kit.turns();
    expect(caught).to.be.instanceOf(SteadySocketError).and.include({ code: 'CONNECTION_CLOSED', message: 'This connection closed before the ready step finished.' });
  });

  // features/ready.ts: the state listener's `state === 'closing' && …` → `true && …`
  it("the step's signal stays unaborted while its connection is open, and aborts when close() is called", async () => {
    let signal: AbortSignal | undefined;
    const socket = await open({ use: [ready((context) => void (signal = context.signal))] });
    FakeWebSocket.last.serverOpen();
    await kit.turns();
    expect(socket.state).to.equal('open');
    expect(signal!.aborted, 'open').to.equal(false);
    void socket.close();
    expect(signal!.aborted, 'closing').to.equal(true);
  });
});

describe('codecs and sizes: behaviour found unpinned by mutation testing', () => {
  // codecs.ts json encode: its TypeError message → ``
  it('json says which type it cannot encode', () => {
    expect(() => json().encode(undefined)).to.throw(TypeError, 'JSON cannot encode a value of type undefined.');
    expect(() => json().encode(() => 1)).to.throw(TypeError, 'JSON cannot encode a value of type function.');
  });

  // codecs.ts json decode: the Blob check (each half, its block) and its message → ""
  it('json refuses a Blob, saying to set binaryType to "arraybuffer"', () => {
    expect(() => json().decode(new Blob(['{}']))).to.throw(TypeError, 'The json codec cannot decode a Blob: set binaryType to "arraybuffer".');
  });

  // codecs.ts json decode: `{ fatal: true }` → `{}`, `fatal: false`
  it('json refuses a binary frame that is not UTF-8 (no U+FFFD read in its place)', () => {
    expect(() => json().decode(new Uint8Array([0x22, 0xff, 0x22]))).to.throw(TypeError);
    expect(json().decode(new Uint8Array([0x22, 0xc3, 0xa9, 0x22]))).to.equal('é');
  });

  // codecs.ts wireSize: the Blob check's halves (`&&` → `||`, each → true); the tag regex's `$`
  it('wireSize takes only a whole Blob (size and arrayBuffer) or a real ArrayBuffer tag: a Map, { size }, a lone arrayBuffer() are unsendable', () => {
    expect(wireSize(new Map([[1, 2]])), 'a Map').to.equal(-1);
    expect(wireSize({ size: 3 }), '{ size }').to.equal(-1);
    expect(wireSize({ size: 3, arrayBuffer: 'no' }), 'arrayBuffer not a function').to.equal(-1);
    expect(wireSize({ arrayBuffer: () => Promise.resolve(new ArrayBuffer(0)) }), 'no size').to.equal(-1);
    expect(wireSize({ size: 3, arrayBuffer: () => Promise.resolve(new ArrayBuffer(3)) }), 'a Blob-like').to.equal(3);
    expect(wireSize({ byteLength: 3, [Symbol.toStringTag]: 'ArrayBuffer] or not' }), 'a tag that only begins like one').to.equal(-1);
  });

  // codecs.ts utf8Length: the surrogate checks (each bound, `&&` → `||`, → true); lone surrogates go out as U+FFFD (3 bytes)
  it('utf8Length equals the bytes on the wire for any UTF-16, lone and misordered surrogates included', () => {
    const units = [0x61, 0xe9, 0x7ff, 0x800, 0x20ac, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xffff];
    const text = fc.array(fc.constantFrom(...units), { maxLength: 8 }).map((codes) => String.fromCharCode(...codes));
    fc.assert(fc.property(text, (sample) => utf8Length(sample) === Buffer.byteLength(sample, 'utf8')), { numRuns: 2000 });
    for (const sample of ['€\udc00', '\udc00\udc00', '\udbff\udc00', '\ud800é', '\ud800\ue000', '\ud800\udfff', '\ud800\udc00']) {
      expect(utf8Length(sample), JSON.stringify(sample)).to.equal(Buffer.byteLength(sample, 'utf8'));
    }
  });
});

describe('stats(): behaviour found unpinned by mutation testing (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const open = fakeOpener<unknown, unknown>(kit, { minDelay: 60_000, jitter: 0 });

  // stats.ts snapshot: `client?._hooks` → `client._hooks`, `client?._outbox` → `client._outbox`
  it('snapshot() before the client is created reads zeros (it does not throw)', () => {
    expect(stats().snapshot()).to.deep.equal({ attempts: 0, reconnects: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, rtt: undefined, connectedTime: 0, queued: 0 });
  });

  // stats.ts snapshot: `c.openedAt >= 0` → `> 0`
  it("counts the time of a connection opened at the clock's 0 (a fake clock's epoch) while it is open", async () => {
    const counters = stats();
    await open({ use: [counters] });
    expect(Date.now()).to.equal(0);
    FakeWebSocket.last.serverOpen();
    kit.clock.tick(500);
    expect(counters.snapshot().connectedTime).to.equal(500);
  });
});

describe('debug(): behaviour found unpinned by mutation testing (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const open = fakeOpener<unknown, unknown>(kit, {});

  // debug.ts: the INVALID_OPTION message → ""
  it('debug(console) throws INVALID_OPTION saying it takes a function of a line', () => {
    expect(() => debug(console as never))
      .to.throw(SteadySocketError, 'debug() takes a function of a line: debug((line) => logger.debug(line)).')
      .with.property('code', 'INVALID_OPTION');
  });

  // debug.ts PEER_NAMES: each of these hints → ""
  it("names steadysocket's option for each of these options of another client", async () => {
    const hints: Record<string, string> = {
      maxReconnectionDelay: 'maxDelay',
      reconnectionDelayGrowFactor: 'factor',
      minUptime: 'stableAfter',
      connectionTimeout: 'connectTimeout',
      maxEnqueuedMessages: 'maxMessages',
      maxReconnectInterval: 'maxDelay',
      reconnectDecay: 'factor',
      maxAttempts: 'maxRetries',
      maxReconnectAttempts: 'maxRetries',
      retries: 'maxRetries',
      startClosed: 'no option: create the client when you want it to connect',
      onmessage: "socket.on('message', ...)",
      onclose: "socket.on('close', ...)",
      onerror: "socket.on('error', ...)",
      onreconnect: "socket.on('reconnecting', ...)",
    };
    const lines: string[] = [];
    const peer = Object.fromEntries(Object.keys(hints).map((name) => [name, 1]));
    // The process warnings (once per name and process) are caught here rather than printed.
    const emitted: unknown[][] = [];
    const emitWarning = process.emitWarning;
    process.emitWarning = ((...args: unknown[]) => void emitted.push(args)) as typeof process.emitWarning;
    try {
      await open({ ...peer, use: [debug((line) => lines.push(line))] } as SteadySocketOptions<unknown, unknown>);
    } finally {
      process.emitWarning = emitWarning;
    }
    const warnings = lines.filter((line) => line.includes('warning: option'));
    expect(warnings).to.deep.equal(Object.entries(hints).map(([name, ours]) => `[steadysocket] warning: option ${name} is another client's; steadysocket: ${ours}`));
    // Once per name and process: a name another test in this process used already is not warned again.
    for (const [message, options] of emitted) {
      expect(Object.keys(hints)).to.include(String(message).split(' ')[3]);
      expect(options).to.deep.include({ code: 'STEADYSOCKET_OPTION' });
    }
  });
});
