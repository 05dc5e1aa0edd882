import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { SteadySocket, heartbeat, type CloseInfo, type SteadySocketError, type SteadySocketOptions } from '../../src/index';
import { sleep, startEchoServer, until } from '../support/servers';
import { startHostileServer, type Behaviour, type HostileServer } from './hostile';

interface Observation {
  server: HostileServer;
  errors: SteadySocketError[];
  closes: CloseInfo[];
  opens: number;
  socket: SteadySocket;
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

/** Points a client at a hostile server for a fixed window and records what the app sees. */
async function observe(behaviour: Behaviour, windowMs: number, options: SteadySocketOptions = {}): Promise<Observation> {
  const server = await startHostileServer(behaviour);
  const errors: SteadySocketError[] = [];
  const closes: CloseInfo[] = [];
  let opens = 0;
  const socket = new SteadySocket(server.url, { minDelay: 100, maxDelay: 100, jitter: 0, connectTimeout: 2000, ...options });
  socket.on('error', (e) => errors.push(e));
  socket.on('close', (c) => closes.push(c));
  socket.on('open', () => opens++);
  try {
    await sleep(windowMs);
  } finally {
    await socket.close();
    await server.close();
  }
  return { server, errors, closes, opens, socket };
}

function expectAbnormal(o: Observation): void {
  expect(o.closes.length, 'close events').to.be.greaterThan(0);
  for (const c of o.closes) {
    expect(c.code, 'never a clean 1000 for a failure').to.not.equal(1000);
    expect(c.wasClean).to.equal(false);
  }
}

describe('hostile servers: typed errors, abnormal closes, and the reconnect policy', function () {
  this.timeout(20_000);
  before(() => process.on('unhandledRejection', onUnhandled));
  after(() => {
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled, 'unhandled rejections').to.deep.equal([]);
  });

  for (const behaviour of ['wrong-accept', 'missing-accept'] as const) {
    it(`${behaviour}: CONNECT_FAILED naming Sec-WebSocket-Accept, and retries with backoff`, async () => {
      const o = await observe(behaviour, 1000);
      expectAbnormal(o);
      expect(o.opens).to.equal(0);
      expect(o.errors[0].code).to.equal('CONNECT_FAILED');
      expect(o.errors[0].message).to.match(/Sec-WebSocket-Accept/);
      // minDelay 100 ms, no jitter: attempts at about 0, 100, 200, ... ms.
      expect(o.server.connections.length).to.be.within(5, 11);
    });
  }

  it('unoffered-protocol: PROTOCOL_NOT_NEGOTIATED and a single attempt', async () => {
    const o = await observe('unoffered-protocol', 800, { protocols: ['chat.v1', 'chat.v2'] });
    expectAbnormal(o);
    expect(o.errors.map((e) => e.code)).to.deep.equal(['PROTOCOL_NOT_NEGOTIATED']);
    expect(o.server.connections).to.have.length(1);
    expect(o.socket.state).to.equal('closed');
  });

  it('no-protocol while some were offered: PROTOCOL_NOT_NEGOTIATED and a single attempt', async () => {
    const o = await observe('no-protocol', 800, { protocols: ['chat.v1'] });
    expect(o.errors.map((e) => e.code)).to.deep.equal(['PROTOCOL_NOT_NEGOTIATED']);
    expect(o.server.connections).to.have.length(1);
  });

  for (const status of [401, 403] as const) {
    it(`HTTP ${status}: HANDSHAKE_REJECTED with the status, and one attempt only`, async () => {
      const headers = status === 401 ? { 'WWW-Authenticate': 'Bearer realm="test"' } : undefined;
      const o = await observe({ kind: 'http', status, headers }, 1000);
      expectAbnormal(o);
      expect(o.errors).to.have.length(1);
      expect(o.errors[0].code).to.equal('HANDSHAKE_REJECTED');
      expect(o.errors[0].status).to.equal(status);
      if (status === 401) expect(o.errors[0].headers).to.deep.equal({ 'www-authenticate': 'Bearer realm="test"' });
      expect(o.closes[0].status).to.equal(status);
      expect(o.server.connections).to.have.length(1);
    });
  }

  it('HTTP 401 whose WWW-Authenticate quotes the token sent: the header value is scrubbed from error.headers (inspect, JSON)', async () => {
    const token = 'tok3n-s3cr3t-quoted-back';
    const o = await observe({ kind: 'http', status: 401, headers: { 'WWW-Authenticate': `Bearer error="invalid_token", token="${token}"` } }, 700, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(o.errors.map((e) => e.code)).to.deep.equal(['HANDSHAKE_REJECTED']);
    const error = o.errors[0];
    expect(error.headers?.['www-authenticate']).to.equal('Bearer error="invalid_token", token="***"');
    const { inspect } = await import('node:util');
    for (const text of [error.message, JSON.stringify(error), inspect(error, { depth: Infinity }), inspect(o.closes, { depth: Infinity })]) expect(text).to.not.include(token);
  });

  it('HTTP 401 can be retried by a shouldReconnect hook (e.g. after refreshing a token)', async () => {
    let tokens = 0;
    const o = await observe({ kind: 'http', status: 401 }, 700, {
      shouldReconnect: (info) => info.status === 401 && info.attempt < 3,
      headers: () => ({ authorization: `Bearer token-${++tokens}` }),
    });
    expect(o.server.connections).to.have.length(3);
    expect(o.server.handshakes.map((h) => h.headers.authorization)).to.deep.equal(['Bearer token-1', 'Bearer token-2', 'Bearer token-3']);
  });

  for (const status of [200, 404] as const) {
    it(`HTTP ${status} to an upgrade: HANDSHAKE_REJECTED and normal backoff`, async () => {
      const o = await observe({ kind: 'http', status }, 800);
      expectAbnormal(o);
      expect(o.errors[0]).to.include({ code: 'HANDSHAKE_REJECTED', status });
      expect(o.server.connections.length).to.be.within(4, 9);
    });
  }

  it('HTTP 503 with Retry-After: 2 — no second attempt before 2 s', async () => {
    const o = await observe({ kind: 'http', status: 503, headers: { 'Retry-After': '2' } }, 2600);
    expect(o.errors[0]).to.include({ code: 'HANDSHAKE_REJECTED', status: 503 });
    expect(o.errors[0].headers).to.deep.equal({ 'retry-after': '2' });
    const [first, second] = o.server.connections;
    expect(second, 'a second attempt after Retry-After').to.not.equal(undefined);
    expect(second - first).to.be.at.least(1990);
    expect(o.server.connections).to.have.length(2);
  });

  it('HTTP 429 with Retry-After: 1 — waits at least a second', async () => {
    const o = await observe({ kind: 'http', status: 429, headers: { 'Retry-After': '1' } }, 1500);
    const [first, second] = o.server.connections;
    expect(second - first).to.be.at.least(990);
    expect(o.server.connections).to.have.length(2);
  });

  for (const retryAfter of ['99999999999', 'Fri, 31 Dec 9999 23:59:59 GMT', 'Fri Dec 31 23:59:59 9999']) {
    it(`HTTP 503 with Retry-After: ${retryAfter} — waits the longest a timer can (2^31−1 ms), never ~1 ms`, async () => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error) => warnings.push(warning);
      process.on('warning', onWarning);
      try {
        const o = await observe({ kind: 'http', status: 503, headers: { 'Retry-After': retryAfter } }, 1000, {
          shouldReconnect: () => true,
        });
        expect(o.server.connections, 'attempts in one second').to.have.length(1);
      } finally {
        process.off('warning', onWarning);
      }
      expect(warnings.map((w) => w.name)).to.not.include('TimeoutOverflowWarning');
    });
  }

