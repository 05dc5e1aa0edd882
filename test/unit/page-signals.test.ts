// Page and network signals with a fake window (issue 12 §4): the room on its own, then the client
// wired to it. The real-browser scenarios (test/everywhere) cover the same in Chromium and Firefox.
import FakeTimers, { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { heartbeat, pageSignals, SteadySocket, type Feature, type SteadySocketOptions } from '../../src/index';
import { isOffline, listenToPage, type PageSignalHandlers } from '../../src/page-signals';
import { FakeWebSocket } from '../support/fake-websocket';
import { FakeWindow } from '../support/fake-window';

type Listener = (event: { persisted?: boolean }) => void;


describe('page signals', () => {
  describe('listenToPage (a fake window passed in)', () => {
    it('maps each signal to its handler and undoes every subscription', () => {
      const page = new FakeWindow();
      const calls: string[] = [];
      const handlers: PageSignalHandlers = {
        online: () => calls.push('online'),
        offline: () => calls.push('offline'),
        visible: () => calls.push('visible'),
        suspend: () => calls.push('suspend'),
        resume: () => calls.push('resume'),
      };
      const undo = listenToPage(page, handlers)!;
      page.dispatch('online');
      page.dispatch('offline');
      page.document.visibilityState = 'hidden';
      page.dispatch('visibilitychange');
      page.document.visibilityState = 'visible';
      page.dispatch('visibilitychange');
      page.dispatch('pagehide', { persisted: false }); // a real unload: nothing to do
      page.dispatch('pagehide', { persisted: true });
      page.dispatch('pageshow', { persisted: false });
      page.dispatch('pageshow', { persisted: true });
      expect(calls).to.deep.equal(['online', 'offline', 'visible', 'suspend', 'resume']);
      expect(page.count).to.equal(5);
      undo();
      expect(page.count).to.equal(0);
    });

    it('subscribes nothing where there is no page', () => {
      expect(listenToPage({}, {} as PageSignalHandlers)).to.equal(undefined);
    });

    it('never calls a loopback host offline', () => {
      const page = new FakeWindow();
      page.navigator.onLine = false;
      expect(isOffline(page, 'wss://example.org/')).to.equal(true);
      expect(isOffline(page, 'ws://127.0.0.1:9/')).to.equal(false);
      expect(isOffline(page, 'ws://[::1]:9/')).to.equal(false);
      page.navigator.onLine = true;
      expect(isOffline(page, 'wss://example.org/')).to.equal(false);
    });
  });

  describe('the client on a page (fake window as the global, fake transport and clock)', () => {
    let clock: InstalledClock;
    let page: FakeWindow;
    const global = globalThis as unknown as Record<string, unknown>;
    const installed = ['addEventListener', 'removeEventListener', 'document', 'navigator'];
    const saved = new Map<string, PropertyDescriptor | undefined>();
    const sockets: SteadySocket<unknown, unknown>[] = [];

    beforeEach(() => {
      FakeWebSocket.reset();
      clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'queueMicrotask'] });
      page = new FakeWindow();
      for (const key of installed) {
        saved.set(key, Object.getOwnPropertyDescriptor(globalThis, key));
        const value = key === 'addEventListener' || key === 'removeEventListener' ? (page[key as 'addEventListener'] as Function).bind(page) : page[key as 'document'];
        Object.defineProperty(globalThis, key, { value, configurable: true, writable: true });
      }
    });

    afterEach(() => {
      for (const socket of sockets.splice(0)) void socket.close();
      clock.runAll();
      clock.uninstall();
      for (const key of installed) {
        const descriptor = saved.get(key);
        if (descriptor) Object.defineProperty(globalThis, key, descriptor);
        else delete global[key];
      }
    });

    async function open(options: Omit<SteadySocketOptions<unknown, unknown>, 'use'> & { use?: Feature[] } = {}) {
      const socket = new SteadySocket<unknown, unknown>('wss://example.org/feed', {
        WebSocket: FakeWebSocket as never,
        ...options,
        use: [pageSignals(), ...(options.use ?? [])],
      });
      sockets.push(socket);
      await Promise.resolve(); // the first attempt
      return socket;
    }

    it('bfcache: pagehide (persisted) closes with 1000 "page hidden", holds attempts, and pageshow reconnects and flushes', async () => {
      const socket = await open({ minDelay: 10, jitter: 0 });
      const closes: { code: number; reason: string }[] = [];
      socket.on('close', (info) => closes.push({ code: info.code, reason: info.reason }));
      const ws = FakeWebSocket.last;
      ws.serverOpen();
      page.dispatch('pagehide', { persisted: true });
      expect(ws.closeCalls).to.deep.equal([{ code: 1000, reason: 'page hidden' }]);
      expect(closes).to.deep.equal([{ code: 1000, reason: 'page hidden' }]);
      expect(socket.state).to.equal('waiting');
      socket.send('while hidden');
      clock.tick(60_000);
      expect(FakeWebSocket.instances, 'no attempt while in the cache').to.have.length(1);
      page.dispatch('pageshow', { persisted: true });
      expect(socket.state).to.equal('connecting');
      FakeWebSocket.last.serverOpen();
      expect(FakeWebSocket.last.sent).to.deep.equal(['while hidden']);
    });

    it('a hidden page that becomes visible while waiting tries at once', async () => {
      const socket = await open({ minDelay: 60_000, jitter: 0 });
      FakeWebSocket.last.fail();
      expect(socket.state).to.equal('waiting');
      page.document.visibilityState = 'visible';
      page.dispatch('visibilitychange');
      expect(socket.state).to.equal('connecting');
      expect(FakeWebSocket.instances).to.have.length(2);
    });

    it('online cuts a wait short; offline holds attempts for at most maxDelay', async () => {
      const socket = await open({ minDelay: 100, maxDelay: 20_000, jitter: 0 });
      FakeWebSocket.last.fail();
      page.navigator.onLine = false;
      page.dispatch('offline');
      clock.tick(19_999);
      expect(FakeWebSocket.instances, 'no attempt while offline').to.have.length(1);
      page.navigator.onLine = true;
      page.dispatch('online');
      expect(socket.state).to.equal('connecting');
      expect(FakeWebSocket.instances).to.have.length(2);
    });

    it('offline: a failed fallback attempt counts toward maxRetries, one every maxDelay (the guide says so)', async () => {
      page.navigator.onLine = false;
      const socket = await open({ minDelay: 100, maxDelay: 20_000, jitter: 0, maxRetries: 2 });
      const waits: { attempt: number; delay: number; offline?: boolean }[] = [];
      socket.on('reconnecting', (info) => waits.push({ attempt: info.attempt, delay: info.delay, offline: info.offline }));
      const codes: string[] = [];
      socket.on('error', (error) => codes.push(error.code));
      for (let i = 0; i < 3; i++) {
        FakeWebSocket.last.fail();
        clock.tick(19_999);
        expect(FakeWebSocket.instances, `attempt ${i + 2} not before maxDelay`).to.have.length(i + 1);
        clock.tick(1);
      }
      expect(waits).to.deep.equal([
        { attempt: 1, delay: 20_000, offline: true },
        { attempt: 2, delay: 20_000, offline: true },
      ]);
      expect(codes.at(-1)).to.equal('RETRIES_EXHAUSTED');
      expect(socket.state).to.equal('closed');
    });

    it('offline while open probes the connection at once with the heartbeat', async () => {
      const socket = await open({ use: [heartbeat({ interval: 60_000, timeout: 500, ping: () => 'ping', isPong: (m: unknown) => m === 'pong' })] });
      FakeWebSocket.last.serverOpen();
      page.navigator.onLine = false;
      page.dispatch('offline');
      expect(FakeWebSocket.last.sent).to.deep.equal(['ping']);
      clock.tick(500);
      expect(socket.state, 'no pong: dead').to.equal('waiting');
    });

    describe('offline while open, with the heartbeat: new messages wait until the connection answers (Chromium keeps a dead socket open)', () => {
      const live = () => [heartbeat({ interval: 60_000, timeout: 500, ping: () => 'ping', isPong: (m: unknown) => m === 'pong' })];

      it('a sign of life writes what waited, in order, and sends go out at once again', async () => {
        const socket = await open({ use: live() });
        FakeWebSocket.last.serverOpen();
        socket.send('before');
        page.navigator.onLine = false;
        page.dispatch('offline');
        socket.send('a');
        const delivered = socket.deliver('b');
        expect(FakeWebSocket.last.sent, 'held: only the probe went out').to.deep.equal(['before', 'ping']);
        expect(socket.queued).to.deep.equal(['a', 'b']);
        FakeWebSocket.last.serverMessage('pong');
        await Promise.resolve(); // the heartbeat writes what waited on a promise job
        expect(FakeWebSocket.last.sent).to.deep.equal(['before', 'ping', 'a', 'b']);
        await delivered;
        socket.send('c');
        expect(FakeWebSocket.last.sent.at(-1), 'no longer held').to.equal('c');
      });

      it('a probe that gets no answer: what waited goes to the next connection, none of it lost', async () => {
        const socket = await open({ use: live(), minDelay: 100, maxDelay: 100, jitter: 0 });
        const first = FakeWebSocket.last;
        first.serverOpen();
        page.navigator.onLine = false;
        page.dispatch('offline');
        socket.send('a');
        clock.tick(500); // no pong: dead
        expect(first.sent, 'never written to the dead socket').to.deep.equal(['ping']);
        clock.tick(100);
        FakeWebSocket.last.serverOpen();
        expect(FakeWebSocket.last).to.not.equal(first);
        expect(FakeWebSocket.last.sent).to.deep.equal(['a']);
      });

      it('without the heartbeat nothing is held (nothing would end the wait)', async () => {
        const socket = await open();
        FakeWebSocket.last.serverOpen();
        page.navigator.onLine = false;
        page.dispatch('offline');
        socket.send('a');
        expect(FakeWebSocket.last.sent).to.deep.equal(['a']);
      });

      it('nor for a loopback host, which the network going away does not reach', async () => {
        const socket = new SteadySocket<unknown, unknown>('ws://127.0.0.1:8080/feed', { WebSocket: FakeWebSocket as never, use: [pageSignals(), ...live()] });
        sockets.push(socket);
        await Promise.resolve(); // the first attempt
        FakeWebSocket.last.serverOpen();
        page.navigator.onLine = false;
        page.dispatch('offline');
        socket.send('a');
        expect(FakeWebSocket.last.sent, 'no probe, nothing held').to.deep.equal(['a']);
      });
    });

    it('listens to nothing without the pageSignals feature', async () => {
      const socket = new SteadySocket<unknown, unknown>('wss://example.org/feed', { WebSocket: FakeWebSocket as never, minDelay: 60_000 });
      sockets.push(socket);
      await Promise.resolve(); // the first attempt
      expect(page.count).to.equal(0);
      FakeWebSocket.last.fail();
      page.dispatch('online');
      expect(socket.state, 'online does not wake it').to.equal('waiting');
    });

    it('removes its page listeners when closed', async () => {
      const socket = await open();
      expect(page.count).to.equal(5);
      const done = socket.close();
      clock.tick(10);
      await done;
      expect(page.count).to.equal(0);
    });
  });
});
