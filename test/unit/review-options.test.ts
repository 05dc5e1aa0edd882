// Review of guide section 15 ("All options", "Features and what they cost") and of README.md's
// promises against the client, off the happy path: every default checked by what it does, every
// option's INVALID_OPTION with values just outside its range, legal extremes that must neither
// spin nor throw. Fake transport, fake clock.
import { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import {
  heartbeat,
  json,
  pageSignals,
  ready,
  SteadySocket,
  SteadySocketError,
  stats,
  ttl,
  type CloseInfo,
  type ReconnectingInfo,
  type SteadySocketOptions,
} from '../../src/index';
import { useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';

type Options = SteadySocketOptions<unknown, unknown>;

/** What `run` throws (undefined when it does not). */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** A FakeWebSocket whose closing handshake never finishes (a server that never ends TCP). */
class StuckClosingWebSocket extends FakeWebSocket {
  override close(code?: number, reason?: string): void {
    this.closeCalls.push({ code, reason });
    if (this.readyState < FakeWebSocket.CLOSING) this.readyState = FakeWebSocket.CLOSING;
  }
}

describe('guide section 15 and README, reviewed (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const reported = useReportedErrors();
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));

  function create(options: Options = {}, url = 'ws://example.test/'): SteadySocket<unknown, unknown> {
    const socket = kit.track(new SteadySocket<unknown, unknown>(url, { WebSocket: FakeWebSocket as never, ...options }));
    socket.on('error', () => {});
    return socket;
  }
  async function open(options: Options = {}): Promise<SteadySocket<unknown, unknown>> {
    const socket = create(options);
    await Promise.resolve(); // the first attempt
    return socket;
  }
  /** Ms until the earliest armed timer fires (Infinity when none). */
  function nextTimerIn(): number {
    const next = clock.next === undefined ? undefined : (clock as unknown as { timers?: Record<string, { callAt: number }> }).timers;
    if (!next) return Infinity;
    const at = Math.min(...Object.values(next).map((t) => t.callAt));
    return at - clock.now;
  }

  describe('the options table: each default, checked by behaviour', () => {
    it("binaryType 'arraybuffer': the socket is set to it before it opens", async () => {
      await open();
      expect(FakeWebSocket.last.binaryType).to.equal('arraybuffer');
    });

    it('minDelay 1000, factor 2, maxDelay 30000, jitter 1: the waits are drawn from [0, 1000], [0, 2000], ... capped at 30000', async () => {
      const random = Math.random;
      const draws = [0, 0.5, 0, 0, 0, 0, 0, 0.999];
      let i = 0;
      Math.random = () => draws[i++ % draws.length];
      try {
        const socket = await open();
        const delays: number[] = [];
        socket.on('reconnecting', (info) => delays.push(info.delay));
        for (let n = 0; n < 8; n++) {
          FakeWebSocket.last.fail();
          clock.tick(delays[delays.length - 1]);
        }
        // random 0: the whole cap; 0.5: half of it (full jitter); 0.999: almost nothing.
        expect(delays).to.deep.equal([1000, 1000, 4000, 8000, 16000, 30000, 30000, Math.round(30000 * 0.001)]);
      } finally {
        Math.random = random;
      }
    });

    it('maxRetries Infinity: a client still retries after 200 failures in a row', async () => {
      const socket = await open({ minDelay: 1, maxDelay: 1 });
      let last: ReconnectingInfo | undefined;
      socket.on('reconnecting', (info) => (last = info));
      for (let n = 0; n < 200; n++) {
        FakeWebSocket.last.fail();
        clock.tick(1);
      }
      expect(last?.attempt).to.equal(200);
      expect(socket.state).to.equal('connecting');
    });

    it('stableAfter 5000: open 4999 ms counts the drop as the next failure; open 5000 ms starts again at 1', async () => {
      const socket = await open({ minDelay: 1, maxDelay: 1 });
      const attempts: number[] = [];
      socket.on('close', (info) => attempts.push(info.attempt));
      FakeWebSocket.last.fail(); // 1
      clock.tick(1);
      FakeWebSocket.last.serverOpen();
      clock.tick(4999);
      FakeWebSocket.last.serverClose(1006); // 2: not stable yet
      clock.tick(1);
      FakeWebSocket.last.serverOpen();
      clock.tick(5000);
      FakeWebSocket.last.serverClose(1006); // stable: 1
      expect(attempts).to.deep.equal([1, 2, 1]);
    });

    it('connectTimeout 10000: an attempt that never opens is abandoned at 10000 ms, not before', async () => {
      const socket = await open();
      const errors: string[] = [];
      socket.on('error', (e) => errors.push(e.code));
      clock.tick(9999);
      expect(socket.state).to.equal('connecting');
      expect(FakeWebSocket.instances).to.have.length(1);
      clock.tick(1);
      expect(errors).to.include('CONNECT_TIMEOUT');
      expect(socket.state).to.equal('waiting');
    });

    it('closeTimeout 3000: close() drops a socket whose closing handshake never finishes at 3000 ms', async () => {
      const socket = kit.track(new SteadySocket<unknown, unknown>('ws://example.test/', { WebSocket: StuckClosingWebSocket as never }));
      await Promise.resolve();
      FakeWebSocket.last.serverOpen();
      let settled = false;
      void socket.close().then(() => (settled = true));
      clock.tick(2999);
      await Promise.resolve();
      expect(socket.state).to.equal('closing');
      expect(settled).to.equal(false);
      clock.tick(1);
      await Promise.resolve();
      await Promise.resolve();
      expect(socket.state).to.equal('closed');
      expect(settled).to.equal(true);
    });

    it('closeTimeout 3000: a socket the server started closing (close frame, no close event) is dropped at 3000 ms and the client reconnects', async () => {
      const socket = await open();
      FakeWebSocket.last.serverOpen();
      const closes: CloseInfo[] = [];
      socket.on('close', (info) => closes.push(info));
      FakeWebSocket.last.serverCloseFrame();
      socket.send('after the close frame'); // notices the socket left OPEN
      clock.tick(2999);
      expect(closes).to.have.length(0);
      clock.tick(1);
      expect(closes.map((c) => c.code)).to.deep.equal([1006]);
      expect(socket.state).to.equal('waiting');
      expect(socket.queued).to.deep.equal(['after the close frame']);
    });

    it("maxMessages 10000 with overflow 'error': the 10,001st queued message throws QUEUE_OVERFLOW, the first 10,000 go out in order", async () => {
      const socket = await open();
      for (let n = 0; n < 10_000; n++) socket.send(`m${n}`);
      const error = thrown(() => socket.send('one too many'));
      expect((error as SteadySocketError).code).to.equal('QUEUE_OVERFLOW');
      expect(socket.queued).to.have.length(10_000);
      FakeWebSocket.last.serverOpen();
      expect(FakeWebSocket.last.sent).to.have.length(10_000);
      expect(FakeWebSocket.last.sent[9_999]).to.equal('m9999');
    });

    it('maxBytes 16 MiB: exactly 16 MiB queues, one byte more throws QUEUE_OVERFLOW', async () => {
      const socket = await open();
      socket.send(new Uint8Array(16 * 1024 * 1024));
      expect((thrown(() => socket.send(new Uint8Array(1))) as SteadySocketError).code).to.equal('QUEUE_OVERFLOW');
      socket.clearOutbox();
      expect((thrown(() => socket.send(new Uint8Array(16 * 1024 * 1024 + 1))) as SteadySocketError).code).to.equal('QUEUE_OVERFLOW');
    });

    it('highWaterMark 1 MiB: a socket holding exactly 1 MiB is written to at once; one holding a byte more makes new messages wait', async () => {
      const socket = await open();
      const fake = FakeWebSocket.last;
      fake.serverOpen();
      fake.bufferedAmount = 1024 * 1024;
      socket.send('a');
      expect(fake.sent).to.deep.equal(['a']);
      fake.bufferedAmount = 1024 * 1024 + 1;
      socket.send('b');
      expect(fake.sent).to.deep.equal(['a']);
      expect(socket.queued).to.deep.equal(['b']);
      fake.bufferedAmount = 0;
      clock.tick(10); // the drain poll
      expect(fake.sent).to.deep.equal(['a', 'b']);
    });

    it('shouldReconnect defaults to the close-code table: 1012 retries, 1008 stops', async () => {
      const socket = await open();
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1012);
      expect(socket.state).to.equal('waiting');
      clock.tick(1000);
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(1008);
      expect(socket.state).to.equal('closed');
    });
  });

  describe('"Options are validated in the constructor ... throw INVALID_OPTION at once"', () => {
    /** The code of what the constructor throws for `options` (a TypeError is not INVALID_OPTION). */
    function codeFor(options: Record<string, unknown>): string {
      const error = thrown(() => create(options as Options));
      if (error === undefined) return 'no error';
      return error instanceof SteadySocketError ? error.code : `${(error as Error).name}: ${(error as Error).message}`;
    }

    it('a bigint where a number belongs is INVALID_OPTION, not a TypeError (minDelay included, which sizes the default maxDelay)', () => {
      for (const name of ['minDelay', 'maxDelay', 'factor', 'jitter', 'maxRetries', 'stableAfter', 'connectTimeout', 'closeTimeout', 'maxMessages', 'maxBytes', 'highWaterMark']) {
        expect(codeFor({ [name]: 10n }), name).to.equal('INVALID_OPTION');
      }
    });

    it('a reused options object whose use list changed is validated again: a feature listed twice, or a feature function not called, throws', () => {
      const step = ready(async () => undefined);
      const options = { use: [step] as unknown[] };
      create(options as Options);
      options.use.push(step);
      expect(codeFor(options), 'one feature twice').to.equal('INVALID_OPTION');
      options.use.length = 1;
      options.use.push(pageSignals);
      expect(codeFor(options), 'a feature function, not called').to.equal('INVALID_OPTION');
    });

    it('a reused options object whose codecs changed is validated again: a non-codec entry throws', () => {
      const codecs: Record<string, unknown> = { 'a.v1': json() };
      const options = { codecs };
      create(options as Options);
      codecs['b.v1'] = 'not a codec';
      expect(codeFor(options)).to.equal('INVALID_OPTION');
    });
  });

  describe('"a feature checks its own arguments when it is made"', () => {
    it('heartbeat(): a ping or isPong that is no function throws INVALID_OPTION when made (it failed every ping, and the connection, later)', () => {
      const isPong = (m: unknown) => m === 'pong';
      const bad: Record<string, unknown>[] = [
        { ping: 'ping', isPong },
        { ping: () => 'ping', isPong: 'pong' },
        { ping: 'ping', isPong: 'pong' },
        { ping: { type: 'ping' }, isPong: { type: 'pong' } },
      ];
      for (const extra of bad) {
        const error = thrown(() => heartbeat({ interval: 1000, timeout: 500, ...extra } as never));
        expect((error as SteadySocketError | undefined)?.code, JSON.stringify(extra)).to.equal('INVALID_OPTION');
      }
      expect(thrown(() => heartbeat({ interval: 1000, timeout: 500, ping: () => 'ping', isPong })), 'both functions').to.equal(undefined);
      expect(thrown(() => heartbeat({ interval: 1000, timeout: 500 })), 'neither').to.equal(undefined);
    });
  });
});
