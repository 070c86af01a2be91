/**
 * Sweeps: many trainings of one model file, in parallel worker processes, into one output
 * folder (DESIGN.md, "Batch experiments"):
 *
 *   <out>/sweep.json, results.jsonl, results.csv, summary.md   (see sweep-results.ts)
 *   <out>/trials/<id>/                                         each trial's run folder
 *
 * The plan (which trials, their ids, validation) is sweep-plan.ts; this file runs a plan, or
 * one shard of it. Library code: it reports through events and its return value, never prints.
 *
 * Resuming (`resume: true`) skips the trials that finished: a trial is finished when its run
 * folder holds a summary.json of a run that was not interrupted (and its weights). Its results
 * line is kept, or rebuilt from summary.json when the sweep was killed between the two writes.
 * A trial folder with a checkpoint but no finished summary continues from the checkpoint; any
 * other leftover folder is cleared and the trial trains again. Failed trials train again. The
 * folder must hold the same sweep (trial ids) and shard.
 * Without `resume`, a folder that already holds a sweep is refused, as `rmad train --out` does;
 * a file, or a training run's folder, is refused either way.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';
import type { Summary } from './run-folder.js';
import { shardTrials, type Shard, type SweepPlan, type Trial } from './sweep-plan.js';
import {
  checkSameSweep, ensureFolder, newMeta, outcomeOf, outFolderMeta, readResults, writeMeta, writeResults, type SweepOutcome, type TrialRecord,
} from './sweep-results.js';
import type { TrialReply, TrialRequest } from './sweep-worker.js';
import { packageFile } from '../package-file.js';

export * from './sweep-plan.js';
export * from './sweep-results.js';

export interface SweepOptions {
  plan: SweepPlan;
  /** The output folder; `sweeps/<name>/` is the command line's default. */
  outDir: string;
  /** Worker processes; default the number of cores (os.availableParallelism()). */
  jobs?: number;
  /** Run only this slice of the plan (see shardTrials). */
  shard?: Shard | null;
  /** Skip the trials that finished in an earlier run into the same folder. */
  resume?: boolean;
  /** Where the trials' kernels run (default cpu). */
  device?: 'cpu' | 'gpu';
  onEvent?: (e: SweepEvent) => void;
  /** Aborting stops the sweep: running trials are killed and stay unfinished for --resume. */
  signal?: AbortSignal;
  /** The worker script (sweep-worker.js); another one speaks the same protocol (tests use one that crashes). */
  workerScript?: string;
}

export interface TrialInfo {
  id: string;
  index: number;
  parameters: Trial['parameters'];
  seed: number;
}

export type SweepEvent =
  | { type: 'start'; outDir: string; total: number; slice: number; toRun: number; finished: number; jobs: number; shard: Shard | null }
  | { type: 'trial-start'; trial: TrialInfo; fromCheckpoint: boolean }
  | { type: 'trial-end'; record: TrialRecord; done: number; of: number }
  | { type: 'interrupted'; unfinished: number };

/** The default of --jobs. */
export function defaultJobs(): number {
  return availableParallelism();
}

const defaultWorker = fileURLToPath(packageFile('sweep-worker.js'));

