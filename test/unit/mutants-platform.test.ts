// Behaviour of src/platform.ts (the Node side: ws options, provider and constructor errors, the
// scrubbing of secrets out of an error, ping payloads, warnings, sockets that are not ws, the
// util.inspect hook) that mutation testing (Stryker) found no test pinning down. Each test names
// the change to platform.ts it catches. Pure functions are called directly; the ws constructor is
// the real one. The same for src/platform.browser.ts, which only the browser builds carry (rollup
// swaps it in): imported here directly, in Node, with a fake global WebSocket where one is needed.
import { expect } from 'chai';
import WebSocket from 'ws';
import { SteadySocketError } from '../../src/errors';
import { SteadySocket } from '../../src/index';
import { attachWs, checkNodeOptions, constructorError, emitWarning, NODE_ONLY, nodeOptions, onDrain, pingPayload, providerError, samePayload, scrubbed, sendPing, unref, wsOf } from '../../src/platform';
import * as browser from '../../src/platform.browser';

const URL_WITH_SECRETS = 'wss://alice:pw-s3cret@example.org/feed?token=tok-s3cret';
const HEADERS = { authorization: 'Bearer hdr-s3cret' };
const SECRETS = ['pw-s3cret', 'tok-s3cret', 'hdr-s3cret'];

function expectNoSecret(text: unknown): void {
  for (const secret of SECRETS) expect(String(text), 'a secret in the text').to.not.include(secret);
}

