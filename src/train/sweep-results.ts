/**
 * A sweep's results: one record per trial, the gates (`expect:`) evaluated on them, and the
 * files of an output folder, each written atomically:
 *
 *   sweep.json      what was planned: every trial id of the whole sweep, objective, gates, shard
 *   results.jsonl   one record per trial that ran (TrialRecord), in plan order
 *   results.csv     the same as a table: parameters, seed, status, final metrics
 *   summary.md      the trials ranked by the objective and the gates' outcome, for a PR comment
 *
 * Metrics are the trial's final ones (`summary.json`'s `final`, the last evaluated epoch).
 * Gates: `each` holds when every trial that trained is within bounds (a trial outside is
 * `gate-failed`); `best` reads the metric of the trial ranked first by the objective (the model
 * one would pick, so a test metric gated at best is not itself selected on the test set);
 * `mean` averages the metric over the trials that trained. A shard sees only part of the sweep,
 * so it checks `each` and defers `best` and `mean` to the merge.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../loaders/atomic.js';
import { isObject } from '../loaders/json.js';
import type { GateSpec, SweepSpec } from '../loaders/spec.js';
import { version } from '../version.js';
import { describeOverrides, type Shard, type SweepValue } from './sweep-plan.js';

export type TrialStatus = 'ok' | 'failed' | 'gate-failed';

/** One line of results.jsonl. */
export interface TrialRecord {
  id: string;
  /** The trial's position in the expanded sweep (1-based). */
  trial: number;
  parameters: Record<string, SweepValue>;
  seed: number;
  /** ok: trained and within every `each` gate; gate-failed: trained, outside one; failed: did not finish. */
  status: TrialStatus;
  /** Final metrics, `<split>.<metric>`; empty when the trial failed. */
  final: Record<string, number>;
  /** The training's best epoch by its own objective (summary.json's `best`). */
  best: { metric: string; mode: 'min' | 'max'; value: number; epoch: number } | null;
  /** The trial's run folder, relative to the folder of this results file. */
  run: string;
  wallSeconds: number;
  /** Why a failed trial failed. */
  error?: string;
}

/** sweep.json: the plan an output folder belongs to, so shards can be merged and checked whole. */
export interface SweepMeta {
  rmad: string;
  name: string;
  file: string;
  method: SweepSpec['method'];
  parameters: string[];
  seeds: number[] | null;
  objective: SweepSpec['objective'];
  expect: GateSpec[];
  /** Every trial of the whole sweep, in plan order (a shard runs a part of them). */
  trials: { id: string; trial: number }[];
  shard: Shard | null;
}

export interface GateResult {
  gate: GateSpec;
  outcome: 'pass' | 'fail' | 'deferred';
  /** The value compared: the mean, the best trial's, or the worst trial's for `each`. */
  value: number | null;
  detail: string;
}

export interface SweepOutcome {
  dir: string;
  meta: SweepMeta;
  /** Records of this folder's trials, in plan order, statuses set by the gates. */
  records: TrialRecord[];
  gates: GateResult[];
  /** Trials of this folder's part of the plan. */
  planned: number;
  /**
   * What the last line counts: each trial (with its `each` gates), and each gate on the whole
   * sweep (`best`, `mean`), so that a failed sweep-level gate shows as a failure there too.
   */
  passed: number;
  /** gate-failed, failed, and (when not interrupted) planned trials with no record; failed sweep-level gates. */
  failed: number;
  /** Planned trials with no record (not run, or cut short by an interruption). */
  missing: string[];
  interrupted: boolean;
  /** Every trial finished and passed, and every gate holds: exit code 0. */
  ok: boolean;
}

/** The ids of the plan that belong to `meta.shard` (see shardTrials). */
export function slicedIds(meta: SweepMeta): string[] {
  const s = meta.shard;
  return meta.trials.filter((_, k) => !s || k % s.count === s.index - 1).map((t) => t.id);
}

export function gateText(g: GateSpec): string {
  if (g.min !== undefined && g.max !== undefined) return `${g.min} <= ${g.metric} <= ${g.max}`;
  return g.min !== undefined ? `${g.metric} >= ${g.min}` : `${g.metric} <= ${g.max}`;
}

function within(g: GateSpec, v: number | undefined): boolean {
  return v !== undefined && Number.isFinite(v) && (g.min === undefined || v >= g.min) && (g.max === undefined || v <= g.max);
}

const trained = (r: TrialRecord) => r.status !== 'failed';

