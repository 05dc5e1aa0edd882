import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { SafeEmitter } from '../../src/events';

interface Events {
  ping: (a: number, b: string) => void;
  other: () => void;
}

/** Captures what reportListenerError hands to the platform's reportError. */
function captureReports(): { reported: unknown[]; restore(): void } {
  const reported: unknown[] = [];
  const global = globalThis as { reportError?: (error: unknown) => void };
  const previous = global.reportError;
  global.reportError = (error) => reported.push(error);
  return {
    reported,
    restore() {
      if (previous) global.reportError = previous;
      else delete global.reportError;
    },
  };
}

describe('SafeEmitter', () => {
  let capture: ReturnType<typeof captureReports>;
  beforeEach(() => (capture = captureReports()));
  afterEach(() => capture.restore());

  it('runs every listener when one throws, and reports the exception', () => {
    const emitter = new SafeEmitter<Events>();
    const calls: string[] = [];
    const boom = new Error('listener bug');
    emitter.on('ping', (a, b) => calls.push(`first ${a} ${b}`));
    emitter.on('ping', () => {
      throw boom;
    });
    emitter.on('ping', (a, b) => calls.push(`third ${a} ${b}`));
    expect(emitter.emit('ping', 1, 'x')).to.equal(true);
    expect(calls).to.deep.equal(['first 1 x', 'third 1 x']);
    expect(capture.reported).to.deep.equal([boom]);
  });

  it('reports the exception of a lone listener without throwing to the emitter', () => {
    const emitter = new SafeEmitter<Events>();
    emitter.on('other', () => {
      throw new TypeError('alone');
    });
    expect(() => emitter.emit('other')).not.to.throw();
    expect(capture.reported).to.have.length(1);
    expect((capture.reported[0] as Error).message).to.equal('alone');
  });

  it('removes a once listener even when it throws', () => {
    const emitter = new SafeEmitter<Events>();
    let runs = 0;
    emitter.once('other', () => {
      runs++;
      throw new Error('once');
    });
    emitter.emit('other');
    emitter.emit('other');
    expect(runs).to.equal(1);
    expect(emitter.listenerCount('other')).to.equal(0);
  });

  it('calls exactly the listeners present when the event was emitted', () => {
    const emitter = new SafeEmitter<Events>();
    const calls: string[] = [];
    const late = () => calls.push('late');
    const second = () => calls.push('second');
    emitter.on('other', () => {
      calls.push('first');
      emitter.on('other', late);
      emitter.off('other', second);
    });
    emitter.on('other', second);
    emitter.emit('other');
    // eventemitter3 semantics: a listener removed during the emit still runs this time.
    expect(calls).to.deep.equal(['first', 'second']);
    calls.length = 0;
    emitter.emit('other'); // adds a second `late`, which runs from the next emit on
    expect(calls).to.deep.equal(['first', 'late']);
  });

  it('binds the context given to on()', () => {
    const emitter = new SafeEmitter<Events>();
    const context = { seen: 0 };
    emitter.on(
      'other',
      function (this: typeof context) {
        this.seen++;
      },
      context,
    );
    emitter.emit('other');
    expect(context.seen).to.equal(1);
  });

  it('returns false when nobody listens', () => {
    expect(new SafeEmitter<Events>().emit('other')).to.equal(false);
  });
});

describe('listener exceptions in Node (no reportError): rethrown as uncaught, the client carries on', () => {
  it('reaches process uncaughtException while every other listener still runs', function () {
    this.timeout(20_000);
    const script = `
      import { SafeEmitter } from ${JSON.stringify(fileURLToPath(new URL('../../src/events.ts', import.meta.url)))};
      const seen = [];
      process.on('uncaughtException', (error) => seen.push('uncaught ' + error.message));
      const emitter = new SafeEmitter();
      emitter.on('x', () => { throw new Error('bug'); });
      emitter.on('x', () => seen.push('second listener'));
      emitter.emit('x');
      seen.push('emit returned');
      setTimeout(() => console.log(JSON.stringify(seen)), 20);
    `;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(result.status, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout.trim())).to.deep.equal(['second listener', 'emit returned', 'uncaught bug']);
  });
});
