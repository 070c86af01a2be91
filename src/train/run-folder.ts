/**
 * A run folder, `runs/<name>/<run-id>/`:
 *   config.resolved.yaml   the model file with every default filled in, the seed and rmad's version
 *   data.json              the normaliser, class names and feature names (for eval and predict)
 *   metrics.jsonl/.csv     one row per evaluated epoch
 *   curves.svg             loss and accuracy per epoch
 *   summary.json           final and best metrics, parameter counts, wall time
 *   weights.safetensors    the trained weights
 *   checkpoint.json + checkpoint.safetensors   what --resume needs (epoch, batch, optimizer state)
 * Every file is written atomically (temporary file, then rename).
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { DType } from '../engine/tensor.js';
import type { Variable } from '../engine/variable.js';
import type { NamedParameter, Sequential } from '../layers/layers.js';
import type { Optimizer } from '../layers/optimizers.js';
import { writeFileAtomic } from '../loaders/atomic.js';
import type { LoadedData, Normalizer } from '../loaders/dataset.js';
import { isCount, isObject } from '../loaders/json.js';
import { renderModel } from '../loaders/modelfile.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../loaders/safetensors.js';
import type { ModelSpec } from '../loaders/spec.js';
import { version } from '../version.js';
import { curvesSvg } from './plot.js';
import { encodeWeights } from './weights.js';

export type MetricRow = Record<string, number>;

export interface Checkpoint {
  /** Whole epochs done. */
  epoch: number;
  /** Batches done of the next epoch (non-zero only after an interruption). */
  batch: number;
  history: MetricRow[];
  early: { best: number; bestEpoch: number; wait: number };
  optimizerSteps: number;
  dtype: DType;
}

export interface DataInfo {
  /** The model file's folder (absolute): data paths in the config are relative to it. */
  baseDir: string;
  normalizer: Normalizer;
  classes: string[] | null;
  featureNames: string[];
  featureShape: number[];
  targetWidth: number;
}

export interface Summary {
  name: string;
  runDir: string;
  rmad: string;
  seed: number;
  dtype: DType;
  epochs: { planned: number; completed: number };
  stoppedEarly: boolean;
  interrupted: boolean;
  final: MetricRow;
  best: { metric: string; mode: 'min' | 'max'; value: number; epoch: number } | null;
  parameters: { trainable: number; frozen: number };
  wallSeconds: number;
}

function runId(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOTDIR' || code === 'EEXIST') return 'a file stands where a folder is needed';
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'ENOSPC') return 'no space left on the device';
  return code ?? String(e);
}

export class RunFolder {
  private lastMetricsWrite = 0;

  private constructor(readonly dir: string) {}

