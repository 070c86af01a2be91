/**
 * The model file's schema, written once as data. Three things are derived from this one
 * description, so they cannot drift apart:
 *
 * - validation with default filling (`resolveSchema`): a plain value in, the filled value and a
 *   list of issues (path + message) out; modelfile.ts turns the paths into `file:line:col`;
 * - the JSON Schema (draft 2020-12) that editors use for completion (`toJsonSchema`, printed by
 *   `rmad schema`);
 * - the key order and the keys shown by `rmad render` (`toRenderable`).
 *
 * Checks that involve several fields (hinge needs pm1 labels, freeze names exist, ...) are not
 * schema matters; they live in modelfile.ts and run once the schema pass is clean.
 */
import { generatorParams } from './generators.js';
import { closestName } from './csv.js';

// ---------------------------------------------------------------------------------------------
// The vocabulary

/** Plain data as YAML and JSON carry it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

/** One problem found in a model file: `at` says whether to point at the key or at the value. */
export interface Issue {
  path: Path;
  at: 'key' | 'value';
  message: string;
}

interface Described {
  /** Shown by editors (JSON Schema `description`). */
  description?: string;
}

export interface NumberSchema extends Described {
  kind: 'number';
  integer?: boolean;
  min?: number;
  max?: number;
  /** The value must be strictly greater. */
  above?: number;
  /** The value must be strictly smaller. */
  below?: number;
}

export interface StringSchema extends Described {
  kind: 'string';
  pattern?: RegExp;
  /** Completes "'<value>' ..." when the pattern does not match. */
  patternHint?: string;
}

export interface BooleanSchema extends Described {
  kind: 'boolean';
}

export interface EnumSchema extends Described {
  kind: 'enum';
  values: readonly string[];
}

/** A fixed number: the schema version. */
export interface VersionSchema extends Described {
  kind: 'version';
  value: number;
}

/** A number, a string or a boolean (sweep values). */
export interface ScalarSchema extends Described {
  kind: 'scalar';
}

export interface ListSchema extends Described {
  kind: 'list';
  items: Schema;
  minItems?: number;
  maxItems?: number;
  /** Scalar items may not repeat. */
  unique?: boolean;
  /** What one item is called in messages ("no layer named ..."); items are then addressed by their `name`. */
  itemNoun?: string;
}

/** A mapping with free keys and one schema for every value. */
export interface RecordSchema extends Described {
  kind: 'record';
  values: Schema;
  /** The allowed keys depend on a sibling: `table[parent[sibling]]` (a generator's parameters). */
  keysFrom?: { sibling: string; table: Readonly<Record<string, readonly string[]>>; noun: string };
  /** Keys are themselves dotted paths (`optimizer.lr`), so an override path ends at the first key. */
  pathKeys?: boolean;
}

export interface ObjectSchema extends Described {
  kind: 'object';
  fields: Readonly<Record<string, Field>>;
  /** At least one of these keys must be present. */
  atLeastOne?: readonly string[];
  /** Exactly one of these keys must be present. */
  exactlyOne?: readonly string[];
}

/** Mappings told apart by one key (`type` of a layer, `source` of data). */
export interface UnionSchema extends Described {
  kind: 'union';
  tag: string;
  variants: Readonly<Record<string, ObjectSchema>>;
  /** Where the tag goes among the keys when rendered (layers read best as `{name, type, ...}`). */
  tagIndex?: number;
}

export interface NullableSchema extends Described {
  kind: 'nullable';
  of: Schema;
}

/** One of several schemas, chosen by the value's shape (a number or a mapping, a list or a mapping). */
export interface EitherSchema extends Described {
  kind: 'either';
  options: readonly Schema[];
}

export type Schema =
  | NumberSchema
  | StringSchema
  | BooleanSchema
  | EnumSchema
  | VersionSchema
  | ScalarSchema
  | ListSchema
  | RecordSchema
  | ObjectSchema
  | UnionSchema
  | NullableSchema
  | EitherSchema;

/** A default computed from the filled model once every static default is in. */
export interface DerivedDefault {
  /** For editors and `rmad schema`: how the value is chosen. */
  rule: string;
  /** `undefined` leaves the key out. */
  value: (at: { parent: Readonly<Record<string, unknown>>; root: Readonly<Record<string, unknown>> }) => unknown;
}

export interface Field extends Described {
  schema: Schema;
  required?: boolean;
  /** Filled in when the key is absent, then validated and filled like a written value. */
  default?: Json;
  derived?: DerivedDefault;
  /** The key is used only when the sibling `type` is one of these (optimizer settings). */
  onlyFor?: readonly string[];
  /** Completes the missing-key message: "missing required key 'lr' (e.g. lr: 0.01)". */
  example?: string;
}

// ---------------------------------------------------------------------------------------------
// Small constructors, so the model schema below reads as a table

