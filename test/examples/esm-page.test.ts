// Keeps examples/esm-page working: the import map resolves 'steadysocket' to the self-contained ESM
// build, and the page connects and gets its echoes in real browsers.
import { expect } from 'chai';
import NodeWebSocket from 'ws';
import { Child, requireDist, within } from './support';

const SERVER = 'examples/esm-page/server.mjs';

describe('examples/esm-page', function () {
  this.timeout(30_000);
  let server: Child;
  let base: string; // http://127.0.0.1:PORT

  before(async () => {
    requireDist('steadysocket.esm.min.js');
    server = new Child([SERVER], { env: { PORT: '0' } });
    const [, url] = await server.waitFor(/open (http:\/\/127\.0\.0\.1:\d+)\/$/m);
    base = url;
  });

  after(async () => {
    const exit = await server?.stop();
    expect(exit?.code, 'the server shuts down cleanly on SIGTERM').to.equal(0);
  });

  describe('the server', () => {
    it('serves the page with an import map and the self-contained ESM build', async () => {
      const page = await (await fetch(`${base}/`)).text();
      const map = page.match(/<script type="importmap">([\s\S]*?)<\/script>/);
      expect(map, 'an import map').to.not.equal(null);
      expect(JSON.parse(map![1])).to.deep.equal({ imports: { steadysocket: '/dist/steadysocket.esm.min.js' } });
      const bundle = await fetch(`${base}/dist/steadysocket.esm.min.js`);
      expect(bundle.headers.get('content-type')).to.match(/^text\/javascript/);
      const code = await bundle.text();
      expect(code, 'no imports: a browser could not resolve them').not.to.match(/(^|[;}\s])import\s*[{*\w'"]/);
      expect(code).to.match(/export\s*\{[^}]*\bas SteadySocket\b/);
    });

    it('echoes for its own origin and refuses others with 403', async () => {
      const echo = `${base.replace('http:', 'ws:')}/echo`;
      const status = (origin: string) =>
        within(
          5000,
          `handshake from ${origin}`,
          new Promise<number>((resolve, reject) => {
            const socket = new NodeWebSocket(echo, { origin });
            socket.on('unexpected-response', (_request, response) => {
              response.resume();
              socket.terminate();
              resolve(response.statusCode ?? 0);
            });
            socket.on('open', () => {
              socket.send('ping?');
              socket.once('message', (data) => {
                expect(String(data)).to.equal('ping?');
                socket.close();
                resolve(101);
              });
            });
            socket.on('error', (error) => {
              if (socket.readyState !== NodeWebSocket.CLOSED) reject(error);
            });
          }),
        );
      expect(await status('http://evil.example')).to.equal(403);
      expect(await status(base)).to.equal(101);
    });
  });
});
