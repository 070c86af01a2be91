/**
 * A sweep's plan: the trials that a `sweep:` section describes, each one the model document
 * with the trial's overrides applied, validated and given an id, all before anything trains.
 *
 * - `grid`: the cartesian product of the parameter lists, in the order the file writes them
 *   (the first parameter varies slowest). A distribution in a grid is an error.
 * - `list`: the override sets of `trials`, in order.
 * - `random`: draws from the parameters, a list meaning a uniform choice among its values;
 *   `uniform [low, high]`, `loguniform [low, high]`, `choice [...]`. Each value comes from its
 *   own stream of the sweep's `seed`, named by draw and path, so adding a parameter does not
 *   change the values drawn for the others. Drawn numbers are rounded to 6 significant digits,
 *   so they read well in tables and hash the same on every machine.
 * - `seeds`: every trial above runs once per seed (the top-level `seed`), seeds varying fastest;
 *   a parameter or listed trial that sets `seed` as well is an error.
 *
 * `max_trials` bounds the number of trials, seed repeats included; it is checked before any
 * trial is built. A random sweep draws `floor(max_trials / seeds)` parameter sets.
 *
 * A trial's id is the first 12 hex digits of the sha256 of its resolved config (every default
 * filled in, its seed included, the sweep section left out), so the same trial has the same
 * id in every run, shard and machine, and `--resume` and `rmad compare` can find it again.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { Rng } from '../engine/random.js';
import { InputError, InputErrors } from '../errors.js';
import { loadModelFile, resolveModel } from '../loaders/modelfile.js';
import { applyOverrides } from '../loaders/overrides.js';
import type { Distribution, ModelSpec, SweepSpec } from '../loaders/spec.js';

export type SweepValue = number | string | boolean;

export interface Trial {
  /** 1-based position in the expanded sweep, as validation messages count ("trial 17 of 24"). */
  index: number;
  id: string;
  /** The sweep's overrides, dotted path -> value; the seeds axis is in `seed`, not here. */
  parameters: Record<string, SweepValue>;
  /** The trial's master seed (the resolved top-level `seed`). */
  seed: number;
  /** The resolved trial config, `sweep` set to null. */
  spec: ModelSpec;
}

export interface SweepPlan {
  /** The model's name; the default output folder is `sweeps/<name>/`. */
  name: string;
  /** The model file as given. */
  file: string;
  /** The model file's folder: data paths are relative to it. */
  baseDir: string;
  sweep: SweepSpec;
  /** Every trial of the sweep, in order, each id once. */
  trials: Trial[];
  /** Trials dropped because an earlier trial has the same resolved config, hence the same id. */
  duplicates: number;
}

export interface SweepSource {
  /** The model file. */
  file: string;
  /** `--set path=value` arguments, applied to the model before the sweep's own overrides. */
  set?: readonly string[];
  /** A YAML file holding just a sweep section; it replaces the model file's `sweep:`. */
  sweepFile?: string;
}

/** At most this many failing trials are reported one by one; the rest are counted. */
const REPORTED_TRIALS = 5;

/** Loads a model file and its sweep section, and plans the sweep. */
export function loadSweep(source: SweepSource): SweepPlan {
  const loaded = loadModelFile(source.file, source.set ?? []);
  let document = loaded.document;
  let spec = loaded.spec;
  if (source.sweepFile) {
    document = { ...document, sweep: readSweepFile(source.sweepFile) };
    spec = resolveModel(document, source.sweepFile);
  }
  if (!spec.sweep) {
    throw new InputError('has no sweep: section; add one (docs/sweeps.md shows how) or give one with --sweep FILE', source.file);
  }
  return planSweep(document, spec.sweep, { file: source.file, baseDir: loaded.baseDir, name: spec.name, where: source.sweepFile });
}

