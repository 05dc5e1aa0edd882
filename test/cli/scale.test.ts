// The CLI at large-but-legal sizes: many repeated flags, many -x messages.
import { expect } from 'chai';
import { parseArgs, type CliOptions } from '../../src/cli/args';
import { scrubberFor } from '../../src/cli/redact';
import { killAll, requireBuiltCli, runCli, sleep, startCli, startServer, until } from './helpers';

function parse(argv: string[]): CliOptions {
  const errors: string[] = [];
  const result = parseArgs(argv, { stdout: () => {}, stderr: (text) => errors.push(text), version: '1.2.3' });
  if (!('run' in result)) throw new Error(`exit ${result.exit}: ${errors.join('')}`);
  return result.run;
}

/**
 * Runs `fn` counting how often an iteration starts over an array longer than `min` (a spread, a
 * for-of, Array.from): a deterministic proxy for copying a growing list once per element.
 */
function countLargeIterations(min: number, fn: () => void): number {
  const proto = Array.prototype as unknown as Record<symbol, (this: unknown[]) => Iterator<unknown>>;
  const original = proto[Symbol.iterator];
  let count = 0;
  proto[Symbol.iterator] = function (this: unknown[]) {
    if (this.length > min) count++;
    return original.call(this);
  };
  try {
    fn();
  } finally {
    proto[Symbol.iterator] = original;
  }
  return count;
}

describe('steadysocket CLI at scale', () => {
  it('parses 5,000 repeated -x, --preamble and -s flags without copying the list for each one', () => {
    const n = 5000;
    const argv = ['ws://127.0.0.1:1/'];
    for (let i = 0; i < n; i++) argv.push('-x', `m${i}`, '--preamble', `p${i}`, '-s', `s${i}`);
    let options: CliOptions | undefined;
    // Before: each flag copied the list so far (3 × 4,999 iterations over lists of > 1,000
    // elements for these 5,000; 40,000 -x took 72 s in dist/cli.js).
    const large = countLargeIterations(1000, () => (options = parse(argv)));
    expect(large).to.be.below(20);
    expect(options!.execute).to.have.length(n);
    expect(options!.execute[0]).to.equal('m0');
    expect(options!.execute[n - 1]).to.equal(`m${n - 1}`);
    expect(options!.preamble[n - 1]).to.equal(`p${n - 1}`);
    expect(options!.subprotocols).to.deep.equal(Array.from({ length: n }, (_, i) => `s${i}`));
  });

  it('sends every one of 12,000 -x messages, in order, paced by the outbox as stdin lines are', async function () {
    this.timeout(60_000);
    requireBuiltCli();
    const server = await startServer({ echo: false });
    try {
      const n = 12_000;
      const args = [server.url('/many-x'), '-q'];
      for (let i = 0; i < n; i++) args.push('-x', `m${i}`);
      // Before: all were handed to the outbox at once, before the connection opened; past its
      // 10,000 messages each was refused (QUEUE_OVERFLOW): 2,000 not sent, exit 8.
      const result = await runCli(args, { timeout: 30_000 });
      expect(result.code, result.stderr).to.equal(0);
      const received = server.connections.find((c) => c.path === '/many-x')!.messages;
      expect(received).to.have.length(n);
      expect(received.every((m, i) => m === `m${i}`)).to.equal(true);
    } finally {
      killAll();
      await server.close();
    }
  });

  it('holds the server back while the reader of stdout has stopped reading, instead of buffering all it sends', async function () {
    this.timeout(60_000);
    requireBuiltCli();
    const TOTAL = 64;
    const message = 'y'.repeat(1024 * 1024);
    let sent = 0;
    let pumping: ReturnType<typeof setTimeout> | undefined;
    // Sends 1 MiB messages as fast as TCP takes them (never more than 2 MiB waiting on its side).
    const server = await startServer({
      echo: false,
      onConnection: (c) => {
        const pump = () => {
          while (sent < TOTAL && c.socket.readyState === c.socket.OPEN && c.socket.bufferedAmount < 2 * 1024 * 1024) {
            c.socket.send(message);
            sent++;
          }
          pumping = sent < TOTAL ? setTimeout(pump, 5) : undefined;
        };
        pump();
      },
    });
    try {
      const cli = startCli([server.url('/flood'), '-q', '-w', '-1']);
      cli.child.stdout.pause(); // the reader stops reading
      let lines = 0;
      let last = '';
      cli.child.stdout.on('data', (chunk: string) => {
        const parts = (last + chunk).split('\n');
        last = parts.pop()!;
        for (const line of parts) {
          expect(line).to.equal(message);
          lines++;
        }
      });
      // Until the server has sent everything, or has sent nothing more for 1.5 s (held back).
      let seen = -1;
      let since = Date.now();
      await until(
        () => {
          if (sent !== seen) [seen, since] = [sent, Date.now()];
          return sent === TOTAL || (sent > 0 && Date.now() - since > 1500);
        },
        20_000,
        'the server to send everything or be held back',
      );
      // Before: the CLI read all 64 MiB into stdout's buffer (200 MiB: 301 MB of RSS, without end).
      expect(sent, 'messages the server could send while stdout was not read').to.be.below(TOTAL / 2);
      cli.child.stdout.resume(); // the reader reads again: everything arrives, intact
      await until(() => lines === TOTAL, 20_000, `all ${TOTAL} messages on stdout (${lines} so far)`);
      await sleep(0);
    } finally {
      clearTimeout(pumping);
      killAll();
      await server.close();
    }
  });

  it('builds the scrubber for 5,000 -x messages that look like URLs without re-sorting its secrets for each', () => {
    const n = 5000;
    const argv = ['ws://127.0.0.1:1/'];
    for (let i = 0; i < n; i++) argv.push('-x', `get?id=item${i}`);
    const sort = Array.prototype.sort;
    let large = 0;
    Array.prototype.sort = function (this: unknown[], ...args: Parameters<typeof sort>) {
      if (this.length > 1000) large++;
      return sort.apply(this, args);
    } as typeof sort;
    let scrubber: ReturnType<typeof scrubberFor>;
    try {
      // Before: every value added copied and sorted every secret so far (2 × ~4,000 sorts of
      // > 1,000 secrets here; 4,000 such -x took 3.5 s in dist/cli.js, mostly in add()).
      scrubber = scrubberFor(argv, {});
      expect(scrubber.scrub(`get?id=item${n - 1} and get?id=item0`)).to.equal('get?id=*** and get?id=***');
    } finally {
      Array.prototype.sort = sort;
    }
    expect(large).to.be.below(5);
  });
});
