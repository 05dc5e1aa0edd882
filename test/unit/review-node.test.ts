// Review of the guide's §10–§14 (Node options, stats and debug, security, errors, troubleshooting)
// on the fake transport: promises no other test would notice breaking.
import FakeTimers, { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { debug, SteadySocket, type SteadySocketOptions } from '../../src/index';
import { FakeWebSocket } from '../support/fake-websocket';

type Client = SteadySocket<unknown, unknown>;

describe('review: guide §10–§14 on the fake transport', () => {
  let clock: InstalledClock;
  const sockets: Client[] = [];

  beforeEach(() => {
    FakeWebSocket.reset();
    clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'queueMicrotask'] });
  });

  afterEach(() => {
    for (const s of sockets.splice(0)) if (s.state !== 'closed') void s.close();
    clock.runAll();
    clock.uninstall();
  });

  function create(options: SteadySocketOptions<unknown, unknown>, url = 'ws://example.test/feed'): Client {
    const socket = new SteadySocket<unknown, unknown>(url, { WebSocket: FakeWebSocket as never, ...options });
    sockets.push(socket);
    return socket;
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
});
