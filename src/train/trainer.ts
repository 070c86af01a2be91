/**
 * The training loop: a model file's spec in, a run folder out. Library code: it reports what it
 * does through events (start, batch, epoch, checkpoint, end) and never prints; the command line
 * renders the events as a progress bar, lines or JSON.
 *
 * Every random stream derives from the model's seed by name (init per parameter, data, split,
 * and the shuffle of each epoch), so a run is reproduced exactly by the same file and seed, and
 * a resumed run continues exactly as an uninterrupted one: the checkpoint needs no RNG state.
 */
import { InputError } from '../errors.js';
import type { Gradients } from '../engine/autograd.js';
import { Profiler } from '../engine/profile.js';
import { Rng } from '../engine/random.js';
import type { DType } from '../engine/tensor.js';
import { newContext, type Context, type Value, type Variable } from '../engine/variable.js';
import { compileValueAndGrad } from '../engine/rewrite/compile.js';
import { buildModel, type NamedParameter, type Sequential } from '../layers/layers.js';
import { countCorrect, lossFor } from '../layers/losses.js';
import { Optimizer, scheduledLr } from '../layers/optimizers.js';
import { loadData, type LoadedData, type Split, type SplitName } from '../loaders/dataset.js';
import { checkAgainstData } from '../loaders/modelfile.js';
import { improvingMode } from '../loaders/schema.js';
import type { ModelSpec } from '../loaders/spec.js';
import { readWeights, loadWeights } from './weights.js';
import { readCheckpointRecord, RunFolder, type Checkpoint, type MetricRow, type Summary } from './run-folder.js';

export interface ParamRow {
  name: string;
  shape: number[];
  count: number;
  trainable: boolean;
}

export type TrainEvent =
  | { type: 'start'; runDir: string; name: string; params: ParamRow[]; trainable: number; frozen: number; rows: Record<string, number>; epochs: number; startEpoch: number; batchesPerEpoch: number; loaded: string[] }
  | { type: 'batch'; epoch: number; batch: number; batches: number; loss: number }
  | { type: 'epoch'; epoch: number; epochs: number; metrics: MetricRow }
  | { type: 'checkpoint'; epoch: number; path: string }
  | { type: 'early_stop'; epoch: number; metric: string; best: number; bestEpoch: number }
  | { type: 'interrupted'; epoch: number; path: string }
  | { type: 'end'; summary: Summary };

export interface TrainOptions {
  spec: ModelSpec;
  /** The model file's folder: data paths and init.from are relative to it. */
  baseDir: string;
  /** The model file, as errors that need the data (input size, classes) name it. */
  file?: string;
  /** The run folder; default `<runsRoot>/<name>/<timestamp>`. */
  runDir?: string;
  runsRoot?: string;
  /** Continue the run in `runDir` from its last checkpoint. */
  resume?: boolean;
  dtype?: DType;
  device?: 'cpu' | 'gpu';
  profile?: boolean;
  /** Train with the compiled step: loss and gradients traced per batch shape, rewritten and fused (src/engine/rewrite). */
  compile?: boolean;
  onEvent?: (e: TrainEvent) => void;
  /** Polled after every batch: true saves a checkpoint and stops (Ctrl-C). */
  shouldStop?: () => boolean;
}

export interface TrainResult {
  runDir: string;
  summary: Summary;
  interrupted: boolean;
  profiler: Profiler | null;
  model: Sequential;
}

/** Training produced NaN or Inf: a run-time failure of the settings, not bad input. */
export class DivergedError extends Error {
  override name = 'DivergedError';
}

/** Everything a run needs, built from a spec: data, context, model, frozen set. */
export interface Setup {
  rng: Rng;
  data: LoadedData;
  ctx: Context;
  model: Sequential;
  params: NamedParameter[];
  trainable: NamedParameter[];
  loaded: string[];
}

