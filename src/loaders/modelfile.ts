/**
 * Model files: YAML text to a resolved, checked ModelSpec, and back.
 *
 * Every error points at `file:line:col` of the offending key or value and names its path, with
 * list items named by their `name` when they have one:
 *
 *     mlp.yaml:14:9: model.layers[hidden2].activaton: unknown key; did you mean 'activation'?
 *
 * A file is checked in three passes, each reporting all it finds: YAML syntax; the schema
 * (schema.ts: keys, types, ranges, allowed values, defaults); then the checks that relate
 * several fields (checkModel below), which only run on a file that passed the schema. The
 * checks that need the data (class count, feature count, steps) run once it is loaded:
 * checkAgainstData.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Document, isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Node, type YAMLError } from 'yaml';
import { InputError, InputErrors } from '../errors.js';
import { resolveParams } from './generators.js';
import { applySetArguments, locatePath, type AppliedOverride } from './overrides.js';
import { didYouMean, metricNames, modelSchema, resolveSchema, toRenderable, type Issue, type Path, type PathSegment } from './schema.js';
import type { LayerSpec, ModelSpec, RecurrentSpec } from './spec.js';

export interface LoadedModelFile {
  spec: ModelSpec;
  /** The model file's folder: data paths and init.from are relative to it. */
  baseDir: string;
  /** The file's text as read. */
  source: string;
  /** The parsed file with the overrides applied and no defaults filled: what sweeps override. */
  document: Record<string, unknown>;
}

/**
 * Reads, validates and resolves a model file. `overrides` are `--set path=value` arguments.
 * Errors name the file as `path` is given (so they read like a compiler's).
 */
export function loadModelFile(path: string, overrides: readonly string[] = []): LoadedModelFile {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file; check the path' : code === 'EISDIR' ? 'is a folder; give a .yaml model file' : `cannot be read (${code ?? String(e)})`;
    throw new InputError(why, path);
  }
  const { spec, document } = parseModel(source, path, overrides);
  return { spec, baseDir: dirname(resolve(path)), source, document };
}

/** Validates and resolves model file text; `fileName` is used in error positions. */
export function parseModelText(text: string, fileName: string, overrides: readonly string[] = []): ModelSpec {
  return parseModel(text, fileName, overrides).spec;
}