const integer = (min: number, description?: string): NumberSchema => ({ kind: 'number', integer: true, min, description });
const number = (bounds: Omit<NumberSchema, 'kind'> = {}): NumberSchema => ({ kind: 'number', ...bounds });
const string = (description?: string): StringSchema => ({ kind: 'string', pattern: /\S/, patternHint: 'must not be empty', description });
const boolean: BooleanSchema = { kind: 'boolean' };
const oneOf = (values: readonly string[], description?: string): EnumSchema => ({ kind: 'enum', values, description });
const list = (items: Schema, options: Omit<ListSchema, 'kind' | 'items'> = {}): ListSchema => ({ kind: 'list', items, ...options });
const object = (fields: Record<string, Field>, options: Omit<ObjectSchema, 'kind' | 'fields'> = {}): ObjectSchema => ({ kind: 'object', fields, ...options });
const nullable = (of: Schema, description?: string): NullableSchema => ({ kind: 'nullable', of, description });

/** A fraction in [0, 1): the val and test shares of the rows. */
const share: NumberSchema = { kind: 'number', min: 0, below: 1 };

/** The mode that improves a metric: accuracies go up, everything else (losses) goes down. */
export const improvingMode = (metric: string): 'min' | 'max' => (/accuracy$/.test(metric) ? 'max' : 'min');

/** Metric names the trainer computes on each split. */
export const metricNames = ['loss', 'accuracy'] as const;

export const activations = ['identity', 'relu', 'leaky_relu', 'tanh', 'sigmoid', 'softmax', 'gelu'] as const;
export const initializers = ['glorot', 'he', 'zeros'] as const;

const sequence = object(
  {
    steps: { schema: integer(1), required: true, description: 'Time steps per example.' },
    features: { schema: integer(1), required: true, description: 'Features per time step.' },
  },
  { description: 'A sequence input: each row is read as steps x features, step-major.' },
);

const layerCommon = {
  name: {
    schema: {
      kind: 'string',
      pattern: /^[A-Za-z_][A-Za-z0-9_-]*$/,
      patternHint: "is not a valid layer name; start with a letter or '_', then letters, digits, '_' or '-' (no '.': it separates layer and parameter in freeze)",
    },
    required: true,
    example: 'name: hidden1',
    description: 'Unique layer name, used by freeze, init.load, --set and the weights file.',
  },
  units: { schema: integer(1), required: true, example: 'units: 16', description: 'Output size.' },
} satisfies Record<string, Field>;

const layerTail = {
  bias: { schema: boolean, default: true, description: 'Add a bias vector b.' },
  // Glorot for every layer keeps the default independent of the activation; choose he for deep relu stacks.
  init: { schema: oneOf(initializers), default: 'glorot', description: 'Weight initialiser (biases start at zero).' },
} satisfies Record<string, Field>;

const recurrentOutput: Field = {
  schema: oneOf(['last', 'all']),
  default: 'last',
  description: 'last: the final hidden state [batch, units]; all: every step [batch, steps, units] (for a following recurrent layer).',
};

/** GRU and LSTM cells use sigmoid gates and a tanh candidate by definition; the key exists so the resolved spec has one shape. */
const gatedCell = (what: string): ObjectSchema =>
  object(
    {
      ...layerCommon,
      activation: { schema: oneOf(['tanh']), default: 'tanh', description: `Fixed: the ${what} candidate state uses tanh.` },
      output: recurrentOutput,
      ...layerTail,
    },
    { description: `${what.toUpperCase()} layer; parameters Wx, Wh and b hold the gates stacked along the output axis.` },
  );

const layer: UnionSchema = {
  kind: 'union',
  tag: 'type',
  tagIndex: 1,
  description: 'One layer, applied in order.',
  variants: {
    dense: object(
      {
        ...layerCommon,
        activation: { schema: oneOf(activations), default: 'identity', description: 'Applied after x W + b.' },
        ...layerTail,
      },
      { description: 'Fully connected layer y = act(x W + b); parameters W [in, units] and b [units].' },
    ),
    rnn: object(
      {
        ...layerCommon,
        activation: { schema: oneOf(activations), default: 'tanh', description: 'h_t = act(x_t Wx + h_{t-1} Wh + b).' },
        output: recurrentOutput,
        ...layerTail,
      },
      { description: 'Elman RNN, unrolled over the steps; parameters Wx [features, units], Wh [units, units], b [units].' },
    ),
    gru: gatedCell('gru'),
    lstm: gatedCell('lstm'),
  },
};

const csvOrGeneratorCommon = {
  labels: {
    schema: oneOf(['pm1', 'binary', 'onehot', 'real'], 'pm1: -1/+1 (hinge); binary: 0/1; onehot: one column per class; real: regression.'),
    required: true,
    example: 'labels: onehot',
  },
  normalize: { schema: oneOf(['none', 'standard', 'minmax'], 'Feature scaling, fitted on the train split only.'), default: 'none' },
  split: {
    schema: object(
      {
        train: {
          schema: number({ above: 0, max: 1 }),
          derived: { rule: '1 - val - test', value: ({ parent }) => roundShare(1 - num(parent.val) - num(parent.test)) },
        },
        val: { schema: share, description: 'Held out for early stopping and model selection.' },
        test: { schema: share, description: 'Held out for the final report.' },
      },
      { description: 'Fractions of the rows; they must add up to 1.' },
    ),
    default: { train: 1 },
  },
  sequence: {
    schema: sequence,
    derived: {
      rule: 'model.input when it is {steps, features}',
      value: ({ root }) => {
        const input = (root.model as Record<string, unknown> | undefined)?.input;
        return typeof input === 'object' && input !== null ? { ...input } : undefined;
      },
    },
  },
} satisfies Record<string, Field>;