  static open(spec: ModelSpec, options: { runDir?: string; runsRoot?: string; resume: boolean }): RunFolder {
    if (options.resume) return new RunFolder(options.runDir!);
    let dir = options.runDir;
    if (!dir) {
      const base = join(options.runsRoot ?? 'runs', spec.name);
      const id = runId();
      dir = join(base, id);
      for (let k = 2; existsSync(dir); k++) dir = join(base, `${id}-${k}`);
    } else if (existsSync(join(dir, 'checkpoint.json'))) {
      throw new InputError('this folder already holds a run; continue it with --resume, or choose another --out', dir);
    }
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw new InputError(`cannot write the run folder (${describeFsError(e)}); choose another ${options.runDir ? '--out' : '--runs'}`, dir);
    }
    return new RunFolder(dir);
  }

  private path(file: string): string {
    return join(this.dir, file);
  }

  private write(file: string, contents: string | Uint8Array): void {
    try {
      writeFileAtomic(this.path(file), contents);
    } catch (e) {
      throw new InputError(`cannot write ${file} (${describeFsError(e)})`, this.dir);
    }
  }

  /** The resolved model file; rewritten when a resumed run changes settings (its epochs). */
  writeConfig(spec: ModelSpec, dtype: DType): void {
    this.write('config.resolved.yaml', `# rmad ${version}, seed ${spec.seed}, dtype ${dtype}\n${renderModel(spec)}`);
  }

  writeStart(spec: ModelSpec, data: LoadedData, dtype: DType, baseDir: string): void {
    this.writeConfig(spec, dtype);
    const info: DataInfo = {
      baseDir: resolve(baseDir), normalizer: data.normalizer, classes: data.classes, featureNames: data.featureNames,
      featureShape: data.featureShape, targetWidth: data.targetWidth,
    };
    this.write('data.json', `${JSON.stringify(info, null, 2)}\n`);
  }

  /** metrics.jsonl, metrics.csv and curves.svg; at most once a second unless `force`. */
  writeMetrics(title: string, history: readonly MetricRow[], force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastMetricsWrite < 1000) return;
    this.lastMetricsWrite = now;
    this.write('metrics.jsonl', history.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const keys = [...new Set(history.flatMap((r) => Object.keys(r)))];
    const csv = [keys.join(','), ...history.map((r) => keys.map((k) => (r[k] === undefined ? '' : String(r[k]))).join(','))];
    this.write('metrics.csv', `${csv.join('\n')}\n`);
    this.write('curves.svg', curvesSvg(title, history));
  }

  writeCheckpoint(params: readonly NamedParameter[], optimizer: Optimizer, cp: Checkpoint): void {
    const tensors: Record<string, NamedTensor> = {};
    const put = (name: string, v: Variable) => {
      const data = v.data();
      tensors[name] = { dtype: v.dtype, shape: [...v.shape], data: v.dtype === 'float32' ? Float32Array.from(data) : Float64Array.from(data) };
    };
    for (const p of params) put(`param/${p.name}`, p.variable);
    for (const [name, state] of optimizer.state) state.forEach((v, k) => put(`optimizer/${name}/${k}`, v));
    this.write('checkpoint.safetensors', encodeSafetensors(tensors, { format: 'rmad-checkpoint' }));
    this.write('checkpoint.json', `${JSON.stringify({ ...cp, rmad: version }, null, 2)}\n`);
  }

  /** Loads the checkpoint's parameters and optimizer state (its record read by readCheckpointRecord). */
  readCheckpoint(cp: Checkpoint, params: readonly NamedParameter[], optimizer: Optimizer): void {
    const file = this.path('checkpoint.safetensors');
    if (!existsSync(file)) throw new InputError('missing checkpoint.safetensors beside checkpoint.json', this.dir);
    const { tensors } = decodeSafetensors(new Uint8Array(readFileSync(file)), file);
    for (const p of params) {
      const t = tensors[`param/${p.name}`];
      if (!t || t.data.length !== p.variable.size) throw new InputError(`the checkpoint has no parameter '${p.name}' of shape [${p.variable.shape.join(',')}]; it was written by another model`, file);
      p.variable.assign(t.data);
    }
    const byName = new Map(params.map((p) => [p.name, p.variable]));
    const state = new Map<string, Variable[]>();
    for (const [key, t] of Object.entries(tensors)) {
      const m = /^optimizer\/(.+)\/(\d+)$/.exec(key);
      if (!m) continue;
      const owner = byName.get(m[1]!);
      if (!owner) continue;
      const list = state.get(m[1]!) ?? [];
      list[Number(m[2])] = owner.ctx.constant(t.data, t.shape);
      state.set(m[1]!, list);
    }
    optimizer.loadState(state);
    optimizer.steps = cp.optimizerSteps;
  }

  writeSummary(r: {
    spec: ModelSpec; history: readonly MetricRow[]; completed: number; stoppedEarly: boolean; interrupted: boolean;
    objective: string; mode: 'min' | 'max'; trainable: number; frozen: number; wallSeconds: number; dtype: DType;
  }): Summary {
    let best: Summary['best'] = null;
    for (const row of r.history) {
      const v = row[r.objective];
      if (v === undefined || !Number.isFinite(v)) continue;
      if (!best || (r.mode === 'min' ? v < best.value : v > best.value)) best = { metric: r.objective, mode: r.mode, value: v, epoch: row.epoch! };
    }
    const summary: Summary = {
      name: r.spec.name, runDir: this.dir, rmad: version, seed: r.spec.seed, dtype: r.dtype,
      epochs: { planned: r.spec.train.epochs, completed: r.completed },
      stoppedEarly: r.stoppedEarly, interrupted: r.interrupted,
      final: r.history[r.history.length - 1] ?? {}, best,
      parameters: { trainable: r.trainable, frozen: r.frozen },
      wallSeconds: Math.round(r.wallSeconds * 1000) / 1000,
    };
    this.write('summary.json', `${JSON.stringify(summary, null, 2)}\n`);
    return summary;
  }

  writeWeights(model: Sequential, name: string, epoch: number): void {
    this.write('weights.safetensors', encodeWeights(model, { name, epoch: String(epoch), rmad: version }));
  }

  /** `runs/<name>/latest` points at this run (replaced atomically). */
  linkLatest(): void {
    const parent = dirname(this.dir);
    const link = join(parent, 'latest');
    const temp = join(parent, `.latest.${process.pid}`);
    try {
      if (existsSync(temp)) unlinkSync(temp);
      symlinkSync(basename(this.dir), temp);
      renameSync(temp, link);
    } catch {
      // A file system without symbolic links keeps the run; only the shortcut is missing.
    }
  }
}

