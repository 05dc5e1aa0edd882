// The client's timers behave the same in every build it ships, not only in the source. The
// minified builds (script tag, ESM .min) mangle private property names (rollup.config.mjs), so
// state kept under a name spelled as a string is a different property there than the one read.
//
// - Issue 14 §1, the bound: once the server has started closing (the socket left OPEN, its close
//   event not yet come), the client lets go closeTimeout ms after it noticed. The socket is a
//   WHATWG stand-in injected with the `WebSocket` option, in the state a browser keeps while a
//   server holds TCP open after its close frame: CLOSING, no close event. (The real thing, in real
//   runtimes, is the "holds TCP open" scenario in test/everywhere/scenarios.js.)
// - `ttl()`: a queued message expires ttl ms after it was queued, also while more are queued.
// - `heartbeat()`: a connection that stops answering is declared dead after the timeout; one
//   that answers every ping stays open (the feature re-arms its timer through the client).
// Since 0.2 the features hold their own timers (the client keeps `_stateTimer` and
// `_drainTimer`): every build that ships the features is checked with them, and the core-only
// script-tag build (no features) with the client's own timers.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { distDir } from '../browser/harness';
import { sleep } from '../support/servers';

const BUILDS = ['index.browser.js', 'steadysocket.esm.min.js', 'steadysocket.min.js', 'steadysocket.core.min.js', 'index.js'] as const;
/** The script-tag builds: IIFEs that declare the global `SteadySocket` (the class, carrying the other exports). */
const IIFE_BUILDS: readonly string[] = ['steadysocket.min.js', 'steadysocket.core.min.js'];
/** Builds without the opt-in features. */
const CORE_ONLY: readonly string[] = ['steadysocket.core.min.js'];
const CLOSE_TIMEOUT = 300;

interface Client {
  state: string;
  send(data: string): void;
  on(event: 'state', listener: (state: string, previous: string) => void): void;
  on(event: 'drop', listener: (event: { reason: string }) => void): void;
  on(event: 'error', listener: (error: { code: string }) => void): void;
  once(event: 'open', listener: () => void): void;
  close(): Promise<void>;
}

/** A socket whose server sent its close frame and keeps TCP open: it goes CLOSING and stays there. */
class HeldSocket {
  static made: HeldSocket[] = [];
  readyState = 0;
  bufferedAmount = 0;
  protocol = '';
  binaryType = 'blob';
  onopen: ((event: object) => void) | null = null;
  onclose: ((event: object) => void) | null = null;
  onmessage: ((event: object) => void) | null = null;
  onerror: ((event: object) => void) | null = null;
  readonly sent: string[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(readonly url: string) {
    HeldSocket.made.push(this);
    this.timer = setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
    }, 5);
  }

  send(data: string): void {
    // WHATWG send(): data given to a socket that is not OPEN is discarded.
    if (this.readyState === 1) this.sent.push(data);
  }

  close(): void {
    clearTimeout(this.timer);
    this.readyState = 2;
  }
}

type ClientClass = new (url: string, options: object) => Client;
type Feature = (...args: never[]) => unknown;
interface Build {
  SteadySocket: ClientClass;
  ttl?: (ms: number) => Feature;
  heartbeat?: (options: { interval: number; timeout: number; ping?: () => string; isPong?: (message: string) => boolean }) => Feature;
}

/** A module build by import; a script-tag build (an IIFE declaring the global) evaluated as a script would be. */
async function load(build: string, file: string): Promise<Build> {
  if (!IIFE_BUILDS.includes(build)) return (await import(pathToFileURL(file).href)) as Build;
  const SteadySocket = new Function(`${readFileSync(file, 'utf8')};\nreturn SteadySocket;`)() as ClientClass & Omit<Build, 'SteadySocket'>;
  return { SteadySocket, ttl: SteadySocket.ttl, heartbeat: SteadySocket.heartbeat };
}