const generatorNames = Object.keys(generatorParams);

const data: UnionSchema = {
  kind: 'union',
  tag: 'source',
  description: 'Where the examples come from.',
  variants: {
    csv: object(
      {
        path: { schema: string('CSV file, relative to this model file.'), required: true, example: 'path: ../datasets/iris.csv' },
        features: { schema: list(string(), { minItems: 1, unique: true }), description: 'Feature columns; omitted: every column but the target.' },
        target: { schema: string('The label column.'), required: true, example: 'target: species' },
        ...csvOrGeneratorCommon,
      },
      { description: 'A CSV file with a header row.' },
    ),
    generator: object(
      {
        generator: { schema: oneOf(generatorNames), required: true, example: 'generator: blobs' },
        params: {
          schema: {
            kind: 'record',
            values: number(),
            keysFrom: { sibling: 'generator', table: mapValues(generatorParams, (p) => Object.keys(p)), noun: 'parameter' },
            description: "The generator's parameters; omitted ones take the generator's defaults.",
          },
          default: {},
        },
        ...csvOrGeneratorCommon,
      },
      { description: 'A built-in synthetic data set, drawn from the seed.' },
    ),
  },
};

const loss: UnionSchema = {
  kind: 'union',
  tag: 'type',
  description: 'The training objective.',
  variants: {
    hinge: object(
      { margin: { schema: number({ above: 0 }), default: 1, description: 'mean(max(0, margin - y f(x))).' } },
      { description: 'SVM hinge loss; needs labels: pm1 and one output unit.' },
    ),
    mse: object({}, { description: 'Mean squared error.' }),
    binary_cross_entropy: object({}, { description: 'Needs labels: binary and one output unit; takes logits and applies the sigmoid itself.' }),
    softmax_cross_entropy: object({}, { description: 'Needs labels: onehot and one unit per class; takes logits and applies the softmax itself.' }),
  },
};

const schedule: UnionSchema = {
  kind: 'union',
  tag: 'type',
  description: 'Learning-rate schedule, stepped once per epoch.',
  variants: {
    constant: object({}),
    step: object(
      {
        step_size: { schema: integer(1), required: true, example: 'step_size: 30', description: 'Epochs between decays.' },
        gamma: { schema: number({ above: 0, max: 1 }), default: 0.1, description: 'lr is multiplied by gamma every step_size epochs.' },
      },
    ),
    exponential: object({
      gamma: { schema: number({ above: 0, max: 1 }), required: true, example: 'gamma: 0.99', description: 'lr = lr0 * gamma^epoch.' },
    }),
    cosine: object({
      t_max: {
        schema: integer(1),
        derived: { rule: 'train.epochs', value: ({ root }) => (root.train as Record<string, unknown> | undefined)?.epochs },
        description: 'Epochs of one half cosine, lr = min_lr + (lr0 - min_lr)(1 + cos(pi t / t_max)) / 2.',
      },
      min_lr: { schema: number({ min: 0 }), default: 0 },
    }),
  },
};

const optimizer = object({
  type: { schema: oneOf(['sgd', 'momentum', 'adam', 'adamw']), required: true, example: 'type: adam' },
  lr: { schema: number({ above: 0 }), required: true, example: 'lr: 0.01', description: 'Learning rate.' },
  momentum: { schema: number({ min: 0, below: 1 }), default: 0.9, onlyFor: ['momentum'] },
  nesterov: { schema: boolean, default: false, onlyFor: ['momentum'] },
  beta1: { schema: number({ min: 0, below: 1 }), default: 0.9, onlyFor: ['adam', 'adamw'] },
  beta2: { schema: number({ min: 0, below: 1 }), default: 0.999, onlyFor: ['adam', 'adamw'] },
  eps: { schema: number({ above: 0 }), default: 1e-8, onlyFor: ['adam', 'adamw'] },
  weight_decay: {
    schema: number({ min: 0 }),
    default: 0,
    description: 'L2 penalty added to the gradient (sgd, momentum, adam); decoupled decay for adamw.',
  },
  clip_norm: { schema: nullable(number({ above: 0 })), default: null, description: 'Clip the global gradient norm to this; null: off.' },
  schedule: { schema: schedule, default: { type: 'constant' } },
});

const splitMetric = (description: string): Field => ({ schema: string(description), required: true, example: 'metric: val.loss' });