/** Records sorted by the objective's final value, best first; trials without a value last. */
export function rankRecords(records: readonly TrialRecord[], objective: SweepSpec['objective']): TrialRecord[] {
  const key = (r: TrialRecord) => {
    const v = trained(r) ? r.final[objective.metric] : undefined;
    return v !== undefined && Number.isFinite(v) ? (objective.mode === 'min' ? v : -v) : Infinity;
  };
  return [...records].sort((a, b) => key(a) - key(b) || a.trial - b.trial);
}

/**
 * Sets each record's status from its outcome and the `each` gates, and evaluates every gate.
 * `partial`: the records are one shard's, so `best` and `mean` are deferred.
 */
export function evaluateGates(records: readonly TrialRecord[], meta: SweepMeta, partial: boolean): { records: TrialRecord[]; gates: GateResult[] } {
  const eachGates = meta.expect.filter((g) => g.scope === 'each');
  const out = records.map((r): TrialRecord => {
    if (r.status === 'failed') return r;
    const holds = eachGates.every((g) => within(g, r.final[g.metric]));
    return { ...r, status: holds ? 'ok' : 'gate-failed' };
  });
  const done = out.filter(trained);
  const gates = meta.expect.map((gate): GateResult => {
    if (gate.scope === 'each') {
      const outside = done.filter((r) => !within(gate, r.final[gate.metric]));
      const values = done.map((r) => r.final[gate.metric] ?? NaN);
      const worst = outside[0]?.final[gate.metric] ?? (values.length ? (gate.min !== undefined ? Math.min(...values) : Math.max(...values)) : null);
      const detail = outside.length === 0
        ? `all ${done.length} trials within`
        : `${outside.length} of ${done.length} trials outside: ${outside.slice(0, 3).map((r) => `${r.id} (${fmtValue(r.final[gate.metric])})`).join(', ')}${outside.length > 3 ? ', ...' : ''}`;
      return { gate, outcome: outside.length === 0 && done.length > 0 ? 'pass' : 'fail', value: worst ?? null, detail: done.length ? detail : 'no trial trained' };
    }
    if (partial) return { gate, outcome: 'deferred', value: null, detail: 'needs every trial; checked by rmad sweep --merge' };
    if (done.length === 0) return { gate, outcome: 'fail', value: null, detail: 'no trial trained' };
    if (gate.scope === 'mean') {
      const values = done.map((r) => r.final[gate.metric] ?? NaN);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      return { gate, outcome: within(gate, mean) ? 'pass' : 'fail', value: mean, detail: `mean of ${values.length} trials` };
    }
    const best = rankRecords(done, meta.objective)[0]!;
    const value = best.final[gate.metric] ?? NaN;
    return { gate, outcome: within(gate, value) ? 'pass' : 'fail', value, detail: `trial ${best.id}, first by ${meta.objective.metric}` };
  });
  return { records: out, gates };
}

/** The outcome of the records in `dir` against its plan. */
export function outcomeOf(dir: string, meta: SweepMeta, records: readonly TrialRecord[], interrupted: boolean): SweepOutcome {
  const planned = slicedIds(meta);
  const byId = new Map(records.map((r) => [r.id, r]));
  const ordered = planned.map((id) => byId.get(id)).filter((r): r is TrialRecord => r !== undefined);
  const evaluated = evaluateGates(ordered, meta, meta.shard !== null);
  const missing = planned.filter((id) => !byId.has(id));
  const sweepGates = evaluated.gates.filter((g) => g.gate.scope !== 'each' && g.outcome !== 'deferred');
  const trialsPassed = evaluated.records.filter((r) => r.status === 'ok').length;
  const passed = trialsPassed + sweepGates.filter((g) => g.outcome === 'pass').length;
  const failed = evaluated.records.length - trialsPassed + (interrupted ? 0 : missing.length) + sweepGates.filter((g) => g.outcome === 'fail').length;
  const ok = !interrupted && missing.length === 0 && failed === 0 && evaluated.gates.every((g) => g.outcome !== 'fail');
  return { dir, meta, records: evaluated.records, gates: evaluated.gates, planned: planned.length, passed, failed, missing, interrupted, ok };
}

// ---------------------------------------------------------------------------------------------
// Files

function write(dir: string, file: string, text: string): void {
  try {
    writeFileAtomic(join(dir, file), text);
  } catch (e) {
    throw new InputError(`cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)}); choose another --out`, dir);
  }
}

export function ensureFolder(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new InputError('a file stands in the way of the output folder; choose another --out', dir);
    throw new InputError(`cannot make the output folder (${code ?? String(e)}); choose another --out`, dir);
  }
}

/**
 * The sweep an output folder holds (its sweep.json), or null for a new or empty one. Refuses
 * a file, a training run's folder and results without a sweep.json: sweep files would mix into them.
 */
