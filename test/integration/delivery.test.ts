// Issue 13, "Show it": the delivery guarantees against the example ack server
// (examples/ack-server/server.mjs) run as a child process that is SIGKILLed and restarted, its log
// read by test/support/restartable-server.ts. Each test prints its counts so they can be quoted.
//
// - acks(): nothing lost, nothing reordered through 10 server kills; server-side duplicates are
//   allowed (at-least-once) and hidden from the app by dedupe (the server echoes, duplicates too).
// - requests(): 1,000 requests across a server kill all settle, by a reply or a typed code, and
//   leave no pending request, listener or timer behind.
// - persist(fileStore, { sync: true }): a sender process SIGKILLed five times loses nothing it
//   said it had sent.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acks, json, requests, SteadySocket, SteadySocketError } from '../../src/index';
import { startRestartableServer, type MessageId, type RestartableServer } from '../support/restartable-server';
import { sleep, until } from '../support/servers';

interface Message {
  id?: number;
  data?: unknown;
  ack?: number;
  echo?: unknown;
  re?: number;
  result?: unknown;
  error?: unknown;
}

const withToken = (server: RestartableServer) => `${server.url}?token=${encodeURIComponent(server.token)}`;

/** Settles within `ms` or rejects naming `what`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Active resources of this process by type, e.g. { Timeout: 2, TCPSocketWrap: 1 }. */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

function listenerCounts(socket: SteadySocket<Message, Message>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of socket.eventNames()) counts[String(name)] = socket.listenerCount(name as 'message');
  return counts;
}

