// What the library says about options (issue 11 §4): arrays where options belong, option names of
// other clients, Node-only options given to a WHATWG WebSocket.
import { expect } from 'chai';
import { acks, debug, heartbeat, messages, pageSignals, persist, ready, requests, stats, SteadySocket, SteadySocketError, ttl, type SteadySocketOptions } from '../../src/index';
import { FakeWebSocket } from '../support/fake-websocket';

/** Collects process warnings while `run` executes (they are emitted on the next tick). */
async function warningsDuring(run: () => void): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (warning: Error) => seen.push(warning.message);
  process.on('warning', onWarning);
  try {
    run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

describe('options: what the library says', () => {
  const sockets: SteadySocket<unknown, unknown>[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) await socket.close();
  });

  function make(options: Record<string, unknown>) {
    const socket = new SteadySocket<unknown, unknown>('ws://127.0.0.1:9/', { WebSocket: FakeWebSocket as never, ...options } as SteadySocketOptions<unknown, unknown>);
    sockets.push(socket);
    return socket;
  }

  it('shares resolved options between clients given equal options, and never a stale copy of a changed object', () => {
    const options: Record<string, unknown> = { WebSocket: FakeWebSocket, minDelay: 5 };
    const first = make(options);
    const second = make({ ...options });
    expect(second._opts, 'equal options: one resolved object').to.equal(first._opts);
    expect(second._opts.minDelay).to.equal(5);
    options.minDelay = 7; // the caller changes its object after the first client read it
    const third = make(options);
    expect(third._opts.minDelay).to.equal(7);
    expect(third._opts).not.to.equal(first._opts);
    expect(first._opts.minDelay, 'the first client keeps what it was given').to.equal(5);
    expect(() => make({ ...options, minDelay: -1 }), 'a changed value is validated again').to.throw(SteadySocketError, /minDelay/);
  });

  it('rejects subprotocols passed where the options go, with the way to pass them', () => {
    for (const second of [['chat.v2'], 'chat.v2']) {
      let error: SteadySocketError | undefined;
      try {
        new SteadySocket('ws://127.0.0.1:9/', second as never);
      } catch (e) {
        error = e as SteadySocketError;
      }
      expect(error?.code).to.equal('INVALID_OPTION');
      expect(error?.message).to.include('{ protocols: [...] }');
    }
  });

  it('rejects options given third, as other clients take them (url, protocols, options)', () => {
    for (const second of [undefined, ['chat.v2']]) {
      let error: SteadySocketError | undefined;
      try {
        new (SteadySocket as unknown as new (...args: unknown[]) => SteadySocket)('ws://127.0.0.1:9/', second, { maxRetries: 3 });
      } catch (e) {
        error = e as SteadySocketError;
      }
      expect(error?.code, String(second)).to.equal('INVALID_OPTION');
      expect(error?.message).to.include('SteadySocket takes (url, options)');
    }
  });

  it('tells a feature from the function that makes one, and refuses one feature listed twice', () => {
    const factories = { heartbeat, pageSignals, stats, debug, ttl, ready, acks, requests, persist, messages };
    for (const [name, factory] of Object.entries(factories)) {
      expect(() => make({ use: [factory] }), name).to.throw(SteadySocketError, /Option use takes features: call their functions/);
    }
    expect(() => make({ use: [() => undefined] }), 'a plain function').to.throw(SteadySocketError, /Option use takes features/);
    const step = ready(async () => undefined);
    expect(() => make({ use: [step, step] })).to.throw(SteadySocketError, /lists a feature twice/);
    const counters = stats();
    expect(() => make({ use: [counters, ttl(5), counters] })).to.throw(SteadySocketError, /lists a feature twice/);
    expect(make({ use: [ready(async () => undefined), ready(async () => undefined)] }).state, 'two ready steps').to.equal('connecting');
  });

  it('warns once per process about an unknown option; debug() names ours for another client\'s name', async () => {
    const lines: string[] = [];
    const first = await warningsDuring(() => make({ minReconnectionDelay: 500, reconnectInterval: 10, timeout: 5000, use: [debug((line: string) => lines.push(line))] }));
    expect(first).to.have.length(3);
    // sockette's `timeout` is the wait between attempts, not a connect timeout.
    expect(lines.filter((line) => /option timeout is another client's; steadysocket: minDelay and maxDelay \(the same value\) with jitter: 0/.test(line))).to.have.length(1);
    expect(first[0]).to.match(/unknown option minReconnectionDelay is ignored\./);
    expect(first[1]).to.match(/unknown option reconnectInterval is ignored\./);
    expect(lines.filter((line) => /minReconnectionDelay.*steadysocket: minDelay/.test(line))).to.have.length(1);
    expect(lines.filter((line) => /reconnectInterval.*steadysocket: minDelay/.test(line))).to.have.length(1);
    // partysocket's and PartySocket's option names, and websocket-ts's options object.
    const hints: Record<string, RegExp> = {
      shouldReconnectOnClose: /steadysocket: shouldReconnect$/,
      debugLogger: /steadysocket: use: \[debug\(log\)\]$/,
      protocol: /steadysocket: protocols; the scheme \(ws, wss\) is in the URL$/,
      retry: /steadysocket: maxRetries, minDelay, maxDelay, factor$/,
      buffer: /steadysocket: maxMessages, overflow$/,
      listeners: /steadysocket: socket\.on\(\.\.\.\)$/,
    };
    for (const name of ['host', 'room', 'party', 'id', 'basePath', 'prefix', 'path', 'query']) hints[name] = /steadysocket: no option: put it in the URL, or pass a url function$/;
    const peer: string[] = [];
    const warned = await warningsDuring(() => make({ ...Object.fromEntries(Object.keys(hints).map((name) => [name, 1])), use: [debug((line: string) => peer.push(line))] }));
    expect(warned, 'each is also an unknown option').to.have.length(Object.keys(hints).length);
    for (const [name, hint] of Object.entries(hints)) {
      const said = peer.filter((line) => line.includes(`warning: option ${name} is another client's;`));
      expect(said, name).to.have.length(1);
      expect(said[0], name).to.match(hint);
    }
    const moved = await warningsDuring(() => make({ debug: true }));
    expect(moved[0], 'an option that is a feature names it').to.match(/unknown option debug is ignored: it is a feature, use: \[debug\(\)\]/);
    const again = await warningsDuring(() => make({ minReconnectionDelay: 500 }));
    expect(again, 'the same key is reported once per process').to.deep.equal([]);
    const unknown = await warningsDuring(() => make({ someTypo: 1 }));
    expect(unknown).to.have.length(1);
    expect(unknown[0]).to.match(/unknown option someTypo is ignored\./);
  });

  it("throws INVALID_OPTION for 0.1's heartbeat, ready and ttl options, naming the feature (ignored, an app would lose its liveness check, ready step or expiry without a word)", () => {
    // Before: a warning only (none with NODE_NO_WARNINGS=1), and a 0.1 app ran on without its
    // ready step (its authentication) or its ttl (deliver() waited instead of MESSAGE_EXPIRED).
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ heartbeat: { interval: 1000, timeout: 1000 } }, /heartbeat is no option but a feature: use: \[heartbeat\(\{\.\.\.\}\)\]/],
      [{ ready: async () => undefined }, /ready is no option but a feature: use: \[ready\(fn\)\]/],
      [{ ttl: 5000 }, /ttl is no option but a feature: use: \[ttl\(ms\)\]/],
    ];
    for (const [options, message] of cases) {
      expect(() => make(options), Object.keys(options)[0]).to.throw(SteadySocketError, message).with.property('code', 'INVALID_OPTION');
    }
  });

  it('warns once when Node-only options reach a WebSocket that cannot take them, pointing to the URL token or the ready step', async () => {
    const lines: string[] = [];
    const seen = await warningsDuring(() => make({ headers: { Authorization: 'Bearer zqHeaderSecret' }, origin: 'https://a.example', use: [debug((line: string) => lines.push(line))] }));
    await new Promise((resolve) => setTimeout(resolve, 5)); // the first attempt starts on a microtask
    const all = seen.concat(await warningsDuring(() => {}));
    expect(all).to.have.length(1);
    expect(all[0]).to.match(/headers, origin: Node-only options \(ws\); this WebSocket ignores them/);
    expect(all[0]).to.match(/token in the URL .* ready step/);
    expect(all[0]).to.not.include('zqHeaderSecret');
  });

  it('says "an object", not "a object", for a message it cannot send', () => {
    const socket = make({});
    expect(() => socket.send({ a: 1 })).to.throw(SteadySocketError, /^Cannot send an object:/);
    expect(() => socket.send(undefined)).to.throw(SteadySocketError, /^Cannot send undefined:/);
    expect(() => socket.send(42)).to.throw(SteadySocketError, /^Cannot send a number:/);
  });

  it("refuses unref that is not true or false (unref: 'false' from a config file unref'd), and takes both", () => {
    for (const value of ['false', 0, 1, null]) {
      expect(() => make({ unref: value }), String(value)).to.throw(SteadySocketError, /^Option unref must be true or false; got /).with.property('code', 'INVALID_OPTION');
    }
    expect(make({ unref: false }).state).to.equal('connecting');
    expect(make({ unref: true }).state).to.equal('connecting');
  });

  it('refuses pageSignals(null) when called (it was a TypeError from the constructor), and takes a window double or nothing', () => {
    for (const target of [null, 'window', 1]) {
      expect(() => pageSignals(target as never), String(target)).to.throw(SteadySocketError, /^pageSignals\(\) takes the window/).with.property('code', 'INVALID_OPTION');
    }
    expect(make({ use: [pageSignals()] }).state).to.equal('connecting');
    expect(make({ use: [pageSignals({} as never)] }).state).to.equal('connecting');
  });
});
