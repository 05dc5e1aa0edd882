// The example ack server (examples/ack-server/server.mjs) driven by a raw `ws` client: its
// protocol, its handshake checks, and its promise that an acknowledged message is in the log even
// when the server is SIGKILLed right after the ack.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import NodeWebSocket from 'ws';
// @ts-expect-error: a plain .mjs example, without type declarations
import { startAckServer } from '../../examples/ack-server/server.mjs';
import { parseAckLog, startRestartableServer, type MessageId, type RestartableServer } from '../support/restartable-server';

interface AckServer {
  port: number;
  close(): Promise<void>;
}

type Reply = Record<string, unknown>;

/** A raw client that records every reply and can wait for one. */
interface Client {
  socket: NodeWebSocket;
  replies: Reply[];
  send(value: unknown): void;
  /** The first reply (already received or not) that satisfies `match`; rejects after 5 s. */
  reply(match: (reply: Reply) => boolean): Promise<Reply>;
  close(): void;
}

function connect(url: string, options: NodeWebSocket.ClientOptions = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = new NodeWebSocket(url, options);
    const replies: Reply[] = [];
    const waiters = new Set<() => void>();
    socket.on('message', (data) => {
      replies.push(JSON.parse(data.toString()));
      for (const wake of waiters) wake();
    });
    socket.once('error', reject);
    socket.once('open', () =>
      resolve({
        socket,
        replies,
        send: (value) => socket.send(typeof value === 'string' ? value : JSON.stringify(value)),
        reply(match) {
          return new Promise((found, fail) => {
            const check = () => {
              const reply = replies.find(match);
              if (!reply) return;
              waiters.delete(check);
              clearTimeout(timer);
              found(reply);
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`no matching reply within 5 s; got ${JSON.stringify(replies).slice(0, 500)}`));
            }, 5000);
            waiters.add(check);
            check();
          });
        },
        close: () => socket.terminate(),
      }),
    );
  });
}

/** The HTTP status a handshake was refused with (rejects if it was accepted). */
function refusal(url: string, options: NodeWebSocket.ClientOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new NodeWebSocket(url, options);
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('open', () => {
      socket.terminate();
      reject(new Error('the handshake was accepted'));
    });
    socket.once('error', () => {});
  });
}

const TOKEN = 'test-token-0123456789';
const ALLOWED = 'http://allowed.example';