  it('HTTP 401: a pending deliver() rejects with CLOSED whose cause is the HANDSHAKE_REJECTED error and its status', async () => {
    const server = await startHostileServer({ kind: 'http', status: 401 });
    const socket = new SteadySocket(server.url);
    socket.on('error', () => {});
    try {
      const error = await socket.deliver('hello').then(
        () => undefined,
        (e: SteadySocketError) => e,
      );
      expect(error?.code).to.equal('CLOSED');
      const cause = error?.cause as SteadySocketError;
      expect(cause.code).to.equal('HANDSHAKE_REJECTED');
      expect(cause.status).to.equal(401);
    } finally {
      await socket.close();
      await server.close();
    }
  });

  it('TCP accepted but no handshake: CONNECT_TIMEOUT, then retries', async () => {
    const o = await observe('no-handshake', 1300, { connectTimeout: 300 });
    expectAbnormal(o);
    expect(o.errors.map((e) => e.code)).to.include('CONNECT_TIMEOUT');
    expect(o.server.connections.length).to.be.within(2, 4);
  });

  it('handshake then silence: the heartbeat (500/500 ms) declares it dead and reconnects', async () => {
    const server = await startHostileServer('silent');
    const socket = new SteadySocket(server.url, { use: [heartbeat({ interval: 500, timeout: 500 })], minDelay: 50, jitter: 0 });
    const errors: string[] = [];
    let openedAt = 0;
    let detectedAt = 0;
    socket.on('open', () => (openedAt ||= performance.now()));
    socket.on('error', (e) => {
      errors.push(e.code);
      if (e.code === 'HEARTBEAT_TIMEOUT') detectedAt ||= performance.now();
    });
    const closes: CloseInfo[] = [];
    socket.on('close', (c) => closes.push(c));
    try {
      await until(() => server.connections.length >= 2, 4000, 'a reconnect after the heartbeat timeout');
    } finally {
      await socket.close();
      await server.close();
    }
    const detection = detectedAt - openedAt;
    console.log(`      half-open detected after ${detection.toFixed(0)} ms (heartbeat interval 500, timeout 500)`);
    expect(errors[0]).to.equal('HEARTBEAT_TIMEOUT');
    expect(closes[0]).to.include({ code: 1006, wasClean: false });
    expect(detection).to.be.within(950, 1500);
    // The ping really went out as a protocol ping frame (opcode 0x9).
    expect(server.frames.some((f) => f.opcode === 0x9)).to.equal(true);
  });