/** Reads a run folder's data.json. */
/** A run folder's config.resolved.yaml; a path that is no run folder is an input error saying what it is. */
export function runConfigFile(runDir: string): string {
  if (!existsSync(runDir)) throw new InputError('no such folder; give the folder of a run that rmad train wrote (runs/<name>/<time>)', runDir);
  if (!statSync(runDir).isDirectory()) throw new InputError('this is a file; give the folder of a run that rmad train wrote (runs/<name>/<time>)', runDir);
  const config = join(runDir, 'config.resolved.yaml');
  if (!existsSync(config)) throw new InputError('not a run folder (no config.resolved.yaml); give the folder rmad train wrote', runDir);
  return config;
}

/** The checkpoint record of a run folder, checked (the tensors beside it are read by RunFolder.readCheckpoint). */
export function readCheckpointRecord(runDir: string): Checkpoint {
  const file = join(runDir, 'checkpoint.json');
  if (!existsSync(file)) throw new InputError('no checkpoint.json here: --resume takes the folder of a run that was started by rmad train', runDir);
  return readRecord<Checkpoint>(file, CHECKPOINT_FIELDS, 'the checkpoint');
}

export function readDataInfo(runDir: string): DataInfo {
  const file = join(runDir, 'data.json');
  if (!existsSync(file)) throw new InputError('not a run folder (no data.json); give the folder rmad train wrote', runDir);
  return readRecord<DataInfo>(file, DATA_INFO_FIELDS, 'the data settings');
}

/** The type a field of a run folder's JSON file must have. */
type Kind = 'string' | 'integer' | 'number?' | 'string[]' | 'string[]?' | 'number[]' | 'object[]' | 'normalizer' | 'early' | 'dtype';

const CHECKPOINT_FIELDS: Record<string, Kind> = {
  epoch: 'integer', batch: 'integer', history: 'object[]', early: 'early', optimizerSteps: 'integer', dtype: 'dtype',
};
const DATA_INFO_FIELDS: Record<string, Kind> = {
  baseDir: 'string', normalizer: 'normalizer', classes: 'string[]?', featureNames: 'string[]', featureShape: 'number[]', targetWidth: 'integer',
};

const isArrayOf = (v: unknown, type: string): boolean => Array.isArray(v) && v.every((x) => (type === 'object' ? isObject(x) : typeof x === type));
const fits: Record<Kind, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  integer: isCount,
  'number?': (v) => v === null || typeof v === 'number',
  'string[]': (v) => isArrayOf(v, 'string'),
  'string[]?': (v) => v === null || isArrayOf(v, 'string'),
  'number[]': (v) => isArrayOf(v, 'number'),
  'object[]': (v) => isArrayOf(v, 'object'),
  normalizer: (v) => isObject(v) && typeof v.kind === 'string' && isArrayOf(v.offset, 'number') && isArrayOf(v.scale, 'number'),
  early: (v) => isObject(v) && fits['number?'](v.best) && fits.integer(v.bestEpoch) && fits.integer(v.wait),
  dtype: (v) => v === 'float32' || v === 'float64',
};

/**
 * A JSON file that rmad train wrote into a run folder, checked field by field: a file edited or
 * damaged by hand is an input error naming the field, not a crash deeper in.
 */
function readRecord<T>(file: string, fields: Record<string, Kind>, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new InputError(`${what} cannot be read: the file is not JSON; restore it, or train the run again`, file);
  }
  if (!isObject(value)) throw new InputError(`${what} cannot be read: the file holds no JSON object; restore it, or train the run again`, file);
  for (const [key, kind] of Object.entries(fields)) {
    if (!fits[kind](value[key])) {
      throw new InputError(`${what} cannot be read: '${key}' is ${JSON.stringify(value[key]) ?? 'missing'}, not ${kind.replace('?', ' or null')}; restore the file, or train the run again`, file);
    }
  }
  return value as T;
}
