// Review 3 (a browser developer's view), the policy parts: fake transport, fake clock.
import { expect } from 'chai';
import { acks, SteadySocket } from '../../src/index';
import { useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';

/** The bytes of what a fake socket was given, as hex (text as it is). */
function wireHex(data: unknown): string {
  if (typeof data === 'string') return data;
  const view = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data as ArrayBuffer);
  return Buffer.from(view).toString('hex');
}

describe('review 3, browser: policies (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  useReportedErrors();

  it('acks(): a binary message written at once and kept unacknowledged is written again with the bytes it had at send(), though its buffer was refilled', async () => {
    // Binary messages whose first byte is the id; the server acknowledges with the id as text.
    const socket = kit.track(
      new SteadySocket('ws://example.test/', {
        WebSocket: FakeWebSocket as never,
        minDelay: 10,
        jitter: 0,
        use: [acks({ id: (m) => (typeof m === 'string' ? undefined : new Uint8Array(m as ArrayBuffer)[0]), ack: (m) => (typeof m === 'string' ? Number(m) : undefined) })],
      }),
    );
    await Promise.resolve();
    FakeWebSocket.last.serverOpen();
    const scratch = new Uint8Array([7, 0xa1, 0xa2]);
    let delivered = false;
    void socket.deliver(scratch.buffer).then(() => (delivered = true));
    expect(FakeWebSocket.last.sent.map(wireHex), 'written at once').to.deep.equal(['07a1a2']);
    scratch.set([7, 0xff, 0xff]); // the app refills its buffer: the message was already sent
    FakeWebSocket.last.serverClose(1006); // lost before the acknowledgement
    await kit.clock.tickAsync(10);
    const next = FakeWebSocket.last;
    next.serverOpen();
    expect(next.sent.map(wireHex), 'written again on the next connection').to.deep.equal(['07a1a2']);
    next.serverMessage('7');
    await Promise.resolve();
    expect(delivered).to.equal(true);
  });
});