export function outFolderMeta(dir: string): SweepMeta | null {
  if (!existsSync(dir)) return null;
  if (!statSync(dir).isDirectory()) throw new InputError('a file stands there, not a folder; choose another --out', dir);
  if (existsSync(join(dir, 'sweep.json'))) return readMeta(dir);
  if (existsSync(join(dir, 'config.resolved.yaml')) || existsSync(join(dir, 'checkpoint.json'))) {
    throw new InputError('holds a training run (config.resolved.yaml), not a sweep; choose another --out', dir);
  }
  if (existsSync(join(dir, 'results.jsonl')) || existsSync(join(dir, 'trials'))) {
    throw new InputError('holds results.jsonl or trials/ but no sweep.json, so not a folder rmad sweep wrote; choose another --out', dir);
  }
  return null;
}

export function writeMeta(dir: string, meta: SweepMeta): void {
  write(dir, 'sweep.json', `${JSON.stringify(meta, null, 2)}\n`);
}

/** results.jsonl, results.csv and summary.md of an outcome. */
export function writeResults(outcome: SweepOutcome): void {
  const { dir, records } = outcome;
  write(dir, 'results.jsonl', records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  write(dir, 'results.csv', resultsCsv(outcome));
  write(dir, 'summary.md', summaryMarkdown(outcome));
}

export function newMeta(plan: { name: string; file: string; sweep: SweepSpec; trials: readonly { id: string; index: number }[] }, shard: Shard | null): SweepMeta {
  const s = plan.sweep;
  return {
    rmad: version, name: plan.name, file: plan.file, method: s.method,
    parameters: s.method === 'list' ? [...new Set((s.trials ?? []).flatMap((t) => Object.keys(t)))] : Object.keys(s.parameters),
    seeds: s.seeds ?? null, objective: s.objective, expect: s.expect,
    trials: plan.trials.map((t) => ({ id: t.id, trial: t.index })), shard,
  };
}

/**
 * Refuses the sweep `meta` of folder `dir` unless it plans the same trials (ids) as
 * `than.meta`, which `than.dir` names; `fix` says what to do instead.
 */
export function checkSameSweep(dir: string, meta: SweepMeta, than: { dir: string; meta: SweepMeta }, fix: string): void {
  const planKey = (m: SweepMeta) => m.trials.map((t) => t.id).join(',');
  if (planKey(meta) !== planKey(than.meta)) throw new InputError(`holds a different sweep than ${than.dir} (its trial ids differ); ${fix}`, dir);
}

/** Reads a folder's sweep.json. */
export function readMeta(dir: string): SweepMeta {
  const file = join(dir, 'sweep.json');
  if (!existsSync(file)) throw new InputError('not a sweep output folder (no sweep.json); give a folder rmad sweep wrote', dir);
  try {
    const meta = JSON.parse(readFileSync(file, 'utf8')) as SweepMeta;
    if (!Array.isArray(meta.trials) || !Array.isArray(meta.expect) || typeof meta.objective?.metric !== 'string') throw new Error('shape');
    return meta;
  } catch {
    throw new InputError('sweep.json is not what rmad sweep writes; run the sweep again', file);
  }
}

/** The records of a results.jsonl file, or of the one in a folder; each line is checked, and no trial may have two. */
export function readResults(path: string): TrialRecord[] {
  const file = existsSync(path) && !path.endsWith('.jsonl') && existsSync(join(path, 'results.jsonl')) ? join(path, 'results.jsonl') : path;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file; give a results.jsonl or the folder rmad sweep wrote' : code === 'EISDIR' ? 'is a folder without results.jsonl; give the folder rmad sweep wrote' : `cannot be read (${code ?? String(e)})`;
    throw new InputError(why, path);
  }
  const records: TrialRecord[] = [];
  const lineOf = new Map<string, number>();
  // An editor's byte-order mark is not part of the first line.
  text.replace(/^\uFEFF/, '').split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      throw new InputError('not a JSON line; results.jsonl holds one JSON object per line', `${file}:${i + 1}`);
    }
    const problem = recordProblem(r);
    if (problem) throw new InputError(`not a trial record: ${problem}`, `${file}:${i + 1}`);
    const record = r as TrialRecord;
    const first = lineOf.get(record.id);
    if (first !== undefined) throw new InputError(`trial '${record.id}' has a line already (line ${first}); keep one line per trial`, `${file}:${i + 1}`);
    lineOf.set(record.id, i + 1);
    records.push(record);
  });
  return records;
}

/** `a string`, `null`, `an array`: what a JSON value is, for messages. */
function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}


