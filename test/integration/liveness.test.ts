// The heartbeat judges a connection by when replies arrived, not by how late its own timer ran
// (issue 14 §4): an event-loop stall between a ping and its pong must not kill a live connection.
// The server runs in a child process, so it answers while the client's loop is blocked.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import { heartbeat, stats, SteadySocket, type SteadySocketError } from '../../src/index';
import { sleep, until } from '../support/servers';

const SERVER = `
  import { WebSocketServer } from 'ws';
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => console.log(wss.address().port));
  wss.on('connection', (ws) => ws.on('message', (data) => { if (String(data) === 'ping') ws.send('pong'); }));
`;

/** Busy-waits: the whole event loop stops, as under heavy app work or a debugger pause. */
function stall(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spin
  }
}

describe('heartbeat across an event-loop stall (real server in a child process)', function () {
  this.timeout(20_000);
  let child: ChildProcess | undefined;
  let url = '';

  before(async () => {
    child = spawn(process.execPath, ['--input-type=module', '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await Promise.race([once(child.stdout!, 'data'), sleep(10_000).then(() => ['timeout'])])) as [Buffer | string];
    const port = Number(String(line).trim());
    expect(port, 'server port').to.be.greaterThan(0);
    url = `ws://127.0.0.1:${port}`;
  });

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });

  it('keeps a live connection open when a 1 s stall starts between a ping and its pong', async () => {
    let pings = 0;
    const errors: SteadySocketError[] = [];
    const socket = new SteadySocket<string, string>(url, {
      use: [
        heartbeat<string, string>({
          interval: 200,
          timeout: 300,
          ping: () => {
            pings++;
            // The check phase of this loop turn, before the pong can have been read (poll does not
            // wait while an immediate is pending): the pong arrives during the stall, and the next
            // turn runs the overdue timeout (timers) before reading it (poll).
            if (pings === 1) setImmediate(() => stall(1000));
            return 'ping';
          },
          isPong: (message) => message === 'pong',
        }),
      ],
    });
    socket.on('error', (error) => errors.push(error));
    let closes = 0;
    socket.on('close', () => closes++);
    try {
      await until(() => socket.state === 'open', 5000, 'open');
      await until(() => pings >= 3, 5000, 'three pings');
      expect(errors.map((e) => e.code)).to.deep.equal([]);
      expect(closes, 'connections lost').to.equal(0);
      expect(socket.state).to.equal('open');
    } finally {
      await socket.close();
    }
  });

  it('still declares a connection dead when the pong never comes, stall or not', async () => {
    const errors: SteadySocketError[] = [];
    let pings = 0;
    const socket = new SteadySocket<string, string>(url, {
      minDelay: 10_000,
      use: [
        heartbeat<string, string>({
          interval: 200,
          timeout: 200,
          ping: () => {
            pings++;
            if (pings === 1) setImmediate(() => stall(600));
            return 'unanswered';
          },
          isPong: (message) => message === 'pong',
        }),
      ],
    });
    socket.on('error', (error) => errors.push(error));
    try {
      await until(() => errors.some((e) => e.code === 'HEARTBEAT_TIMEOUT'), 5000, 'HEARTBEAT_TIMEOUT');
      expect(socket.state).to.equal('waiting');
    } finally {
      await socket.close();
    }
  });

  it("reports a ping() that throws as ENCODE_FAILED (its cause the thrown value), not as the connection's death; the heartbeat goes on", async () => {
    const errors: SteadySocketError[] = [];
    const thrown = new Error('no session id yet');
    let calls = 0;
    const socket = new SteadySocket<string, string>(url, {
      minDelay: 0,
      maxDelay: 0,
      use: [
        heartbeat<string, string>({
          interval: 100,
          timeout: 1000,
          ping: () => {
            calls++;
            if (calls === 1) throw thrown;
            return 'ping';
          },
          isPong: (message) => message === 'pong',
        }),
      ],
    });
    socket.on('error', (error) => errors.push(error));
    try {
      await until(() => calls >= 4, 5000, 'four ping() calls');
      const first = errors[0]!;
      expect(first.code, first.message).to.equal('ENCODE_FAILED');
      expect(first.cause).to.equal(thrown);
      expect(first.message).to.equal("The heartbeat's ping() threw: no session id yet");
      // No ping went out, so the quiet connection is judged dead after timeout, as after any
      // unanswered ping; then the pings work and the next connection stays.
      expect(errors.slice(1).map((e) => e.code)).to.deep.equal(['HEARTBEAT_TIMEOUT']);
      expect(socket.state).to.equal('open');
    } finally {
      await socket.close();
    }
  });
});

describe('stats() beside a protocol-ping heartbeat (real ws server on 127.0.0.1)', () => {
  it('measures the round trip from pong frames and counts no ping or pong as a message (guide §11)', async () => {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    let pings = 0;
    wss.on('connection', (ws) => {
      ws.on('ping', () => pings++);
      ws.on('message', (data) => ws.send(data));
    });
    const counters = stats();
    const socket = new SteadySocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, { use: [heartbeat({ interval: 100, timeout: 1000 }), counters] });
    try {
      await new Promise((resolve) => socket.once('open', resolve));
      const echoed = new Promise((resolve) => socket.once('message', resolve));
      socket.send('one');
      await echoed;
      await until(() => pings >= 3, 3000, 'three protocol pings');
      await until(() => counters.snapshot().rtt !== undefined, 1000, 'a round trip');
      const { messagesIn, messagesOut, rtt } = counters.snapshot();
      expect({ messagesIn, messagesOut }, 'only the application message, each way').to.deep.equal({ messagesIn: 1, messagesOut: 1 });
      expect(rtt).to.be.a('number').and.at.least(0);
    } finally {
      await socket.close();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