describe('delivery guarantees (issue 13)', function () {
  this.timeout(120_000);

  describe('acks() through server kills', () => {
    let server: RestartableServer | undefined;
    let socket: SteadySocket<Message, Message> | undefined;
    let sender: NodeJS.Timeout | undefined;

    afterEach(async () => {
      clearInterval(sender);
      await socket?.close();
      await server?.stop();
    });

    it('loses and reorders nothing through 10 SIGKILLs of the server, and dedupe hides every re-sent echo', async () => {
      // Acks held 30 ms: each kill loses the acks of the last few logged messages, so the client
      // re-sends them and the server logs and echoes them again.
      server = await startRestartableServer({ echo: true, ackDelay: 30 });
      socket = new SteadySocket<Message, Message>(withToken(server), {
        codec: json(),
        minDelay: 20,
        maxDelay: 200,
        use: [
          acks<Message, Message>({
            id: (m) => m.id,
            ack: (m) => m.ack,
            timeout: 60_000,
            dedupe: { id: (m) => ('echo' in m ? m.id : undefined), window: 100_000 },
          }),
        ],
      });
      socket.on('error', () => {});
      let opens = 0;
      socket.on('open', () => opens++);
      const echoes = new Map<number, number>(); // id → times the app saw its echo
      socket.on('message', (m) => {
        if ('echo' in m) echoes.set(m.id!, (echoes.get(m.id!) ?? 0) + 1);
      });
      const sent: number[] = [];
      const deliveries: Promise<void>[] = [];
      let next = 1;
      sender = setInterval(() => {
        const id = next++;
        deliveries.push(socket!.deliver({ id, data: { n: id } }));
        sent.push(id);
      }, 10);

      await until(() => server!.readLog().ids.length > 10, 10_000, 'the first messages to arrive');
      for (let kill = 1; kill <= 10; kill++) {
        await sleep(100 + Math.floor(Math.random() * 250));
        const opened = opens;
        await server.restart();
        // Each kill must hit a live connection: wait for the client to be back.
        await until(() => opens > opened, 10_000, `the client to reconnect after restart ${kill}`);
      }
      await sleep(300);
      clearInterval(sender);
      sender = undefined;

      const outcomes = await within(Promise.allSettled(deliveries), 30_000, 'every deliver() to settle');
      const failed = outcomes.filter((o) => o.status === 'rejected');
      expect(failed, 'deliver() rejections').to.deep.equal([]);
      await until(() => echoes.size >= sent.length, 5000, 'an echo of every message').catch(() => {});

      const log = server.readLog();
      const lost = log.lostFrom(sent);
      const appDuplicates = [...echoes.values()].reduce((sum, n) => sum + n - 1, 0);
      const echoed = [...echoes.keys()];
      console.log(
        `      sent ${sent.length}, received ${log.ids.length} (log lines ${log.entries.length}), lost ${lost.length}, ` +
          `out of order ${log.outOfOrder.length}, server-side duplicates ${log.duplicates.length}, ` +
          `echoes seen by the app ${echoed.length}, app-side duplicates ${appDuplicates}, restarts 10, client connections ${opens}`,
      );
      expect(lost, 'ids the server never logged').to.deep.equal([]);
      expect(log.outOfOrder, 'ids first received after a greater id').to.deep.equal([]);
      expect(log.ids, 'first receipts are exactly the ids sent, in order').to.deep.equal(sent);
      expect(opens, 'connections: the first and one after each restart').to.be.at.least(11);
      expect(log.duplicates.length, 'messages re-sent after an ack lost in a kill').to.be.greaterThan(0);
      expect(appDuplicates, 'echoes the app saw more than once').to.equal(0);
      expect(echoed.sort((a, b) => a - b), 'an echo of every message reached the app').to.deep.equal(sent);
    });
  });

  describe('requests() across a server kill', () => {
    let server: RestartableServer | undefined;
    let socket: SteadySocket<Message, Message> | undefined;

    afterEach(async () => {
      await socket?.close();
      await server?.stop();
    });

    it('settles 1,000 concurrent requests (replied, timed out, aborted or a typed code) and leaves no listener or timer behind', async () => {
      server = await startRestartableServer();
      const baseline = resources();
      const rpc = requests<Message, Message>({ timeout: 15_000 });
      socket = new SteadySocket<Message, Message>(withToken(server), { codec: json(), minDelay: 20, maxDelay: 200, use: [rpc] });
      socket.on('error', () => {});
      await until(() => socket!.state === 'open', 10_000, 'the first connection');
      const listenersBefore = listenerCounts(socket);

      type Kind = 'resend' | 'no-resend' | 'short-timeout' | 'aborted' | 'failing' | 'immediate' | 'queued' | 'queued-aborted' | 'queued-timeout';
      const expected: Record<Kind, string> = {
        resend: 'replied', // written, its connection killed, re-sent on the next one
        'no-resend': 'CONNECTION_CLOSED', // written, its connection killed before the reply
        'short-timeout': 'REQUEST_TIMEOUT',
        aborted: 'REQUEST_ABORTED',
        failing: 'REQUEST_FAILED',
        immediate: 'replied',
        queued: 'replied', // made while the server was down: waits in the outbox
        'queued-aborted': 'REQUEST_ABORTED',
        'queued-timeout': 'REQUEST_TIMEOUT',
      };
      const made: { kind: Kind; data: unknown; promise: Promise<unknown> }[] = [];
      const controllers: AbortController[] = [];
      const make = (kind: Kind, i: number) => {
        let data: unknown = { n: i };
        const options: { timeout?: number; signal?: AbortSignal; resend?: boolean } = {};
        if (kind === 'resend' || kind === 'no-resend') {
          data = { n: i, delay: 1500 };
          options.resend = kind === 'resend';
        } else if (kind === 'short-timeout' || kind === 'queued-timeout') {
          data = { n: i, delay: 10_000 };
          options.timeout = 100;
        } else if (kind === 'aborted' || kind === 'queued-aborted') {
          data = { n: i, delay: 10_000 };
          const controller = new AbortController();
          controllers.push(controller);
          options.signal = controller.signal;
        } else if (kind === 'failing') data = { fail: `no ${i}` };
        const promise = rpc.request(data, options);
        promise.catch(() => {}); // examined below, once all have settled
        made.push({ kind, data, promise });
      };

      const openKinds: Kind[] = ['resend', 'no-resend', 'short-timeout', 'aborted', 'failing', 'immediate'];
      for (let i = 0; i < 900; i++) make(openKinds[i % openKinds.length], i);
      await sleep(50);
      for (const controller of controllers.splice(0)) controller.abort(new Error('test abort'));
      // Left: the 300 written requests that wait 1.5 s for their reply (resend and no-resend).
      await until(() => rpc.pending <= 300, 10_000, 'the immediate replies, timeouts and aborts');
      await server.kill();
      await until(() => socket!.state !== 'open', 5000, 'the client to notice the kill');
      const downKinds: Kind[] = ['queued', 'queued-aborted', 'queued-timeout'];
      for (let i = 900; i < 1000; i++) make(downKinds[i % downKinds.length], i);
      await sleep(20);
      for (const controller of controllers.splice(0)) controller.abort(new Error('test abort'));
      await sleep(150);
      await server.start();

      const outcomes = await within(Promise.allSettled(made.map((m) => m.promise)), 30_000, 'every request to settle');
      const byOutcome: Record<string, number> = {};
      const wrong: string[] = [];
      outcomes.forEach((outcome, i) => {
        const { kind, data } = made[i];
        let got: string;
        if (outcome.status === 'fulfilled') {
          got = 'replied';
          if (JSON.stringify(outcome.value) !== JSON.stringify(data)) wrong.push(`#${i} ${kind}: result ${JSON.stringify(outcome.value)}`);
        } else if (outcome.reason instanceof SteadySocketError) got = outcome.reason.code;
        else got = `untyped ${String(outcome.reason)}`;
        byOutcome[got] = (byOutcome[got] ?? 0) + 1;
        if (got !== expected[kind]) wrong.push(`#${i} ${kind}: ${got}, expected ${expected[kind]}`);
      });
      console.log(`      ${made.length} requests settled: ${Object.entries(byOutcome).map(([k, v]) => `${k} ${v}`).join(', ')}; pending ${rpc.pending}`);
      expect(made).to.have.length(1000);
      expect(wrong.slice(0, 20), `${wrong.length} requests settled otherwise than expected`).to.deep.equal([]);
      expect(rpc.pending, 'requests left pending').to.equal(0);
      expect(listenerCounts(socket), 'the client’s listeners').to.deep.equal(listenersBefore);

      await socket.close();
      socket = undefined;
      // The killed server's pipes are gone and the restarted one has its own: the same kinds.
      let after = resources();
      const deadline = Date.now() + 3000;
      while (JSON.stringify(after) !== JSON.stringify(baseline) && Date.now() < deadline) {
        await sleep(20);
        after = resources();
      }
      console.log(`      active resources before the client ${JSON.stringify(baseline)}, after close() ${JSON.stringify(after)}`);
      expect(after, 'active handles after close()').to.deep.equal(baseline);
    });
  });

  describe('persist(fileStore) through kills of the client process', () => {
    const fixture = fileURLToPath(new URL('./fixtures/persistent-sender.ts', import.meta.url));
    let server: RestartableServer | undefined;
    let child: ChildProcess | undefined;
    let dir: string | undefined;

    afterEach(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        const running = child;
        await new Promise<void>((exited) => {
          running.once('exit', () => exited());
          running.kill('SIGKILL');
        });
      }
      await server?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('loses nothing the sender printed as sent, through 5 SIGKILLs of the sender', async () => {
      server = await startRestartableServer();
      dir = mkdtempSync(join(tmpdir(), 'steadysocket-persist-'));
      const outboxFile = join(dir, 'outbox.bin');
      const printed: number[] = [];
      const errors: string[] = [];

      /** Runs the sender from `first`; resolves with it once it has exited. */
      const run = (first: number, last?: number) => {
        const args = ['--import', 'tsx', fixture, outboxFile, String(first)];
        if (last !== undefined) args.push(String(last));
        const started = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ACK_URL: withToken(server!) } });
        child = started;
        let buffered = '';
        started.stdout!.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          const lines = buffered.split('\n');
          buffered = lines.pop()!;
          for (const line of lines) {
            const match = /^sent (\d+)$/.exec(line);
            if (match) printed.push(Number(match[1]));
            else if (line === 'done') started.emit('done');
          }
        });
        started.stderr!.on('data', (chunk: Buffer) => errors.push(chunk.toString()));
        return {
          process: started,
          exited: new Promise<number | null>((exited) => started.once('exit', (code) => exited(code))),
        };
      };

      // Kill after this many new ids (the 1 catches the moment right after the restore).
      const killAfter = [25, 40, 1, 30, 15];
      const firstIds: number[] = [];
      let next = 1;
      for (const [round, count] of killAfter.entries()) {
        const start = printed.length;
        firstIds.push(next);
        const sender = run(next);
        await until(() => printed.length >= start + count, 15_000, `round ${round + 1}: ${count} ids printed`);
        sender.process.kill('SIGKILL');
        await within(sender.exited, 5000, 'the killed sender to exit');
        next = Math.max(...printed) + 1;
      }
      const last = next + 29;
      const final = run(next, last);
      const code = await within(final.exited, 40_000, 'the last sender to finish');
      expect(code, `the last sender's exit code; its stderr: ${errors.join('').slice(-2000)}`).to.equal(0);

      const log = server.readLog();
      const lost = log.lostFrom(printed);
      const unprinted = log.ids.filter((id: MessageId) => !printed.includes(id as number));
      console.log(
        `      printed as sent ${printed.length} (ids 1…${last}), received ${log.ids.length}, lost ${lost.length}, out of order ${log.outOfOrder.length}, ` +
          `server-side duplicates ${log.duplicates.length}, received but never printed ${unprinted.length}, sender kills ${killAfter.length}`,
      );
      expect(lost, `printed ids the server never logged (each run's first id: ${firstIds.join(', ')})`).to.deep.equal([]);
      expect(log.outOfOrder, 'ids first received after a greater id').to.deep.equal([]);
      expect(printed.at(-1)).to.equal(last);
    });
  });
});
