// A URL function that throws or rejects with a message quoting the URL it built (token included),
// in every build: the Node build redacts and scrubs the message, the browser builds keep only the
// error's name (they carry no scrubber). Found by the browser review: the browser builds passed
// the message on as it was, into the error, close and reconnecting events and debug() lines.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { inspect } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { FakeWebSocket } from '../support/fake-websocket';

const BUILDS = ['dist/index.js', 'dist/index.cjs', 'dist/index.browser.js', 'dist/steadysocket.esm.min.js'];
const TOKEN = 'zqTok3nS3cret';
const PASSWORD = 'zqPassw0rdS3cret';

/** A WebSocket whose every connection fails at once, as a refused one does. */
class Refused extends FakeWebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols);
    setTimeout(() => this.serverClose(1006), 1);
  }
}

type Module = typeof import('../../src/index');

/** A build's exports (Node reads a CommonJS build's named exports too). */
const load = async (build: string) => (await import(pathToFileURL(resolve(build)).href)) as Module;

describe('a URL function failing with the URL in its message, in every build', function () {
  this.timeout(20_000);
  for (const build of BUILDS) {
    for (const when of ['on the first attempt', 'on a later attempt'] as const) {
      it(`${build}: no token or password reaches an error, an event or a debug line (${when})`, async () => {
        expect(existsSync(build), `${build} (run npm run build)`).to.equal(true);
        const { SteadySocket, debug } = await load(build);
        const built = `wss://user:${PASSWORD}@example.test/feed?token=${TOKEN}`;
        let calls = 0;
        const url = () => {
          calls += 1;
          if (when === 'on the first attempt' || calls > 1) throw new TypeError(`token refresh failed for ${built}`);
          return built;
        };
        const lines: string[] = [];
        const seen: unknown[] = [];
        const socket = new SteadySocket(url, { WebSocket: Refused as never, minDelay: 5, maxDelay: 5, maxRetries: 3, use: [debug((line: string) => lines.push(line))] });
        for (const event of ['error', 'close', 'reconnecting'] as const) socket.on(event, (payload: unknown) => seen.push(payload));
        await new Promise<void>((done) => socket.on('state', (state: string) => state === 'closed' && done()));
        const failures = seen.filter((payload): payload is Error => payload instanceof Error && /provider failed/.test(payload.message));
        expect(failures.length, 'the provider failure was reported').to.be.greaterThan(0);
        const text = [...seen.map((payload) => inspect(payload, { depth: Infinity })), ...lines].join('\n');
        expect(text).to.not.include(TOKEN).and.not.include(PASSWORD);
        // What is left says what failed: the Node build keeps the message, URL redacted; a browser build the error's name.
        expect(failures[0]!.message).to.match(build.includes('browser') || build.includes('.min.') ? /provider failed \(TypeError\)\.$/ : /provider failed: token refresh failed for wss:\/\/\*\*\*:\*\*\*@example\.test\/feed\?token=\*\*\*$/);
      });
    }
  }
});
