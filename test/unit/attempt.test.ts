// An attempt's parts (src/attempt.ts): providers asked once per attempt, synchronously unless one
// returns a promise, and every answer validated.
import { expect } from 'chai';
import { provide } from '../../src/attempt';
import type { ResolvedOptions } from '../../src/options';
import { rejection } from '../support/rejection';

const options = (given: object) => given as ResolvedOptions<unknown, unknown>;

describe('attempt parts', () => {
  it('uses the listed URL and static parts synchronously', () => {
    const parts = provide(undefined, 'ws://a.test/', options({ protocols: ['v1'], headers: { x: '1' } }));
    expect(parts).not.to.be.instanceOf(Promise);
    expect(parts).to.deep.equal({ url: 'ws://a.test/', offered: ['v1'], headers: { x: '1' } });
  });

  it('calls each provider once per attempt and normalises a provided URL', () => {
    let calls = 0;
    const parts = provide(() => (calls++, 'http://a.test/x'), undefined, options({ protocols: () => 'v2', headers: () => ({ y: '2' }) }));
    expect(calls).to.equal(1);
    expect(parts).to.deep.equal({ url: 'ws://a.test/x', offered: ['v2'], headers: { y: '2' } });
  });

  it('leaves no unhandled rejection when a provider throws after an earlier one returned a rejecting promise', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const thrown = new Error('protocols provider failed');
      expect(() => provide(() => Promise.reject(new Error('url provider failed')), undefined, options({ protocols: () => { throw thrown; } }))).to.throw(thrown);
      await new Promise((resolve) => setTimeout(resolve, 20)); // unhandled rejections are reported after the microtasks
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).to.deep.equal([]);
  });

  it('waits for providers that return promises, and validates what they resolve to', async () => {
    const parts = provide(async () => 'wss://b.test/', undefined, options({ protocols: async () => ['a', 'b'] }));
    expect(parts).to.be.instanceOf(Promise);
    expect(await parts).to.deep.equal({ url: 'wss://b.test/', offered: ['a', 'b'], headers: undefined });
    const bad = provide(async () => 'ftp://b.test/', undefined, options({}));
    expect((await rejection(bad as Promise<unknown>)).code).to.equal('INVALID_URL');
  });

  it('throws what a synchronous provider throws, and INVALID_PROTOCOL for a bad answer', () => {
    const boom = new Error('boom');
    expect(() => provide(() => { throw boom; }, undefined, options({}))).to.throw(boom);
    expect(() => provide(undefined, 'ws://a.test/', options({ protocols: () => ['a', 'a'] }))).to.throw().with.property('code', 'INVALID_PROTOCOL');
  });
});
