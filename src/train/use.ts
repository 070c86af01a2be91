/**
 * Using a trained run: rebuild its model from the run folder (config, weights, data settings)
 * and evaluate it or predict with it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { Rng } from '../engine/random.js';
import type { DType } from '../engine/tensor.js';
import { newContext, type Context } from '../engine/variable.js';
import { buildModel, type Sequential } from '../layers/layers.js';
import { predictionOf } from '../layers/losses.js';
import { readCsv } from '../loaders/csv.js';
import { applyNormalizer, encodeLabel, type Split } from '../loaders/dataset.js';
import { parseModelText } from '../loaders/modelfile.js';
import type { ModelSpec } from '../loaders/spec.js';
import { readDataInfo, runConfigFile, type DataInfo } from './run-folder.js';
import { evaluateSplit, setup } from './trainer.js';
import { loadWeights, readWeights } from './weights.js';

/** What to do about a run folder without weights. */
const UNFINISHED = 'the run has not finished; finish it with rmad train --resume RUN_DIR';

export interface LoadedRun {
  spec: ModelSpec;
  info: DataInfo;
  dtype: DType;
  ctx: Context;
  model: Sequential;
}

function runSpec(runDir: string): { spec: ModelSpec; dtype: DType } {
  const config = runConfigFile(runDir);
  const text = readFileSync(config, 'utf8');
  const dtype: DType = /dtype float64/.test(text.split('\n', 1)[0]!) ? 'float64' : 'float32';
  return { spec: parseModelText(text, config), dtype };
}

/** The trained model of a run folder, ready to run. */
export function loadRun(runDir: string): LoadedRun {
  const { spec, dtype } = runSpec(runDir);
  const info = readDataInfo(runDir);
  const ctx = newContext(dtype);
  const model = buildModel(spec.model, ctx, new Rng(spec.seed));
  loadWeights(model, readWeights(runDir, UNFINISHED), { strict: true, where: join(runDir, 'weights.safetensors') });
  return { spec, info, dtype, ctx, model };
}

/** Metrics of a run on each split of its own data (re-split with its seed), or on a CSV. */
export function evaluateRun(runDir: string, dataFile?: string): Record<string, Record<string, number>> {
  const { spec, dtype } = runSpec(runDir);
  const info = readDataInfo(runDir);
  if (dataFile) {
    const run = loadRun(runDir);
    const split = csvSplit(run, dataFile, true);
    return { [dataFile]: evaluateSplit({ ctx: run.ctx, model: run.model } as never, spec, split) };
  }
  const s = setup({ ...spec, init: null, freeze: [] }, info.baseDir, dtype);
  loadWeights(s.model, readWeights(runDir, UNFINISHED), { strict: true, where: join(runDir, 'weights.safetensors') });
  const out: Record<string, Record<string, number>> = {};
  for (const [name, split] of Object.entries(s.data.splits)) if (split) out[name] = evaluateSplit(s, spec, split);
  return out;
}

/** A CSV as a split in the run's own encoding: its feature columns, normaliser and classes. */
function csvSplit(run: LoadedRun, file: string, withTarget: boolean): Split {
  const data = run.spec.data;
  const target = data.source === 'csv' ? data.target : undefined;
  if (withTarget && !target) throw new InputError('this run trained on generated data, which names no target column; evaluate it without --data', file);
  const table = readCsv(file, { features: run.info.featureNames, target: withTarget ? target : undefined, classes: run.info.classes ?? undefined }, withTarget ? '--data' : '--input');
  const x = applyNormalizer(table.x, run.info.normalizer);
  const width = run.info.targetWidth;
  const y = new Float64Array(table.rows * width);
  if (withTarget) for (let r = 0; r < table.rows; r++) encodeLabel(table.target[r]!, data.labels, width, y, r * width);
  return { x, y, rows: table.rows };
}

export interface Predictions {
  header: string[];
  rows: (string | number)[][];
}

/** Predictions for the rows of a CSV: the class and its probabilities, or the value. */
export function predictCsv(runDir: string, file: string): Predictions {
  const run = loadRun(runDir);
  const split = csvSplit(run, file, false);
  const featureWidth = split.x.length / Math.max(split.rows, 1);
  const out = run.ctx.noGrad(() => predictionOf(run.spec.loss.type, run.model.forward(run.ctx.constant(split.x, [split.rows, featureWidth]))));
  const values = out.data();
  const width = values.length / Math.max(split.rows, 1);
  const classes = run.info.classes;
  const loss = run.spec.loss.type;
  const rows: (string | number)[][] = [];
  if (classes && loss === 'softmax_cross_entropy') {
    for (let r = 0; r < split.rows; r++) {
      const p = Array.from(values.subarray(r * width, (r + 1) * width));
      rows.push([classes[p.indexOf(Math.max(...p))]!, ...p]);
    }
    return { header: ['prediction', ...classes.map((c) => `p(${c})`)], rows };
  }
  if (classes && (loss === 'binary_cross_entropy' || loss === 'hinge')) {
    for (let r = 0; r < split.rows; r++) {
      const v = values[r]!;
      const positive = loss === 'hinge' ? v > 0 : v > 0.5;
      rows.push([classes[positive ? 1 : 0]!, v]);
    }
    return { header: ['prediction', loss === 'hinge' ? 'score' : `p(${classes[1]})`], rows };
  }
  for (let r = 0; r < split.rows; r++) rows.push([values[r]!]);
  return { header: ['prediction'], rows };
}
