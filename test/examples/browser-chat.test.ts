// Keeps examples/browser-chat honest: its server must refuse foreign origins (403) and missing or
// bad tokens (401), accept the page's own origin with a fresh token, and broadcast; the page must
// chat in real browsers.
import { expect } from 'chai';
import NodeWebSocket from 'ws';
import { Child, eventually, requireDist, within } from './support';

const SERVER = 'examples/browser-chat/server.mjs';

/** What a handshake attempt ended with: the HTTP status of a refusal, or an open socket. */
function handshake(url: string, origin?: string): Promise<{ status: number; socket?: NodeWebSocket }> {
  const socket = new NodeWebSocket(url, origin === undefined ? {} : { origin });
  return within(
    5000,
    `handshake with ${url}`,
    new Promise((resolve, reject) => {
      socket.once('unexpected-response', (_request, response) => {
        response.resume();
        socket.terminate();
        resolve({ status: response.statusCode ?? 0 });
      });
      socket.once('open', () => resolve({ status: 101, socket }));
      socket.on('error', (error) => {
        if (socket.readyState !== NodeWebSocket.CLOSED) reject(error);
      });
    }),
  );
}

/** Collects parsed messages of a client socket. */
function inbox(socket: NodeWebSocket): { type: string; from?: string; text: string }[] {
  const messages: { type: string; from?: string; text: string }[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  return messages;
}

describe('examples/browser-chat', function () {
  this.timeout(30_000);
  let server: Child;
  let base: string; // http://127.0.0.1:PORT
  const sockets: NodeWebSocket[] = [];

  before(async () => {
    requireDist('steadysocket.min.js');
    server = new Child([SERVER], { env: { PORT: '0' } });
    const [, url] = await server.waitFor(/open (http:\/\/127\.0\.0\.1:\d+)\/ /);
    base = url;
  });

  after(async () => {
    for (const socket of sockets) socket.terminate();
    const exit = await server?.stop();
    expect(exit?.code, 'the server shuts down cleanly on SIGTERM').to.equal(0);
  });

  async function token(name: string): Promise<string> {
    const response = await within(5000, 'GET /token', fetch(`${base}/token?name=${encodeURIComponent(name)}`));
    expect(response.status).to.equal(200);
    expect(response.headers.get('cache-control')).to.equal('no-store');
    expect(response.headers.get('access-control-allow-origin'), 'no CORS: other sites must not read tokens').to.equal(null);
    const body = (await response.json()) as { token: string; name: string };
    expect(body.name).to.equal(name);
    return body.token;
  }

  const chat = (token?: string) => `${base.replace('http:', 'ws:')}/chat${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`;

  describe('the server', () => {
    it('serves the page and the script-tag bundle', async () => {
      const page = await fetch(`${base}/`);
      expect(page.status).to.equal(200);
      expect(await page.text()).to.include('<script src="/dist/steadysocket.min.js"></script>');
      const bundle = await fetch(`${base}/dist/steadysocket.min.js`);
      expect(bundle.status).to.equal(200);
      expect(bundle.headers.get('content-type')).to.match(/javascript/);
      expect(await bundle.text()).to.match(/^var SteadySocket=/);
    });

    it('refuses a foreign Origin with 403, even with a valid token', async () => {
      expect((await handshake(chat(await token('mallory')), 'http://evil.example')).status).to.equal(403);
      expect((await handshake(chat(await token('mallory')), 'null')).status).to.equal(403);
    });

    it('refuses a handshake without an Origin with 403', async () => {
      expect((await handshake(chat(await token('mallory')))).status).to.equal(403);
    });

    it('refuses a missing or bad token with 401', async () => {
      expect((await handshake(chat(), base)).status).to.equal(401);
      expect((await handshake(chat('not-a-token'), base)).status).to.equal(401);
    });

    it('accepts its own origin with a fresh token, once: tokens are single-use', async () => {
      const fresh = await token('alice');
      const first = await handshake(chat(fresh), base);
      expect(first.status).to.equal(101);
      sockets.push(first.socket!);
      expect((await handshake(chat(fresh), base)).status).to.equal(401);
    });

    it('broadcasts chat messages to every client, named by their tokens', async () => {
      const alice = await handshake(chat(await token('alice')), base);
      const bob = await handshake(chat(await token('bob')), base.replace('127.0.0.1', 'localhost'));
      expect([alice.status, bob.status]).to.deep.equal([101, 101]);
      sockets.push(alice.socket!, bob.socket!);
      const aliceGot = inbox(alice.socket!);
      const bobGot = inbox(bob.socket!);

      alice.socket!.send(JSON.stringify({ type: 'chat', text: 'hi bob', from: 'an impostor' }));
      const expected = { type: 'chat', from: 'alice', text: 'hi bob' };
      await eventually(5000, 'the broadcast', () => [aliceGot, bobGot].every((got) => got.some((m) => m.type === 'chat')));
      expect(bobGot.find((m) => m.type === 'chat')).to.include(expected);
      expect(aliceGot.find((m) => m.type === 'chat')).to.include(expected);
    });
  });
});
