#!/usr/bin/env node
// persist() with a backlog: a client offline (a closed port on 127.0.0.1, a 60 s retry delay)
// with 9,000 messages waiting, and an application that sends 5 messages every 5 ms for 5 s
// (overflow 'drop-oldest', so the outbox stays near its 10,000). The same client without
// persist() is the baseline, in the same run. Each case runs in a fresh process; rounds
// alternate the order. Prints, per case, the median CPU time of the process over the 5 s and how
// often the application's 5 ms timer got to run (a busy main thread runs it less), and the
// ratios to the baseline.
//
//   node bench/persist-backlog.mjs                  after npm run build
//   STEADYSOCKET_DIST=/other/dist node bench/persist-backlog.mjs   another build
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './lib/stats.mjs';

const dist = process.env.STEADYSOCKET_DIST ?? fileURLToPath(new URL('../dist', import.meta.url));
const ROUNDS = Number(process.argv.find((arg) => arg.startsWith('--rounds='))?.split('=')[1] ?? 3);

if (process.argv[2] === '--case') {
  const [, , , kind, dir] = process.argv;
  const { SteadySocket, persist } = await import(join(dist, 'index.js'));
  const { fileStore } = await import(join(dist, 'node.js'));
  const use = kind === 'persist' ? [persist(fileStore(join(dir, 'outbox')))] : [];
  const socket = new SteadySocket('ws://127.0.0.1:9', { minDelay: 60_000, overflow: 'drop-oldest', use });
  socket.on('error', () => {});
  for (let i = 0; i < 9000; i++) socket.send(`${'x'.repeat(100)}${i}`);
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  let ticks = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      ticks++;
      for (let k = 0; k < 5; k++) socket.send(`${'y'.repeat(100)}${ticks}`);
      if (Date.now() - t0 >= 5000) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  const cpu = process.cpuUsage(cpu0);
  await socket.close();
  process.stdout.write(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, userMs: cpu.user / 1000, ticks }));
  process.exit(0);
}

const runs = { plain: [], persist: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const kind of round % 2 ? ['persist', 'plain'] : ['plain', 'persist']) {
    const dir = mkdtempSync(join(tmpdir(), 'persist-backlog-'));
    try {
      runs[kind].push(JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--case', kind, dir], { encoding: 'utf8' })));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
const summary = (kind) => ({ cpuMs: median(runs[kind].map((r) => r.cpuMs)), userMs: median(runs[kind].map((r) => r.userMs)), ticks: median(runs[kind].map((r) => r.ticks)) });
const plain = summary('plain');
const withPersist = summary('persist');
console.log(`| case (${ROUNDS} rounds, medians) | CPU ms in 5 s | the app's 5 ms timer ran |\n|---|--:|--:|`);
console.log(`| without persist() | ${plain.cpuMs.toFixed(0)} | ${plain.ticks} |`);
console.log(`| persist(fileStore()) | ${withPersist.cpuMs.toFixed(0)} (user ${withPersist.userMs.toFixed(0)}) | ${withPersist.ticks} |`);
console.log(`\npersist/plain: CPU ${(withPersist.cpuMs / plain.cpuMs).toFixed(2)}×, timer runs ${(withPersist.ticks / plain.ticks).toFixed(2)}×`);