describe('example: ack-server', () => {
  let dir: string;
  let log: string;
  let server: AckServer;
  let url: string;
  const clients: Client[] = [];

  async function client(options?: NodeWebSocket.ClientOptions): Promise<Client> {
    const c = await connect(url, options);
    clients.push(c);
    return c;
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'steadysocket-ack-'));
    log = join(dir, 'acks.ndjson');
    server = await startAckServer({ port: 0, token: TOKEN, origins: [ALLOWED], log });
    url = `ws://127.0.0.1:${server.port}/?token=${TOKEN}`;
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const logged = () => parseAckLog(readFileSync(log, 'utf8'));

  describe('messages', () => {
    it('acknowledges each message only once its line is in the log', async () => {
      const c = await client();
      const inLogAtAck: MessageId[] = [];
      c.socket.on('message', (data) => {
        const { ack } = JSON.parse(data.toString());
        if (ack !== undefined && logged().ids.some((id) => id === ack)) inLogAtAck.push(ack);
      });
      const ids: MessageId[] = [1, 'two', 3, 'four-4'];
      for (const id of ids) c.send({ id, data: { text: `message ${id}` } });
      await c.reply((r) => r.ack === 'four-4');
      expect(c.replies).to.deep.equal(ids.map((id) => ({ ack: id })));
      expect(inLogAtAck).to.deep.equal(ids);
      const entries = logged().entries;
      expect(entries.map((e) => [e.id, e.data, e.connection])).to.deep.equal(ids.map((id) => [id, { text: `message ${id}` }, 1]));
      for (const entry of entries) expect(Date.parse(entry.receivedAt)).to.be.a('number').and.not.NaN;
    });

    it('numbers connections in the log', async () => {
      const a = await client();
      a.send({ id: 'a', data: null });
      await a.reply((r) => r.ack === 'a');
      const b = await client();
      b.send({ id: 'b', data: null });
      await b.reply((r) => r.ack === 'b');
      expect(logged().entries.map((e) => e.connection)).to.deep.equal([1, 2]);
    });

    it('re-acknowledges a duplicate id and logs it as a duplicate', async () => {
      const c = await client();
      c.send({ id: 5, data: 'first' });
      c.send({ id: '5', data: 'a different id: a string' });
      c.send({ id: 5, data: 'again' });
      c.send({ id: 6, data: 'next' });
      await c.reply((r) => r.ack === 6);
      expect(c.replies).to.deep.equal([{ ack: 5 }, { ack: '5' }, { ack: 5 }, { ack: 6 }]);
      const result = logged();
      expect(result.entries.map((e) => e.duplicate ?? false)).to.deep.equal([false, false, true, false]);
      expect(result.ids).to.deep.equal([5, '5', 6]);
      expect(result.duplicates).to.deep.equal([5]);
    });

    it('recognises duplicates of ids logged before a restart', async () => {
      const c = await client();
      c.send({ id: 'before', data: 1 });
      await c.reply((r) => r.ack === 'before');
      await server.close();
      server = await startAckServer({ port: 0, token: TOKEN, origins: [ALLOWED], log });
      url = `ws://127.0.0.1:${server.port}/?token=${TOKEN}`;
      const d = await client();
      d.send({ id: 'before', data: 1 });
      await d.reply((r) => r.ack === 'before');
      expect(logged().duplicates).to.deep.equal(['before']);
    });

    it('answers what it cannot read with an error and no ack, and logs nothing', async () => {
      const c = await client();
      c.send('not json');
      c.send([1, 2]);
      c.send({ data: 'no id' });
      c.send({ id: { nested: true }, data: 1 });
      c.send({ id: 7 });
      c.socket.send(Buffer.from([1, 2, 3]));
      c.send({ ping: 'done' });
      await c.reply((r) => r.pong === 'done');
      expect(c.replies.slice(0, -1).every((r) => typeof r.error === 'string' && !('ack' in r))).to.equal(true);
      expect(c.replies).to.have.length(7);
      expect(readFileSync(log, { encoding: 'utf8', flag: 'a+' })).to.equal('');
    });
  });

  describe('requests and pings', () => {
    it('echoes a request as its result', async () => {
      const c = await client();
      c.send({ id: 'r1', request: { echo: ['a', 1] } });
      expect(await c.reply((r) => r.re === 'r1')).to.deep.equal({ re: 'r1', result: { echo: ['a', 1] } });
    });

    it('answers {"fail": text} with an error', async () => {
      const c = await client();
      c.send({ id: 9, request: { fail: 'no such thing' } });
      expect(await c.reply((r) => r.re === 9)).to.deep.equal({ re: 9, error: 'no such thing' });
    });

    it('answers {"delay": ms} late: after a request sent later', async () => {
      const c = await client();
      c.send({ id: 'slow', request: { delay: 300 } });
      c.send({ id: 'fast', request: 'now' });
      await c.reply((r) => r.re === 'slow');
      expect(c.replies).to.deep.equal([
        { re: 'fast', result: 'now' },
        { re: 'slow', result: { delay: 300 } },
      ]);
    });

    it('does not log requests', async () => {
      const c = await client();
      c.send({ id: 'q', request: 1 });
      c.send({ id: 'm', data: 1 });
      await c.reply((r) => r.ack === 'm');
      expect(logged().ids).to.deep.equal(['m']);
    });

    it('answers {"ping": n} with {"pong": n}', async () => {
      const c = await client();
      c.send({ ping: 41 });
      c.send({ ping: 42 });
      await c.reply((r) => r.pong === 42);
      expect(c.replies).to.deep.equal([{ pong: 41 }, { pong: 42 }]);
    });
  });

  describe('handshake checks', () => {
    const bare = () => `ws://127.0.0.1:${server.port}/`;

    it('refuses 401 without a token or with a wrong one', async () => {
      expect(await refusal(bare())).to.equal(401);
      expect(await refusal(`${bare()}?token=wrong`)).to.equal(401);
      expect(await refusal(`${bare()}?token=${TOKEN}x`)).to.equal(401);
      expect(await refusal(bare(), { headers: { authorization: 'Bearer wrong' } })).to.equal(401);
      expect(await refusal(bare(), { headers: { authorization: `Basic ${TOKEN}` } })).to.equal(401);
    });

    it('accepts the token from ?token= or Authorization: Bearer', async () => {
      const byQuery = await client();
      const byHeader = await connect(bare(), { headers: { authorization: `Bearer ${TOKEN}` } });
      clients.push(byHeader);
      for (const c of [byQuery, byHeader]) {
        c.send({ ping: 1 });
        expect(await c.reply((r) => 'pong' in r)).to.deep.equal({ pong: 1 });
      }
    });

    it('refuses 403 when Origin is not allowed, even with the token', async () => {
      expect(await refusal(url, { origin: 'http://evil.example' })).to.equal(403);
      expect(await refusal(url, { origin: 'http://allowed.example:8080' })).to.equal(403);
      expect(await refusal(url, { origin: 'null' })).to.equal(403);
    });

    it('accepts an allowed Origin, and no Origin (not a browser)', async () => {
      const browserLike = await client({ origin: ALLOWED });
      const tool = await client();
      for (const c of [browserLike, tool]) {
        c.send({ ping: 2 });
        expect(await c.reply((r) => 'pong' in r)).to.deep.equal({ pong: 2 });
      }
    });
  });
});