/** Loads a build that ships the features, and checks that it exports them. */
async function loadWithFeatures(build: string, file: string): Promise<Required<Build>> {
  const loaded = await load(build, file);
  expect(loaded.ttl, `dist/${build} exports ttl`).to.be.a('function');
  expect(loaded.heartbeat, `dist/${build} exports heartbeat`).to.be.a('function');
  return loaded as Required<Build>;
}

/** A socket that opens and answers each 'ping' with 'pong' while `answering` is true. */
class PongSocket {
  static made: PongSocket[] = [];
  readyState = 0;
  bufferedAmount = 0;
  protocol = '';
  binaryType = 'blob';
  answering = true;
  onopen: ((event: object) => void) | null = null;
  onclose: ((event: object) => void) | null = null;
  onmessage: ((event: object) => void) | null = null;
  onerror: ((event: object) => void) | null = null;
  readonly sent: string[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(readonly url: string) {
    PongSocket.made.push(this);
    this.later(5, () => {
      this.readyState = 1;
      this.onopen?.({});
    });
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  send(data: string): void {
    if (this.readyState !== 1) return;
    this.sent.push(data);
    if (data === 'ping' && this.answering) this.later(5, () => this.readyState === 1 && this.onmessage?.({ data: 'pong' }));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    this.later(5, () => {
      this.readyState = 3;
      this.onclose?.({ code, reason, wasClean: true });
    });
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

/** A socket that never opens (the attempt hangs until connectTimeout). */
class NeverOpens {
  readyState = 0;
  bufferedAmount = 0;
  protocol = '';
  binaryType = 'blob';
  onopen = null;
  onclose = null;
  onmessage = null;
  onerror = null;
  send(): void {}
  close(): void {
    this.readyState = 3;
  }
}

describe('timers in every shipped build', function () {
  this.timeout(10_000);

  for (const build of BUILDS) {
    it(`dist/${build}: leaves open ${CLOSE_TIMEOUT} ms after the socket left OPEN while the app keeps sending, and loses nothing`, async () => {
      const file = resolve(distDir, build);
      if (!existsSync(file)) throw new Error(`dist/${build} is missing: run \`npm run build\``);
      const { SteadySocket } = await load(build, file);
      HeldSocket.made = [];
      const client = new SteadySocket('ws://127.0.0.1:1/', {
        WebSocket: HeldSocket,
        closeTimeout: CLOSE_TIMEOUT,
        minDelay: 20,
        maxDelay: 20,
        jitter: 0,
      });
      try {
        await new Promise<void>((done) => client.once('open', done));
        let leftAfter: number | undefined;
        const started = performance.now();
        client.on('state', (_state, previous) => {
          if (previous === 'open' && leftAfter === undefined) leftAfter = performance.now() - started;
        });
        HeldSocket.made[0].readyState = 2; // the server's close frame arrived; TCP stays open
        const ids = Array.from({ length: 80 }, (_, i) => `m${i}`);
        for (const id of ids) {
          client.send(id);
          await sleep(10);
        }
        await sleep(100);
        expect(leftAfter, `ms until the client left open (closeTimeout ${CLOSE_TIMEOUT}; the app sent every 10 ms for 800 ms)`)
          .to.be.a('number')
          .and.at.most(CLOSE_TIMEOUT + 150);
        const written = HeldSocket.made.flatMap((s) => s.sent);
        expect(written, 'what reached an OPEN socket, in order').to.deep.equal(ids);
      } finally {
        await client.close();
      }
    });

    if (CORE_ONLY.includes(build)) {
      it(`dist/${build}: ships the core alone (no features to time)`, async () => {
        const file = resolve(distDir, build);
        if (!existsSync(file)) throw new Error(`dist/${build} is missing: run \`npm run build\``);
        const loaded = await load(build, file);
        expect(loaded.ttl, 'ttl').to.equal(undefined);
        expect(loaded.heartbeat, 'heartbeat').to.equal(undefined);
      });
      continue;
    }

    it(`dist/${build}: a queued message expires after ttl while the app keeps queueing more`, async () => {
      const file = resolve(distDir, build);
      if (!existsSync(file)) throw new Error(`dist/${build} is missing: run \`npm run build\``);
      const { SteadySocket, ttl } = await loadWithFeatures(build, file);
      const client = new SteadySocket('ws://127.0.0.1:1/', { WebSocket: NeverOpens, use: [ttl(200)], connectTimeout: 60_000, closeTimeout: 100 });
      try {
        const started = performance.now();
        const expired: number[] = [];
        client.on('drop', (event) => {
          if (event.reason === 'expired') expired.push(performance.now() - started);
        });
        for (let i = 0; i < 16; i++) {
          client.send(`m${i}`);
          await sleep(50);
        }
        // 16 messages over 800 ms, each to expire 200 ms after it was queued: about 12 by now.
        expect(expired.length, 'messages expired after 800 ms (ttl 200, one queued every 50 ms)').to.be.at.least(8);
        expect(expired[0], 'ms until the first expired').to.be.at.most(200 + 150);
      } finally {
        await client.close();
      }
    });

    it(`dist/${build}: the heartbeat keeps an answering connection open, and declares it dead once the pongs stop`, async () => {
      const file = resolve(distDir, build);
      if (!existsSync(file)) throw new Error(`dist/${build} is missing: run \`npm run build\``);
      const { SteadySocket, heartbeat } = await loadWithFeatures(build, file);
      PongSocket.made = [];
      const interval = 100;
      const timeout = 100;
      const client = new SteadySocket('ws://127.0.0.1:1/', {
        WebSocket: PongSocket,
        use: [heartbeat({ interval, timeout, ping: () => 'ping', isPong: (message) => message === 'pong' })],
        // No retry within the test: with jitter the first wait is anywhere in [0, maxDelay], and
        // one under ~300 ms (about 1 run in 100) reopened the connection before the state check.
        minDelay: 60_000,
        maxDelay: 60_000,
        jitter: 0,
        closeTimeout: 100,
      });
      const errors: string[] = [];
      client.on('error', (error) => errors.push(error.code));
      try {
        await new Promise<void>((done) => client.once('open', done));
        await sleep(8 * interval);
        const socket = PongSocket.made[0];
        const pings = socket.sent.filter((data) => data === 'ping').length;
        expect(pings, `pings in ${8 * interval} ms (interval ${interval})`).to.be.at.least(3);
        expect(errors, 'errors while the pongs come').to.deep.equal([]);
        expect(client.state).to.equal('open');

        socket.answering = false;
        const stoppedAt = performance.now();
        let deadAfter: number | undefined;
        client.on('error', (error) => {
          if (error.code === 'HEARTBEAT_TIMEOUT' && deadAfter === undefined) deadAfter = performance.now() - stoppedAt;
        });
        await sleep(2 * interval + timeout + 300);
        expect(deadAfter, `ms until HEARTBEAT_TIMEOUT once the pongs stopped (interval ${interval}, timeout ${timeout})`)
          .to.be.a('number')
          .and.at.most(2 * interval + timeout + 150);
        expect(client.state).not.to.equal('open');
      } finally {
        await client.close();
        for (const socket of PongSocket.made) socket.stop();
      }
    });
  }
});

describe('class names in every shipped build', () => {
  for (const build of BUILDS) {
    it(`dist/${build}: SteadySocket and SteadySocketError keep their names (a console shows them, not a mangled one)`, async () => {
      const file = resolve(distDir, build);
      if (!existsSync(file)) throw new Error(`dist/${build} is missing: run \`npm run build\``);
      const lib = (await load(build, file)) as Build & { SteadySocketError?: { name: string } };
      const errorClass = IIFE_BUILDS.includes(build) ? (lib.SteadySocket as unknown as { SteadySocketError: { name: string } }).SteadySocketError : lib.SteadySocketError;
      expect(lib.SteadySocket.name).to.equal('SteadySocket');
      expect(errorClass?.name).to.equal('SteadySocketError');
    });
  }
});