const modeOf = (metricKey: string): Field => ({
  schema: oneOf(['min', 'max']),
  derived: { rule: 'max for metrics ending in accuracy, else min', value: ({ parent }) => improvingMode(String(parent[metricKey])) },
});

const train = object({
  epochs: { schema: integer(1), required: true, example: 'epochs: 100' },
  batch_size: { schema: integer(1), default: 32 },
  shuffle: { schema: boolean, default: true, description: 'Reshuffle the train rows every epoch.' },
  eval_every: { schema: integer(1), default: 1, description: 'Evaluate every split every this many epochs.' },
  early_stop: {
    schema: nullable(
      object({
        metric: splitMetric('The metric to watch, <split>.<metric>, e.g. val.loss.'),
        mode: modeOf('metric'),
        patience: { schema: integer(1), default: 10, description: 'Evaluations without improvement before stopping.' },
        min_delta: { schema: number({ min: 0 }), default: 0, description: 'The smallest change that counts as an improvement.' },
      }),
    ),
    default: null,
  },
  checkpoint: {
    schema: object({ every: { schema: integer(0), default: 0, description: 'Epochs between checkpoints; 0: only at the end.' } }),
    default: { every: 0 },
  },
});

const init = nullable(
  object({
    from: { schema: string('A run folder or a weights.safetensors file, relative to this model file.'), required: true, example: 'from: ../runs/digits/latest' },
    load: { schema: list(string(), { minItems: 1, unique: true }), description: 'Layers to load; omitted: every layer present in both.' },
    strict: { schema: boolean, default: true, description: 'A missing layer or a shape mismatch is an error (otherwise skipped with a warning).' },
  }),
  'Start from trained weights.',
);

const sweepValue: ScalarSchema = { kind: 'scalar' };
const range: ListSchema = list(number(), { minItems: 2, maxItems: 2, description: '[low, high]' });

const distribution = object(
  {
    uniform: { schema: range },
    loguniform: { schema: range },
    choice: { schema: list(sweepValue, { minItems: 1 }) },
  },
  { exactlyOne: ['uniform', 'loguniform', 'choice'], description: 'A distribution to draw from (random sweeps).' },
);

const sweep = nullable(
  object({
    method: { schema: oneOf(['grid', 'list', 'random']), required: true, example: 'method: grid' },
    parameters: {
      schema: {
        kind: 'record',
        pathKeys: true,
        values: { kind: 'either', options: [list(sweepValue, { minItems: 1 }), distribution] },
        description: 'Dotted path (as for --set) -> list of values, or a distribution (random).',
      },
      default: {},
    },
    trials: {
      schema: list({ kind: 'record', pathKeys: true, values: sweepValue }, { minItems: 1 }),
      description: 'method list: one set of overrides per trial.',
    },
    seeds: { schema: list(integer(0), { minItems: 1, unique: true }), description: 'Repeat every trial with each seed.' },
    max_trials: { schema: integer(1), default: 1000 },
    seed: { schema: integer(0), default: 0, description: 'Seed of the random draws of parameters.' },
    objective: {
      schema: object({ metric: splitMetric('The metric that ranks trials.'), mode: modeOf('metric') }),
      derived: {
        rule: 'val.loss when there is a val split, else train.loss; mode min',
        value: ({ root }) => {
          const split = ((root.data as Record<string, unknown> | undefined)?.split ?? {}) as Record<string, unknown>;
          return { metric: num(split.val) > 0 ? 'val.loss' : 'train.loss', mode: 'min' };
        },
      },
    },
    expect: {
      schema: list(
        object(
          {
            metric: splitMetric('The metric to gate, e.g. test.accuracy.'),
            scope: { schema: oneOf(['each', 'best', 'mean']), default: 'each', description: 'Every trial, the best trial, or the mean over trials.' },
            min: { schema: number() },
            max: { schema: number() },
          },
          { atLeastOne: ['min', 'max'] },
        ),
      ),
      default: [],
      description: 'Gates: the sweep fails when one does not hold.',
    },
  }),
  'Batch experiments over this model.',
);

/** The whole model file. */
export const modelSchema: ObjectSchema = object(
  {
    rmad: { schema: { kind: 'version', value: 1 }, required: true, example: 'rmad: 1 as the first line', description: 'Schema version.' },
    name: {
      schema: { kind: 'string', pattern: /^(?!\.+$)[A-Za-z0-9._-]+$/, patternHint: "is not a safe folder name; use letters, digits, '.', '_' and '-'" },
      required: true,
      example: 'name: mlp-iris',
      description: 'Run name; runs are written to runs/<name>/.',
    },
    seed: { schema: integer(0), default: 0, description: 'Master seed of every random stream.' },
    data: { schema: data, required: true },
    model: {
      schema: object({
        input: {
          schema: { kind: 'either', options: [integer(1), sequence] },
          required: true,
          example: 'input: 4',
          description: 'Feature count, or {steps, features} for recurrent models.',
        },
        layers: { schema: list(layer, { minItems: 1, itemNoun: 'layer' }), required: true },
      }),
      required: true,
    },
    loss: { schema: loss, required: true, example: 'loss: {type: mse}' },
    optimizer: { schema: optimizer, required: true, example: 'optimizer: {type: adam, lr: 0.01}' },
    train: { schema: train, required: true, example: 'train: {epochs: 100}' },
    init: { schema: init, default: null },
    freeze: {
      schema: list(string(), { unique: true }),
      default: [],
      description: 'Layer names or layer.param names (dense: W, b; rnn, gru, lstm: Wx, Wh, b) to keep fixed.',
    },
    metrics: {
      schema: list(oneOf(metricNames), { minItems: 1, unique: true }),
      derived: {
        rule: '[loss, accuracy], or [loss] for real labels',
        value: ({ root }) => ((root.data as Record<string, unknown> | undefined)?.labels === 'real' ? ['loss'] : ['loss', 'accuracy']),
      },
      description: 'Computed on every split as <split>.<metric>.',
    },
    sweep: { schema: sweep, default: null },
  },
  { description: 'An rmad model file: one model and its training.' },
);

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

