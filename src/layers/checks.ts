/**
 * The gradient checks of every layer type and every loss, as data beside the primitives' table
 * (engine/checks.ts): a function of the layer's input AND its parameters (both are checked), and
 * where each argument is drawn from at ordinary values ('random') and at the edges ('extreme':
 * saturated gates and activations, pre-activations just beside the kinks of relu and leaky relu,
 * scores just beside the hinge's kink, huge logits). Shapes are tiny so that second order, whose
 * Jacobian is square in the number of arguments, stays fast. `rmad gradcheck` and the test suite
 * run this one list.
 */
import type { InputSpec, Range } from '../engine/checks.js';
import { concat } from '../engine/functions.js';
import { Rng } from '../engine/random.js';
import type { Variable } from '../engine/variable.js';
import type { Activation } from '../loaders/spec.js';
import { activationFns } from './activations.js';
import { Dense, GRU, LSTM, RNN } from './layers.js';
import { binaryCrossEntropy, hinge, mse, softmaxCrossEntropy } from './losses.js';

export interface LayerCheck {
  /** `dense(relu)`, `gru(output=all)`, `hinge`. */
  name: string;
  kind: 'layer' | 'loss';
  /** The arguments of `f`, in order, by the names a failure report uses. */
  args: string[];
  f: (...xs: Variable[]) => Variable;
  inputs: Record<Range, InputSpec[]>;
}

const sym = (shape: number[], lo: number, hi: number): InputSpec => ({ shape, lo, hi, signed: true });
const constant = (spec: InputSpec): InputSpec => ({ ...spec, constant: true });

/** The layer's own initial values are replaced, so its stream does not matter. */
const initRng = new Rng(0);

/**
 * The layer, reading the given variables as its parameters: a layer reads `params` at each
 * forward, so the check's output is a function of the arguments gradcheck differentiates.
 */
function withParams<L extends { params: Map<string, Variable> }>(layer: L, params: Record<string, Variable>): L {
  for (const [key, v] of Object.entries(params)) {
    if (!layer.params.has(key)) throw new RangeError(`layer check: the layer has no parameter '${key}'`);
    layer.params.set(key, v);
  }
  return layer;
}

/**
 * 3 features, 2 units, and the batch [x; -x] of 4 rows: with |b| smaller than |x W|, every unit's
 * pre-activation takes both signs across the batch, so a relu check cannot pass by having every
 * unit dead (where both Jacobians are zero whatever the rule).
 */
function denseCheck(activation: Activation): LayerCheck {
  const kinked = activation === 'relu' || activation === 'leaky_relu';
  return {
    name: `dense(${activation})`,
    kind: 'layer',
    args: ['x', 'dense.W', 'dense.b'],
    f: (x, W, b) => withParams(new Dense(x.ctx, 'dense', [3], { units: 2, activation }, initRng), { W: W!, b: b! }).forward(concat([x, x.neg()], 0)),
    inputs: {
      random: [sym([2, 3], 0.5, 2), sym([3, 2], 0.2, 1), sym([2], 0, 0.1)],
      // Kinked: x W + b is of order 1e-3..1e-2, just beside the kink at 0, on both sides. Smooth:
      // x W + b reaches 60, where tanh, sigmoid and softmax saturate and their gradients underflow.
      extreme: kinked
        ? [sym([2, 3], 1e-3, 1e-2), sym([3, 2], 0.2, 1), sym([2], 1e-5, 1e-4)]
        : [sym([2, 3], 5, 20), sym([3, 2], 0.5, 1), sym([2], 0, 1)],
    },
  };
}

type RecurrentType = 'rnn' | 'gru' | 'lstm';
const gates: Record<RecurrentType, number> = { rnn: 1, gru: 3, lstm: 4 };
const recurrentClass = { rnn: RNN, gru: GRU, lstm: LSTM };

/** Batch 2, 3 steps, 2 features, 2 units. */
function recurrentCheck(type: RecurrentType, output: 'last' | 'all'): LayerCheck {
  const width = gates[type] * 2;
  const Layer = recurrentClass[type];
  return {
    name: `${type}(output=${output})`,
    kind: 'layer',
    args: ['x', `${type}.Wx`, `${type}.Wh`, `${type}.b`],
    f: (x, Wx, Wh, b) => withParams(new Layer(x.ctx, type, [3, 2], { units: 2, output }, initRng), { Wx: Wx!, Wh: Wh!, b: b! }).forward(x),
    inputs: {
      random: [sym([2, 3, 2], 0, 2), sym([2, width], 0, 1), sym([2, width], 0, 1), sym([width], 0, 0.5)],
      // Large inputs saturate every gate: the gradient flows through σ' and tanh' near 0.
      extreme: [sym([2, 3, 2], 5, 20), sym([2, width], 0.5, 1), sym([2, width], 0.5, 2), sym([width], 0, 1)],
    },
  };
}

export const layerChecks: LayerCheck[] = [
  ...(Object.keys(activationFns) as Activation[]).map(denseCheck),
  ...(['rnn', 'gru', 'lstm'] as const).flatMap((t) => [recurrentCheck(t, 'last'), recurrentCheck(t, 'all')]),
];

/**
 * Each loss with its label convention; the labels are constants derived from a drawn constant:
 * ±1 for hinge (drawn with magnitude 1 and a random sign), 0/1 for binary cross entropy
 * (its sign), one-hot rows for softmax cross entropy (the position of each row's maximum).
 */
export const lossChecks: LayerCheck[] = [
  {
    // Scores are drawn as y + d: in the extreme range |d| is 1e-3..1e-2, so margin - y·score =
    // -y·d lies just beside the kink at 0, on both sides.
    name: 'hinge',
    kind: 'loss',
    args: ['d (scores = y + d)', 'y (±1)'],
    f: (d, y) => hinge(d.add(y), y),
    inputs: {
      random: [sym([4, 1], 0, 2), constant(sym([4, 1], 1, 1))],
      extreme: [sym([4, 1], 1e-3, 1e-2), constant(sym([4, 1], 1, 1))],
    },
  },
  {
    name: 'mse',
    kind: 'loss',
    args: ['predictions', 'targets'],
    f: (p, y) => mse(p, y),
    inputs: {
      random: [sym([4, 2], 0, 2), constant(sym([4, 2], 0, 2))],
      extreme: [sym([4, 2], 1e3, 1e4), constant(sym([4, 2], 1e3, 1e4))],
    },
  },
  {
    name: 'binary_cross_entropy',
    kind: 'loss',
    args: ['logits', 'y (0/1 from sign)'],
    f: (z, s) => binaryCrossEntropy(z, s.gt(0)),
    inputs: {
      random: [sym([4, 1], 0, 3), constant(sym([4, 1], 0.1, 1))],
      // σ(z) rounds to 0 or 1 here: only softplus(z) - y z keeps the gradient finite.
      extreme: [sym([4, 1], 10, 40), constant(sym([4, 1], 0.1, 1))],
    },
  },
  {
    name: 'softmax_cross_entropy',
    kind: 'loss',
    args: ['logits', 'y (one-hot of argmax)'],
    f: (z, s) => softmaxCrossEntropy(z, s.eq(s.amax(-1, true))),
    inputs: {
      random: [sym([4, 3], 0, 2), constant({ ...sym([4, 3], 0, 1), distinct: true })],
      // e^500 overflows: only a max-shifted log-softmax survives.
      extreme: [sym([4, 3], 500, 800), constant({ ...sym([4, 3], 0, 1), distinct: true })],
    },
  },
];
