/**
 * `rmad bench [--only W1,W4] [--mode eager|compiled|both] [--device cpu|gpu] [--json]`: the
 * shared workloads (src/bench/run.ts) on this machine, each with its correctness check. A row
 * per result as soon as it is measured, or with --json the peers' harness's JSON lines on
 * stdout; the last line says how many checks passed. Exit 1 if a check fails.
 */
import type { Argv, CommandModule } from 'yargs';
import { availableParallelism } from 'node:os';
import { InputError } from '../errors.js';
import { runBench, WORKLOADS, type BenchLine, type WorkloadId } from '../bench/run.js';
import { EXIT, Exit } from './output.js';

export interface BenchArgs {
  only?: string;
  mode: 'eager' | 'compiled' | 'both';
  device: 'cpu' | 'gpu';
  json?: boolean;
}

const WHAT: Record<WorkloadId, string> = {
  W1: 'scalar neuron, forward + backward',
  W2: "micrograd's MLP 2-16-16-1, 100 points, SGD",
  W3: 'matrix product, float32',
  W4: 'MLP 784-256-128-10, batch 64, Adam',
  W4s: 'MLP 64-32-10, batch 32, Adam',
  W5: 'tanh RNN, 50 steps, batch 32, SGD',
  W6: 'start, import, one gradient',
};

const UNIT: Record<BenchLine['metric'], string> = {
  us_per_fwd_bwd: 'µs a call', ms_per_step: 'ms a step', gflops: 'GFLOP/s', ms_wall: 'ms',
};

/** The workloads --only names, in any case; a name that is none is an input error. */
export function parseOnly(only: string | undefined): WorkloadId[] | undefined {
  if (only === undefined) return undefined;
  return only.split(',').map((name) => {
    const id = WORKLOADS.find((w) => w.toLowerCase() === name.trim().toLowerCase());
    if (!id) throw new InputError(`'${name.trim()}' is not a workload; choose from ${WORKLOADS.join(', ')} (comma-separated)`, '--only');
    return id;
  });
}

/** Three significant digits, no exponent. */
const figure = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));

/** One result as a row of text. */
export function benchRow(l: BenchLine): string {
  const compiled = l.peer.endsWith('-compiled') ? ' (compiled)' : '';
  const param = l.workload === 'W3' ? ` ${l.param}` : '';
  const what = `${WHAT[l.workload]}${param}${compiled}`;
  const value = l.value === null ? '-' : `${figure(l.value)} ${UNIT[l.metric]}`;
  let check = l.value === null ? `failed: ${String(l.info.error)}` : l.ok ? 'ok' : 'CHECK FAILED';
  const over = l.info.overEmpty;
  if (l.workload === 'W6' && typeof over === 'number') check += `, ${Math.abs(over)} ms ${over >= 0 ? 'over' : 'under'} an empty node's start`;
  return `${l.workload.padEnd(4)}  ${what.padEnd(48)}  ${value.padEnd(16)}  ${check}`;
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench',
  describe: "run the shared benchmark workloads (W1-W6) on this machine, each with its correctness check",
  builder: (y) =>
    y
      .option('only', { type: 'string', describe: `the workloads to run, comma-separated (${WORKLOADS.join(',')}); default all`, requiresArg: true })
      .option('mode', { choices: ['eager', 'compiled', 'both'] as const, default: 'eager' as const, describe: 'how the training workloads run: eager, compiled whole (compileValueAndGrad), or both' })
      .option('device', { choices: ['cpu', 'gpu'] as const, default: 'cpu' as const, describe: 'where kernels run' })
      .option('json', { type: 'boolean', describe: "one JSON line per result on stdout, in the peers' harness's format" }) as Argv<BenchArgs>,
  handler: (args) => {
    const only = parseOnly(args.only);
    const json = Boolean(args.json);
    const say = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);
    say(`rmad bench: Node ${process.version}, ${availableParallelism()} cores, device ${args.device}, ${args.mode}`);
    const lines = runBench({
      only, device: args.device, modes: args.mode === 'both' ? ['eager', 'compiled'] : [args.mode],
      onLine: (l) => (json ? process.stdout.write(`${JSON.stringify(l)}\n`) : say(benchRow(l))),
    });
    const failed = lines.filter((l) => !l.ok).length;
    say(`bench: ${lines.length - failed} passed, ${failed} failed`);
    if (failed > 0) throw new Exit(EXIT.failed);
  },
};