/** 1 - 0.15 - 0.15 is 0.7000000000000001 in binary; twelve decimals hide that and keep any real fraction. */
function roundShare(x: number): number {
  return Math.round(x * 1e12) / 1e12;
}

function mapValues<V, W>(record: Readonly<Record<string, V>>, f: (v: V) => W): Record<string, W> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
}

// ---------------------------------------------------------------------------------------------
// Shared helpers for messages

export type ValueShape = 'null' | 'number' | 'string' | 'boolean' | 'list' | 'mapping';

export function shapeOf(v: unknown): ValueShape {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'mapping';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  return 'string';
}

/** "string 'abc'", "number 2.5", "true", "null", "a list": the got-part of a message. */
export function describeValue(v: unknown): string {
  switch (shapeOf(v)) {
    case 'null':
      return 'null';
    case 'list':
      return 'a list';
    case 'mapping':
      return 'a mapping';
    case 'boolean':
      return String(v);
    case 'number':
      return `number ${formatNumber(v as number)}`;
    case 'string': {
      const s = v as string;
      return `string '${s.length > 40 ? `${s.slice(0, 37)}...` : s}'`;
    }
  }
}

function formatNumber(v: number): string {
  return Number.isNaN(v) ? '.nan' : v === Infinity ? '.inf' : v === -Infinity ? '-.inf' : String(v);
}