describe('platform.ts: behaviour found unpinned by mutation testing', () => {
  describe('scrubbed()', () => {
    // scrubbed() returns another object, or leaves any of these unscrubbed.
    it('scrubs message, stack, cause and response headers (strings and the strings of a list) of the same error', () => {
      const cause = new Error(`connect ${URL_WITH_SECRETS} with hdr-s3cret`);
      const error = new SteadySocketError('HANDSHAKE_REJECTED', `rejected ${URL_WITH_SECRETS}`, cause, {
        status: 401,
        headers: { 'www-authenticate': 'Bearer realm="x", error="hdr-s3cret"', 'x-list': ['tok-s3cret', 7, 'plain'] } as never,
      });
      // V8 writes the stack's first line when it is first read: read it before, as a logger may.
      expect(error.stack).to.include('tok-s3cret');
      const out = scrubbed(error, URL_WITH_SECRETS, HEADERS);
      expect(out).to.equal(error);
      expectNoSecret(out.message);
      expect(out.message).to.equal('rejected wss://***:***@example.org/feed?token=***');
      expectNoSecret(out.stack);
      expect(out.stack).to.include('rejected wss://***:***@example.org/feed?token=***');
      const scrubbedCause = out.cause as Error;
      expect(scrubbedCause).to.not.equal(cause);
      expectNoSecret(scrubbedCause.message);
      expect(scrubbedCause.message).to.equal('connect wss://***:***@example.org/feed?token=*** with ***');
      const headers = (out as unknown as { headers: Record<string, unknown> }).headers;
      expect(headers['www-authenticate']).to.equal('Bearer realm="x", error="***"');
      expect(headers['x-list']).to.deep.equal(['***', 7, 'plain']);
    });

    // `Array.isArray(value)` made true: a header value that is neither a string nor a list threw a TypeError.
    it('leaves a response header value that is neither a string nor a list as it is', () => {
      const error = new SteadySocketError('HANDSHAKE_REJECTED', 'rejected', undefined, { status: 401, headers: { 'x-count': 5, 'www-authenticate': 'Bearer hdr-s3cret' } as never });
      const headers = (scrubbed(error, URL_WITH_SECRETS, HEADERS) as unknown as { headers: Record<string, unknown> }).headers;
      expect(headers).to.deep.equal({ 'x-count': 5, 'www-authenticate': '***' });
    });

    // `if (error.cause !== undefined)` made always true: an error without a cause gets one.
    it('leaves an error without a cause without one', () => {
      const error = new SteadySocketError('CONNECT_FAILED', `failed ${URL_WITH_SECRETS}`);
      const out = scrubbed(error, URL_WITH_SECRETS, undefined);
      expect('cause' in out).to.equal(false);
      expect(out.message).to.equal('failed wss://***:***@example.org/feed?token=***');
    });
  });

  describe('providerError() and constructorError()', () => {
    // The URL pattern narrowed (no https, no case-insensitivity, no word boundary), or the cause unscrubbed.
    it('redacts every ws, wss, http and https URL in the message and the cause of a provider failure', () => {
      const cause = new Error('fetch HTTPS://u:pw-s3cret@auth.example/t?k=tok-s3cret failed; then ws://h/?token=tok-s3cret and http://x:hdr-s3cret@p/');
      const error = providerError(cause);
      expect(error.code).to.equal('CONNECT_FAILED');
      expect(error.message).to.equal(
        'The url, protocols or headers provider failed: fetch HTTPS://***:***@auth.example/t?k=*** failed; then ws://h/?token=*** and http://***:***@p/',
      );
      expectNoSecret((error.cause as Error).message);
      expectNoSecret((error.cause as Error).stack);
    });

    it('a URL ends at a quote or space, so the text after it is kept', () => {
      const error = providerError(`bad "wss://h/?token=tok-s3cret" here`);
      expect(error.message).to.equal('The url, protocols or headers provider failed: bad "wss://h/?token=***" here');
    });

    // Bug found here: the URL ended at `'`, which a password may hold raw (the URL parser keeps it), so the rest showed.
    it("redacts a URL whose password holds a ' in message and cause", () => {
      const error = providerError(new Error("fetch wss://user:pa'ss-pw-s3cret@host/x failed"));
      expect(error.message).to.equal('The url, protocols or headers provider failed: fetch wss://***:***@host/x failed');
      expectNoSecret((error.cause as Error).message);
      expectNoSecret((error.cause as Error).stack);
    });

    // Bug found here: the URL ended at `"`, `<`, `>` or a backtick (and at any non-ASCII character
    // where the CLI's copy of this redaction ran), which a raw password may hold: the rest showed.
    it('redacts a URL whose password holds a ", <, >, backtick or non-ASCII character in message and cause', () => {
      for (const odd of ['"', '<', '>', '`', 'é']) {
        const error = providerError(new Error(`fetch wss://user:pa${odd}ss-pw-s3cret@host/x failed`));
        expect(error.message, JSON.stringify(odd)).to.equal('The url, protocols or headers provider failed: fetch wss://***:***@host/x failed');
        expectNoSecret((error.cause as Error).message);
        expectNoSecret((error.cause as Error).stack);
      }
    });

    it('constructorError() says the URL was refused and keeps the cause', () => {
      const cause = new SyntaxError('Invalid URL');
      const error = constructorError(cause);
      expect(error.code).to.equal('CONNECT_FAILED');
      expect(error.message).to.equal('Could not create a WebSocket for this URL: Invalid URL');
      expect(error.cause).to.equal(cause);
    });
  });

  describe('ping payloads', () => {
    it('pingPayload() copies strings, ArrayBuffers and views (their own bytes only), up to 125 bytes', () => {
      expect([...pingPayload('hé', false)]).to.deep.equal([104, 195, 169]);
      const buffer = new Uint8Array([1, 2, 3]).buffer;
      const fromBuffer = pingPayload(buffer, false);
      new Uint8Array(buffer)[0] = 9;
      expect([...fromBuffer]).to.deep.equal([1, 2, 3]);
      const backing = new Uint8Array([0, 1, 2, 3, 4]);
      const fromView = pingPayload(backing.subarray(1, 3), false);
      backing[1] = 9;
      expect([...fromView]).to.deep.equal([1, 2]);
      expect(pingPayload(new Uint8Array(125), false).byteLength).to.equal(125);
      expect(pingPayload('', false).byteLength).to.equal(0);
    });

    it('pingPayload() refuses 126 bytes, other types, and any payload on an application-ping client', () => {
      for (const data of [new Uint8Array(126), 'x'.repeat(126), 42, undefined, null, { byteLength: 3 }]) {
        expect(() => pingPayload(data, false), String(data)).to.throw(SteadySocketError, 'at most 125 bytes').with.property('code', 'INVALID_OPTION');
      }
      expect(() => pingPayload('x', true)).to.throw(SteadySocketError, "not the heartbeat's application ping").with.property('code', 'INVALID_OPTION');
    });

    it('samePayload() is true only for the same bytes in the same number', () => {
      const a = new Uint8Array([1, 2, 3]);
      expect(samePayload(a, new Uint8Array([1, 2, 3]))).to.equal(true);
      expect(samePayload(new Uint8Array(0), new Uint8Array(0))).to.equal(true);
      expect(samePayload(a, new Uint8Array([1, 2]))).to.equal(false);
      expect(samePayload(a, new Uint8Array([1, 2, 3, 4]))).to.equal(false);
      expect(samePayload(a, new Uint8Array([1, 2, 4]))).to.equal(false);
      expect(samePayload(a, new Uint8Array([0, 2, 3]))).to.equal(false);
    });
  });

  describe('nodeOptions()', () => {
    class Whatwg {}
    const ignore = () => {};

    it('a WHATWG constructor gets no third argument, and the Node-only options set are reported, only those', () => {
      const seen: string[][] = [];
      expect(nodeOptions(Whatwg as never, { agent: false, maxPayload: 5, closeTimeout: 10 }, undefined, (names) => seen.push(names))).to.equal(undefined);
      expect(nodeOptions(Whatwg as never, { closeTimeout: 10 }, undefined, (names) => seen.push(names))).to.equal(undefined);
      expect(seen).to.deep.equal([['agent', 'maxPayload']]);
    });

    it('ws gets perMessageDeflate off by default, the options set, and a maxPayload ws cannot hold as no limit', () => {
      const options = nodeOptions(WebSocket as never, { maxPayload: 2 ** 31 - 1, origin: 'https://o.example' }, { 'x-a': '1' }, ignore)!;
      expect(options.perMessageDeflate).to.equal(false);
      expect(options.maxPayload).to.equal(2 ** 31 - 1);
      expect(options.origin).to.equal('https://o.example');
      expect(options.headers).to.deep.equal({ 'x-a': '1' });
      expect('agent' in options).to.equal(false);
      expect(nodeOptions(WebSocket as never, { maxPayload: 2 ** 31 }, undefined, ignore)!.maxPayload).to.equal(0);
      expect(nodeOptions(WebSocket as never, { perMessageDeflate: true }, undefined, ignore)!.perMessageDeflate).to.equal(true);
      expect('headers' in nodeOptions(WebSocket as never, {}, undefined, ignore)!).to.equal(false);
    });
  });

  describe('checkNodeOptions()', () => {
    // A message that quoted the value would show a proxy password.
    it('an agent given as a proxy URL string is refused without quoting it', () => {
      expect(() => checkNodeOptions({ agent: 'http://u:pw-s3cret@proxy:3128' }))
        .to.throw(SteadySocketError)
        .that.satisfies((error: SteadySocketError) => error.code === 'INVALID_OPTION' && !error.message.includes('pw-s3cret') && error.message.endsWith('got string.'));
    });

    // `agent?.addRequest` made `agent.addRequest`: null threw a TypeError instead.
    it('agent: null is INVALID_OPTION, like any other non-agent', () => {
      expect(() => checkNodeOptions({ agent: null })).to.throw(SteadySocketError, 'got null.').with.property('code', 'INVALID_OPTION');
    });

    // `value.every(...)` made `value.some(...)`: a list with one PEM passed.
    it('a ca list is refused if any item is neither PEM text, bytes nor an object', () => {
      expect(() => checkNodeOptions({ ca: ['-----BEGIN CERTIFICATE-----', 5] })).to.throw(SteadySocketError, 'Option ca must be PEM text or bytes').with.property('code', 'INVALID_OPTION');
      expect(() => checkNodeOptions({ ca: ['-----BEGIN CERTIFICATE-----', Buffer.from('x'), { pem: 'y' }] })).to.not.throw();
    });

    // `good.slice(0, 40)` made `good`: a long name (it may be a value pasted in the wrong place) was quoted whole.
    it('a header name that is not a token is quoted up to its first bad character, at most 40 characters', () => {
      const name = `${'a'.repeat(50)} hdr-s3cret`;
      expect(() => checkNodeOptions({ headers: { [name]: 'v' } })).to.throw(SteadySocketError, `Header name "${'a'.repeat(40)}" is not a token`);
    });

    it('a header value with a line break is refused without quoting the value', () => {
      expect(() => checkNodeOptions({ headers: { authorization: 'Bearer hdr-s3cret\r\nx: y' } }))
        .to.throw(SteadySocketError, 'Header authorization must be a string')
        .that.satisfies((error: SteadySocketError) => !error.message.includes('hdr-s3cret'));
    });
  });

  describe('sockets that are not ws', () => {
    // isWs()'s `typeof terminate === 'function'` made true: a socket with on() but no terminate() (Bun's) was driven as ws.
    it('a socket with on() but no terminate() is not ws: not attached, no ws view, no protocol ping', () => {
      const added: string[] = [];
      const socket = { readyState: 1, send() {}, close() {}, on: (event: string) => added.push(event) } as never;
      expect(attachWs(socket)).to.equal(false);
      expect(wsOf(socket)).to.equal(undefined);
      expect(sendPing(socket, 'x')).to.equal(false);
      expect(added).to.deep.equal([]);
    });

    // unref()'s `if (!ws) return` made never true: a socket that is not ws threw a TypeError.
    it('unref() leaves a socket that is not ws alone', () => {
      const socket = { readyState: 0, send() {}, close() {} };
      expect(() => unref(socket as never)).to.not.throw();
      expect(Object.keys(socket)).to.deep.equal(['readyState', 'send', 'close']);
    });

    // `typeof tcp.once !== 'function'` made false: a TCP socket without once() threw a TypeError.
    it('onDrain() is false for a ws socket whose TCP socket has no once()', () => {
      const socket = { readyState: 1, send() {}, close() {}, on() {}, terminate() {}, _socket: {} } as never;
      expect(onDrain(socket, () => {})).to.equal(false);
    });
  });

  describe('inspectable()', () => {
    // `configurable: true` made false: an application could not replace how a client is shown.
    it("the client's util.inspect hook is one an application can redefine", () => {
      const hook = Object.getOwnPropertyDescriptor(SteadySocket.prototype, Symbol.for('nodejs.util.inspect.custom'));
      expect(hook?.value).to.be.a('function');
      expect(hook?.configurable).to.equal(true);
    });
  });

  describe('emitWarning()', () => {
    it('emits a process warning prefixed steadysocket:, with the code STEADYSOCKET_OPTION', () => {
      const seen: unknown[][] = [];
      const original = process.emitWarning;
      process.emitWarning = ((...args: unknown[]) => seen.push(args)) as typeof process.emitWarning;
      try {
        emitWarning('ignored option x');
      } finally {
        process.emitWarning = original;
      }
      expect(seen).to.deep.equal([['steadysocket: ignored option x', { code: 'STEADYSOCKET_OPTION' }]]);
    });

    // The console.warn branch (a runtime without process.emitWarning) emptied, or its test inverted.
    it('writes the warning with console.warn, prefixed steadysocket:, where process.emitWarning is missing', () => {
      const seen: unknown[][] = [];
      const original = { emitWarning: process.emitWarning, warn: console.warn };
      (process as { emitWarning?: unknown }).emitWarning = undefined;
      console.warn = (...args: unknown[]) => seen.push(args);
      try {
        emitWarning('ignored option y');
      } finally {
        process.emitWarning = original.emitWarning;
        console.warn = original.warn;
      }
      expect(seen).to.deep.equal([['steadysocket: ignored option y']]);
    });

    // `typeof console !== 'undefined'` made true (or compared with ''): a runtime with neither threw a TypeError.
    it('does nothing, and does not throw, where there is neither process.emitWarning nor console', () => {
      const original = { emitWarning: process.emitWarning, console: globalThis.console };
      (process as { emitWarning?: unknown }).emitWarning = undefined;
      (globalThis as { console?: unknown }).console = undefined;
      let thrown: unknown;
      try {
        emitWarning('ignored option z');
      } catch (error) {
        thrown = error;
      } finally {
        process.emitWarning = original.emitWarning;
        globalThis.console = original.console;
      }
      expect(thrown).to.equal(undefined);
    });
  });
});

