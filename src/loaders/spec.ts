/**
 * The resolved model file: what a YAML model file means once it is parsed, validated and every
 * default is filled in. The schema (schema.ts) describes the same shape for validation and for
 * editors; this file is its TypeScript face, the contract between the loaders, the layers and
 * the training loop.
 */

export type LabelMode = 'pm1' | 'binary' | 'onehot' | 'real';
export type NormalizeMode = 'none' | 'standard' | 'minmax';
export type GeneratorName = 'blobs' | 'xor' | 'spiral' | 'moons' | 'circles' | 'parity' | 'sine';
export type Activation = 'identity' | 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid' | 'softmax' | 'gelu';
export type Initializer = 'glorot' | 'he' | 'zeros';

export interface SplitSpec {
  train: number;
  val?: number;
  test?: number;
}

/** For sequence models: each row's features are read as `steps` x `features`, step-major. */
export interface SequenceSpec {
  steps: number;
  features: number;
}

interface DataCommon {
  labels: LabelMode;
  normalize: NormalizeMode;
  split: SplitSpec;
  sequence?: SequenceSpec;
}

export interface CsvDataSpec extends DataCommon {
  source: 'csv';
  /** Relative to the model file's folder. */
  path: string;
  /** Column names; omitted means every column but the target. */
  features?: string[];
  target: string;
}

export interface GeneratorDataSpec extends DataCommon {
  source: 'generator';
  generator: GeneratorName;
  /** Generator parameters (n, noise, classes, bits, ...), each generator documents its own. */
  params: Record<string, number>;
}

export type DataSpec = CsvDataSpec | GeneratorDataSpec;

export interface DenseSpec {
  name: string;
  type: 'dense';
  units: number;
  activation: Activation;
  bias: boolean;
  init: Initializer;
}

export interface RecurrentSpec {
  name: string;
  type: 'rnn' | 'gru' | 'lstm';
  units: number;
  /** The cell's activation (rnn only; gru and lstm use their standard gates). */
  activation: Activation;
  /** `last`: the final hidden state; `all`: every step's, shape [batch, steps, units]. */
  output: 'last' | 'all';
  bias: boolean;
  init: Initializer;
}

export type LayerSpec = DenseSpec | RecurrentSpec;

export interface ModelArchSpec {
  input: number | SequenceSpec;
  layers: LayerSpec[];
}

export type LossSpec =
  | { type: 'hinge'; margin: number }
  | { type: 'mse' }
  | { type: 'binary_cross_entropy' }
  | { type: 'softmax_cross_entropy' };

export type ScheduleSpec =
  | { type: 'constant' }
  | { type: 'step'; step_size: number; gamma: number }
  | { type: 'exponential'; gamma: number }
  | { type: 'cosine'; t_max: number; min_lr: number };

export interface OptimizerSpec {
  type: 'sgd' | 'momentum' | 'adam' | 'adamw';
  lr: number;
  /** momentum only. */
  momentum: number;
  nesterov: boolean;
  /** adam and adamw. */
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: number;
  /** Global gradient norm clip; null is off. */
  clip_norm: number | null;
  schedule: ScheduleSpec;
}

export interface EarlyStopSpec {
  /** e.g. `val.loss`. */
  metric: string;
  mode: 'min' | 'max';
  patience: number;
  min_delta: number;
}

export interface TrainSpec {
  epochs: number;
  batch_size: number;
  shuffle: boolean;
  eval_every: number;
  early_stop: EarlyStopSpec | null;
  /** Write a resumable checkpoint every this many epochs (the last epoch always writes one). */
  checkpoint: { every: number };
}

export interface InitSpec {
  /** A run folder or a weights.safetensors file, relative to the model file's folder. */
  from: string;
  /** Layer names to load; omitted means every layer present in both. */
  load?: string[];
  /** A missing name or a shape mismatch is an error (otherwise it is skipped with a warning). */
  strict: boolean;
}

export type Distribution =
  | { uniform: [number, number] }
  | { loguniform: [number, number] }
  | { choice: (number | string | boolean)[] };

export interface GateSpec {
  metric: string;
  scope: 'each' | 'best' | 'mean';
  min?: number;
  max?: number;
}

export interface SweepSpec {
  method: 'grid' | 'list' | 'random';
  /** grid: dotted path -> list of values; random: dotted path -> list or distribution. */
  parameters: Record<string, (number | string | boolean)[] | Distribution>;
  /** list: explicit override sets. */
  trials?: Record<string, number | string | boolean>[];
  seeds?: number[];
  /** random: how many draws; every method: the most trials allowed. */
  max_trials: number;
  /** random: the seed of the parameter draws. */
  seed: number;
  objective: { metric: string; mode: 'min' | 'max' };
  expect: GateSpec[];
}

export interface ModelSpec {
  rmad: 1;
  name: string;
  seed: number;
  data: DataSpec;
  model: ModelArchSpec;
  loss: LossSpec;
  optimizer: OptimizerSpec;
  train: TrainSpec;
  init: InitSpec | null;
  freeze: string[];
  metrics: string[];
  sweep: SweepSpec | null;
}