/** What the schema expects, in words: "an integer", "one of sgd, adam", "a number or null". */
export function expectation(schema: Schema): string {
  switch (schema.kind) {
    case 'number':
      return schema.integer ? 'an integer' : 'a number';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${schema.values.join(', ')}`;
    case 'version':
      return String(schema.value);
    case 'scalar':
      return 'a number, a string or true/false';
    case 'list':
      return 'a list';
    case 'record':
    case 'object':
      return 'a mapping';
    case 'union':
      return `a mapping with ${schema.tag}: ${Object.keys(schema.variants).join('|')}`;
    case 'nullable':
      return `${expectation(schema.of)} or null`;
    case 'either':
      return schema.options.map(expectation).join(' or ');
  }
}

/** "a", "a and b", "a, b and c". */
export function listWords(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** "; did you mean 'x'?" or "". */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const close = closestName(word, candidates);
  return close !== null ? `; did you mean '${close}'?` : '';
}

/** Whether `schema` can hold a value of this shape (null aside); used to pick an `either` option. */
function accepts(schema: Schema, shape: ValueShape): boolean {
  switch (schema.kind) {
    case 'number':
    case 'version':
      return shape === 'number';
    case 'string':
    case 'enum':
      return shape === 'string';
    case 'boolean':
      return shape === 'boolean';
    case 'scalar':
      return shape === 'number' || shape === 'string' || shape === 'boolean';
    case 'list':
      return shape === 'list';
    case 'record':
    case 'object':
    case 'union':
      return shape === 'mapping';
    case 'nullable':
      return shape === 'null' || accepts(schema.of, shape);
    case 'either':
      return schema.options.some((o) => accepts(o, shape));
  }
}

/** The option of an `either` for a value of this shape. */
export function pickOption(schema: EitherSchema, shape: ValueShape): Schema | undefined {
  return schema.options.find((o) => accepts(o, shape));
}

// ---------------------------------------------------------------------------------------------
// (a) + (b): validation and default filling

/**
 * Checks `value` against `schema` and fills every default. Returns the filled value (parts with
 * an issue are left out) and every issue found; a value with no issue is the resolved model.
 */
export function resolveSchema(schema: Schema, value: unknown): { value: unknown; issues: Issue[] } {
  const resolver = new Resolver();
  const out = resolver.resolve(schema, value, [], undefined);
  const root = (typeof out === 'object' && out !== null ? out : {}) as Record<string, unknown>;
  // Derived defaults read the filled model, so they run after the whole walk.
  for (const fill of resolver.deferred) fill(root);
  return { value: out, issues: resolver.issues };
}

class Resolver {
  readonly issues: Issue[] = [];
  readonly deferred: ((root: Record<string, unknown>) => void)[] = [];

  private issue(path: Path, at: 'key' | 'value', message: string): undefined {
    this.issues.push({ path, at, message });
    return undefined;
  }

  private wrongType(schema: Schema, value: unknown, path: Path): undefined {
    return this.issue(path, 'value', `expected ${expectation(schema)}, got ${describeValue(value)}`);
  }

  resolve(schema: Schema, value: unknown, path: Path, parent: Record<string, unknown> | undefined): unknown {
    switch (schema.kind) {
      case 'number':
        return this.number(schema, value, path);
      case 'string':
        if (typeof value !== 'string') return this.wrongType(schema, value, path);
        if (schema.pattern && !schema.pattern.test(value)) return this.issue(path, 'value', `'${value}' ${schema.patternHint ?? `must match ${schema.pattern.source}`}`);
        return value;
      case 'boolean':
        return typeof value === 'boolean' ? value : this.wrongType(schema, value, path);
      case 'enum':
        if (typeof value !== 'string') return this.wrongType(schema, value, path);
        if (!schema.values.includes(value)) {
          return this.issue(path, 'value', `'${value}' is not one of ${schema.values.join(', ')}${didYouMean(value, schema.values)}`);
        }
        return value;
      case 'version':
        if (typeof value !== 'number') return this.wrongType(schema, value, path);
        if (value !== schema.value) {
          return this.issue(path, 'value', `version ${value} is not supported; this rmad reads version ${schema.value} files: set rmad: ${schema.value} and update the file, or upgrade rmad`);
        }
        return value;
      case 'scalar':
        return accepts(schema, shapeOf(value)) ? value : this.wrongType(schema, value, path);
      case 'nullable':
        return value === null || value === undefined ? null : this.resolve(schema.of, value, path, parent);
      case 'either': {
        const option = pickOption(schema, shapeOf(value));
        return option ? this.resolve(option, value, path, parent) : this.wrongType(schema, value, path);
      }
      case 'list':
        return this.list(schema, value, path);
      case 'record':
        return this.record(schema, value, path, parent);
      case 'object':
        if (shapeOf(value) !== 'mapping') return this.wrongType(schema, value, path);
        return this.object(schema, value as Record<string, unknown>, path);
      case 'union':
        return this.union(schema, value, path);
    }
  }

  private number(schema: NumberSchema, value: unknown, path: Path): number | undefined {
    if (typeof value !== 'number') return this.wrongType(schema, value, path);
    if (!Number.isFinite(value)) return this.issue(path, 'value', `expected a finite number, got ${formatNumber(value)}`);
    if (schema.integer && !Number.isInteger(value)) return this.issue(path, 'value', `expected an integer, got ${value}`);
    const bound = (ok: boolean, rule: string) => (ok ? null : `must be ${rule}, got ${value}`);
    const problem =
      (schema.min !== undefined && bound(value >= schema.min, `>= ${schema.min}`)) ||
      (schema.above !== undefined && bound(value > schema.above, `> ${schema.above}`)) ||
      (schema.max !== undefined && bound(value <= schema.max, `<= ${schema.max}`)) ||
      (schema.below !== undefined && bound(value < schema.below, `< ${schema.below}`));
    return problem ? this.issue(path, 'value', problem) : value;
  }

  private list(schema: ListSchema, value: unknown, path: Path): unknown[] | undefined {
    if (!Array.isArray(value)) return this.wrongType(schema, value, path);
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      return this.issue(path, 'value', schema.minItems === 1 ? 'must not be empty' : `needs at least ${schema.minItems} items, got ${value.length}`);
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      return this.issue(path, 'value', `takes at most ${schema.maxItems} items, got ${value.length}`);
    }
    const out: unknown[] = [];
    const seen = new Set<unknown>();
    let ok = true;
    value.forEach((item, i) => {
      if (schema.unique && seen.has(item)) {
        ok = false;
        this.issue([...path, i], 'value', `'${String(item)}' is listed twice`);
        return;
      }
      seen.add(item);
      const r = this.resolve(schema.items, item, [...path, i], undefined);
      if (r === undefined) ok = false;
      out.push(r);
    });
    return ok ? out : undefined;
  }

  private record(schema: RecordSchema, value: unknown, path: Path, parent: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    if (shapeOf(value) !== 'mapping') return this.wrongType(schema, value, path);
    const allowed = allowedRecordKeys(schema, parent);
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (allowed && schema.keysFrom && !allowed.includes(key)) {
        const owner = String(parent?.[schema.keysFrom.sibling]);
        const hint = didYouMean(key, allowed) || `; ${owner} takes ${allowed.join(', ')}`;
        this.issue([...path, key], 'key', `${owner} has no ${schema.keysFrom.noun} '${key}'${hint}`);
        continue;
      }
      const r = this.resolve(schema.values, v, [...path, key], undefined);
      if (r !== undefined) out[key] = r;
    }
    return out;
  }

  /** `out` is filled in place: derived defaults are written into it after the walk. */
  object(
    schema: ObjectSchema,
    value: Record<string, unknown>,
    path: Path,
    tag?: { key: string; value: string; others: ReadonlyMap<string, string[]> },
    out: Record<string, unknown> = {},
  ): Record<string, unknown> {
    const known = tag ? [tag.key, ...Object.keys(schema.fields)] : Object.keys(schema.fields);
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      const owners = tag?.others.get(key);
      const message = owners
        ? `unknown key for ${tag!.key} ${tag!.value} (only ${listWords(owners)} ${owners.length === 1 ? 'takes' : 'take'} it)`
        : `unknown key${didYouMean(key, known) || `; allowed keys: ${known.join(', ')}`}`;
      this.issue([...path, key], 'key', message);
    }
    for (const [key, field] of Object.entries(schema.fields)) {
      const given = value[key];
      if (given !== undefined) {
        if (field.onlyFor && typeof value.type === 'string' && !field.onlyFor.includes(value.type)) {
          const types = field.onlyFor.join(' or ');
          this.issue([...path, key], 'key', `used only when type is ${types}; remove it or set type: ${field.onlyFor[0]}`);
          continue;
        }
        const r = this.resolve(field.schema, given, [...path, key], value);
        if (r !== undefined) out[key] = r;
      } else if (field.required) {
        this.issue(path, 'key', `missing required key '${key}'${field.example ? ` (e.g. ${field.example})` : ''}`);
      } else if (field.default !== undefined) {
        out[key] = this.resolve(field.schema, structuredClone(field.default), [...path, key], value);
      } else if (field.derived) {
        const derived = field.derived;
        this.deferred.push((root) => {
          const v = derived.value({ parent: out, root });
          if (v !== undefined) out[key] = v;
        });
      }
    }
    const present = (keys: readonly string[]) => keys.filter((k) => value[k] !== undefined);
    if (schema.atLeastOne && present(schema.atLeastOne).length === 0) {
      this.issue(path, 'key', `needs at least one of ${schema.atLeastOne.join(', ')}`);
    }
    if (schema.exactlyOne && present(schema.exactlyOne).length !== 1) {
      const n = present(schema.exactlyOne).length;
      this.issue(path, 'key', `needs exactly one of ${schema.exactlyOne.join(', ')}, got ${n === 0 ? 'none' : present(schema.exactlyOne).join(' and ')}`);
    }
    return out;
  }

  private union(schema: UnionSchema, value: unknown, path: Path): Record<string, unknown> | undefined {
    if (shapeOf(value) !== 'mapping') return this.wrongType(schema, value, path);
    const map = value as Record<string, unknown>;
    const names = Object.keys(schema.variants);
    const tag = map[schema.tag];
    if (tag === undefined) return this.issue(path, 'key', `missing required key '${schema.tag}' (one of ${names.join(', ')})`);
    if (typeof tag !== 'string') return this.issue([...path, schema.tag], 'value', `expected one of ${names.join(', ')}, got ${describeValue(tag)}`);
    const variant = own(schema.variants, tag);
    if (!variant) return this.issue([...path, schema.tag], 'value', `'${tag}' is not one of ${names.join(', ')}${didYouMean(tag, names)}`);
    const others = new Map<string, string[]>();
    for (const [name, v] of Object.entries(schema.variants)) {
      if (name === tag) continue;
      for (const key of Object.keys(v.fields)) if (!(key in variant.fields)) others.set(key, [...(others.get(key) ?? []), name]);
    }
    return this.object(variant, map, path, { key: schema.tag, value: tag, others }, { [schema.tag]: tag });
  }
}

/** The keys a record may hold given its parent, or undefined when any key goes. */
export function allowedRecordKeys(schema: RecordSchema, parent: Readonly<Record<string, unknown>> | undefined): readonly string[] | undefined {
  if (!schema.keysFrom) return undefined;
  const owner = parent?.[schema.keysFrom.sibling];
  return typeof owner === 'string' ? own(schema.keysFrom.table, owner) : undefined;
}

/** `record[key]` for the record's own keys only: a key such as 'constructor' must not reach Object.prototype. */
export function own<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

// ---------------------------------------------------------------------------------------------
// (c): JSON Schema for editors

type JsonObject = { [key: string]: Json };

/** The model file's JSON Schema (draft 2020-12), for editor completion and checks. */
export function toJsonSchema(): JsonObject {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'rmad model file',
    ...jsonOf(modelSchema),
  };
}

function jsonOf(schema: Schema): JsonObject {
  const out = jsonBody(schema);
  if (schema.description) out.description = schema.description;
  return out;
}

function jsonBody(schema: Schema): JsonObject {
  switch (schema.kind) {
    case 'number': {
      const out: JsonObject = { type: schema.integer ? 'integer' : 'number' };
      if (schema.min !== undefined) out.minimum = schema.min;
      if (schema.max !== undefined) out.maximum = schema.max;
      if (schema.above !== undefined) out.exclusiveMinimum = schema.above;
      if (schema.below !== undefined) out.exclusiveMaximum = schema.below;
      return out;
    }
    case 'string':
      return schema.pattern ? { type: 'string', pattern: schema.pattern.source } : { type: 'string' };
    case 'boolean':
      return { type: 'boolean' };
    case 'enum':
      return { enum: [...schema.values] };
    case 'version':
      return { const: schema.value };
    case 'scalar':
      return { type: ['number', 'string', 'boolean'] };
    case 'list': {
      const out: JsonObject = { type: 'array', items: jsonOf(schema.items) };
      if (schema.minItems !== undefined) out.minItems = schema.minItems;
      if (schema.maxItems !== undefined) out.maxItems = schema.maxItems;
      if (schema.unique) out.uniqueItems = true;
      return out;
    }
    case 'record': {
      const out: JsonObject = { type: 'object', additionalProperties: jsonOf(schema.values) };
      if (schema.keysFrom) out.propertyNames = { enum: [...new Set(Object.values(schema.keysFrom.table).flat())] };
      return out;
    }
    case 'object':
      return jsonObject(schema);
    case 'union':
      return {
        type: 'object',
        required: [schema.tag],
        properties: { [schema.tag]: { enum: Object.keys(schema.variants) } },
        oneOf: Object.entries(schema.variants).map(([name, variant]) => jsonObject(variant, { key: schema.tag, value: name })),
      };
    case 'nullable':
      return { anyOf: [jsonOf(schema.of), { type: 'null' }] };
    case 'either':
      return { anyOf: schema.options.map(jsonOf) };
  }
}

function jsonObject(schema: ObjectSchema, tag?: { key: string; value: string }): JsonObject {
  const properties: JsonObject = tag ? { [tag.key]: { const: tag.value } } : {};
  const required: Json[] = tag ? [tag.key] : [];
  const conditions: Json[] = [];
  for (const [key, field] of Object.entries(schema.fields)) {
    const property = jsonOf(field.schema);
    if (field.description) property.description = field.description;
    if (field.default !== undefined) property.default = field.default;
    const notes = [
      property.description,
      field.onlyFor && `Used by type ${listWords(field.onlyFor)} only.`,
      field.derived && `Default: ${field.derived.rule}.`,
    ].filter((n): n is string => typeof n === 'string' && n !== '');
    if (notes.length > 0) property.description = notes.join(' ');
    properties[key] = property;
    if (field.required) required.push(key);
    // "If this key is present, the type must be one that uses it."
    if (field.onlyFor) conditions.push({ if: { required: [key] }, then: { properties: { type: { enum: [...field.onlyFor] } } } });
    if (field.schema.kind === 'record' && field.schema.keysFrom) {
      const { sibling, table } = field.schema.keysFrom;
      for (const [owner, keys] of Object.entries(table)) {
        conditions.push({
          if: { properties: { [sibling]: { const: owner } }, required: [sibling] },
          then: { properties: { [key]: { propertyNames: { enum: [...keys] } } } },
        });
      }
    }
  }
  const out: JsonObject = { type: 'object', properties, additionalProperties: false };
  if (required.length > 0) out.required = required;
  if (conditions.length > 0) out.allOf = conditions;
  if (schema.atLeastOne) out.anyOf = schema.atLeastOne.map((k) => ({ required: [k] }));
  if (schema.exactlyOne) out.oneOf = schema.exactlyOne.map((k) => ({ required: [k] }));
  if (schema.description) out.description = schema.description;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rendering order

/**
 * A resolved value rearranged for display: keys in schema order (a union's tag at its place),
 * absent optional keys and keys the `type` does not use left out.
 */
export function toRenderable(schema: Schema, value: unknown): unknown {
  if (value === undefined || value === null) return value;
  switch (schema.kind) {
    case 'nullable':
      return toRenderable(schema.of, value);
    case 'either': {
      const option = pickOption(schema, shapeOf(value));
      return option ? toRenderable(option, value) : value;
    }
    case 'list':
      return Array.isArray(value) ? value.map((item) => toRenderable(schema.items, item)) : value;
    case 'record':
      return shapeOf(value) === 'mapping'
        ? mapValues(value as Record<string, unknown>, (v) => toRenderable(schema.values, v))
        : value;
    case 'object':
      return renderObject(schema, value as Record<string, unknown>);
    case 'union': {
      const map = value as Record<string, unknown>;
      const variant = own(schema.variants, String(map[schema.tag]));
      if (!variant) return value;
      const entries = Object.entries(renderObject(variant, map));
      entries.splice(Math.min(schema.tagIndex ?? 0, entries.length), 0, [schema.tag, map[schema.tag]]);
      return Object.fromEntries(entries);
    }
    default:
      return value;
  }
}

function renderObject(schema: ObjectSchema, value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema.fields)) {
    if (value[key] === undefined) continue;
    if (field.onlyFor && typeof value.type === 'string' && !field.onlyFor.includes(value.type)) continue;
    out[key] = toRenderable(field.schema, value[key]);
  }
  return out;
}
