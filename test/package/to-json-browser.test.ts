// JSON.stringify(client) in the browser builds (a logger, a store's devtools, an error reporter's
// context): the client's fields hold the URL with its token and the queued messages, so it gives
// its toJSON() instead (state, redacted URL, subprotocol, queued count). Node's builds are checked
// by test/node/review-api.test.ts. The built files run here in Node with a fake WebSocket; the
// same bundles run in real browsers in test/browser and test/everywhere.
import { expect } from 'chai';
import { FakeWebSocket } from '../support/fake-websocket';
import type * as Source from '../../src/index';

const root = new URL('../../', import.meta.url);
const TOKEN = 'zqBrowserToken55';
const PASSWORD = 'zqBrowserPass66';
const MESSAGE = 'zqQueuedMessage77';

describe('JSON.stringify(client) in the browser builds shows no secret and no queued message', () => {
  for (const file of ['dist/index.browser.js', 'dist/steadysocket.esm.min.js']) {
    it(`${file}: before the first attempt, connecting, open and closed`, async () => {
      const { SteadySocket, debug } = (await import(new URL(file, root).href)) as typeof Source;
      FakeWebSocket.reset();
      const socket = new SteadySocket(`wss://me:${PASSWORD}@example.test/feed?token=${TOKEN}`, { WebSocket: FakeWebSocket as never });
      socket.on('error', () => {});
      socket.send(MESSAGE);
      const shown: string[] = [JSON.stringify({ socket })];
      await Promise.resolve(); // connecting
      shown.push(JSON.stringify(socket));
      FakeWebSocket.last.serverOpen();
      shown.push(JSON.stringify([socket]));
      await socket.close();
      shown.push(JSON.stringify(socket));
      for (const text of shown) {
        for (const secret of [TOKEN, PASSWORD, MESSAGE]) expect(text).to.not.include(secret);
      }
      expect(JSON.parse(shown[0]!)).to.deep.equal({ socket: { state: 'connecting', url: 'wss://***:***@example.test/feed?token=***', protocol: '', queued: 1 } });
      expect(JSON.parse(shown[3]!)).to.deep.equal({ state: 'closed', url: 'wss://***:***@example.test/feed?token=***', protocol: '', queued: 0 });
      // debug() given something that is not a function (a logger object) is refused when made.
      expect(() => debug(console as never)).to.throw().with.property('code', 'INVALID_OPTION');
    });
  }
});