describe('example: ack-server as a process, killed and restarted', () => {
  let server: RestartableServer | undefined;
  let client_: Client | undefined;

  afterEach(async () => {
    client_?.close();
    client_ = undefined;
    await server?.stop();
    server = undefined;
  });

  it('keeps every acknowledged line across 3 SIGKILLs, and loses nothing once unacked messages are re-sent', async function () {
    this.timeout(60_000);
    server = await startRestartableServer({ origins: [ALLOWED] });
    const url = `${server.url}?token=${server.token}`;
    const all = Array.from({ length: 3000 }, (_, i) => i + 1);
    const acked = new Set<number>();
    const unackedAtKill: number[] = [];

    for (let cycle = 0; cycle < 3; cycle++) {
      const c = (client_ = await connect(url));
      c.socket.on('message', (data) => {
        const { ack } = JSON.parse(data.toString());
        if (typeof ack === 'number') acked.add(ack);
      });
      c.socket.on('error', () => {});
      // Re-send, in order, everything not yet acknowledged (some were logged but their ack lost),
      // 25 messages per timer tick, so the server is still receiving when it is killed.
      const pending = all.filter((id) => !acked.has(id));
      const sending = (async () => {
        for (let i = 0; i < pending.length && c.socket.readyState === NodeWebSocket.OPEN; i += 25) {
          for (const id of pending.slice(i, i + 25)) c.send({ id, data: `payload ${id}` });
          await new Promise((tick) => setTimeout(tick, 1));
        }
      })();
      const target = Math.ceil(pending.length / 4);
      await c.reply(() => c.replies.filter((r) => 'ack' in r).length >= target);
      await server.kill('SIGKILL');
      c.close();
      await sending;
      unackedAtKill.push(all.length - acked.size);
      const afterKill = server.readLog();
      expect(afterKill.lostFrom([...acked]), `cycle ${cycle}: acknowledged but not in the log`).to.deep.equal([]);
      await server.start();
    }
    expect(unackedAtKill[0], 'the first kill came mid-stream').to.be.greaterThan(0);

    // Finally, with the server up for good, everything still unacknowledged.
    const c = (client_ = await connect(url));
    const rest = all.filter((id) => !acked.has(id));
    for (const id of rest) c.send({ id, data: `payload ${id}` });
    if (rest.length) await c.reply((r) => r.ack === rest[rest.length - 1]);

    const result = server.readLog();
    expect(result.lostFrom(all)).to.deep.equal([]);
    expect(result.outOfOrder).to.deep.equal([]);
    expect(result.ids).to.deep.equal(all);
    // A duplicate is a message logged whose ack died with the server, so it was sent again.
    for (const id of result.duplicates) expect(result.entries.filter((e) => e.id === id)).to.have.length.of.at.least(2);
  });

  it('never prints the token or writes it to the log', async () => {
    server = await startRestartableServer();
    const c = (client_ = await connect(`${server.url}?token=${server.token}`));
    c.send({ id: 1, data: 'x' });
    await c.reply((r) => r.ack === 1);
    expect(await refusal(server.url)).to.equal(401);
    await server.restart();
    expect(server.output).to.include('listening on');
    expect(server.output).not.to.include(server.token);
    expect(readFileSync(server.logFile, 'utf8')).not.to.include(server.token);
  });
});

describe('test tooling: parseAckLog', () => {
  const line = (id: MessageId, duplicate = false) =>
    JSON.stringify({ id, data: null, connection: 1, receivedAt: '2026-01-01T00:00:00.000Z', ...(duplicate ? { duplicate: true } : {}) });

  it('counts lost, duplicated and out-of-order ids', () => {
    const result = parseAckLog([line(1), line(3), line(2), line(3, true), line(5)].join('\n') + '\n');
    expect(result.ids).to.deep.equal([1, 3, 2, 5]);
    expect(result.duplicates).to.deep.equal([3]);
    expect(result.outOfOrder).to.deep.equal([2]);
    expect(result.lostFrom([1, 2, 3, 4, 5, 6])).to.deep.equal([4, 6]);
  });

  it('orders string ids by their numeric parts', () => {
    const result = parseAckLog([line('m-2'), line('m-10'), line('m-9')].join('\n'));
    expect(result.outOfOrder).to.deep.equal(['m-9']);
  });
});
