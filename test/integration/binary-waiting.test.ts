// Binary messages that wait (queued while connecting or reconnecting, or kept by acks() to be
// written again) are copied at send(): the application reuses one buffer for every message. Real
// ws servers on loopback that close gracefully (1001) in the middle of the stream, listeners that
// throw and that call send()/reconnect() from inside, and the extreme reconnect timing (0 ms).
import { expect } from 'chai';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { acks, SteadySocket, type Feature } from '../../src/index';
import { sleep, until } from '../support/servers';

const COUNT = 120;
/** The server's first connection closes with 1001 after this many messages. */
const CLOSE_AFTER = 40;

/** Message n: 8 bytes, n and its complement; a reused buffer that leaked would show another n. */
function fill(buffer: Uint8Array, n: number): Uint8Array {
  const view = new DataView(buffer.buffer, buffer.byteOffset, 8);
  view.setUint32(0, n);
  view.setUint32(4, ~n >>> 0);
  return buffer;
}
function read(data: Buffer): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = view.getUint32(0);
  return data.byteLength === 8 && view.getUint32(4) === (~n >>> 0) ? n : -1;
}

describe('binary messages that wait, with one buffer reused for all (real ws server, 1001 mid-stream)', function () {
  this.timeout(20_000);
  const cleanup: (() => unknown)[] = [];
  const global = globalThis as { reportError?: (error: unknown) => void };
  let reported: unknown[];
  beforeEach(() => {
    reported = [];
    global.reportError = (error) => reported.push(error);
  });
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
    delete global.reportError;
  });

  /** A server whose first connection closes gracefully mid-stream; the next ones stay open. With `ack`, it acknowledges each n. */
  async function server(ack: boolean) {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    const perConnection: number[][] = [];
    /** Each n whose acknowledgement the server wrote while its connection was open. */
    const acked = new Set<number>();
    /** Each n received again after the server had acknowledged it: must stay empty. */
    const againAfterAck: number[] = [];
    const sockets: ServerSocket[] = [];
    wss.on('connection', (socket) => {
      const seen: number[] = [];
      const first = perConnection.length === 0;
      perConnection.push(seen);
      sockets.push(socket);
      socket.on('error', () => {});
      socket.on('message', (data: Buffer) => {
        const n = read(data);
        seen.push(n);
        if (acked.has(n)) againAfterAck.push(n);
        // Once the server has started closing, ws drops what it sends: a message received then is
        // never acknowledged, and acks() rightly writes it again on the next connection.
        if (ack && n >= 0 && socket.readyState === socket.OPEN) socket.send(`ack ${n}`, (error) => error || acked.add(n));
        if (first && seen.length === CLOSE_AFTER) socket.close(1001, 'going away');
      });
    });
    cleanup.push(() => new Promise((resolve) => wss.close(resolve)));
    cleanup.push(() => sockets.forEach((s) => s.terminate()));
    return { url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`, perConnection, acked, againAfterAck };
  }

  for (const withAcks of [false, true]) {
    it(`every message once, in order, with the bytes it had at send()${withAcks ? ', acks() keeping what was written' : ''}`, async () => {
      const s = await server(withAcks);
      const use: Feature<unknown, Uint8Array>[] = withAcks
        ? [acks<unknown, Uint8Array>({ id: (m) => new DataView(m.buffer, m.byteOffset, 8).getUint32(0), ack: (m) => (typeof m === 'string' && m.startsWith('ack ') ? Number(m.slice(4)) : undefined) })]
        : [];
      const socket = new SteadySocket<unknown, Uint8Array>(s.url, { minDelay: 0, maxDelay: 0, jitter: 0, use });
      cleanup.push(() => socket.close());
      socket.on('error', () => {});
      const buffer = new Uint8Array(64).subarray(8, 16); // a view into a larger buffer, reused for every message
      let next = 0;
      const sendNext = () => socket.send(fill(buffer, next++));
      // Listeners that throw, and that send from inside: the client carries on.
      let ending = false;
      socket.on('close', () => {
        if (!ending) sendNext(); // sent while the connection is gone: it waits, copied
        throw new Error('close listener failed');
      });
      cleanup.push(() => (ending = true)); // before close(): that close event's send would throw CLOSED
      socket.on('reconnecting', () => {
        throw new Error('reconnecting listener failed');
      });
      socket.on('open', () => {
        if (next < COUNT) sendNext();
      });
      // Some sent before the first connection opens (they wait), the rest paced across the 1001.
      for (let i = 0; i < 10; i++) sendNext();
      const deadline = Date.now() + 10_000;
      while (next < COUNT && Date.now() < deadline) {
        sendNext();
        await sleep(1);
      }
      await until(() => s.perConnection.flat().length >= COUNT, 10_000, 'every message at the server');
      await socket.flushed();
      await sleep(50); // anything sent twice would arrive now

      expect(s.perConnection.length, 'the server closed the first connection and the client came back').to.be.at.least(2);
      expect(s.perConnection[0].length, 'messages on the first connection').to.be.at.least(CLOSE_AFTER);
      const received = s.perConnection.flat();
      expect(received.includes(-1), 'no message with changed or missing bytes').to.equal(false);
      const all = Array.from({ length: next }, (_, i) => i);
      if (!withAcks) {
        expect(received, 'every message exactly once, in order, across connections').to.deep.equal(all);
      } else {
        // At least once: a message written on the connection the server was closing, whose
        // acknowledgement the server could no longer send, comes again on the next one (and only such).
        expect([...new Set(received)], 'every message, first receipts in order').to.deep.equal(all);
        expect(s.againAfterAck, 'no message written again after the server acknowledged it').to.deep.equal([]);
        expect(received.length - next, 'messages written twice').to.be.at.most(s.perConnection[0].length - CLOSE_AFTER);
        expect(s.acked.size, 'flushed(): the server acknowledged every message').to.equal(next);
      }
      expect(reported.map((e) => (e as Error).message)).to.include.members(['close listener failed', 'reconnecting listener failed']);
      expect(socket.state).to.equal('open');
    });
  }
});
