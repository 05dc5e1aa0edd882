// A message sent while the connection is open but backed up (bufferedAmount past highWaterMark,
// or others waiting in the outbox) goes through the outbox: it is checked with the codec of the
// connection that will carry it, as a message written at once is. Before, an open connection
// without a codec (a subprotocol negotiated that has none in `codecs`) checked it with the codec
// guessed for a next connection: `send({...})` was accepted, and dropped later with ENCODE_FAILED,
// where the same send a moment earlier threw INVALID_MESSAGE. Fake transport, fake clock.
import { expect } from 'chai';
import { json, SteadySocket, SteadySocketError, type DropInfo } from '../../src/index';
import { useFakeClock } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';

describe('a send while backed up is checked with the open connection\'s codec (fake transport, fake clock)', () => {
  const kit = useFakeClock();

  async function openRaw(): Promise<{ socket: SteadySocket<unknown, unknown>; drops: DropInfo<unknown>[] }> {
    const socket = kit.track(
      new SteadySocket<unknown, unknown>('ws://example.test/', { WebSocket: FakeWebSocket as never, protocols: ['json.v1', 'raw.v1'], codecs: { 'json.v1': json() }, highWaterMark: 10 }),
    );
    const drops: DropInfo<unknown>[] = [];
    socket.on('drop', (drop) => drops.push(drop));
    socket.on('error', () => {});
    await Promise.resolve();
    FakeWebSocket.last.serverOpen('raw.v1'); // the server chose the subprotocol without a codec
    expect(socket.state).to.equal('open');
    return { socket, drops };
  }

  function thrown(call: () => unknown): string | undefined {
    try {
      call();
    } catch (error) {
      return (error as SteadySocketError).code;
    }
    return undefined;
  }

  it('an object is refused at once with INVALID_MESSAGE, backed up or not', async () => {
    const { socket, drops } = await openRaw();
    expect(thrown(() => socket.send({ a: 1 })), 'written at once').to.equal('INVALID_MESSAGE');
    FakeWebSocket.last.bufferedAmount = 1000; // past highWaterMark: the next send queues
    expect(thrown(() => socket.send({ a: 1 })), 'queued behind the socket buffer').to.equal('INVALID_MESSAGE');
    socket.send('text'); // queued
    expect(thrown(() => socket.send({ a: 2 })), 'queued behind another message').to.equal('INVALID_MESSAGE');
    expect(thrown(() => socket.deliver({ a: 3 })), 'deliver() throws the same way').to.equal('INVALID_MESSAGE');
    FakeWebSocket.last.bufferedAmount = 0;
    kit.clock.tick(50); // the drain poll writes out what waited
    expect(FakeWebSocket.last.sent).to.deep.equal(['text']);
    expect(drops, 'nothing accepted and dropped later').to.deep.equal([]);
  });

  it('a string queued while backed up is written as it is (no codec), in order', async () => {
    const { socket, drops } = await openRaw();
    FakeWebSocket.last.bufferedAmount = 1000;
    socket.send('a');
    socket.send('b');
    FakeWebSocket.last.bufferedAmount = 0;
    kit.clock.tick(50);
    expect(FakeWebSocket.last.sent).to.deep.equal(['a', 'b']);
    expect(drops).to.deep.equal([]);
  });

  it('while not open, a queued message is still checked with the codec the next connection most likely uses (json.v1: an object is fine)', async () => {
    const { socket, drops } = await openRaw();
    FakeWebSocket.last.serverClose(1006);
    expect(socket.state).to.equal('waiting');
    socket.send({ a: 1 }); // json.v1 is offered first and has a codec
    for (let i = 0; i < 400 && FakeWebSocket.instances.length === 1; i++) kit.clock.tick(100); // the backoff (random)
    FakeWebSocket.last.serverOpen('json.v1');
    expect(FakeWebSocket.last.sent).to.deep.equal(['{"a":1}']);
    expect(drops).to.deep.equal([]);
  });
});