/** Runs the plan (or one shard of it) and writes the output folder; see SweepOutcome for the verdict. */
export async function runSweep(options: SweepOptions): Promise<SweepOutcome> {
  const { plan, outDir } = options;
  const emit = options.onEvent ?? (() => {});
  const shard = options.shard ?? null;
  const slice = shardTrials(plan.trials, shard);
  const meta = newMeta(plan, shard);

  const earlierMeta = outFolderMeta(outDir);
  if (!options.resume && (existsSync(join(outDir, 'results.jsonl')) || existsSync(join(outDir, 'trials')))) {
    throw new InputError('holds the results of an earlier sweep; add --resume to skip its finished trials, or choose another --out', outDir);
  }
  if (options.resume && earlierMeta) {
    checkSameSweep(outDir, earlierMeta, { dir: plan.file, meta }, 'resume with the same model file, --sweep and --set, or choose another --out');
    if (shardText(earlierMeta.shard) !== shardText(shard)) {
      throw new InputError(`holds ${shardText(earlierMeta.shard)} of this sweep, not ${shardText(shard)}; resume with ${earlierMeta.shard ? `--shard ${earlierMeta.shard.index}/${earlierMeta.shard.count}` : 'no --shard'}, or choose another --out`, outDir);
    }
  }
  ensureFolder(outDir);
  const earlier = options.resume && existsSync(join(outDir, 'results.jsonl')) ? readResults(join(outDir, 'results.jsonl')) : [];
  const earlierById = new Map(earlier.map((r) => [r.id, r]));
  writeMeta(outDir, meta);

  const records = new Map<string, TrialRecord>();
  const toRun: { trial: Trial; fromCheckpoint: boolean }[] = [];
  for (const trial of slice) {
    const runDir = join(outDir, 'trials', trial.id);
    const summary = options.resume ? finishedSummary(runDir) : null;
    if (summary) {
      const kept = earlierById.get(trial.id);
      records.set(trial.id, kept && kept.status !== 'failed' ? { ...kept, trial: trial.index } : recordOf(trial, summary, outDir));
    } else if (options.resume && existsSync(join(runDir, 'checkpoint.json'))) {
      toRun.push({ trial, fromCheckpoint: true });
    } else {
      if (existsSync(runDir)) rmSync(runDir, { recursive: true, force: true });
      toRun.push({ trial, fromCheckpoint: false });
    }
  }

  const jobs = Math.max(1, Math.min(options.jobs ?? defaultJobs(), toRun.length));
  emit({ type: 'start', outDir, total: plan.trials.length, slice: slice.length, toRun: toRun.length, finished: records.size, jobs, shard });
  let outcome = outcomeOf(outDir, meta, [...records.values()], toRun.length > 0);
  writeResults(outcome);

  let aborted = options.signal?.aborted ?? false;
  const workers: (TrialWorker | null)[] = new Array<TrialWorker | null>(jobs).fill(null);
  const onAbort = () => {
    aborted = true;
    for (const w of workers) w?.kill();
  };
  options.signal?.addEventListener('abort', onAbort);
  const workerPath = options.workerScript ?? defaultWorker;
  const budget = workerBudget(jobs);
  const queue = [...toRun];
  let done = 0;

  const lane = async (slot: number) => {
    while (!aborted && queue.length > 0) {
      const { trial, fromCheckpoint } = queue.shift()!;
      const worker = (workers[slot] ??= new TrialWorker(workerPath, budget));
      const runDir = join(outDir, 'trials', trial.id);
      emit({ type: 'trial-start', trial: infoOf(trial), fromCheckpoint });
      const started = performance.now();
      const reply = await worker.run({ type: 'trial', id: trial.id, spec: trial.spec, baseDir: plan.baseDir, runDir, resume: fromCheckpoint, device: options.device ?? 'cpu' });
      const wall = (performance.now() - started) / 1000;
      let record: TrialRecord;
      if (reply.type === 'exit') {
        workers[slot] = null;
        // Killed by us, or by the Ctrl-C that reached the whole process group: unfinished, not failed.
        if (aborted || reply.signal === 'SIGINT') {
          aborted = true;
          break;
        }
        const how = reply.signal ? `was killed (${reply.signal})` : `exited with code ${reply.code}`;
        // The error's own lines, not its stack frames or Node's version banner.
        const said = reply.stderr.split('\n').filter((l) => l.trim() !== '' && !/^\s+at |^Node\.js v/.test(l)).slice(-3).join(' | ');
        record = failedRecord(trial, outDir, `the trial's process ${how}${said ? `: ${said}` : ''}`, wall);
      } else if (reply.type === 'error') {
        record = failedRecord(trial, outDir, reply.message, wall);
      } else if (reply.interrupted) {
        break;
      } else {
        record = recordOf(trial, reply.summary, outDir);
      }
      records.set(trial.id, record);
      done++;
      outcome = outcomeOf(outDir, meta, [...records.values()], true);
      writeResults(outcome);
      emit({ type: 'trial-end', record: outcome.records.find((r) => r.id === trial.id)!, done, of: toRun.length });
    }
  };
  try {
    await Promise.all(workers.map((_, slot) => lane(slot)));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    for (const w of workers) w?.close();
  }

  const unfinished = slice.filter((t) => !records.has(t.id)).length;
  const interrupted = aborted && unfinished > 0;
  if (interrupted) emit({ type: 'interrupted', unfinished });
  outcome = outcomeOf(outDir, meta, [...records.values()], interrupted);
  writeResults(outcome);
  return outcome;
}

function shardText(shard: Shard | null): string {
  return shard ? `shard ${shard.index}/${shard.count}` : 'the whole';
}

function infoOf(trial: Trial): TrialInfo {
  return { id: trial.id, index: trial.index, parameters: trial.parameters, seed: trial.seed };
}

/** The summary of a run that finished (not interrupted, weights written), or null. */
function finishedSummary(runDir: string): Summary | null {
  const file = join(runDir, 'summary.json');
  if (!existsSync(file) || !existsSync(join(runDir, 'weights.safetensors'))) return null;
  try {
    const summary = JSON.parse(readFileSync(file, 'utf8')) as Summary;
    return summary.interrupted || typeof summary.final !== 'object' ? null : summary;
  } catch {
    return null;
  }
}

