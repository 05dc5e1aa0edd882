// Review of guide section 1 ("Connect": the URL, events, closing) and section 9 ("Subprotocols
// and codecs") against the client, off the happy path. Fake transport, fake clock.
import { inspect } from 'node:util';
import { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { json, SteadySocket, SteadySocketError, type Codec, type SteadySocketOptions } from '../../src/index';
import { useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';

type Options = SteadySocketOptions<unknown, unknown>;

/** Every way an error can be shown, its causes included. */
function rendered(error: unknown): string {
  const e = error as Error;
  return [e.message, String(e), e.stack, JSON.stringify(e), inspect(e, { depth: Infinity, showHidden: true })].join('\n');
}

describe('guide sections 1 and 9, reviewed (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const reported = useReportedErrors();
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));

  async function make(url: ConstructorParameters<typeof SteadySocket>[0] = 'ws://example.test/', options: Options = {}) {
    const socket = kit.track(new SteadySocket<unknown, unknown>(url, { WebSocket: FakeWebSocket as never, ...options }));
    await Promise.resolve(); // the first attempt
    return socket;
  }

  describe('section 1, "The URL": an invalid URL is INVALID_URL, and its secrets stay out of the message', () => {
    // Shapes a URL takes on its way from a config file or an environment variable: a leading
    // space, a BOM, a tab or a line break (the URL parser drops spaces, tabs and line breaks, so
    // the text may still parse), a missing colon, a scheme-relative URL. redactUrl's shapes only
    // knew a scheme at the very start: the password was quoted as typed.
    const PASSWORD = 'zqPassw0rdSecret';
    const TOKEN = 'zqTokenSecret42';
    const shapes = [
      ` wss://me:${PASSWORD}@host.test/ws?token=${TOKEN}#frag`,
      `\twss://me:${PASSWORD}@host.test/ws?token=${TOKEN}#frag`,
      `w\nss://me:${PASSWORD}@host.test/ws?token=${TOKEN}#frag`,
      `wss:/\n/me:${PASSWORD}@host.test/ws?token=${TOKEN}#frag`,
      ` ftp://me:${PASSWORD}@host.test/ws?token=${TOKEN}`,
      `\uFEFFwss://me:${PASSWORD}@host.test/ws?token=${TOKEN}`,
      `wss//me:${PASSWORD}@host.test/ws?token=${TOKEN}`,
      `//me:${PASSWORD}@host.test/ws?token=${TOKEN}`,
    ];

    for (const text of shapes) {
      it(`${JSON.stringify(text.slice(0, 12))}…: the constructor throws INVALID_URL without the password or the token`, () => {
        let error: unknown;
        try {
          new SteadySocket(text, { WebSocket: FakeWebSocket as never });
        } catch (e) {
          error = e;
        }
        expect(error).to.be.instanceOf(SteadySocketError);
        expect((error as SteadySocketError).code).to.equal('INVALID_URL');
        const shown = rendered(error);
        expect(shown).to.not.include(PASSWORD);
        expect(shown).to.not.include(TOKEN);
        expect(FakeWebSocket.instances).to.have.length(0);
      });
    }

    it('from a URL function: the client ends with INVALID_URL, and neither the error event nor a later CLOSED quotes a secret', async () => {
      const socket = await make(() => shapes[0]);
      const errors: SteadySocketError[] = [];
      socket.on('error', (e) => errors.push(e));
      clock.tick(0); // the failed attempt is told on a timer of its own
      // What the provider's answer ended the client with is CLOSED's cause.
      expect(socket.state).to.equal('closed');
      let closed: unknown;
      try {
        socket.send('x');
      } catch (e) {
        closed = e;
      }
      expect((closed as SteadySocketError).code).to.equal('CLOSED');
      expect(((closed as SteadySocketError).cause as SteadySocketError).code).to.equal('INVALID_URL');
      expect(rendered(closed)).to.not.include(PASSWORD);
      expect(rendered(closed)).to.not.include(TOKEN);
      // The failure is told on a timer after the attempt: the listener added meanwhile hears it.
      expect(errors.map((e) => e.code)).to.deep.equal(['INVALID_URL']);
      expect(rendered(errors[0])).to.not.include(PASSWORD);
      expect(rendered(errors[0])).to.not.include(TOKEN);
    });
  });

  describe('section 1, "The URL": a function that throws or rejects fails the attempt with CONNECT_FAILED, which is retried', () => {
    // A URL function that fetches its token over another steadysocket client gets that client's
    // errors (a CLOSED, a HANDSHAKE_REJECTED with status 401, a PROTOCOL_NOT_NEGOTIATED). Passed on
    // as they were, this client reported them as its own, the default policy stopped on some of
    // them, and the other client's error object was changed in place (given closeCode 1006).
    const foreign = () => [
      new SteadySocketError('CLOSED', 'The socket is closed for good.'),
      new SteadySocketError('PROTOCOL_NOT_NEGOTIATED', 'The server accepted none of the offered subprotocols.'),
      new SteadySocketError('HANDSHAKE_REJECTED', 'The server rejected the WebSocket handshake with HTTP 401.', undefined, { status: 401 }),
    ];
    for (const how of ['throws', 'rejects'] as const) {
      for (const index of [0, 1, 2]) {
        it(`(it ${how} another client's ${foreign()[index].code}) as CONNECT_FAILED, retried; the thrown error is left as it was`, async () => {
          const thrown = foreign()[index];
          const before = { message: thrown.message, closeCode: thrown.closeCode, keys: Object.keys(thrown) };
          let calls = 0;
          const url = () => {
            calls++;
            if (calls > 1) return 'ws://example.test/';
            if (how === 'throws') throw thrown;
            return Promise.reject(thrown);
          };
          const socket = kit.track(new SteadySocket<unknown, unknown>(url, { WebSocket: FakeWebSocket as never, minDelay: 10, maxDelay: 10, jitter: 0 }));
          const errors: SteadySocketError[] = [];
          const closes: { code: number; error?: SteadySocketError }[] = [];
          socket.on('error', (e) => errors.push(e));
          socket.on('close', (info) => closes.push(info));
          for (let i = 0; i < 10; i++) await Promise.resolve(); // the first attempt, and a rejection's turns
          clock.tick(0); // the failed attempt is told on a timer of its own
          expect(errors.map((e) => e.code)).to.deep.equal(['CONNECT_FAILED']);
          expect(closes.map((c) => c.error?.code)).to.deep.equal(['CONNECT_FAILED']);
          expect(socket.state, 'retried').to.equal('waiting');
          await clock.tickAsync(10);
          expect(calls).to.equal(2);
          expect(FakeWebSocket.instances).to.have.length(1);
          expect({ message: thrown.message, closeCode: thrown.closeCode, keys: Object.keys(thrown) }, 'the thrown error is not changed').to.deep.equal(before);
        });
      }
    }
  });

  describe('section 1, "Closing": the code must be 1000 or 3000–4999, anything else throws INVALID_OPTION', () => {
    // 3000.5 passed the range check: ws sends it as 3000, a browser rounds it. A code nobody asked for.
    for (const code of [3000.5, 1000.25, 4999.9, NaN, Infinity, 2999, 5000, 1001]) {
      it(`close(${code}) throws INVALID_OPTION and leaves the client as it was`, async () => {
        const socket = await make();
        FakeWebSocket.last.serverOpen();
        expect(() => socket.close(code)).to.throw(SteadySocketError).with.property('code', 'INVALID_OPTION');
        expect(socket.state).to.equal('open');
        expect(FakeWebSocket.last.closeCalls).to.deep.equal([]);
        socket.send('still works');
        expect(FakeWebSocket.last.sent).to.deep.equal(['still works']);
      });
    }

    it('close(3000) and close(4999) are accepted and sent as given', async () => {
      for (const code of [3000, 4999]) {
        const socket = await make();
        FakeWebSocket.last.serverOpen();
        const done = socket.close(code, 'bye');
        expect(FakeWebSocket.last.closeCalls).to.deep.equal([{ code, reason: 'bye' }]);
        await clock.tickAsync(10);
        await done;
        expect(socket.state).to.equal('closed');
      }
    });
  });

  describe('section 9, "Encoding": a message queued while offline is encoded with the first offered subprotocol that has a codec', () => {
    // `constructor`, `toString` and `__proto__` are RFC 7230 tokens. codecFor() reads only own
    // entries of `codecs`; the guess for a queued message read `codecs.constructor` (Object) as a
    // codec, and send() threw ENCODE_FAILED for a message every connection could carry.
    for (const name of ['constructor', 'toString', '__proto__']) {
      it(`protocols ['${name}', 'v2'] with codecs { v2 } and codec: send() queues, and the flush encodes with what was negotiated`, async () => {
        const v2: Codec<unknown, unknown> = { encode: (value) => `v2:${JSON.stringify(value)}`, decode: (data) => data };
        const socket = await make('ws://example.test/', { protocols: [name, 'v2'], codecs: { v2 }, codec: json() });
        socket.send({ a: 1 }); // queued while connecting: encoded (checked) with v2, the first offered with a codec
        expect(socket.queued).to.deep.equal([{ a: 1 }]);
        FakeWebSocket.last.serverOpen(name); // the server picks the first: the fallback codec
        expect(FakeWebSocket.last.sent).to.deep.equal(['{"a":1}']);
      });
    }

    it('with a static subprotocol whose codec is its own entry, the queued form is that codec\'s, sent as is', async () => {
      let encodes = 0;
      const v2: Codec<unknown, unknown> = { encode: (value) => (encodes++, `v2:${JSON.stringify(value)}`), decode: (data) => data };
      const socket = await make('ws://example.test/', { protocols: ['v2', 'v1'], codecs: { v2 }, codec: json() });
      socket.send({ a: 1 });
      FakeWebSocket.last.serverOpen('v2');
      expect(FakeWebSocket.last.sent).to.deep.equal(['v2:{"a":1}']);
      expect(encodes, 'encoded once: the negotiated codec was the guessed one').to.equal(1);
    });
  });

  describe('section 9, "Decoding": a message that fails to decode is an error event, never a crash', () => {
    // Whatever the codec throws, and whatever the error listener does with it.
    const throws: [string, () => unknown][] = [
      ['an Error', () => new Error('bad frame')],
      ['a string', () => 'bad frame'],
      ['undefined', () => undefined],
      ['null', () => null],
      ['a number', () => 42],
      ['an object without a message', () => ({ code: 'BAD' })],
    ];
    for (const [what, make_] of throws) {
      it(`a decode that throws ${what}: DECODE_FAILED, and the connection carries on (also with an error listener that throws and one that closes)`, async () => {
        const codec: Codec<unknown, unknown> = {
          encode: (value) => String(value),
          decode: (data) => {
            if (data === 'bad') throw make_();
            return `ok:${String(data)}`;
          },
        };
        const socket = await make('ws://example.test/', { codec });
        const errors: SteadySocketError[] = [];
        const messages: unknown[] = [];
        socket.on('error', (e) => {
          errors.push(e);
          throw new Error('listener bug');
        });
        socket.on('message', (m) => messages.push(m));
        FakeWebSocket.last.serverOpen();
        expect(() => FakeWebSocket.last.serverMessage('bad')).to.not.throw();
        FakeWebSocket.last.serverMessage('good');
        expect(errors.map((e) => e.code)).to.deep.equal(['DECODE_FAILED']);
        expect(errors[0]).to.be.instanceOf(SteadySocketError);
        expect(messages).to.deep.equal(['ok:good']);
        expect(socket.state).to.equal('open');
        expect(reported).to.have.length(1); // the listener's exception, reported, not thrown
        // A listener of the next failure closes the client: closed, with nothing left.
        socket.removeAllListeners('error');
        socket.on('error', () => void socket.close());
        socket.send('queued?');
        FakeWebSocket.last.serverMessage('bad');
        expect(socket.state).to.equal('closing');
        await clock.tickAsync(10);
        expect(socket.state).to.equal('closed');
        expect(FakeWebSocket.instances.filter((w) => w.live)).to.have.length(0);
      });
    }
  });
});