/** What is wrong with a results line, or null: every field rmad sweep writes, with its type. */
function recordProblem(r: unknown): string | null {
  if (!isObject(r)) return 'expected an object';
  const expect = (key: string, what: string, ok: (v: unknown) => boolean): string | null => {
    if (!(key in r)) return `missing '${key}'`;
    return ok(r[key]) ? null : `'${key}' should be ${what}, got ${typeName(r[key])}`;
  };
  const problem =
    expect('id', 'a string', (v) => typeof v === 'string' && v !== '') ??
    expect('parameters', 'an object', isObject) ??
    expect('seed', 'a number', (v) => typeof v === 'number') ??
    (r.status === 'ok' || r.status === 'failed' || r.status === 'gate-failed' ? null : "'status' is not ok, failed or gate-failed") ??
    expect('final', 'an object of metric -> number', isObject) ??
    expect('trial', 'a number', (v) => typeof v === 'number') ??
    expect('best', 'null or an object', (v) => v === null || isObject(v)) ??
    expect('run', 'a string', (v) => typeof v === 'string') ??
    expect('wallSeconds', 'a number', (v) => typeof v === 'number');
  if (problem) return problem;
  for (const [k, v] of Object.entries(r.parameters as object)) {
    if (!['number', 'string', 'boolean'].includes(typeof v)) return `'parameters.${k}' should be a number, string or boolean, got ${typeName(v)}`;
  }
  for (const [k, v] of Object.entries(r.final as object)) {
    if (typeof v !== 'number') return `'final.${k}' should be a number, got ${typeName(v)}`;
  }
  if ('error' in r && typeof r.error !== 'string') return `'error' should be a string, got ${typeName(r.error)}`;
  return null;
}

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The final metrics present in any record, objective first, then gates, then by split. */
function metricColumns(records: readonly TrialRecord[], meta: SweepMeta): string[] {
  const splitOrder = ['val', 'test', 'train'];
  const all = [...new Set(records.flatMap((r) => Object.keys(r.final)))].sort((a, b) => {
    const [sa, ma] = a.split('.'), [sb, mb] = b.split('.');
    return splitOrder.indexOf(sa!) - splitOrder.indexOf(sb!) || (ma! < mb! ? -1 : ma! > mb! ? 1 : 0);
  });
  const first = [meta.objective.metric, ...meta.expect.map((g) => g.metric)];
  return [...new Set([...first.filter((m) => all.includes(m)), ...all])];
}

function resultsCsv({ records, meta }: SweepOutcome): string {
  const params = meta.parameters;
  const metrics = metricColumns(records, meta);
  const header = ['id', 'trial', 'status', ...params, 'seed', ...metrics, 'best_metric', 'best_value', 'best_epoch', 'wall_seconds', 'run', 'error'];
  const rows = records.map((r) => [
    r.id, r.trial, r.status, ...params.map((p) => r.parameters[p]), r.seed, ...metrics.map((m) => r.final[m]),
    r.best?.metric, r.best?.value, r.best?.epoch, r.wallSeconds, r.run, r.error,
  ]);
  return `${[header, ...rows].map((row) => row.map(csvCell).join(',')).join('\n')}\n`;
}

