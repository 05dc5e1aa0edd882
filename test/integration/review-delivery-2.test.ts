// Section 16 of the guide ("Delivery guarantees") against a real ws server on loopback: the
// promises a second adversarial review found no test for.
import { expect } from 'chai';
import { ping } from '../../src/index';
import { liveKit } from '../node/support';

describe('delivery guarantees, second review (Node, ws, loopback)', function () {
  this.timeout(15_000);
  const { server, client, opened } = liveKit();

  describe('ping(socket, { data })', () => {
    it('ends the round trip at the pong that echoes the bytes sent, also when the caller reuses its buffer meanwhile', async () => {
      // Guide: "data is the ping frame's payload ... the round trip ends at the pong with the same
      // bytes". The payload was kept as a view of the caller's buffer: a caller that filled it
      // again for its next probe (the ping already sent) made the echo of what was sent no match,
      // and ping() rejected with PING_TIMEOUT though the server answered at once.
      const received: string[] = [];
      const s = await server({ onConnection: ({ socket }) => socket.on('ping', (data) => received.push(data.toString('hex'))) });
      const socket = client(s.url);
      await opened(socket);
      for (const kind of ['Uint8Array', 'ArrayBuffer', 'DataView'] as const) {
        const bytes = new Uint8Array([1, 2, 3]);
        const data = kind === 'Uint8Array' ? bytes : kind === 'ArrayBuffer' ? bytes.buffer : new DataView(bytes.buffer);
        const rtt = ping(socket, { data, timeout: 2000 });
        bytes.fill(9); // the next probe's payload, written into the same buffer
        const outcome = await rtt.then(
          (ms) => typeof ms,
          (error: { code?: string }) => error.code,
        );
        expect(outcome, kind).to.equal('number');
      }
      expect(received, 'what was sent: the bytes at the call').to.deep.equal(['010203', '010203', '010203']);
      expect(socket.state).to.equal('open');
    });
  });
});