  const badFrames = [
    ['masked-frame', 1002],
    ['reserved-bits', 1002],
    ['reserved-opcode', 1002],
    ['invalid-utf8', 1007],
    ['fragmented-control', 1002],
    ['huge-length', 1009],
  ] as const;
  for (const [behaviour, code] of badFrames) {
    it(`${behaviour}: PROTOCOL_ERROR, closed with ${code}, and no retry`, async () => {
      const o = await observe(behaviour, 800);
      expectAbnormal(o);
      expect(o.opens).to.equal(1);
      expect(o.errors.map((e) => e.code)).to.deep.equal(['PROTOCOL_ERROR']);
      expect(o.errors[0].closeCode).to.equal(code);
      expect(o.closes[0].code).to.equal(code);
      expect(o.server.connections).to.have.length(1);
      // The client failed the connection with the right status on the wire (RFC 6455 §7.4.1).
      const close = o.server.frames.find((f) => f.opcode === 0x8);
      expect(close?.payload.readUInt16BE(0)).to.equal(code);
    });
  }
});

describe('reconnect storm', function () {
  this.timeout(30_000);

  it('200 clients spread their first reconnect attempts after a server restart', async () => {
    const server = await startEchoServer();
    const clients: SteadySocket[] = [];
    const firstRetryAt: number[] = [];
    /** The delay each client chose before its first retry (the `reconnecting` event). */
    const firstDelay: number[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        const socket = new SteadySocket(server.url, { minDelay: 1000 });
        socket.on('error', () => {});
        clients.push(socket);
      }
      await until(() => clients.every((c) => c.state === 'open'), 10_000, 'all 200 clients open');
      for (const socket of clients) {
        socket.on('reconnecting', (info) => {
          const key = clients.indexOf(socket);
          if (firstDelay[key] === undefined) firstDelay[key] = info.delay;
        });
        socket.on('state', (state, previous) => {
          if (previous === 'waiting' && state === 'connecting') {
            const key = clients.indexOf(socket);
            if (firstRetryAt[key] === undefined) firstRetryAt[key] = performance.now();
          }
        });
      }
      await server.kill();
      await sleep(50);
      await server.start();
      await until(() => firstRetryAt.filter((t) => t !== undefined).length === 200, 5000, 'every first retry');
      await until(() => clients.every((c) => c.state === 'open'), 10_000, 'all reconnected');
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await server.close();
    }
    // The plan: the delays the clients chose. (When the attempts then start depends on the
    // machine: on a loaded one timers fire late and in bunches, 38 in 50 ms was seen, so the
    // spread is asserted on the plan and the times are printed.)
    const spread = (values: number[]) => {
      const sorted = values.slice().sort((a, b) => a - b);
      let worst = 0;
      for (let i = 0, j = 0; i < sorted.length; i++) {
        while (sorted[i] - sorted[j] >= 50) j++;
        worst = Math.max(worst, i - j + 1);
      }
      return { span: sorted[sorted.length - 1] - sorted[0], worst };
    };
    const planned = spread(firstDelay);
    const started = spread(firstRetryAt);
    console.log(`      storm: 200 clients, first retries planned over ${planned.span.toFixed(0)} ms (worst 50 ms window: ${planned.worst}), started over ${started.span.toFixed(0)} ms (worst window: ${started.worst})`);
    expect(firstDelay.filter((d) => d >= 0 && d <= 1000), 'a delay within [0, minDelay] for each client').to.have.length(200);
    expect(planned.span).to.be.greaterThan(800);
    // Uniform over 1 s gives about 10 per 50 ms; without jitter all 200 would land together.
    expect(planned.worst).to.be.at.most(30);
    expect(started.span, 'the attempts started as spread as planned, give or take the event loop').to.be.greaterThan(500);
  });
});
