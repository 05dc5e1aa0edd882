// The send path's pure parts (src/send.ts): what goes on the wire, and the errors of what cannot.
import { expect } from 'chai';
import { runInNewContext } from 'node:vm';
import { json, wireSize } from '../../src/codecs';
import { SteadySocketError } from '../../src/errors';
import type { ResolvedOptions } from '../../src/options';
import type { OutboxEntry } from '../../src/outbox';
import { closedError, dropError, likelyCodec, toWire, withdrawOnAbort } from '../../src/send';

const options = (given: object) => given as ResolvedOptions<unknown, unknown>;

describe('send path', () => {
  describe('toWire', () => {
    it('passes raw frames through and encodes through a codec', () => {
      const bytes = new Uint8Array([1, 2]);
      expect(toWire(undefined, 'hi')).to.equal('hi');
      expect(toWire(undefined, bytes)).to.equal(bytes);
      expect(toWire(json(), { a: 1 })).to.equal('{"a":1}');
    });

    it('refuses what a socket cannot send with INVALID_MESSAGE, naming its type', () => {
      for (const [data, text] of [[42, 'a number'], [{}, 'an object'], [undefined, 'undefined'], [[1], 'an array']] as const) {
        expect(() => toWire(undefined, data as never)).to.throw(SteadySocketError, `Cannot send ${text}:`).with.property('code', 'INVALID_MESSAGE');
      }
    });

    it('refuses an object that only looks like a buffer (a byteLength of its own), and takes a SharedArrayBuffer and another realm\'s ArrayBuffer', () => {
      // A WebSocket sends such an object as the text "[object Object]" (found by a review as a browser user).
      expect(() => toWire(undefined, { byteLength: 3 } as never)).to.throw(SteadySocketError, 'Cannot send an object:').with.property('code', 'INVALID_MESSAGE');
      expect(() => toWire({ encode: () => ({ byteLength: 3 }) as never, decode: (x: unknown) => x }, 1)).to.throw(SteadySocketError).with.property('code', 'INVALID_MESSAGE');
      const shared = new SharedArrayBuffer(4);
      expect(toWire(undefined, shared)).to.equal(shared);
      const foreign = runInNewContext('new ArrayBuffer(5)') as ArrayBuffer;
      expect(foreign instanceof ArrayBuffer, 'the buffer comes from another realm').to.equal(false);
      expect(toWire(undefined, foreign)).to.equal(foreign);
      expect(wireSize(foreign)).to.equal(5);
    });

    it('wraps a codec that throws as ENCODE_FAILED with the cause, and a codec that returns nonsense as INVALID_MESSAGE', () => {
      const boom = new Error('boom');
      let error: SteadySocketError | undefined;
      try {
        toWire({ encode: () => { throw boom; }, decode: (x: unknown) => x }, 1);
      } catch (e) {
        error = e as SteadySocketError;
      }
      expect(error?.code).to.equal('ENCODE_FAILED');
      expect(error?.cause).to.equal(boom);
      expect(() => toWire({ encode: () => 7 as never, decode: (x: unknown) => x }, 1)).to.throw(SteadySocketError).with.property('code', 'INVALID_MESSAGE');
    });
  });

  it('likelyCodec picks the first offered subprotocol with a codec, else the fallback codec', () => {
    const a = json();
    const b = json();
    expect(likelyCodec(options({ codecs: { 'v2': a }, protocols: ['v1', 'v2'], codec: b }))).to.equal(a);
    expect(likelyCodec(options({ codecs: { 'v2': a }, protocols: 'v1', codec: b }))).to.equal(b);
    expect(likelyCodec(options({ codecs: { 'v2': a }, protocols: () => ['v2'], codec: b })), 'dynamic protocols: not known yet').to.equal(b);
    expect(likelyCodec(options({}))).to.equal(undefined);
  });

  it('names each drop reason with its stable code', () => {
    expect(dropError('overflow').code).to.equal('QUEUE_OVERFLOW');
    expect(dropError('expired').code).to.equal('MESSAGE_EXPIRED');
    expect(dropError('withdrawn').code).to.equal('MESSAGE_WITHDRAWN');
    expect(dropError('encode-failed', 'why').cause).to.equal('why');
    expect(closedError().code).to.equal('CLOSED');
  });

  it('withdrawOnAbort withdraws once on abort, and stops listening once the entry is done', () => {
    const controller = new AbortController();
    const entry = {} as OutboxEntry<unknown>;
    let withdrawn = 0;
    withdrawOnAbort(entry, controller.signal, () => withdrawn++);
    controller.abort();
    controller.abort();
    expect(withdrawn).to.equal(1);

    const later = new AbortController();
    const written = {} as OutboxEntry<unknown>;
    withdrawOnAbort(written, later.signal, () => withdrawn++);
    written.done!();
    later.abort();
    expect(withdrawn, 'no withdrawal after done()').to.equal(1);
  });
});
