// Review of guide section 1 ("Closing": close() is final) against a real ws server on loopback.
// A WHATWG socket delivers no message once close() made it CLOSING (the "message received" steps
// return unless the state is OPEN); ws emits what was in flight, and the client passed it on: a
// `message` listener that replies got CLOSED thrown at it, which Node reports as an uncaught
// exception (the process exits), after a close() the application asked for.
import { expect } from 'chai';
import { WebSocketServer } from 'ws';
import { SteadySocket, SteadySocketError } from '../../src/index';
import { until } from '../support/servers';

describe('guide section 1, reviewed: close() is final (real ws server on 127.0.0.1)', () => {
  let server: WebSocketServer | undefined;
  const global = globalThis as { reportError?: (error: unknown) => void };
  let reported: unknown[];

  beforeEach(() => {
    reported = [];
    // A listener's exception is reported, not thrown at mocha (Node would rethrow it on a microtask).
    global.reportError = (error) => reported.push(error);
  });

  afterEach(async () => {
    delete global.reportError;
    const closing = server;
    server = undefined;
    if (closing) {
      for (const client of closing.clients) client.terminate();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    }
  });

  async function burstServer(count: number): Promise<number> {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => server!.once('listening', () => resolve()));
    // One burst: the client's ws parses it from one TCP read, past the listener that calls close().
    server.on('connection', (socket) => {
      for (let i = 0; i < count; i++) socket.send(`m${i}`);
    });
    return (server.address() as { port: number }).port;
  }

  it('a message listener that calls close() (and replies to each message) gets no message after it, and nothing throws', async () => {
    const port = await burstServer(50);
    const socket = new SteadySocket(`ws://127.0.0.1:${port}/`, { minDelay: 10, maxDelay: 10 });
    const seen: string[] = [];
    let closing: Promise<void> | undefined;
    socket.on('message', (message) => {
      seen.push(String(message));
      socket.send(`ack ${String(message)}`); // the usual reply: throws CLOSED once close() was called
      closing ??= socket.close();
    });
    try {
      await until(() => closing !== undefined, 5000, 'the first message');
      await closing;
    } finally {
      void socket.close();
    }
    expect(socket.state).to.equal('closed');
    expect(seen, 'messages delivered after close()').to.deep.equal(['m0']);
    expect(reported.map((e) => (e as SteadySocketError).code), 'exceptions thrown by the listener').to.deep.equal([]);
  });

  it('close() from outside while messages stream in: no message event after the call', async () => {
    const port = await burstServer(2000);
    const socket = new SteadySocket(`ws://127.0.0.1:${port}/`, { minDelay: 10, maxDelay: 10 });
    let called = false;
    let after = 0;
    let before = 0;
    socket.on('message', () => (called ? after++ : before++));
    try {
      await until(() => before > 0, 5000, 'the first message');
      called = true;
      await socket.close();
    } finally {
      void socket.close();
    }
    expect(after).to.equal(0);
  });
});
