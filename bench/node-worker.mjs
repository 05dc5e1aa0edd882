// One client, one measure, one process: started by bench/run.mjs for every client in every round,
// so that no client shares a heap, a JIT or a garbage collector with another. Prints JSON lines.
//
//   node bench/node-worker.mjs '{"measure":"echo","client":"steadysocket","url":"ws://127.0.0.1:N",…}'
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { clients, rpcClients } from './lib/node-clients.mjs';
import { percentile } from './lib/stats.mjs';

const config = JSON.parse(process.argv[2]);
const print = (value) => writeSync(1, `${JSON.stringify(value)}\n`);
const mono = () => Number(process.hrtime.bigint()) / 1e6;
const cpuMs = (usage) => (usage.user + usage.system) / 1000;

/** 32 bytes of text: what a small JSON event on a socket looks like. */
export const TEXT_32 = '{"type":"tick","seq":1234567890}';

const measures = { echo, latency, flush, memory, delivery, rpc };
await measures[config.measure](config);

/** `window` messages in flight; every reply sends the next until `total` have come back. */
async function echo({ client, url, total, warmup, window, size, binary }) {
  const payload = binary ? new Uint8Array(size).fill(7) : TEXT_32.padEnd(size, ' ');
  let onData;
  const lib = clients[client];
  const socket = lib.create(url, (data) => onData(data));
  await lib.opened(socket);
  const run = (count) =>
    new Promise((resolve) => {
      let sent = 0;
      let received = 0;
      let bytes = 0;
      onData = (data) => {
        received++;
        bytes += typeof data === 'string' ? data.length : data.byteLength;
        if (sent < count) {
          sent++;
          socket.send(payload);
        } else if (received === count) resolve(bytes);
      };
      const first = Math.min(window, count);
      while (sent < first) {
        sent++;
        socket.send(payload);
      }
    });
  await run(warmup);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const bytes = await run(total);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (bytes !== total * size) throw new Error(`echo: expected ${total * size} bytes back, got ${bytes}`);
  print({
    rate: total / (wallMs / 1000),
    cpuPerMsg: (cpu.user + cpu.system) / total, // µs
    wallMs,
    cpuMs: cpuMs(cpu),
    userMs: cpu.user / 1000,
    systemMs: cpu.system / 1000,
  });
  await lib.close(socket);
  process.exit(0);
}

/** One message at a time: send, wait for the echo, send the next. */
async function latency({ client, url, total, warmup }) {
  let onData;
  const lib = clients[client];
  const socket = lib.create(url, (data) => onData(data));
  await lib.opened(socket);
  const run = (count, samples) =>
    new Promise((resolve) => {
      let i = 0;
      let sentAt = 0;
      onData = () => {
        const now = performance.now();
        if (samples) samples[i] = now - sentAt;
        if (++i < count) {
          sentAt = performance.now();
          socket.send(TEXT_32);
        } else resolve();
      };
      sentAt = performance.now();
      socket.send(TEXT_32);
    });
  await run(warmup);
  const samples = new Float64Array(total);
  const cpu0 = process.cpuUsage();
  await run(total, samples);
  const cpu = process.cpuUsage(cpu0);
  samples.sort();
  print({
    p50: percentile(samples, 50) * 1000, // µs
    p99: percentile(samples, 99) * 1000,
    cpuPerRoundTrip: (cpu.user + cpu.system) / total,
  });
  await lib.close(socket);
  process.exit(0);
}

/**
 * `count` sequence-numbered messages. Wrappers queue them while the server is down and flush when
 * it comes up; raw ws connects once the server is up and sends them on the open socket. The sink
 * server times each flush from its side and checks the sequence.
 */
