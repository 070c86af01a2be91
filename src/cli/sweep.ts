/**
 * `rmad sweep FILE`: runs the sweep of a model file in parallel worker processes;
 * `rmad sweep --merge DIR... --out DIR`: joins shards' results and checks the gates on the whole.
 *
 * Output: one line per finished trial, the ranked trials, the gates, and as the very last line
 * `sweep: N passed, N failed`. Exit 0 when every trial finished and passed and every gate
 * holds, 1 otherwise, 2 for bad input, 130 when interrupted (continue with --resume).
 */
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../errors.js';
import {
  defaultJobs, describeOverrides, gateText, loadSweep, mergeSweeps, parseShard, rankRecords, runSweep, shardTrials,
  type SweepEvent, type SweepOutcome, type TrialRecord,
} from '../train/sweep.js';
import { EXIT, Exit, fmt, table, wholeNumber } from './output.js';
import { modelFileOptions } from './train.js';

export interface SweepArgs {
  file?: string;
  set?: string[];
  seed?: number;
  sweep?: string;
  jobs?: number;
  shard?: string;
  resume?: boolean;
  out?: string;
  merge?: string[];
  dryRun?: boolean;
  /** Read as typed, so that `--top abc` is named as such. */
  top: string;
  device: 'cpu' | 'gpu';
}

const write = (line: string) => process.stdout.write(`${line}\n`);

const jobsOf = (args: SweepArgs): number => (args.jobs === undefined ? defaultJobs() : wholeNumber('--jobs', args.jobs, 1));

function paramText(r: { parameters: TrialRecord['parameters']; seed: number }): string {
  return describeOverrides({ ...r.parameters, seed: r.seed });
}

function onEvent(e: SweepEvent): void {
  switch (e.type) {
    case 'start': {
      const shard = e.shard ? `, shard ${e.shard.index}/${e.shard.count} has ${e.slice}` : '';
      const earlier = e.finished > 0 ? `; ${e.finished} finished earlier, skipped` : '';
      write(`${e.total} trials${shard}${earlier}; training ${e.toRun} with ${e.jobs} job${e.jobs === 1 ? '' : 's'} into ${e.outDir}`);
      break;
    }
    case 'trial-start':
      break;
    case 'trial-end': {
      const r = e.record;
      const width = String(e.of).length;
      const metric = r.status === 'failed' ? (r.error ?? '') : Object.entries(r.final).filter(([k]) => k.startsWith('val.') || k.startsWith('test.')).map(([k, v]) => `${k} ${fmt(v)}`).join('  ');
      write(`[${String(e.done).padStart(width)}/${e.of}] ${r.id} ${r.status.padEnd(11)} ${paramText(r)}  ${metric}  (${r.wallSeconds.toFixed(1)} s)`);
      break;
    }
    case 'interrupted':
      break;
  }
}

function report(o: SweepOutcome, top: number): void {
  const { meta } = o;
  const ranked = rankRecords(o.records, meta.objective);
  if (ranked.length > 0) {
    const shown = ranked.slice(0, top);
    const metrics = [...new Set([meta.objective.metric, ...meta.expect.map((g) => g.metric)])];
    write('');
    if (shown.length > 0) {
      write(table(
        ['#', 'trial', 'parameters', 'status', ...metrics],
        shown.map((r, i) => [i + 1, r.id, paramText(r), r.status, ...metrics.map((m) => (r.status === 'failed' ? '-' : fmt(r.final[m])))]),
      ));
    }
    if (ranked.length > shown.length) write(`... ${ranked.length - shown.length} more in ${join(o.dir, 'results.csv')}`);
  }
  for (const r of o.records.filter((x) => x.status === 'failed')) write(`failed ${r.id} (${paramText(r)}): ${r.error ?? 'unknown error'}`);
  if (o.gates.length > 0) {
    write('');
    for (const g of o.gates) write(`gate ${gateText(g.gate)} (${g.gate.scope}): ${g.outcome}${g.value === null ? '' : `, ${fmt(g.value)}`}; ${g.detail}`);
  }
  if (o.missing.length > 0 && !o.interrupted) write(`${o.missing.length} trials have no result (not run by any shard merged)`);
  write(`results in ${join(o.dir, 'results.jsonl')}, ${join(o.dir, 'summary.md')}`);
  if (o.interrupted) write(`interrupted with ${o.missing.length} trials unfinished; continue with --resume`);
  write(`sweep: ${o.passed} passed, ${o.failed} failed`);
}

