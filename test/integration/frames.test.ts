// The client's `ping` and `pong` events and ping()'s payload, against a real ws server on
// loopback (Node: ws is the transport; browsers never show control frames to scripts).
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { ping, ready, SteadySocket, type SteadySocketOptions } from '../../src/index';
import { eventually, liveKit, sleep, within, type Connection } from '../node/support';
import { FakeWebSocket } from '../support/fake-websocket';

/** ws, recording every socket the client makes, so a test can count the listeners on it. */
function recordingWs(made: WebSocket[]) {
  return class RecordingWebSocket extends WebSocket {
    constructor(url: string, protocols?: string[], options?: WebSocket.ClientOptions) {
      super(url, protocols, options);
      made.push(this);
    }
  };
}

const text = (data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString();

describe('ping and pong events (Node, ws)', function () {
  this.timeout(15_000);
  const { server, client, opened } = liveKit();
  /** Resolves with what the server's side of `connection` receives as pongs. */
  const pongsAt = (connection: Connection) => {
    const pongs: string[] = [];
    connection.socket.on('pong', (data) => pongs.push(data.toString()));
    return pongs;
  };

  it("reports every ping and pong frame with its payload: the server's pings, the answers to the client's own pings, unsolicited pongs", async () => {
    const s = await server({ onConnection: () => {} });
    const socket = client(s.url);
    const frames: string[] = [];
    socket.on('ping', (data) => frames.push(`ping ${text(data)}`));
    socket.on('pong', (data) => frames.push(`pong ${text(data)}`));
    await opened(socket);
    const serverSide = s.connections[0];
    const answers = pongsAt(serverSide);

    serverSide.socket.ping('from the server');
    serverSide.socket.pong('unasked');
    await eventually(3000, 'two frames', () => frames.length === 2);
    await ping(socket, { data: 'from the client' });
    await ping(socket);

    expect(frames).to.deep.equal(['ping from the server', 'pong unasked', 'pong from the client', 'pong ']);
    // ws answered the server's ping by itself, with the same payload (RFC 6455 §5.5.3).
    await eventually(3000, 'the automatic pong', () => answers.length === 1);
    expect(answers).to.deep.equal(['from the server']);
    expect(Buffer.isBuffer(await new Promise((resolve) => {
      socket.once('ping', resolve);
      serverSide.socket.ping(Buffer.from([0, 1, 2]));
    })), 'the payload is the Buffer ws gave').to.equal(true);
  });

  it('attaches no ws frame listener while nobody listens; one per event once someone does, on this and each later connection', async () => {
    const s = await server({ onConnection: () => {} });
    const made: WebSocket[] = [];
    const socket = client(s.url, { WebSocket: recordingWs(made) as never });
    await opened(socket);
    const first = made[0];
    expect([first.listenerCount('ping'), first.listenerCount('pong')], 'ping, pong listeners with no client listener').to.deep.equal([0, 0]);

    // A server ping without a listener: answered by ws, nothing else happens.
    const answers = pongsAt(s.connections[0]);
    s.connections[0].socket.ping('unheard');
    await eventually(3000, 'the automatic pong', () => answers.length === 1);
    expect(first.listenerCount('ping')).to.equal(0);

    const pings: string[] = [];
    const onPing = (data: Uint8Array) => pings.push(text(data));
    socket.on('ping', onPing);
    socket.once('ping', () => pings.push('once'));
    socket.addListener('ping', () => pings.push('added'));
    expect([first.listenerCount('ping'), first.listenerCount('pong')], 'after three ping listeners').to.deep.equal([1, 0]);
    s.connections[0].socket.ping('heard');
    await eventually(3000, 'the ping event', () => pings.length === 3);
    expect(pings).to.deep.equal(['heard', 'once', 'added']);

    // The next connection opens with the listener already in place.
    socket.reconnect();
    await opened(socket);
    expect(made).to.have.length(2);
    expect([made[1].listenerCount('ping'), made[1].listenerCount('pong')]).to.deep.equal([1, 0]);
    s.connections[1].socket.ping('again');
    await eventually(3000, 'the ping on the new connection', () => pings.length === 5);
    expect(pings.slice(3)).to.deep.equal(['again', 'added']);

    // Nobody listens any more: the connection after that carries none.
    socket.removeAllListeners('ping');
    socket.reconnect();
    await opened(socket);
    expect([made[2].listenerCount('ping'), made[2].listenerCount('pong')]).to.deep.equal([0, 0]);
  });

  it('reports frames that arrive during the ready step to a listener added in it', async () => {
    const s = await server({
      onConnection: ({ socket }) => socket.on('message', (data) => String(data) === 'ping me' && socket.ping('during ready')),
    });
    const seen: string[] = [];
    let socket!: SteadySocket;
    socket = client(s.url, {
      use: [
        ready(async (context) => {
          const pinged = new Promise<void>((resolve) =>
            socket.once('ping', (data) => {
              seen.push(`${text(data)} (state ${socket.state})`);
              resolve();
            }),
          );
          context.send('ping me');
          await within(3000, 'the ping during the ready step', pinged);
        }),
      ],
    });
    await opened(socket);
    expect(seen).to.deep.equal(['during ready (state connecting)']);
  });

  it('a listener that throws stops neither the other listeners nor the client', async () => {
    const global = globalThis as { reportError?: (error: unknown) => void };
    const reported: unknown[] = [];
    global.reportError = (error) => reported.push(error);
    try {
      const s = await server(); // echoes
      const socket = client(s.url);
      const after: string[] = [];
      socket.on('ping', () => {
        throw new Error('ping listener failed');
      });
      socket.on('ping', (data) => after.push(`ping ${text(data)}`));
      socket.on('pong', () => {
        throw new Error('pong listener failed');
      });
      await opened(socket);
      s.connections[0].socket.ping('one');
      const rtt = await ping(socket, { data: 'two', timeout: 3000 });
      expect(rtt).to.be.a('number');
      await eventually(3000, 'the second ping listener', () => after.length === 1);
      expect(after).to.deep.equal(['ping one']);
      expect(reported.map((error) => (error as Error).message)).to.have.members(['ping listener failed', 'pong listener failed']);
      // The connection goes on: an echo comes back, and the state never left open.
      const echoed = within(3000, 'the echo', new Promise((resolve) => socket.once('message', resolve)));
      socket.send('still here');
      expect(await echoed).to.equal('still here');
      expect(socket.state).to.equal('open');
      expect(s.connections).to.have.length(1);
    } finally {
      delete global.reportError;
    }
  });

  describe('ping(socket, { data })', () => {
    it('sends the payload in the ping frame and resolves when the server echoes it (string, Uint8Array, ArrayBuffer)', async () => {
      const received: string[] = [];
      const s = await server({ onConnection: ({ socket }) => socket.on('ping', (data) => received.push(data.toString('hex'))) });
      const socket = client(s.url);
      await opened(socket);
      expect(await ping(socket, { data: 'héllo' })).to.be.a('number');
      expect(await ping(socket, { data: new Uint8Array([1, 2, 3]).subarray(1) })).to.be.a('number');
      expect(await ping(socket, { data: new Uint8Array([255]).buffer })).to.be.a('number');
      expect(await ping(socket, { data: 'x'.repeat(125) })).to.be.a('number');
      expect(received).to.deep.equal([Buffer.from('héllo').toString('hex'), '0203', 'ff', Buffer.from('x'.repeat(125)).toString('hex')]);
    });

    it('ends the round trip at the pong that carries its payload, not at another pong', async () => {
      const s = await server({
        ws: { autoPong: false },
        onConnection: ({ socket }) =>
          socket.on('ping', (data) => {
            socket.pong('something else');
            setTimeout(() => socket.pong(data), 150);
          }),
      });
      const socket = client(s.url);
      const pongs: string[] = [];
      socket.on('pong', (data) => pongs.push(text(data)));
      await opened(socket);
      const rtt = await ping(socket, { data: 'mine', timeout: 3000 });
      expect(rtt).to.be.at.least(140);
      expect(pongs).to.deep.equal(['something else', 'mine']);
    });

    it('without data, any pong ends it (an empty ping, as before)', async () => {
      const s = await server({
        ws: { autoPong: false },
        onConnection: ({ socket }) => socket.on('ping', () => socket.pong('whatever')),
      });
      const socket = client(s.url);
      await opened(socket);
      expect(await ping(socket, { timeout: 3000 })).to.be.a('number');
    });

    it('times out when the server never echoes the payload', async () => {
      const s = await server({ ws: { autoPong: false }, onConnection: ({ socket }) => socket.on('ping', () => socket.pong('not it')) });
      const socket = client(s.url);
      await opened(socket);
      const error = await ping(socket, { data: 'mine', timeout: 200 }).then(
        () => undefined,
        (reason: unknown) => reason as { code?: string },
      );
      expect(error?.code).to.equal('PING_TIMEOUT');
      await sleep(10);
      expect(socket.state).to.equal('open');
    });
  });

  describe('in the browser build (dist/index.browser.js)', () => {
    it('has no frames to report: ping data throws INVALID_OPTION at once, and ping listeners are plain listeners', async () => {
      const file = resolve('dist/index.browser.js');
      expect(existsSync(file), `${file} (run npm run build)`).to.equal(true);
      const built = (await import(pathToFileURL(file).href)) as typeof import('../../src/index');
      const socket = new built.SteadySocket('ws://127.0.0.1:1/', { WebSocket: FakeWebSocket as never });
      try {
        expect(() => built.ping(socket, { data: 'x' }))
          .to.throw('ping data needs a protocol ping: Node with ws only.')
          .with.property('code', 'INVALID_OPTION');
        socket.on('ping', () => {});
        expect(socket.listenerCount('ping')).to.equal(1);
      } finally {
        await socket.close();
      }
    });
  });
});
