#!/usr/bin/env node
// The hot paths alone, without a network: steadysocket over a stand-in `ws` socket whose send()
// does nothing and whose 'message' listener the bench calls directly. What remains is exactly what
// the wrapper adds per message, in nanoseconds, next to the same work done directly on the socket
// ("direct": what an app using ws itself would run). A profiling aid for src/ changes:
//
//   node bench/hot-paths.mjs            the table
//   node bench/hot-paths.mjs --json     one JSON line (used by bench/run.mjs)
//   node --cpu-prof bench/hot-paths.mjs --only=receive    then open the .cpuprofile
//
// Each case runs in rounds (direct and steadysocket interleaved); the median round is reported.
import { EventEmitter } from 'node:events';
import { median } from './lib/stats.mjs';

const distPath = process.env.STEADYSOCKET_DIST ?? new URL('../dist/index.js', import.meta.url).href;
const { SteadySocket } = await import(distPath);

const args = process.argv.slice(2);
const only = args.find((arg) => arg.startsWith('--only='))?.split('=')[1];
const ROUNDS = 9;
const TEXT_32 = '{"type":"tick","seq":1234567890}';
const FRAME_32 = Buffer.from(TEXT_32);

/** Looks like a ws client to steadysocket (EventEmitter API, terminate on the prototype). */
class StandInWs extends EventEmitter {
  constructor() {
    super();
    this.readyState = 0;
    this.protocol = '';
    this.binaryType = 'nodebuffer';
    this.bufferedAmount = 0;
    this.sent = 0;
    StandInWs.last = this;
  }
  send() {
    this.sent++;
  }
  open() {
    this.readyState = 1;
    this.emit('open');
  }
  close() {
    // Asynchronously, as ws and browsers do.
    this.readyState = 2;
    queueMicrotask(() => {
      this.readyState = 3;
      this.emit('close', 1000, Buffer.alloc(0));
    });
  }
  terminate() {
    this.close();
  }
  ping() {}
}

async function openSteadySocket(onData, options = {}) {
  const socket = new SteadySocket('ws://127.0.0.1:1', { WebSocket: StandInWs, ...options });
  socket.on('message', onData);
  await Promise.resolve();
  const ws = StandInWs.last;
  ws.open();
  return { socket, ws };
}

function openDirect(onData) {
  const ws = new StandInWs();
  ws.on('message', (data, isBinary) => onData(isBinary ? data : data.toString()));
  ws.open();
  return { socket: ws, ws };
}

let sink = 0;
const onData = (data) => {
  sink += data.length;
};

/** ns per operation of `body(n)`. */
function time(n, body) {
  const t0 = process.hrtime.bigint();
  body(n);
  return Number(process.hrtime.bigint() - t0) / n;
}

const cases = {
  /** send() on an open socket with an empty outbox. */
  async send(kind) {
    const { socket } = kind === 'direct' ? openDirect(onData) : await openSteadySocket(onData);
    return (n) => time(n, (count) => {
      for (let i = 0; i < count; i++) socket.send(TEXT_32);
    });
  },
  /** A text frame arriving: ws's 'message' event to the app's listener (toString included). */
  async receive(kind) {
    const { ws } = kind === 'direct' ? openDirect(onData) : await openSteadySocket(onData);
    const listener = ws.listeners('message')[0];
    return (n) => time(n, (count) => {
      for (let i = 0; i < count; i++) listener.call(ws, FRAME_32, false);
    });
  },
  /** The same with the json() codec: decode on receive (direct: JSON.parse in the listener). */
  async 'receive+json'(kind) {
    const { json } = await import(distPath);
    const ws =
      kind === 'direct'
        ? openDirect((text) => onData(JSON.parse(text).type)).ws
        : (await openSteadySocket((value) => onData(value.type), { codec: json() })).ws;
    const listener = ws.listeners('message')[0];
    return (n) => time(n, (count) => {
      for (let i = 0; i < count; i++) listener.call(ws, FRAME_32, false);
    });
  },
  /**
   * acks(): a { id } message sent and its acknowledgement received, 1,000 in flight, with the json
   * codec. Here "direct" is the same steadysocket client without acks() (the baseline of bench
   * measure 8a), so `added` is what acks() adds.
   */
  async acks(kind) {
    const { json, acks } = await import(distPath);
    const use = kind === 'direct' ? [] : [acks({ id: (message) => message.id, ack: (message) => message.id })];
    const { socket, ws } = await openSteadySocket(onData, { codec: json(), use });
    const listener = ws.listeners('message')[0];
    const written = [];
    ws.send = (wire) => written.push(wire);
    let id = 0;
    return (n) => time(n, (count) => {
      for (let i = 0; i < 1000; i++) socket.send({ id: ++id, data: 'tick' });
      // Each acknowledgement (the message echoed) lets the next message go, as in measure 8a.
      for (let i = 0; i < count - 1000; i++) {
        listener.call(ws, Buffer.from(written.shift()), false);
        socket.send({ id: ++id, data: 'tick' });
      }
      while (written.length) listener.call(ws, Buffer.from(written.shift()), false);
    });
  },
  /** Messages queued while offline, then written when the socket opens (direct: a send loop). */
  async flush(kind) {
    return (n) => {
      if (kind === 'direct') {
        const { socket } = openDirect(onData);
        return time(n, (count) => {
          for (let i = 0; i < count; i++) socket.send(TEXT_32);
        });
      }
      const socket = new SteadySocket('ws://127.0.0.1:1', { WebSocket: StandInWs, maxMessages: n });
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) socket.send(TEXT_32);
      // The connection attempt starts on a microtask; open it synchronously after that.
      return Promise.resolve().then(() => {
        StandInWs.last.open();
        const ns = Number(process.hrtime.bigint() - t0) / n;
        socket.close();
        return ns;
      });
    };
  },
};

async function measure(name) {
  const sizes = { send: 200_000, receive: 200_000, 'receive+json': 100_000, acks: 100_000, flush: 50_000 };
  const n = sizes[name];
  const runs = { direct: [], steadysocket: [] };
  const make = { direct: await cases[name]('direct'), steadysocket: await cases[name]('steadysocket') };
  for (const kind of ['direct', 'steadysocket']) await make[kind](n); // warm up
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of round % 2 ? ['steadysocket', 'direct'] : ['direct', 'steadysocket']) runs[kind].push(await make[kind](n));
  }
  const direct = median(runs.direct);
  const steady = median(runs.steadysocket);
  return { name, n, directNs: direct, steadysocketNs: steady, addedNs: steady - direct };
}

const results = [];
for (const name of Object.keys(cases)) if (!only || only === name) results.push(await measure(name));
if (args.includes('--json')) process.stdout.write(`${JSON.stringify(results)}\n`);
else {
  console.log('| path | direct on ws (ns/msg) | steadysocket (ns/msg) | added (ns/msg) |\n|---|--:|--:|--:|');
  for (const r of results) console.log(`| ${r.name} | ${r.directNs.toFixed(0)} | ${r.steadysocketNs.toFixed(0)} | ${r.addedNs.toFixed(0)} |`);
  if (results.some((r) => r.name === 'acks')) console.log('\nacks: "direct" is the json client without acks(), "steadysocket" the same with acks(); a message and its acknowledgement.');
}
if (sink < 0) console.log(sink);
process.exit(0);