export const sweepCommand: CommandModule<object, SweepArgs> = {
  command: 'sweep [file]',
  describe: "run a model file's sweep: many trials in parallel processes, with gates",
  builder: (y) =>
    modelFileOptions(y)
      .positional('file', { type: 'string', describe: 'the model file (YAML) with a sweep: section' })
      .option('sweep', { type: 'string', describe: "a YAML file holding a sweep section; replaces the model file's", requiresArg: true })
      .option('jobs', { alias: 'j', type: 'number', describe: 'trials trained at once, each in its own process (default: the number of cores)', requiresArg: true })
      .option('shard', { type: 'string', describe: 'run slice i of n (trial k goes to shard k mod n + 1), e.g. --shard 2/4', requiresArg: true })
      .option('resume', { type: 'boolean', describe: 'skip the trials that finished in --out; continue interrupted ones' })
      .option('out', { type: 'string', describe: 'output folder (default sweeps/<name>/, sweeps/<name>/shard-i-of-n/ for a shard)', requiresArg: true })
      .option('merge', { type: 'string', array: true, describe: 'join the results of these sweep folders (shards) into --out', requiresArg: true })
      .option('dry-run', { type: 'boolean', describe: 'print the trials and their ids (with --merge: the results it would join); train and write nothing' })
      .option('device', { choices: ['cpu', 'gpu'] as const, default: 'cpu' as const, describe: 'where the trials train' })
      .option('top', { type: 'string', default: '20', defaultDescription: '20', describe: 'trials listed in the final table (results.csv has them all)', requiresArg: true }) as Argv<SweepArgs>,
  handler: async (args) => {
    const top = wholeNumber('--top', args.top, 0);
    if (args.merge && args.file) throw new InputError('give a model file or --merge, not both', 'rmad sweep');
    if (!args.merge && !args.file) throw new InputError('name a model file (rmad sweep models/sweep-mlp.yaml) or shard folders to --merge', 'rmad sweep');
    if (args.merge) {
      if (!args.out) throw new InputError('needs --out, the folder of the merged results', '--merge');
      // Flags of a sweep that runs: a merge would ignore them.
      const stray = (['shard', 'resume', 'jobs', 'sweep', 'set', 'seed'] as const).find((k) => args[k] !== undefined);
      if (stray) throw new InputError('does not apply to --merge, which joins finished sweep folders; leave it out', `--${stray}`);
      const outcome = mergeSweeps(args.merge, args.out, { dryRun: args.dryRun });
      if (args.dryRun) {
        write(table(['trial', 'id', 'parameters', 'status', 'run'], outcome.records.map((r) => [r.trial, r.id, paramText(r), r.status, r.run])));
        write(`${outcome.records.length} of ${outcome.planned} trials have results in the ${args.merge.length} folders; nothing written to ${args.out} (--dry-run)`);
        return;
      }
      write(`merged ${args.merge.length} folders: ${outcome.records.length} of ${outcome.planned} trials have results`);
      report(outcome, top);
      if (!outcome.ok) throw new Exit(EXIT.failed);
      return;
    }
    const jobs = jobsOf(args);
    const shard = args.shard === undefined ? null : parseShard(args.shard);
    const sets = [...(args.set ?? []), ...(args.seed !== undefined ? [`seed=${args.seed}`] : [])];
    const plan = loadSweep({ file: args.file!, set: sets, sweepFile: args.sweep });
    const outDir = args.out ?? join('sweeps', plan.name, ...(shard ? [`shard-${shard.index}-of-${shard.count}`] : []));
    if (plan.duplicates > 0) write(`${plan.duplicates} trials have the same resolved config as an earlier one and run once`);

    if (args.dryRun) {
      const mine = new Set(shardTrials(plan.trials, shard).map((t) => t.id));
      write(table(['trial', 'id', 'parameters', ...(shard ? ['shard'] : [])],
        plan.trials.map((t) => [t.index, t.id, paramText(t), ...(shard ? [mine.has(t.id) ? 'this' : ''] : [])])));
      write(`${plan.trials.length} trials${shard ? `, ${mine.size} in shard ${shard.index}/${shard.count}` : ''}; nothing trained (--dry-run)`);
      return;
    }

    const abort = new AbortController();
    const onSigint = () => {
      if (abort.signal.aborted) process.exit(EXIT.interrupted);
      abort.abort();
    };
    process.on('SIGINT', onSigint);
    let outcome: SweepOutcome;
    try {
      outcome = await runSweep({ plan, outDir, jobs, shard, resume: Boolean(args.resume), device: args.device, onEvent, signal: abort.signal });
    } finally {
      process.off('SIGINT', onSigint);
    }
    report(outcome, top);
    if (outcome.interrupted) throw new Exit(EXIT.interrupted);
    if (!outcome.ok) throw new Exit(EXIT.failed);
  },
};