function recordOf(trial: Trial, summary: Summary, outDir: string): TrialRecord {
  // A metric that is not finite is left out: JSON would write it as null, which is not a number.
  const final = Object.fromEntries(Object.entries(summary.final).filter(([k, v]) => k.includes('.') && typeof v === 'number' && Number.isFinite(v)));
  return {
    id: trial.id, trial: trial.index, parameters: trial.parameters, seed: trial.seed, status: 'ok', final, best: summary.best,
    run: relative(outDir, join(outDir, 'trials', trial.id)), wallSeconds: summary.wallSeconds,
  };
}

function failedRecord(trial: Trial, outDir: string, error: string, wall: number): TrialRecord {
  return {
    id: trial.id, trial: trial.index, parameters: trial.parameters, seed: trial.seed, status: 'failed', final: {}, best: null,
    run: relative(outDir, join(outDir, 'trials', trial.id)), wallSeconds: Math.round(wall * 1000) / 1000, error,
  };
}

/** How much of the machine each worker process may use besides its own main thread. */
export interface WorkerBudget {
  /** RMAD_THREADS: the threads of a worker's large matrix products. */
  threads: number;
  /** Whether V8 may run its own helper threads (concurrent compilation and garbage collection). */
  helpers: boolean;
}

/**
 * The cores divided among the workers, as PyTorch's users set one thread per process: with
 * as many workers as cores, threads of matrix products and V8's helper threads would only
 * compete with the other trials. Measured with `node dist/bench/sweep.js` (12 trials of
 * models/mlp.yaml on 2 cores): --jobs 2 took 1.72 s with helpers and 1.51 s without, while
 * --jobs 1 is faster with them (1.66 against 1.95 s), so one worker keeps them. An
 * RMAD_THREADS the user set is passed on unchanged.
 */
export function workerBudget(jobs: number, cores = availableParallelism()): WorkerBudget {
  const share = Math.floor(cores / jobs);
  return { threads: Math.max(1, share), helpers: share >= 2 };
}

type WorkerResult = Exclude<TrialReply, { type: 'ready' }> | { type: 'exit'; code: number | null; signal: NodeJS.Signals | null; stderr: string };

/** One worker process; it trains one trial at a time and is reused until it dies or is closed. */
class TrialWorker {
  private readonly child: ChildProcess;
  private stderr = '';
  private pending: ((r: WorkerResult) => void) | null = null;
  private closed = false;
  private ready = false;
  /** A request made before the worker said it listens; sent on 'ready'. */
  private queued: TrialRequest | null = null;

  constructor(path: string, budget: WorkerBudget) {
    // Only the parent's memory and diagnostics flags: its execArgv may hold `-e CODE`, which a
    // worker would run instead of its script (fork strips it from process.execArgv itself, not
    // from a copy), or --inspect (every worker on one port). NODE_OPTIONS passes on anyway.
    const execArgv = process.execArgv.filter((a) => /^--(max-old-space-size|max-semi-space-size|stack-size|enable-source-maps|no-warnings)\b/.test(a));
    if (!budget.helpers) execArgv.push('--single-threaded');
    const env = { ...process.env, RMAD_THREADS: process.env.RMAD_THREADS ?? String(budget.threads) };
    this.child = fork(path, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced', execArgv, env });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
    });
    this.child.on('message', (m: TrialReply) => {
      if (m.type !== 'ready') return this.settle(m);
      this.ready = true;
      if (this.queued) this.child.send(this.queued);
      this.queued = null;
    });
    // 'close' comes after stderr is drained, so the last words of a crash are in.
    this.child.on('close', (code, signal) => {
      this.closed = true;
      this.settle({ type: 'exit', code, signal, stderr: this.stderr });
    });
    this.child.on('error', () => {
      // A failed send or spawn is followed by 'close', which settles the trial.
    });
  }

  private settle(r: WorkerResult): void {
    const pending = this.pending;
    this.pending = null;
    pending?.(r);
  }

  run(request: TrialRequest): Promise<WorkerResult> {
    this.stderr = '';
    return new Promise((resolve) => {
      if (this.closed) return resolve({ type: 'exit', code: this.child.exitCode, signal: this.child.signalCode, stderr: this.stderr });
      this.pending = resolve;
      if (this.ready) this.child.send(request);
      else this.queued = request;
    });
  }

  /** Lets the worker exit after its trial (it exits on disconnect). */
  close(): void {
    if (!this.closed && this.child.connected) this.child.disconnect();
  }

  kill(): void {
    if (!this.closed) this.child.kill('SIGTERM');
  }
}