/** The sweep section in a file of its own: the mapping itself, or `{sweep: ...}`. */
function readSweepFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file; check the --sweep path'
      : code === 'EISDIR' ? 'is a folder; --sweep takes a YAML file holding a sweep section'
      : `cannot be read (${code ?? String(e)})`;
    throw new InputError(why, path);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { prettyErrors: false });
  } catch (e) {
    if (e instanceof YAMLParseError) {
      const pos = e.linePos?.[0];
      throw new InputError(`YAML syntax error: ${e.message.split('\n')[0]}`, pos ? `${path}:${pos.line}:${pos.col}` : path);
    }
    throw e;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InputError('expected a mapping with method, parameters, ... (the sweep section of a model file)', path);
  }
  const keys = Object.keys(parsed);
  return keys.length === 1 && keys[0] === 'sweep' ? (parsed as Record<string, unknown>).sweep : parsed;
}

/**
 * Expands `sweep` over `document` (the parsed model file with --set applied, no defaults
 * filled) and validates every trial. Throws InputErrors naming each failing trial and its
 * overrides, so a typo in the last trial fails before the first one trains.
 */
export function planSweep(
  document: Readonly<Record<string, unknown>>,
  sweep: SweepSpec,
  at: { file: string; baseDir: string; name: string; where?: string },
): SweepPlan {
  // Errors point at the file the sweep section came from.
  const source = at.where ?? at.file;
  checkSeedAxis(sweep, source);
  const sets = overrideSets(sweep, source);
  const seeds: (number | null)[] = sweep.seeds ?? [null];
  const total = sets.length * seeds.length;
  const base: Record<string, unknown> = { ...document };
  delete base.sweep;

  const trials: Trial[] = [];
  const failing: InputError[][] = [];
  let failingCount = 0;
  const seen = new Set<string>();
  let duplicates = 0;
  let index = 0;
  for (const parameters of sets) {
    for (const seed of seeds) {
      index++;
      const overrides: Record<string, SweepValue> = seed === null ? parameters : { ...parameters, seed };
      const where = `${source}: trial ${index} of ${total} (${describeOverrides(overrides)})`;
      let spec: ModelSpec;
      try {
        spec = resolveModel(applyOverrides(base, overrides), where);
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        failingCount++;
        if (failing.length < REPORTED_TRIALS) failing.push(reWhere(e, where));
        continue;
      }
      const id = trialId(spec);
      if (seen.has(id)) {
        duplicates++;
        continue;
      }
      seen.add(id);
      trials.push({ index, id, parameters, seed: spec.seed, spec });
    }
  }
  if (failingCount > 0) {
    const errors = failing.flat();
    if (failingCount > failing.length) {
      errors.push(new InputError(`${failingCount - failing.length} more of the ${total} trials fail too; fix the sweep and run again`, source));
    }
    throw new InputErrors(errors);
  }
  return { name: at.name, file: at.file, baseDir: at.baseDir, sweep, trials, duplicates };
}

/** `seeds:` sets each trial's seed, so a swept `seed` would be silently replaced: refused. */
function checkSeedAxis(sweep: SweepSpec, file: string): void {
  if (!sweep.seeds) return;
  const path = sweep.method === 'list'
    ? (sweep.trials ?? []).flatMap((t, i) => ('seed' in t ? [`sweep.trials[${i}]["seed"]`] : []))[0]
    : 'seed' in sweep.parameters ? 'sweep.parameters["seed"]' : undefined;
  if (path) throw new InputError(`${path}: varies the seed, and so does sweep.seeds; use one or the other`, file);
}

/** The errors of one trial, each located at the trial (applyOverrides blames the bare path). */
function reWhere(e: InputError, where: string): InputError[] {
  const list = e instanceof InputErrors ? e.errors : [e];
  return list.map((err) => (err.where === where ? err : new InputError(err.where ? `${err.where}: ${err.message}` : err.message, where)));
}

/** `optimizer.lr=0.01, seed=1`: a trial's overrides as --set would write them. */
export function describeOverrides(overrides: Readonly<Record<string, SweepValue>>): string {
  const entries = Object.entries(overrides);
  return entries.length === 0 ? 'no overrides' : entries.map(([k, v]) => `${k}=${String(v)}`).join(', ');
}

