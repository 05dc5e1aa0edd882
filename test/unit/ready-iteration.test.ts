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

  it('is done at once for a closed source', async () => {
    const source = new Source();
    source.state = 'closed';
    expect(await messages<string>(source).next()).to.deep.equal({ value: undefined, done: true });
  });
});
