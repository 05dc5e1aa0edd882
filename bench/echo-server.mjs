// The server side of every Node and Chromium measure, in a process of its own so that its CPU is
// never charged to the client being measured. Loopback only.
//
//   node bench/echo-server.mjs                 echo every message back (text stays text, binary binary)
//   node bench/echo-server.mjs --sink --port=N --count=50000
//                                              receive N sequence-numbered text messages, check order,
//                                              answer with one JSON result and print it
//
// Prints one JSON line `{"port":…}` when listening. In sink mode it waits for a `listen` line on
// stdin first, so the harness decides when the server "comes up".
import { createInterface } from 'node:readline';
import { WebSocketServer } from 'ws';

const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key, value = 'true'] = arg.replace(/^--/, '').split('=');
    return [key, value];
  }),
);

const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, CLOCK_MONOTONIC: comparable across processes

function listen(port) {
  const server = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, clientTracking: true });
  server.on('error', (error) => {
    print({ error: error.message });
    process.exit(1);
  });
  return server;
}

if (args.sink) {
  // One connection at a time; each message is the decimal sequence number padded to 32 bytes.
  const count = Number(args.count);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line !== 'listen') return;
    const server = listen(Number(args.port));
    server.on('listening', () => print({ port: server.address().port, listening: now() }));
    server.on('connection', (socket) => {
      const connectedAt = now();
      const seen = new Uint8Array(count);
      let received = 0;
      let duplicated = 0;
      let reordered = 0;
      let foreign = 0;
      let next = 0;
      socket.on('message', (data) => {
        const seq = Number.parseInt(data.toString(), 10);
        if (!(seq >= 0 && seq < count)) {
          foreign++;
          return;
        }
        received++;
        if (seen[seq]) duplicated++;
        else {
          seen[seq] = 1;
          // Behind the highest number seen so far: out of order (a gap alone counts as lost).
          if (seq < next) reordered++;
          else next = seq + 1;
        }
        if (received === count) {
          const result = {
            flushMs: now() - connectedAt,
            received,
            lost: count - seen.reduce((sum, bit) => sum + bit, 0),
            duplicated,
            reordered,
            foreign,
          };
          socket.send(JSON.stringify({ done: true, ...result }));
          print(result);
        }
      });
    });
    lines.on('close', () => {
      for (const client of server.clients) client.terminate();
      server.close();
      lines.close();
    });
  });
} else {
  const server = listen(0);
  server.on('listening', () => print({ port: server.address().port }));
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    socket.on('error', () => {});
  });
  // The harness closes stdin to stop us.
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const client of server.clients) client.terminate();
    server.close();
    process.stdin.pause();
  });
}
