/**
 * Resident memory while training W4 (MLP 784-256-128-10, batch 64, Adam) for 2,000 steps:
 * prints RSS every 200 steps, so a per-step leak shows as a climb. Run `node dist/bench/memory.js`.
 */
import { newContext } from '../src/index.js';
import { D, w4Step } from '../src/bench/workloads.js';

const train = w4Step(newContext('float32'), D.W4cfg.big);
const steps = Number(process.argv[2] ?? 2000);
const rows: { step: number; rssMiB: number; heapMiB: number }[] = [];
for (let step = 1; step <= steps; step++) {
  train();
  if (step % 200 === 0) {
    const m = process.memoryUsage();
    rows.push({ step, rssMiB: +(m.rss / 2 ** 20).toFixed(1), heapMiB: +(m.heapUsed / 2 ** 20).toFixed(1) });
  }
}
for (const r of rows) console.log(JSON.stringify(r));
const first = rows[Math.min(1, rows.length - 1)]!, last = rows[rows.length - 1]!;
console.log(`rss from step ${first.step} to ${last.step}: ${first.rssMiB} -> ${last.rssMiB} MiB (${((last.rssMiB - first.rssMiB) / (last.step - first.step) * 1024).toFixed(2)} KiB a step)`);
process.exit(0);
