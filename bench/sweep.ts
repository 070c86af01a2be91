/**
 * How much `rmad sweep --jobs 2` gains over `--jobs 1`: a 12-trial grid over models/mlp.yaml
 * (optimizer.lr x hidden1.units x 2 seeds), timed with each job count in one sitting,
 * alternating, best of `--rounds` rounds (other load on a shared machine only ever adds time).
 * The target is a ratio of at most 0.6 on two free cores: trials are independent processes, so
 * the ideal is 0.5 plus the start of each worker (loading modules and warming the JIT, about
 * 0.3-0.5 s of CPU, paid by every worker). At the shipped 100 epochs a trial trains in about
 * 0.06 s once warm, so that start is a large share; `--epochs` sets longer trials too.
 *
 * First it measures the machine's own ceiling: two busy processes at once against one after
 * the other, once with pure arithmetic and once writing fresh arrays as a training step does
 * (page faults and memory traffic scale worse than arithmetic under a hypervisor). On a shared
 * or oversubscribed machine these ratios are well above 0.5, and no sweep can beat them.
 *
 *   node dist/bench/sweep.js [--rounds=2] [--jobs=1,2] [--epochs=100,1000]
 *
 * Prints one line per run, then one JSON line for the ceiling and one per epoch setting:
 * {"workload","epochs","trials","seconds","ratio","cores"}.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSweep, runSweep } from '../src/train/sweep.js';

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const rounds = Number(arg('rounds') ?? 2);
const jobCounts = (arg('jobs') ?? '1,2').split(',').map(Number);
const epochSettings = (arg('epochs') ?? '100,1000').split(',').map(Number);

/** Busy work for a process: pure arithmetic, or writing fresh 64 KiB arrays (as tensors are). */
const WORK = {
  spin: 'let x = 0; for (let i = 0; i < 4e8; i++) x += i % 7; if (x < 0) console.log(x);',
  alloc: 'const s = new Float32Array(16384).fill(1); let x = 0; for (let i = 0; i < 60000; i++) { const a = new Float32Array(16384); a.set(s); x += a[i % 16384]; } if (x < 0) console.log(x);',
};

/** Seconds for `count` processes each doing `code`, all started at once. */
async function run(count: number, code: string): Promise<number> {
  const started = performance.now();
  await Promise.all(Array.from({ length: count }, () => new Promise((done) => spawn(process.execPath, ['-e', code], { stdio: 'ignore' }).on('close', done))));
  return (performance.now() - started) / 1000;
}

/** Best of `rounds`: two busy processes at once, against the same two one after the other. */
async function ceiling(code: string): Promise<number> {
  let best = Infinity;
  for (let round = 0; round < rounds; round++) {
    const one = await run(1, code);
    const two = await run(2, code);
    best = Math.min(best, two / (2 * one));
  }
  return best;
}

const model = fileURLToPath(new URL('../../models/mlp.yaml', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rmad-bench-sweep-'));
writeFileSync(join(dir, 'sweep.yaml'), `method: grid
parameters:
  optimizer.lr: [0.003, 0.01, 0.03]
  model.layers.hidden1.units: [8, 16]
seeds: [0, 1]
`);
const results: string[] = [];
for (const [kind, code] of Object.entries(WORK)) {
  const machine = await ceiling(code);
  process.stdout.write(`machine ceiling (${kind}): 2 busy processes at once take ${machine.toFixed(2)} of one after the other (0.50 on two free cores)\n`);
  results.push(JSON.stringify({ workload: `ceiling-2-processes-${kind}`, ratio: Math.round(machine * 1000) / 1000, cores: availableParallelism() }));
}
try {
  for (const epochs of epochSettings) {
    const plan = loadSweep({ file: model, sweepFile: join(dir, 'sweep.yaml'), set: [`train.epochs=${epochs}`] });
    const best = new Map<number, number>();
    for (let round = 1; round <= rounds; round++) {
      for (const jobs of jobCounts) {
        const out = join(dir, `e${epochs}-r${round}-j${jobs}`);
        const started = performance.now();
        const outcome = await runSweep({ plan, outDir: out, jobs });
        const seconds = (performance.now() - started) / 1000;
        if (!outcome.ok) throw new Error(`the sweep failed: ${outcome.failed} trials failed`);
        best.set(jobs, Math.min(best.get(jobs) ?? Infinity, seconds));
        process.stdout.write(`${epochs} epochs, round ${round}: ${plan.trials.length} trials, --jobs ${jobs}: ${seconds.toFixed(2)} s\n`);
        rmSync(out, { recursive: true, force: true });
      }
    }
    const first = jobCounts[0]!, last = jobCounts[jobCounts.length - 1]!;
    const ratio = best.get(last)! / best.get(first)!;
    process.stdout.write(`${epochs} epochs: --jobs ${last} takes ${ratio.toFixed(2)} of --jobs ${first} (target <= 0.6 for 1 -> 2)\n`);
    const seconds = Object.fromEntries([...best].map(([j, s]) => [`jobs${j}`, Math.round(s * 1000) / 1000]));
    results.push(JSON.stringify({ workload: 'sweep-mlp-12', epochs, trials: plan.trials.length, seconds, ratio: Math.round(ratio * 1000) / 1000, cores: availableParallelism() }));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
for (const line of results) process.stdout.write(`${line}\n`);