/** parseModelText, also returning the parsed document (overrides applied, no defaults filled). */
export function parseModel(text: string, fileName: string, overrides: readonly string[] = []): { spec: ModelSpec; document: Record<string, unknown> } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${fileName}:${line}:${col}`;
  };
  // Only the first syntax error: the parser's later ones are mostly echoes of it.
  const syntax = doc.errors[0];
  if (syntax) throw new InputErrors([new InputError(yamlMessage(syntax, text), at(syntax.pos[0]))]);
  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    throw new InputErrors([new InputError('the file is empty; a model file is a mapping that starts with rmad: 1', at(0))]);
  }
  if (!isMap(contents)) {
    const got = isSeq(contents) ? 'a list' : 'a single value';
    throw new InputErrors([new InputError(`expected a mapping of keys (rmad, name, data, model, ...) at the top level, got ${got}`, at(contents.range?.[0] ?? 0))]);
  }
  const unresolved = unresolvedAliases(doc);
  if (unresolved.length > 0) {
    throw new InputErrors(unresolved.map(([name, offset]) => new InputError(`unknown alias '*${name}'; define the anchor &${name} before it is used`, at(offset))));
  }

  const parsed = doc.toJS() as Record<string, unknown>;
  const { document, applied } = applySetArguments(parsed, overrides);
  const locator = new Locator(doc, at, applied);
  const spec = resolveOrThrow(document, (issue) => locator.where(issue));
  return { spec, document };
}

/**
 * Validates and resolves a model given as plain data (a sweep trial's document); errors carry
 * `where` and the key path, as there are no positions.
 */
export function resolveModel(document: unknown, where = 'model'): ModelSpec {
  return resolveOrThrow(document, () => ({ where, order: 0 }));
}

function resolveOrThrow(document: unknown, locate: (issue: Issue) => { where: string; order: number }): ModelSpec {
  const { value, issues } = resolveSchema(modelSchema, document);
  const all = issues.length > 0 ? issues : checkModel(value as ModelSpec);
  if (all.length === 0) return value as ModelSpec;
  const located = all.map((issue, i) => ({ issue, i, ...locate(issue) }));
  located.sort((a, b) => a.order - b.order || a.i - b.i);
  throw new InputErrors(located.map(({ issue, where }) => new InputError(withPath(issue, document), where)));
}

function withPath(issue: Issue, document: unknown): string {
  const shown = formatPath(issue.path, document);
  return shown ? `${shown}: ${issue.message}` : issue.message;
}

/**
 * `model.layers[hidden2].activation`: list items by their `name` when it is there and unique
 * in the list (a duplicated name would not say which item), else by index.
 */
export function formatPath(path: Path, document: unknown): string {
  let out = '';
  let here: unknown = document;
  for (const seg of path) {
    if (typeof seg === 'number') {
      const list = Array.isArray(here) ? here : [];
      const name = nameOf(list[seg]);
      const unique = name !== undefined && list.filter((item) => nameOf(item) === name).length === 1;
      out += `[${unique ? name : seg}]`;
      here = list[seg];
    } else {
      out += /^[A-Za-z0-9_-]+$/.test(seg) ? `${out ? '.' : ''}${seg}` : `["${seg}"]`;
      here = typeof here === 'object' && here !== null ? (here as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

function nameOf(item: unknown): string | undefined {
  const name = typeof item === 'object' && item !== null ? (item as Record<string, unknown>).name : undefined;
  return typeof name === 'string' ? name : undefined;
}

/** The yaml library's message, made one line, with a hint where a common slip is behind it. */
function yamlMessage(error: YAMLError, text: string): string {
  const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  switch (error.code) {
    case 'DUPLICATE_KEY':
      return `duplicate key '${keyAt(text, error.pos[0])}'; a key may appear only once in a mapping`;
    case 'MULTIPLE_DOCS':
      return "the file holds more than one YAML document ('---'); a model file is one document";
    case 'TAB_AS_INDENT':
      return 'YAML syntax error: tabs are not allowed as indentation; indent with spaces';
    default:
      return `YAML syntax error: ${message}`;
  }
}

/** The key written at `offset`, quoted or plain. */
function keyAt(text: string, offset: number): string {
  const match = /^("[^"\n]*"|'[^'\n]*'|[^:\s,{}[\]]+)/.exec(text.slice(offset));
  return match ? match[1]!.replace(/^["']|["']$/g, '') : text.slice(offset, offset + 1);
}

function unresolvedAliases(doc: Document): [string, number][] {
  const out: [string, number][] = [];
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) === undefined) out.push([alias.source, alias.range?.[0] ?? 0]);
    },
  });
  return out;
}

/** Turns an issue's path into the position of its key or value in the file, or the --set that caused it. */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly at: (offset: number) => string,
    private readonly applied: readonly AppliedOverride[],
  ) {}

  where(issue: Issue): { where: string; order: number } {
    const found = this.find(issue.path);
    // The last override wins, as it was applied last.
    for (let i = this.applied.length - 1; i >= 0; i--) {
      const o = this.applied[i]!;
      const inside = isPrefix(o.path, issue.path);
      const madeHere = !found.complete && isPrefix(issue.path, o.path);
      if (inside || madeHere) return { where: o.where, order: Number.MAX_SAFE_INTEGER };
    }
    const node = issue.at === 'key' ? (found.key ?? found.value) : (found.value ?? found.key);
    const offset = node?.range?.[0] ?? 0;
    return { where: this.at(offset), order: offset };
  }

  /** The key and value nodes at `path`, or at its deepest part that is in the file. */
  private find(path: Path): { key?: Node; value?: Node; complete: boolean } {
    let value: Node | undefined = this.doc.contents ?? undefined;
    let key: Node | undefined;
    for (const seg of path) {
      const node = value && isAlias(value) ? (value.resolve(this.doc) ?? value) : value;
      if (isMap(node)) {
        const pair = node.items.find((p) => keyText(p.key) === String(seg));
        if (!pair) return { key, value, complete: false };
        key = (pair.key as Node | null) ?? undefined;
        const v = pair.value as Node | null;
        // `key:` with nothing after it has an empty value node; point at the key instead.
        value = v && !(isScalar(v) && v.value === null && v.range?.[0] === v.range?.[1]) ? v : undefined;
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        key = undefined;
        value = (node.items[seg] as Node | null) ?? undefined;
      } else {
        return { key, value, complete: false };
      }
    }
    return { key, value, complete: true };
  }
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function isPrefix(prefix: Path, path: Path): boolean {
  return prefix.length <= path.length && prefix.every((seg, i) => seg === path[i]);
}

// ---------------------------------------------------------------------------------------------
// Checks across fields

/**
 * A layer's parameter names, as freeze, init.load and the weights file use them. Dense: W
 * [in, units], b [units]. rnn: Wx [features, units], Wh [units, units], b [units]. gru and lstm
 * use the same three names with their gates stacked along the last axis (units x 3 for gru in
 * the order reset, update, candidate; units x 4 for lstm in the order input, forget, cell,
 * output, as PyTorch stacks them). `bias: false` drops b.
 */
export function parameterNames(layer: LayerSpec): string[] {
  const weights = layer.type === 'dense' ? ['W'] : ['Wx', 'Wh'];
  return layer.bias ? [...weights, 'b'] : weights;
}

const isRecurrent = (layer: LayerSpec): layer is RecurrentSpec => layer.type !== 'dense';

/** The checks that relate several fields of a schema-valid model (DESIGN.md, "Model files"). */
export function checkModel(spec: ModelSpec): Issue[] {
  const issues: Issue[] = [];
  const add = (path: PathSegment[], message: string, at: 'key' | 'value' = 'value') => issues.push({ path, at, message });
  const { data, model, loss } = spec;
  const layers = model.layers;
  const names = layers.map((l) => l.name);
  const lastIndex = layers.length - 1;
  const last = layers[lastIndex]!;

  // Splits: each fraction is in range by the schema; together they must cover the rows once.
  const { train, val = 0, test = 0 } = data.split;
  if (!(train > 0)) add(['data', 'split'], `val + test = ${round(val + test)} leaves no rows to train on; make them add up to less than 1`, 'key');
  else if (Math.abs(train + val + test - 1) > 1e-9) {
    add(['data', 'split'], `fractions add up to ${round(train + val + test)}, not 1; adjust train, val and test`, 'key');
  }

  if (data.source === 'generator') {
    for (const [key, value] of Object.entries(data.params)) {
      try {
        resolveParams(data.generator, { [key]: value });
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        add(['data', 'params', key], e.message);
      }
    }
  }
  if (data.source === 'csv' && data.features) {
    const at = data.features.indexOf(data.target);
    if (at >= 0) add(['data', 'features', at], `'${data.target}' is the target; remove it from features`);
  }

  layers.forEach((layer, i) => {
    const first = names.indexOf(layer.name);
    if (first < i) add(['model', 'layers', i, 'name'], `duplicate layer name '${layer.name}' (also model.layers[${first}]); layer names must be unique`);
  });

  // Shapes through the stack: a recurrent layer consumes a sequence, `output: all` produces one.
  const sequenceInput = typeof model.input === 'object';
  layers.forEach((layer, i) => {
    const prev = layers[i - 1];
    const getsSequence = prev ? isRecurrent(prev) && prev.output === 'all' : sequenceInput;
    if (isRecurrent(layer) && !getsSequence) {
      if (!prev) add(['model', 'input'], `layer '${layer.name}' is ${layer.type} and reads a sequence; set model.input: {steps, features}`);
      else if (isRecurrent(prev)) add(['model', 'layers', i - 1, 'output'], `'${layer.name}' is ${layer.type} and reads a sequence; set output: all here`);
      else add(['model', 'layers', i, 'type'], `${layer.type} reads a sequence, but '${prev.name}' is dense and gives one vector per example; put recurrent layers first`);
    }
    if (!isRecurrent(layer) && getsSequence) {
      if (!prev) add(['model', 'input'], `{steps, features} is a sequence, but the first layer '${layer.name}' is dense; give a feature count, or start with an rnn, gru or lstm layer`);
      else add(['model', 'layers', i - 1, 'output'], `output: all feeds a sequence to dense layer '${layer.name}'; use output: last, or follow it with another recurrent layer`);
    }
  });
  if (isRecurrent(last) && last.output === 'all') {
    add(['model', 'layers', lastIndex, 'output'], 'the last layer gives one output per step, but the targets are one per example; use output: last');
  }
  if (data.sequence) {
    const input = model.input;
    if (typeof input === 'number') {
      add(['data', 'sequence'], `reads rows as sequences, but model.input is a feature count; set model.input: {steps: ${data.sequence.steps}, features: ${data.sequence.features}}`, 'key');
    } else if (input.steps !== data.sequence.steps || input.features !== data.sequence.features) {
      add(['data', 'sequence'], `{steps: ${data.sequence.steps}, features: ${data.sequence.features}} differs from model.input {steps: ${input.steps}, features: ${input.features}}; make them equal or drop data.sequence`, 'key');
    }
  }

  // The loss and the labels and units it needs.
  const lastUnits: PathSegment[] = ['model', 'layers', lastIndex, 'units'];
  const needLabels = (labels: string) => {
    if (data.labels !== labels) add(['loss', 'type'], `${loss.type} needs data.labels: ${labels}, got ${data.labels}`);
  };
  const needOneUnit = () => {
    if (last.units !== 1) add(lastUnits, `${loss.type} needs 1 output unit on the last layer, got ${last.units}; set units: 1`);
  };
  switch (loss.type) {
    case 'hinge':
      needLabels('pm1');
      needOneUnit();
      break;
    case 'binary_cross_entropy':
      needLabels('binary');
      needOneUnit();
      if (last.activation === 'sigmoid') {
        add(['model', 'layers', lastIndex, 'activation'], 'binary_cross_entropy applies the sigmoid itself; use activation: identity on the last layer');
      }
      break;
    case 'softmax_cross_entropy':
      needLabels('onehot');
      if (last.units < 2) add(lastUnits, `softmax_cross_entropy needs one unit per class (at least 2), got ${last.units}`);
      if (last.activation === 'softmax') {
        add(['model', 'layers', lastIndex, 'activation'], 'softmax_cross_entropy applies the softmax itself; use activation: identity on the last layer');
      }
      break;
    case 'mse':
      break;
  }
  spec.metrics.forEach((metric, i) => {
    if (metric === 'accuracy' && data.labels === 'real') add(['metrics', i], 'accuracy needs class labels, but data.labels is real; remove it');
  });

  // Freezing and loading name layers and parameters that exist, and leave something to train.
  const paramsOf = new Map(layers.map((l) => [l.name, parameterNames(l)]));
  const noLayer = (name: string) => `no layer named '${name}'${didYouMean(name, names) || `; the layers are: ${names.join(', ')}`}`;
  const frozen = new Set<string>();
  spec.freeze.forEach((entry, i) => {
    const dot = entry.indexOf('.');
    const layerName = dot < 0 ? entry : entry.slice(0, dot);
    const params = paramsOf.get(layerName);
    if (!params) return add(['freeze', i], noLayer(layerName));
    if (dot < 0) return params.forEach((p) => frozen.add(`${layerName}.${p}`));
    const param = entry.slice(dot + 1);
    if (params.includes(param)) return frozen.add(entry);
    const layer = layers[names.indexOf(layerName)]!;
    const kind = layer.bias ? layer.type : `${layer.type}, bias: false`;
    add(['freeze', i], `layer '${layerName}' (${kind}) has no parameter '${param}'${didYouMean(param, params) || `; its parameters are: ${params.join(', ')}`}`);
  });
  const total = [...paramsOf.values()].reduce((n, ps) => n + ps.length, 0);
  if (frozen.size === total) add(['freeze'], 'every parameter is frozen, so there is nothing to train; leave at least one layer or parameter out', 'key');
  spec.init?.load?.forEach((name, i) => {
    if (!paramsOf.has(name)) add(['init', 'load', i], noLayer(name));
  });

  // Metric names read <split>.<metric>, for a split the data has and a metric that is computed.
  const splits = ['train', ...(val > 0 ? ['val'] : []), ...(test > 0 ? ['test'] : [])];
  const checkMetric = (path: PathSegment[], name: string) => {
    const [split, metric, ...rest] = name.split('.');
    if (metric === undefined || rest.length > 0) return add(path, `'${name}' is not <split>.<metric>; e.g. ${splits.at(-1)}.loss`);
    if (!['train', 'val', 'test'].includes(split!)) return add(path, `unknown split '${split}' in '${name}'; the splits are train, val, test`);
    if (!splits.includes(split!)) return add(path, `'${name}' needs a ${split} split; add ${split} to data.split or use one of ${splits.join(', ')}`);
    if (!(metricNames as readonly string[]).includes(metric)) {
      return add(path, `unknown metric '${metric}' in '${name}'${didYouMean(metric, metricNames) || `; the metrics are: ${metricNames.join(', ')}`}`);
    }
    if (!spec.metrics.includes(metric)) add(path, `'${metric}' is not computed; add it to metrics (now: ${spec.metrics.join(', ')})`);
  };
  if (spec.train.early_stop) checkMetric(['train', 'early_stop', 'metric'], spec.train.early_stop.metric);

  if (spec.sweep) issues.push(...checkSweep(spec, checkMetric));
  return issues;
}

function checkSweep(spec: ModelSpec, checkMetric: (path: PathSegment[], name: string) => void): Issue[] {
  const sweep = spec.sweep!;
  const issues: Issue[] = [];
  const add = (path: PathSegment[], message: string, at: 'key' | 'value' = 'value') => issues.push({ path, at, message });
  const parameters = Object.entries(sweep.parameters);
  // Paths are checked against the resolved model, where every key they could name exists.
  const checkPath = (path: PathSegment[], dotted: string) => {
    if (dotted === 'sweep' || dotted.startsWith('sweep.')) return add(path, 'a sweep cannot vary its own settings', 'key');
    const found = locatePath(spec, dotted);
    if ('error' in found) add(path, found.error, 'key');
  };
  for (const [dotted, values] of parameters) {
    const path = ['sweep', 'parameters', dotted];
    checkPath(path, dotted);
    if (Array.isArray(values)) continue;
    if (sweep.method === 'grid') add(path, 'a grid takes a list of values; use method: random to draw from a distribution');
    const [kind, bounds] = 'uniform' in values ? ['uniform', values.uniform] : 'loguniform' in values ? ['loguniform', values.loguniform] : [undefined, undefined];
    if (kind && bounds) {
      const [low, high] = bounds;
      if (!(low < high)) add([...path, kind], `low must be below high, got [${low}, ${high}]`);
      else if (kind === 'loguniform' && !(low > 0)) add([...path, kind], `loguniform needs low > 0, got ${low}`);
    }
  }
  sweep.trials?.forEach((trial, i) => {
    for (const dotted of Object.keys(trial)) checkPath(['sweep', 'trials', i, dotted], dotted);
  });
  if (sweep.method === 'list' && !sweep.trials) add(['sweep'], 'method list needs trials: a list of override sets, e.g. trials: [{optimizer.lr: 0.1}, {optimizer.lr: 0.01}]', 'key');
  if (sweep.method !== 'list' && sweep.trials) add(['sweep', 'trials'], `trials are used only by method: list; use parameters with method: ${sweep.method}`, 'key');
  if (sweep.method === 'list' && parameters.length > 0) add(['sweep', 'parameters'], 'method list takes its values from trials; move these into trials', 'key');
  if (sweep.method === 'random' && parameters.length === 0) add(['sweep', 'parameters'], 'method random needs parameters to draw', 'key');
  if (sweep.method === 'grid' && parameters.length === 0 && !sweep.seeds) add(['sweep'], 'method grid needs parameters or seeds to vary', 'key');
  checkMetric(['sweep', 'objective', 'metric'], sweep.objective.metric);
  sweep.expect.forEach((gate, i) => {
    checkMetric(['sweep', 'expect', i, 'metric'], gate.metric);
    if (gate.min !== undefined && gate.max !== undefined && gate.min > gate.max) {
      add(['sweep', 'expect', i], `min ${gate.min} is above max ${gate.max}; no value can pass`, 'key');
    }
  });
  return issues;
}

function round(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

// ---------------------------------------------------------------------------------------------
// Checks against the loaded data

/** What checkAgainstData needs to know about the loaded data. */
export interface DataShape {
  /** Classes in the target; null for real labels. */
  numClasses: number | null;
  /** Per example: `[features]`, or `[steps, features]` for sequences. */
  featureShape: readonly number[];
}

/**
 * The checks that need the data: the input size, the steps of a sequence, and the output units
 * against the classes. Throws InputErrors located at `where` (the model file's name).
 */
export function checkAgainstData(spec: ModelSpec, data: DataShape, where = 'model'): void {
  const errors: string[] = [];
  const { input, layers } = spec.model;
  const last = layers[layers.length - 1]!;
  const lastName = formatPath(['model', 'layers', layers.length - 1], spec);
  const width = data.featureShape.reduce((a, b) => a * b, 1);
  const shape = data.featureShape.join(' x ');
  if (typeof input === 'number') {
    if (input !== width) {
      errors.push(`model.input: the model takes ${input} features, the data has ${width}${data.featureShape.length > 1 ? ` (${shape})` : ''}; set model.input: ${width}`);
    }
  } else if (data.featureShape.length === 2) {
    const [steps, features] = data.featureShape as [number, number];
    if (steps !== input.steps || features !== input.features) {
      errors.push(`model.input: the model takes ${input.steps} steps x ${input.features} features, the data has ${shape}; set model.input: {steps: ${steps}, features: ${features}}`);
    }
  } else if (input.steps * input.features !== width) {
    errors.push(`model.input: ${input.steps} steps x ${input.features} features are ${input.steps * input.features} values per example, the data has ${width}; change model.input or the feature columns`);
  }

  const k = data.numClasses;
  if (k === 1) {
    errors.push(`data.target: the target column holds one class only; a classifier needs two or more (or use labels: real for a number to predict)`);
  } else if (k !== null) {
    const wantUnits = spec.data.labels === 'onehot' ? k : 1;
    if (spec.data.labels !== 'onehot' && k !== 2) {
      errors.push(`data.labels: ${spec.data.labels} labels need two classes, the data has ${k}; use labels: onehot with softmax_cross_entropy`);
    } else if (last.units !== wantUnits) {
      const reason = spec.data.labels === 'onehot' ? `one unit per class: the data has ${k} classes` : `1 unit for ${spec.data.labels} labels`;
      errors.push(`${lastName}.units: ${spec.loss.type} needs ${reason}, the layer has ${last.units}; set units: ${wantUnits}`);
    }
  } else if (last.units !== 1 && spec.data.labels === 'real') {
    errors.push(`${lastName}.units: real labels are one value per example, the layer has ${last.units} units; set units: 1`);
  }
  if (errors.length > 0) throw new InputErrors(errors.map((e) => new InputError(e, where)));
}

// ---------------------------------------------------------------------------------------------
// Rendering

/**
 * The resolved model as YAML, every default written out (`rmad render`); parsing it gives the
 * same spec. Small mappings and lists of scalars are written inline, like the shipped files.
 */
export function renderModel(spec: ModelSpec): string {
  const doc = new Document(toRenderable(modelSchema, spec));
  visit(doc, {
    Map(_, node) {
      if (node !== doc.contents && node.items.every((p) => isScalar(p.value))) node.flow = true;
    },
    Seq(_, node) {
      if (node.items.every((item) => isScalar(item))) node.flow = true;
    },
  });
  doc.commentBefore = ` ${spec.name}: resolved by rmad, every default filled in`;
  return doc.toString({ flowCollectionPadding: false, lineWidth: 120 });
}