describe('platform.browser.ts: behaviour found unpinned by mutation testing', () => {
  const socket = { readyState: 1, send() {}, close() {} } as never;

  // The lookup made once at load, or checkedWebSocket given anything but undefined.
  it("defaultWebSocket() is the global WebSocket at each call, and NO_WEBSOCKET when there is none", () => {
    const original = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
    class First {}
    class Second {}
    try {
      Object.defineProperty(globalThis, 'WebSocket', { value: First, configurable: true, writable: true });
      expect(browser.defaultWebSocket()).to.equal(First);
      (globalThis as { WebSocket?: unknown }).WebSocket = Second;
      expect(browser.defaultWebSocket()).to.equal(Second);
      delete (globalThis as { WebSocket?: unknown }).WebSocket;
      expect(() => browser.defaultWebSocket()).to.throw(SteadySocketError).with.property('code', 'NO_WEBSOCKET');
    } finally {
      if (original) Object.defineProperty(globalThis, 'WebSocket', original);
      else delete (globalThis as { WebSocket?: unknown }).WebSocket;
    }
  });

  // A name of the list made '' or dropped: that option, set, would not be warned about in browsers.
  it('NODE_ONLY names the same options as the Node build', () => {
    expect(browser.NODE_ONLY).to.deep.equal(NODE_ONLY);
  });

  // Any return value made true (or an object): the client would drive a browser socket as ws.
  it('attachWs(), sendPing(), onDrain() and samePayload() are false, wsOf() undefined: no socket is ws', () => {
    expect(browser.attachWs(socket)).to.equal(false);
    expect(browser.wsOf(socket)).to.equal(undefined);
    expect(browser.sendPing()).to.equal(false);
    expect(browser.onDrain()).to.equal(false);
    expect(browser.samePayload()).to.equal(false);
  });

  // `if (names.length)` made true (a warning naming nothing), or the filter made to keep every name.
  it('nodeOptions() returns undefined and reports the Node-only options set, only those, only if any', () => {
    const seen: string[][] = [];
    expect(browser.nodeOptions(class {} as never, { agent: false, maxPayload: 5, closeTimeout: 10, headers: undefined }, { a: 'b' }, (names) => seen.push(names))).to.equal(undefined);
    expect(browser.nodeOptions(class {} as never, { closeTimeout: 10 }, undefined, (names) => seen.push(names))).to.equal(undefined);
    expect(seen).to.deep.equal([['agent', 'maxPayload']]);
  });

  // The name lookup made `cause.name` (a TypeError for null), its fallback dropped, or the cause kept.
  it("providerError() keeps only the error's name (or the type of what was thrown), not its message nor the cause", () => {
    const error = browser.providerError(new TypeError(`token refresh failed for ${URL_WITH_SECRETS}`));
    expect(error).to.be.instanceOf(SteadySocketError);
    expect(error.code).to.equal('CONNECT_FAILED');
    expect(error.message).to.equal('The url, protocols or headers provider failed (TypeError).');
    expect('cause' in error).to.equal(false);
    expectNoSecret(error.stack);
    expect(browser.providerError(URL_WITH_SECRETS).message).to.equal('The url, protocols or headers provider failed (string).');
    expect(browser.providerError(null).message).to.equal('The url, protocols or headers provider failed (object).');
    expect(browser.providerError(undefined).message).to.equal('The url, protocols or headers provider failed (undefined).');
  });

  it("constructorError() keeps only the error's name, or says error, not its message nor the cause", () => {
    const error = browser.constructorError(new DOMException(`The URL '${URL_WITH_SECRETS}' is invalid.`, 'SyntaxError'));
    expect(error.code).to.equal('CONNECT_FAILED');
    expect(error.message).to.equal('Could not create a WebSocket for this URL (SyntaxError).');
    expect('cause' in error).to.equal(false);
    expectNoSecret(error.stack);
    expect(browser.constructorError(null).message).to.equal('Could not create a WebSocket for this URL (error).');
    expect(browser.constructorError(URL_WITH_SECRETS).message).to.equal('Could not create a WebSocket for this URL (error).');
  });

  // The `delete` dropped: the cause (an Event whose target holds the URL) would be kept.
  it('scrubbed() removes the cause from the same error', () => {
    const error = new SteadySocketError('CONNECT_FAILED', 'WebSocket error', { target: { url: URL_WITH_SECRETS } });
    expect(browser.scrubbed(error)).to.equal(error);
    expect('cause' in error).to.equal(false);
  });

  it('pingPayload() is INVALID_OPTION saying protocol pings need Node with ws', () => {
    expect(() => browser.pingPayload()).to.throw(SteadySocketError, 'ping data needs a protocol ping: Node with ws only.').with.property('code', 'INVALID_OPTION');
  });

  it('emitWarning() writes the warning with console.warn, prefixed steadysocket:', () => {
    const seen: unknown[][] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => seen.push(args);
    try {
      browser.emitWarning('ignored option x');
    } finally {
      console.warn = original;
    }
    expect(seen).to.deep.equal([['steadysocket: ignored option x']]);
  });
});