async function flush({ client, url, count, ...config }) {
  const messages = Array.from({ length: count }, (_, i) => String(i).padStart(32, '0'));
  const lines = createInterface({ input: process.stdin });
  const go = new Promise((resolve) => lines.once('line', resolve));
  let done;
  const reply = new Promise((resolve) => (done = resolve));
  const onData = (data) => {
    if (typeof data === 'string' && data.startsWith('{')) done(JSON.parse(data));
  };
  const lib = clients[client];
  let socket;
  let enqueueCpuMs;
  if (client !== 'raw') {
    socket = lib.create(url, onData, { retry: 'fast', options: { maxMessages: count * 2, ...config.options } });
    await lib.failed(socket); // the server is down: every later send waits in the outbox
    const cpu0 = process.cpuUsage();
    for (const message of messages) socket.send(message);
    enqueueCpuMs = cpuMs(process.cpuUsage(cpu0));
  }
  print({ queued: client === 'raw' ? 0 : count });
  // The clock starts before the server comes up: a flush holds the event loop, so a `go` that
  // arrived after the server was up could be read only after the flush.
  await go;
  const cpu0 = process.cpuUsage();
  print({ armed: true });
  if (client === 'raw') {
    await new Promise((resolve) => lines.once('line', resolve)); // the server is up
    socket = lib.create(url, onData);
    await lib.opened(socket);
    for (const message of messages) socket.send(message);
  }
  const result = await reply;
  const cpu = process.cpuUsage(cpu0);
  print({ ...result, cpuMs: cpuMs(cpu), cpuPerMsg: (cpu.user + cpu.system) / count, enqueueCpuMs });
  lines.close();
  await lib.close(socket);
  process.exit(0);
}

/**
 * Heap per idle connection over `count` connections, then the time from the last close() settling
 * to the process exiting by itself. `waiting`: every client has failed against a dead port and
 * waits to reconnect when it is closed.
 */
async function memory({ client, url, count, batch, waiting }) {
  const gc = globalThis.gc;
  if (!gc) throw new Error('run with --expose-gc');
  const options = waiting ? { retry: 'slow' } : {};
  const settle = async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (let i = 0; i < 3; i++) gc();
    return process.memoryUsage();
  };
  const lib = clients[client];
  const noop = () => {};
  const open = async (total) => {
    const sockets = [];
    for (let i = 0; i < total; i += batch) {
      const some = [];
      for (let j = i; j < Math.min(total, i + batch); j++) some.push(lib.create(url, noop, options));
      await Promise.all(some.map((socket) => (waiting ? lib.failed(socket) : lib.opened(socket))));
      sockets.push(...some);
    }
    return sockets;
  };
  // Warm up with half as many connections, opened and closed, before the baseline: the code the
  // JIT compiles for the library's paths (its feedback, optimized code, deopt data) is paid once
  // per process, not per connection. With a single warm-up connection that code was compiled
  // during the measurement and charged to it: about 0.1 KiB per connection at 2,000.
  await Promise.all((await open(Math.ceil(count / 2))).map((socket) => lib.close(socket)));
  const before = await settle();
  let sockets = await open(count);
  const after = await settle();
  print({
    heapPerConn: (after.heapUsed - before.heapUsed) / count, // bytes
    externalPerConn: (after.external - before.external) / count,
    rssPerConn: (after.rss - before.rss) / count,
  });
  await Promise.all(sockets.map((socket) => lib.close(socket)));
  const closedAt = performance.now();
  const closedAtMono = mono();
  sockets = undefined;
  print({ closedAtMono });
  process.on('exit', () => print({ exitMs: performance.now() - closedAt }));
}

/** `window` JSON messages `{ id, data }` in flight through the echo server; each echo sends the next. */
async function delivery({ client, url, total, warmup, window }) {
  let onData;
  const lib = clients[client];
  const socket = lib.create(url, (data) => onData(data));
  await lib.opened(socket);
  let nextId = 0;
  const run = (count) =>
    new Promise((resolve) => {
      let sent = 0;
      let received = 0;
      onData = () => {
        received++;
        if (sent < count) {
          sent++;
          socket.send({ id: ++nextId, data: 'tick' });
        } else if (received === count) resolve();
      };
      while (sent < Math.min(window, count)) {
        sent++;
        socket.send({ id: ++nextId, data: 'tick' });
      }
    });
  await timed(run, warmup, total);
  await lib.close(socket);
  process.exit(0);
}

/** `window` requests in flight; each reply starts the next. */
async function rpc({ client, url, total, warmup, window }) {
  const lib = rpcClients[client];
  const socket = lib.create(url);
  await lib.opened(socket);
  const run = async (count) => {
    let started = 0;
    const lane = async () => {
      while (started < count) {
        started++;
        const reply = await socket.request('tick');
        if (reply !== 'tick') throw new Error(`rpc: unexpected reply ${reply}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
  };
  await timed(run, warmup, total);
  await lib.close(socket);
  process.exit(0);
}

/** Warms up, then times `total`: prints rate and client CPU per message. */
async function timed(run, warmup, total) {
  await run(warmup);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(total);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  print({ rate: total / (wallMs / 1000), cpuPerMsg: (cpu.user + cpu.system) / total, wallMs, cpuMs: cpuMs(cpu) });
}