/** Loads the data, builds the model, loads init weights and freezes what the spec says. */
export function setup(spec: ModelSpec, baseDir: string, dtype: DType = 'float32', device: 'cpu' | 'gpu' = 'cpu', file = 'model file'): Setup {
  const rng = new Rng(spec.seed);
  const data = loadData(spec.data, baseDir, rng);
  checkAgainstData(spec, data, file);
  const ctx = newContext(dtype, { device });
  const model = buildModel(spec.model, ctx, rng);
  const params = model.parameters();
  let loaded: string[] = [];
  if (spec.init) {
    const path = spec.init.from.startsWith('/') ? spec.init.from : `${baseDir}/${spec.init.from}`;
    const report = loadWeights(model, readWeights(path), { layers: spec.init.load, strict: spec.init.strict, where: 'init.from' });
    loaded = report.loaded;
  }
  for (const entry of spec.freeze) {
    const hits = params.filter((p) => p.layer === entry || p.name === entry);
    if (hits.length === 0) throw new InputError(`'${entry}' names no layer or parameter of the model`, 'freeze');
    for (const p of hits) p.variable.freeze();
  }
  const trainable = params.filter((p) => p.variable.requiresGrad);
  if (trainable.length === 0) throw new InputError('every parameter is frozen, so there is nothing to train; remove an entry from freeze', 'freeze');
  return { rng, data, ctx, model, params, trainable, loaded };
}

/** Rows `order[start..start+n)` of a split, gathered into contiguous arrays. */
function gatherRows(split: Split, order: Int32Array | null, start: number, n: number): { x: Float64Array; y: Float64Array } {
  const xw = split.x.length / split.rows, yw = split.y.length / split.rows;
  // Rows in order are already contiguous (the tensors made from them copy).
  if (!order) return { x: split.x.subarray(start * xw, (start + n) * xw), y: split.y.subarray(start * yw, (start + n) * yw) };
  const x = new Float64Array(n * xw), y = new Float64Array(n * yw);
  for (let i = 0; i < n; i++) {
    const r = order[start + i]!;
    x.set(split.x.subarray(r * xw, (r + 1) * xw), i * xw);
    y.set(split.y.subarray(r * yw, (r + 1) * yw), i * yw);
  }
  return { x, y };
}

/** Loss and accuracy of the model on a whole split, in chunks, recording no graph. */
export function evaluateSplit(s: Setup, spec: ModelSpec, split: Split): Record<string, number> {
  const lossFn = lossFor(spec.loss);
  const chunk = 1024;
  let lossSum = 0, right = 0, classifies = true;
  s.ctx.noGrad(() => {
    for (let start = 0; start < split.rows; start += chunk) {
      const n = Math.min(chunk, split.rows - start);
      const { x, y } = gatherRows(split, null, start, n);
      const out = s.model.forward(s.ctx.constant(x, [n, x.length / n]));
      const yv = s.ctx.constant(y, [n, ...out.shape.slice(1)]);
      lossSum += lossFn(out, yv).item() * n;
      const c = countCorrect(spec.loss.type, out.data(), y, n);
      if (c === null) classifies = false;
      else right += c;
    }
  });
  const result: Record<string, number> = { loss: lossSum / split.rows };
  if (classifies) result.accuracy = right / split.rows;
  return result;
}

const SPLITS: SplitName[] = ['train', 'val', 'test'];

/** At most this many milliseconds of training between turns of the event loop. */
const TURN_MS = 50;