/** The override sets of the sweep's method, without the seeds axis; the size is checked first. */
function overrideSets(sweep: SweepSpec, file: string): Record<string, SweepValue>[] {
  const seedCount = sweep.seeds?.length ?? 1;
  const params = Object.entries(sweep.parameters);
  const tooMany = (count: number, what: string) => {
    throw new InputError(`sweep.max_trials: the sweep has ${count} trials (${what}), more than max_trials ${sweep.max_trials}; raise max_trials or narrow the sweep`, file);
  };
  const seedsNote = seedCount > 1 ? ` x ${seedCount} seeds` : '';
  switch (sweep.method) {
    case 'grid': {
      const lists = params.map(([path, values]) => {
        if (!Array.isArray(values)) {
          throw new InputError(`sweep.parameters["${path}"]: a grid takes a list of values; use method: random to draw from a distribution`, file);
        }
        return values;
      });
      const count = lists.reduce((n, values) => n * values.length, 1) * seedCount;
      if (count > sweep.max_trials) tooMany(count, [...lists.map((values) => String(values.length)), ...(seedCount > 1 ? [`${seedCount} seeds`] : [])].join(' x '));
      let sets: Record<string, SweepValue>[] = [{}];
      params.forEach(([path], i) => {
        sets = sets.flatMap((set) => lists[i]!.map((value) => ({ ...set, [path]: value })));
      });
      return sets;
    }
    case 'list': {
      const trials = sweep.trials ?? [];
      const count = trials.length * seedCount;
      if (count > sweep.max_trials) tooMany(count, `${trials.length} listed${seedsNote}`);
      return trials.map((t) => ({ ...t }));
    }
    case 'random': {
      const draws = Math.floor(sweep.max_trials / seedCount);
      if (draws < 1) tooMany(seedCount, `at least one draw x ${seedCount} seeds`);
      const rng = new Rng(sweep.seed);
      const sets: Record<string, SweepValue>[] = [];
      for (let i = 0; i < draws; i++) {
        const set: Record<string, SweepValue> = {};
        for (const [path, values] of params) set[path] = draw(values, rng.fork(`draw/${i}/${path}`));
        sets.push(set);
      }
      return sets;
    }
  }
}

function draw(values: SweepValue[] | Distribution, rng: Rng): SweepValue {
  if (Array.isArray(values)) return values[rng.int(values.length)]!;
  if ('choice' in values) return values.choice[rng.int(values.choice.length)]!;
  if ('uniform' in values) return significant(rng.range(values.uniform[0], values.uniform[1]));
  const [low, high] = values.loguniform;
  return significant(Math.exp(rng.range(Math.log(low), Math.log(high))));
}

function significant(x: number): number {
  return Number(x.toPrecision(6));
}

/** sha256 of the resolved config (sweep left out), 12 hex digits. */
export function trialId(spec: ModelSpec): string {
  const { sweep: _sweep, ...config } = spec;
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 12);
}

/** JSON with the keys of every mapping sorted, so equal configs hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

// ---------------------------------------------------------------------------------------------
// Shards

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** `--shard i/n`, 1 <= i <= n. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index >= 1) || index > count) {
    throw new InputError(`expected i/n with 1 <= i <= n (e.g. --shard 2/4), got '${text}'`, '--shard');
  }
  return { index, count };
}

/**
 * The trials of shard i/n: the k-th trial of the plan (k from 0) goes to shard `k mod n + 1`.
 * Round robin rather than blocks, so shards get a like mix of cheap and dear settings when a
 * grid varies a costly parameter slowly. Every trial is in exactly one shard.
 */
export function shardTrials<T>(trials: readonly T[], shard: Shard | null): T[] {
  return shard ? trials.filter((_, k) => k % shard.count === shard.index - 1) : [...trials];
}
