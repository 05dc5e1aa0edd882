// Review of the guide's §10–§14 (Node options, stats and debug, security, errors, troubleshooting)
// on the fake transport: promises no other test would notice breaking.
import { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { debug, SteadySocket, SteadySocketError, type SteadySocketOptions } from '../../src/index';
import { useFakeClock } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';

type Client = SteadySocket<unknown, unknown>;

describe('review: guide §10–§14 on the fake transport', () => {
  const kit = useFakeClock();
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));

  function create(options: SteadySocketOptions<unknown, unknown>, url = 'ws://example.test/feed'): Client {
    return kit.track(new SteadySocket<unknown, unknown>(url, { WebSocket: FakeWebSocket as never, ...options }));
  }

  describe('§12: the debug line of a close scrubs the connection\'s secrets from the reason', () => {
    // guide §12: "The `debug` line of a close scrubs the connection's secrets from the reason, as
    // errors do." The guide's own advice for Node is a headers *function*
    // (`headers: async () => ({ authorization: ... })`): its values are the connection's secrets too.
    for (const kind of ['sync', 'async'] as const) {
      it(`scrubs a header value that ${kind === 'sync' ? 'a sync' : 'an async'} headers function gave, when the server quotes it back in its close reason`, async () => {
        const lines: string[] = [];
        const token = 'HEADERFN-token-quoted-98765';
        const headers = kind === 'sync' ? () => ({ Authorization: `Bearer ${token}` }) : async () => ({ Authorization: `Bearer ${token}` });
        const socket = create({ headers, use: [debug((line) => lines.push(line))] });
        const reasons: string[] = [];
        socket.on('close', (info) => reasons.push(info.reason));
        // The first attempt starts one promise job after `new`; an async provider's answer a few later.
        for (let i = 0; i < 20 && !FakeWebSocket.instances.length; i++) await Promise.resolve();
        expect(FakeWebSocket.instances, 'one attempt made').to.have.length(1);
        FakeWebSocket.last.serverOpen();
        FakeWebSocket.last.serverClose(4001, `token ${token} expired`);
        const closed = lines.filter((line) => line.includes('closed with 4001'));
        expect(closed, 'the debug line of the close').to.deep.equal(['[steadysocket] closed with 4001 token *** expired']);
        for (const line of lines) expect(line).not.to.include(token);
        // The event keeps what the server sent.
        expect(reasons).to.deep.equal([`token ${token} expired`]);
      });
    }

    it('scrubs the value of the attempt the close belongs to, after the function changed its answer', async () => {
      // Each attempt asks the function again: the line of a close is scrubbed of that attempt's value.
      const lines: string[] = [];
      let n = 0;
      const socket = create({ headers: () => ({ 'X-Key': `rotating-secret-${++n}-abcdef` }), minDelay: 10, maxDelay: 10, jitter: 0, use: [debug((line) => lines.push(line))] });
      await Promise.resolve();
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(4000, 'first rotating-secret-1-abcdef');
      clock.tick(10);
      expect(FakeWebSocket.instances).to.have.length(2);
      FakeWebSocket.last.serverOpen();
      FakeWebSocket.last.serverClose(4000, 'second rotating-secret-2-abcdef');
      const closes = lines.filter((line) => line.includes('closed with 4000'));
      expect(closes).to.deep.equal(['[steadysocket] closed with 4000 first ***', '[steadysocket] closed with 4000 second ***']);
    });
  });

  describe('§13: a URL, protocols or headers function that throws or rejects is CONNECT_FAILED', () => {
    // guide §13's table: CONNECT_FAILED when "a URL, `protocols` or `headers` function threw or
    // rejected"; INVALID_URL / INVALID_PROTOCOL / INVALID_OPTION (which end the client) are for what
    // a function *returned*. A function may fail with a SteadySocketError of its own making: another
    // client's (a control connection's `deliver()` rejecting CLOSED, a `close(1234)` throwing
    // INVALID_OPTION). That is a failed provider like any other: retried, not taken as this
    // client's own verdict.
    const failures: [string, () => SteadySocketError][] = [
      ['CLOSED (another client\'s deliver())', () => new SteadySocketError('CLOSED', 'The client is closed.')],
      ['INVALID_OPTION (another client\'s close(1234))', () => new SteadySocketError('INVALID_OPTION', 'Close code 1234 is not allowed: use 1000 or 3000–4999.')],
      ['INVALID_URL (another client\'s constructor)', () => new SteadySocketError('INVALID_URL', 'Invalid WebSocket URL "ftp://x/".')],
    ];
    for (const [what, make] of failures) {
      for (const where of ['url', 'headers'] as const) {
        it(`a ${where} function that rejects with ${what} fails the attempt with CONNECT_FAILED (its cause) and the client retries`, async () => {
          const foreign = make();
          let calls = 0;
          const provider = async () => {
            calls++;
            throw foreign;
          };
          const socket =
            where === 'url'
              ? create({ minDelay: 10, maxDelay: 10, jitter: 0 }, provider as never)
              : create({ headers: provider as never, minDelay: 10, maxDelay: 10, jitter: 0 });
          const errors: SteadySocketError[] = [];
          socket.on('error', (error) => errors.push(error));
          for (let i = 0; i < 20; i++) await Promise.resolve();
          clock.tick(0); // the failed attempt is told on a timer of its own
          expect(errors.map((e) => e.code)).to.deep.equal(['CONNECT_FAILED']);
          expect((errors[0]!.cause as Error | undefined)?.message).to.equal(foreign.message);
          expect(socket.state, 'retrying, not ended').to.equal('waiting');
          await clock.tickAsync(10);
          for (let i = 0; i < 20 && calls < 2; i++) await Promise.resolve();
          expect(calls, 'asked again at the next attempt').to.equal(2);
        });
      }
    }

    it('what a URL function returns is still judged by this client: a bad URL is INVALID_URL and ends it', async () => {
      const socket = create({}, (() => 'ftp://example.test/') as never);
      const errors: SteadySocketError[] = [];
      socket.on('error', (error) => errors.push(error));
      await Promise.resolve();
      clock.tick(0); // the failed attempt is told on a timer of its own
      expect(errors.map((e) => e.code)).to.deep.equal(['INVALID_URL']);
      expect(socket.state).to.equal('closed');
    });
  });
});