export async function train(options: TrainOptions): Promise<TrainResult> {
  const { spec } = options;
  const emit = options.onEvent ?? (() => {});
  const started = performance.now();
  // A resumed run keeps its dtype and goes on past the epochs it has trained.
  const saved = options.resume ? readCheckpointRecord(options.runDir!) : null;
  if (saved && options.dtype && options.dtype !== saved.dtype) {
    throw new InputError(`this run trains in ${saved.dtype}; resume it without --dtype, or with --dtype ${saved.dtype}`, '--dtype');
  }
  if (saved && saved.epoch >= spec.train.epochs) {
    throw new InputError(`the run has trained ${saved.epoch} epochs, all that train.epochs = ${spec.train.epochs} asks; train it longer with --set train.epochs=N, N > ${saved.epoch}`, 'train.epochs');
  }
  const dtype = saved?.dtype ?? options.dtype ?? 'float32';
  const s = setup(spec, options.baseDir, dtype, options.device, options.file);
  const profiler = options.profile ? new Profiler() : null;
  s.ctx.profiler = profiler;
  const folder = RunFolder.open(spec, { runDir: options.runDir, runsRoot: options.runsRoot, resume: options.resume ?? false });

  const optimizer = new Optimizer({ ...spec.optimizer }, s.trainable.map((p) => p.variable));
  const lossFn = lossFor(spec.loss);
  // --compile: one graph computes the loss and the gradients (src/engine/rewrite/compile.ts).
  const compiledStep = options.compile ? compileValueAndGrad((xb, yb) => lossFn(s.model.forward(xb), yb), s.trainable.map((p) => p.variable)) : null;
  const train = s.data.splits.train;
  const present = SPLITS.filter((n) => s.data.splits[n]);
  const metricKeys = present.flatMap((split) => spec.metrics.map((m) => `${split}.${m}`));
  const stopSpec = spec.train.early_stop;
  if (stopSpec && !metricKeys.includes(stopSpec.metric)) {
    throw new InputError(`'${stopSpec.metric}' is not computed; the run computes ${metricKeys.join(', ')}`, 'train.early_stop.metric');
  }
  if (spec.metrics.includes('accuracy') && spec.loss.type === 'mse') {
    throw new InputError('accuracy needs a classification loss (hinge or a cross entropy); remove it from metrics for mse', 'metrics');
  }

  let history: MetricRow[] = [];
  let startEpoch = 0;
  let startBatch = 0;
  let early = { best: NaN, bestEpoch: 0, wait: 0 };
  if (saved) {
    folder.readCheckpoint(saved, s.params, optimizer);
    history = saved.history;
    startEpoch = saved.epoch;
    startBatch = saved.batch;
    // JSON wrote a best of NaN (nothing evaluated yet) as null.
    early = { ...saved.early, best: saved.early.best ?? NaN };
    // The folder describes the run as it goes on (--set train.epochs on a resume).
    folder.writeConfig(spec, dtype);
  } else {
    folder.writeStart(spec, s.data, dtype, options.baseDir);
  }

  const batchSize = Math.min(spec.train.batch_size, train.rows);
  const batches = Math.ceil(train.rows / batchSize);
  const frozen = s.params.filter((p) => !p.variable.requiresGrad);
  emit({
    type: 'start', runDir: folder.dir, name: spec.name, epochs: spec.train.epochs, startEpoch, batchesPerEpoch: batches, loaded: s.loaded,
    params: s.params.map((p) => ({ name: p.name, shape: [...p.variable.shape], count: p.variable.size, trainable: p.variable.requiresGrad })),
    trainable: s.trainable.reduce((a, p) => a + p.variable.size, 0),
    frozen: frozen.reduce((a, p) => a + p.variable.size, 0),
    rows: Object.fromEntries(present.map((n) => [n, s.data.splits[n]!.rows])),
  });

  const checkpoint = (epoch: number, batch = 0): Checkpoint => ({ epoch, batch, history, early, optimizerSteps: optimizer.steps, dtype });
  let lastBatch = 0;
  let lastTurn = performance.now();
  let interrupted = false;
  let stoppedEarly = false;
  let epoch = startEpoch;
  for (; epoch < spec.train.epochs; epoch++) {
    optimizer.lr = scheduledLr(spec.optimizer.lr, spec.optimizer.schedule, epoch);
    const order = spec.train.shuffle ? s.rng.fork(`shuffle/${epoch}`).permutation(train.rows) : null;
    for (let b = epoch === startEpoch ? startBatch : 0; b < batches; b++) {
      const start = b * batchSize, n = Math.min(batchSize, train.rows - start);
      const { x, y } = gatherRows(train, order, start, n);
      const xb = s.ctx.constant(x, [n, x.length / n]);
      let value: number;
      let grads: () => Variable[];
      if (compiledStep) {
        const r = compiledStep(xb, s.ctx.constant(y, [n, ...s.model.outputShape]));
        value = r.value.item();
        grads = () => r.grads;
      } else {
        const out = s.model.forward(xb);
        const loss = lossFn(out, s.ctx.constant(y, [n, ...out.shape.slice(1)]));
        value = loss.item();
        grads = () => {
          const g: Gradients<Value> = loss.grad();
          return s.trainable.map((p) => g.variable(p.variable));
        };
      }
      if (!Number.isFinite(value)) {
        throw new DivergedError(`the training loss became ${value} at epoch ${epoch + 1}, batch ${b + 1}; lower optimizer.lr or set optimizer.clip_norm`);
      }
      optimizer.step(grads());
      emit({ type: 'batch', epoch: epoch + 1, batch: b + 1, batches, loss: value });
      // The loop computes synchronously: give the event loop a turn now and then, or a Ctrl-C's
      // handler (which sets shouldStop) and a progress bar's timer would wait for the end.
      if (performance.now() - lastTurn > TURN_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastTurn = performance.now();
      }
      if (options.shouldStop?.()) {
        lastBatch = b + 1;
        interrupted = b + 1 < batches || epoch + 1 < spec.train.epochs;
        break;
      }
    }
    if (interrupted) {
      // The shuffle of an epoch derives from the seed, so the checkpoint can resume mid-epoch
      // at the next batch exactly as if never interrupted.
      folder.writeCheckpoint(s.params, optimizer, checkpoint(epoch, lastBatch));
      emit({ type: 'interrupted', epoch: epoch + 1, path: folder.dir });
      break;
    }
    const last = epoch === spec.train.epochs - 1;
    if ((epoch + 1) % spec.train.eval_every === 0 || last) {
      const row: MetricRow = { epoch: epoch + 1, lr: optimizer.lr };
      for (const split of present) {
        const m = evaluateSplit(s, spec, s.data.splits[split]!);
        for (const metric of spec.metrics) row[`${split}.${metric}`] = m[metric]!;
      }
      history.push(row);
      emit({ type: 'epoch', epoch: epoch + 1, epochs: spec.train.epochs, metrics: row });
      if (stopSpec) {
        const v = row[stopSpec.metric]!;
        const better = Number.isNaN(early.best) || (stopSpec.mode === 'min' ? v < early.best - stopSpec.min_delta : v > early.best + stopSpec.min_delta);
        if (better) early = { best: v, bestEpoch: epoch + 1, wait: 0 };
        else if (++early.wait >= stopSpec.patience) {
          emit({ type: 'early_stop', epoch: epoch + 1, metric: stopSpec.metric, best: early.best, bestEpoch: early.bestEpoch });
          stoppedEarly = true;
        }
      }
      folder.writeMetrics(spec.name, history, false);
    }
    const every = spec.train.checkpoint.every;
    if (every > 0 && (epoch + 1) % every === 0 && !last && !stoppedEarly) {
      folder.writeCheckpoint(s.params, optimizer, checkpoint(epoch + 1));
      emit({ type: 'checkpoint', epoch: epoch + 1, path: folder.dir });
    }
    if (stoppedEarly) {
      epoch++;
      break;
    }
  }

  const completed = interrupted ? epoch : Math.min(epoch, spec.train.epochs);
  if (!interrupted) folder.writeCheckpoint(s.params, optimizer, checkpoint(completed));
  folder.writeMetrics(spec.name, history, true);
  const objective = stopSpec?.metric ?? (metricKeys.includes('val.loss') ? 'val.loss' : 'train.loss');
  const summary = folder.writeSummary({
    spec, history, completed, stoppedEarly, interrupted, objective, mode: stopSpec?.mode ?? improvingMode(objective),
    trainable: s.trainable.reduce((a, p) => a + p.variable.size, 0),
    frozen: frozen.reduce((a, p) => a + p.variable.size, 0),
    wallSeconds: (performance.now() - started) / 1000,
    dtype,
  });
  folder.writeWeights(s.model, spec.name, completed);
  if (!options.runDir) folder.linkLatest();
  emit({ type: 'end', summary });
  return { runDir: folder.dir, summary, interrupted, profiler, model: s.model };
}

