// A codec, a provider or a WebSocket constructor may throw anything, not only an Error: a Symbol,
// an object without a prototype (no toString), an object whose `message` getter throws. The
// client's error text is built from what was thrown; building it must not throw in turn (a
// TypeError out of a message event, a timer or the constructor's job, which Node makes an
// uncaught exception: the process ends). Fake transport, fake clock.
import { type Clock as InstalledClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { SteadySocket, SteadySocketError, type Codec } from '../../src/index';
import { useFakeClock, useReportedErrors } from '../support/fake-clock';
import { FakeWebSocket } from '../support/fake-websocket';

const ODD: Record<string, () => unknown> = {
  'a Symbol': () => Symbol('odd'),
  'an object without a prototype': () => Object.create(null),
  'an object whose message getter throws': () => ({
    get message(): string {
      throw new Error('getter');
    },
  }),
  'an Error whose message is a Symbol': () => Object.assign(new Error('x'), { message: Symbol('odd') }),
  undefined: () => undefined,
};

describe('a codec, provider or constructor that throws something odd (fake transport, fake clock)', () => {
  const kit = useFakeClock();
  const reported = useReportedErrors();
  let clock: InstalledClock;
  beforeEach(() => (clock = kit.clock));

  for (const [what, odd] of Object.entries(ODD)) {
    describe(`it throws ${what}`, () => {
      it('decode: DECODE_FAILED for that message, and the next one is delivered', async () => {
        let fail = true;
        const codec: Codec<string, string> = {
          encode: (value) => value,
          decode: (data) => {
            if (fail) throw odd();
            return String(data);
          },
        };
        const socket = kit.track(new SteadySocket<string, string>('ws://example.test/', { WebSocket: FakeWebSocket as never, codec }));
        const errors: SteadySocketError[] = [];
        const messages: string[] = [];
        socket.on('error', (error) => errors.push(error));
        socket.on('message', (message) => messages.push(message));
        await Promise.resolve();
        FakeWebSocket.last.serverOpen();
        FakeWebSocket.last.serverMessage('first');
        fail = false;
        FakeWebSocket.last.serverMessage('second');
        expect(errors.map((e) => e.code)).to.deep.equal(['DECODE_FAILED']);
        expect(errors[0]!.message).to.be.a('string').and.match(/^A message could not be decoded: /);
        expect(messages).to.deep.equal(['second']);
        expect(reported).to.deep.equal([]);
      });

      it('encode: send() throws ENCODE_FAILED, not a TypeError', async () => {
        const codec: Codec<string, string> = {
          encode: () => {
            throw odd();
          },
          decode: (data) => String(data),
        };
        const socket = kit.track(new SteadySocket<string, string>('ws://example.test/', { WebSocket: FakeWebSocket as never, codec }));
        socket.on('error', () => {});
        let thrown: unknown;
        try {
          socket.send('x');
        } catch (error) {
          thrown = error;
        }
        expect(thrown).to.be.instanceOf(SteadySocketError);
        expect((thrown as SteadySocketError).code).to.equal('ENCODE_FAILED');
      });

      it('a URL function: CONNECT_FAILED, then a retry', async () => {
        let calls = 0;
        const socket = kit.track(
          new SteadySocket<unknown, unknown>(
            () => {
              if (++calls === 1) throw odd();
              return 'ws://example.test/';
            },
            { WebSocket: FakeWebSocket as never, minDelay: 10, maxDelay: 10, jitter: 0 },
          ),
        );
        const errors: SteadySocketError[] = [];
        socket.on('error', (error) => errors.push(error));
        await Promise.resolve();
        clock.tick(0); // the failed attempt is told on a timer: it must not throw there
        expect(errors.map((e) => e.code)).to.deep.equal(['CONNECT_FAILED']);
        expect(errors[0]!.message).to.be.a('string');
        expect(socket.state).to.equal('waiting');
        clock.tick(10);
        expect(calls).to.equal(2);
        expect(FakeWebSocket.instances).to.have.length(1);
      });

      it('a WebSocket constructor: CONNECT_FAILED, and the client ends', async () => {
        const Refusing = class {
          constructor() {
            throw odd();
          }
        };
        const socket = kit.track(new SteadySocket<unknown, unknown>('ws://example.test/', { WebSocket: Refusing as never }));
        const errors: SteadySocketError[] = [];
        socket.on('error', (error) => errors.push(error));
        await Promise.resolve();
        clock.tick(0);
        expect(errors.map((e) => e.code)).to.deep.equal(['CONNECT_FAILED']);
        expect(socket.state).to.equal('closed');
      });
    });
  }
});
