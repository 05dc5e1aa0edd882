import { expect } from 'chai';
import { EventEmitter } from 'eventemitter3';
import { messages } from '../../src/iteration';
import { ReadyStep } from '../../src/ready';

describe('ReadyStep', () => {
  it('hands messages to next() in order, and only while someone waits', async () => {
    const step = new ReadyStep<string>();
    expect(step.offer('early')).to.equal(false);
    const first = step.next(() => new Error('closed'));
    const second = step.next(() => new Error('closed'));
    expect(step.offer('a')).to.equal(true);
    expect(step.offer('b')).to.equal(true);
    expect([await first, await second]).to.deep.equal(['a', 'b']);
  });

  it('rejects pending and later next() calls and aborts its signal when the connection ends', async () => {
    const step = new ReadyStep<string>();
    const pending = step.next(() => new Error('closed'));
    step.fail(() => new Error('connection closed'));
    expect(step.abort.signal.aborted).to.equal(true);
    await pending.then(
      () => expect.fail('should reject'),
      (error: Error) => expect(error.message).to.equal('connection closed'),
    );
    await step.next(() => new Error('over')).then(
      () => expect.fail('should reject'),
      (error: Error) => expect(error.message).to.equal('over'),
    );
  });
});

describe('messages', () => {
  class Source extends EventEmitter<{ message: (data: string) => void; state: (state: string) => void }> {
    state = 'open';
  }

  it('buffers messages that arrive while the loop body runs, in order, and ends on closed', async () => {
    const source = new Source();
    const iterator = messages<string>(source);
    source.emit('message', 'a');
    source.emit('message', 'b');
    const seen: string[] = [];
    const loop = (async () => {
      for await (const message of { [Symbol.asyncIterator]: () => iterator }) seen.push(message);
    })();
    await Promise.resolve();
    source.emit('message', 'c');
    source.state = 'closed';
    source.emit('state', 'closed');
    await loop;
    expect(seen).to.deep.equal(['a', 'b', 'c']);
    expect(source.listenerCount('message')).to.equal(0);
  });

  it('stops listening when the loop breaks', async () => {
    const source = new Source();
    const iterator = messages<string>(source);
    await iterator.return!();
    expect(source.listenerCount('message') + source.listenerCount('state')).to.equal(0);
    expect(await iterator.next()).to.deep.equal({ value: undefined, done: true });
  });

  it('drains 200,000 buffered messages in order without shift() on the buffer (O(n), not O(n²))', async () => {
    // A loop that fell behind a burst: shift() moves every element of an array that large (V8):
    // draining 200,000 took 27 s.
    const source = new Source();
    const iterator = messages<string>(source);
    for (let i = 0; i < 200_000; i++) source.emit('message', `m${i}`);
    const shift = Array.prototype.shift;
    let largeShifts = 0;
    Array.prototype.shift = function (this: unknown[]) {
      if (this.length > 1000) largeShifts++;
      return shift.call(this);
    };
    let expected = 0;
    let inOrder = true;
    try {
      // Half now; then more arrive while the rest is still buffered (the buffer is compacted meanwhile).
      for (; expected < 100_000; expected++) if ((await iterator.next()).value !== `m${expected}`) inOrder = false;
      for (let i = 200_000; i < 250_000; i++) source.emit('message', `m${i}`);
      for (; expected < 250_000; expected++) if ((await iterator.next()).value !== `m${expected}`) inOrder = false;
    } finally {
      Array.prototype.shift = shift;
    }
    expect(inOrder, 'every message in order').to.equal(true);
    expect(largeShifts, 'shift() calls on arrays over 1,000').to.equal(0);
    // Empty now: the next message goes straight to a waiting next().
    const pending = iterator.next();
    source.emit('message', 'last');
    expect(await pending).to.deep.equal({ value: 'last', done: false });
    await iterator.return!();
  });

  it('keeps its buffer bounded while a loop stays a message behind for 100,000 messages', async () => {
    // The slots taken are dropped once they are more than half of the buffer (and over 1,024):
    // without that, a loop that never quite catches up would hold an array slot per message ever received.
    const source = new Source();
    const iterator = messages<string>(source);
    source.emit('message', 'm0');
    const push = Array.prototype.push;
    let longest = 0;
    Array.prototype.push = function (this: unknown[], ...items: unknown[]) {
      longest = Math.max(longest, this.length + items.length);
      return push.apply(this, items);
    };
    let inOrder = true;
    try {
      for (let i = 1; i <= 100_000; i++) {
        source.emit('message', `m${i}`);
        if ((await iterator.next()).value !== `m${i - 1}`) inOrder = false;
      }
    } finally {
      Array.prototype.push = push;
    }
    expect(inOrder, 'every message in order').to.equal(true);
    expect(longest, 'the longest array pushed to').to.be.at.most(4096);
    await iterator.return!();
  });

  it('is done at once for a closed source', async () => {
    const source = new Source();
    source.state = 'closed';
    expect(await messages<string>(source).next()).to.deep.equal({ value: undefined, done: true });
  });
});
