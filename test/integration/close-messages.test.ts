// Guide §1 "Closing": in Node with ws, what the server sent before it answered the close still
// arrives as `message` events between close() and the `close` event (browsers discard it: the
// WHATWG "message received" steps return unless the socket is OPEN). The CLI's pipe mode rests on
// it (`echo ping | steadysocket ws://echo` prints the echo); a listener that replies then gets
// CLOSED thrown by send(), as the guide says. Real ws server on 127.0.0.1.
import { expect } from 'chai';
import { SteadySocket, SteadySocketError } from '../../src/index';
import { startEchoServer, until, type EchoServer } from '../support/servers';

describe('messages after close() in Node (real ws server on 127.0.0.1)', () => {
  let server: EchoServer | undefined;
  const sockets: SteadySocket<unknown, unknown>[] = [];
  const global = globalThis as { reportError?: (error: unknown) => void };
  let reported: unknown[];

  beforeEach(() => {
    reported = [];
    // A listener's exception is reported, not thrown at mocha (Node would rethrow it on a microtask).
    global.reportError = (error) => reported.push(error);
  });

  afterEach(async () => {
    delete global.reportError;
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
    await server?.close();
    server = undefined;
  });

  async function openClient(): Promise<SteadySocket<unknown, unknown>> {
    server = await startEchoServer();
    const socket = new SteadySocket<unknown, unknown>(server.url, { minDelay: 10, maxDelay: 10 });
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.once('open', () => resolve()));
    return socket;
  }

  it('the echo of the last message, sent before the server answered the close, arrives after close() and before the close event', async () => {
    const socket = await openClient();
    const events: string[] = [];
    let called = false;
    socket.on('message', (message) => events.push(`message ${String(message)}${called ? ' (after close())' : ''}`));
    socket.on('close', (info) => events.push(`close ${info.code}`));
    socket.send('ping'); // written at once (open): it goes out before the close frame
    called = true;
    await socket.close();
    expect(events).to.deep.equal(['message ping (after close())', 'close 1000']);
    expect(socket.state).to.equal('closed');
  });

  it('a listener that replies to such a message gets CLOSED from send(), reported as its exception; the close completes', async () => {
    const socket = await openClient();
    socket.on('message', (message) => socket.send(`ack ${String(message)}`));
    socket.send('ping');
    await socket.close();
    await until(() => reported.length > 0, 2000, 'the listener exception to be reported');
    expect(reported).to.have.length(1);
    expect(reported[0]).to.be.instanceOf(SteadySocketError);
    expect((reported[0] as SteadySocketError).code).to.equal('CLOSED');
    expect(socket.state).to.equal('closed');
    expect(server!.connections[0]!.messages, 'nothing of the reply reached the server').to.deep.equal(['ping']);
  });
});