export function fmtValue(v: number | null | undefined): string {
  if (v === undefined || v === null) return '-';
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4);
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The Markdown summary: a ranked table, the gates, and what failed. */
export function summaryMarkdown(o: SweepOutcome): string {
  const { meta } = o;
  const ranked = rankRecords(o.records, meta.objective);
  const metrics = metricColumns(o.records, meta).filter((m) => !m.startsWith('train.') || m === meta.objective.metric || meta.expect.some((g) => g.metric === m));
  const lines: string[] = [];
  const shard = meta.shard ? ` (shard ${meta.shard.index}/${meta.shard.count})` : '';
  lines.push(`### Sweep \`${meta.name}\`${shard}: ${o.passed} passed, ${o.failed} failed`, '');
  const over = meta.parameters.length ? ` over ${meta.parameters.map((p) => `\`${p}\``).join(', ')}` : '';
  const seeds = meta.seeds ? `; seeds ${meta.seeds.join(', ')}` : '';
  const better = meta.objective.mode === 'min' ? 'lower' : 'higher';
  lines.push(`\`${meta.file}\`: ${meta.method}${over}${seeds}; ${o.planned} trials. Ranked by the final \`${meta.objective.metric}\` (${better} is better).${o.interrupted ? ' **Interrupted**: continue with `--resume`.' : ''}`, '');
  const header = ['#', 'trial', ...meta.parameters, 'seed', 'status', ...metrics, 'time'];
  const align = ['--:', '---', ...meta.parameters.map(() => '---'), '--:', '---', ...metrics.map(() => '--:'), '--:'];
  lines.push(`| ${header.map(mdCell).join(' | ')} |`, `|${align.join('|')}|`);
  ranked.forEach((r, i) => {
    const status = r.status === 'ok' ? 'ok' : `**${r.status}**`;
    const cells = [
      String(i + 1), `\`${r.id}\``, ...meta.parameters.map((p) => (r.parameters[p] === undefined ? '' : String(r.parameters[p]))), String(r.seed), status,
      ...metrics.map((m) => fmtValue(r.final[m])), `${r.wallSeconds.toFixed(1)} s`,
    ];
    lines.push(`| ${cells.map(mdCell).join(' | ')} |`);
  });
  if (o.gates.length > 0) {
    lines.push('', '**Gates**', '', '| gate | scope | value | outcome | |', '|---|---|--:|---|---|');
    for (const g of o.gates) {
      const outcome = g.outcome === 'pass' ? 'pass' : g.outcome === 'fail' ? '**FAIL**' : 'deferred';
      lines.push(`| \`${mdCell(gateText(g.gate))}\` | ${g.gate.scope} | ${fmtValue(g.value)} | ${outcome} | ${mdCell(g.detail)} |`);
    }
  }
  const failed = o.records.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    lines.push('', '**Failed trials**', '');
    for (const r of failed) lines.push(`- \`${r.id}\` (${mdCell(describeOverrides({ ...r.parameters, seed: r.seed }))}): ${mdCell(r.error ?? 'unknown error')}`);
  }
  if (o.missing.length > 0) {
    const what = o.interrupted ? 'Not finished' : 'Not run (no shard has a result for them)';
    lines.push('', `**${what}**: ${o.missing.length} trials: ${o.missing.slice(0, 20).map((id) => `\`${id}\``).join(', ')}${o.missing.length > 20 ? ', ...' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Merge

/**
 * Refuses an output folder whose results a merge would replace: one of the folders merged, a
 * folder whose trials trained there, or another sweep's. An earlier merge of this sweep is replaced.
 */
function checkMergeOut(outDir: string, dirs: readonly string[], first: { dir: string; meta: SweepMeta }): void {
  const out = existsSync(outDir) ? realpathSync(outDir) : null;
  const input = dirs.find((dir) => realpathSync(dir) === out);
  if (input !== undefined) throw new InputError(`is ${input === outDir ? 'one' : `${input}, one`} of the folders merged; merge into a folder of its own (choose another --out)`, outDir);
  const earlier = outFolderMeta(outDir);
  if (!earlier) return;
  if (existsSync(join(outDir, 'trials'))) throw new InputError('holds the trials of a sweep that ran there; merge into a folder of its own (choose another --out)', outDir);
  checkSameSweep(outDir, earlier, first, 'choose another --out');
}

/**
 * Joins the results of shards (or of any runs of one sweep) into `outDir`: records
 * deduplicated by id (a finished record wins over a failed one, then the first folder given),
 * run paths rewritten relative to `outDir`, and the gates evaluated on the whole sweep. Every
 * folder must come from the same plan (the same trial ids). `dryRun`: check and join, write nothing.
 */
export function mergeSweeps(dirs: readonly string[], outDir: string, options: { dryRun?: boolean } = {}): SweepOutcome {
  if (dirs.length === 0) throw new InputError('name the shard folders to merge: rmad sweep --merge DIR... --out DIR', '--merge');
  const metas = dirs.map((dir) => ({ dir, meta: readMeta(dir) }));
  const first = metas[0]!;
  for (const { dir, meta } of metas.slice(1)) checkSameSweep(dir, meta, first, 'merge shards of one sweep, run with the same file and --set');
  const merged = new Map<string, TrialRecord>();
  for (const { dir } of metas) {
    for (const r of readResults(join(dir, 'results.jsonl'))) {
      const moved = { ...r, run: relative(resolve(outDir), resolve(dir, r.run)) || '.' };
      const had = merged.get(r.id);
      if (!had || (had.status === 'failed' && r.status !== 'failed')) merged.set(r.id, moved);
    }
  }
  const meta: SweepMeta = { ...first.meta, rmad: version, shard: null };
  checkMergeOut(outDir, dirs, first);
  const outcome = outcomeOf(outDir, meta, [...merged.values()], false);
  if (options.dryRun) return outcome;
  ensureFolder(outDir);
  writeMeta(outDir, meta);
  writeResults(outcome);
  return outcome;
}
