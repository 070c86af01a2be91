/**
 * The gradient checks of every primitive: a function exercising it, and where its inputs are
 * drawn from, at ordinary values ('random') and at the edges where gradients go wrong
 * ('extreme': large magnitudes, values just beside the kinks of relu/abs/max, values near 0
 * for log and sqrt). The test suite and `rmad gradcheck` both run this one list.
 */
import type { Op } from './primitives.js';
import { Rng } from './random.js';
import { concat } from './functions.js';
import type { Variable } from './variable.js';

export type Range = 'random' | 'extreme';

/** Draws one input: its shape, and a value per element from [lo, hi] with a random sign if asked. */
export interface InputSpec {
  shape: number[];
  lo: number;
  hi: number;
  signed?: boolean;
  /** Not differentiated (a condition or a mask). */
  constant?: boolean;
  /** Elements at least this far apart (so max has no ties). */
  distinct?: boolean;
}

export interface PrimitiveCheck {
  name: string;
  /** The primitive it exercises. */
  op: Op;
  f: (...xs: Variable[]) => Variable;
  inputs: Record<Range, InputSpec[]>;
}

const both = (spec: InputSpec[]): Record<Range, InputSpec[]> => ({ random: spec, extreme: spec });
const sym = (shape: number[], lo: number, hi: number): InputSpec => ({ shape, lo, hi, signed: true });
const pos = (shape: number[], lo: number, hi: number): InputSpec => ({ shape, lo, hi });

function unaryCheck(op: Op, f: (x: Variable) => Variable, random: InputSpec, extreme: InputSpec): PrimitiveCheck {
  return { name: op, op, f, inputs: { random: [random], extreme: [extreme] } };
}

const S = [2, 3];

export const primitiveChecks: PrimitiveCheck[] = [
  { name: 'add', op: 'add', f: (a, b) => a.add(b), inputs: { random: [sym(S, 0, 2), sym([3], 0, 2)], extreme: [sym(S, 1e4, 1e6), sym([1, 3], 1e4, 1e6)] } },
  { name: 'sub', op: 'sub', f: (a, b) => a.sub(b), inputs: { random: [sym(S, 0, 2), sym([2, 1], 0, 2)], extreme: [sym(S, 1e4, 1e6), sym(S, 1e4, 1e6)] } },
  { name: 'mul', op: 'mul', f: (a, b) => a.mul(b), inputs: { random: [sym(S, 0, 2), sym([3], 0, 2)], extreme: [sym(S, 1e2, 1e3), sym(S, 1e-3, 1e-2)] } },
  { name: 'div', op: 'div', f: (a, b) => a.div(b), inputs: { random: [sym(S, 0, 2), sym(S, 0.5, 2)], extreme: [sym(S, 1e2, 1e3), sym(S, 0.05, 0.1)] } },
  { name: 'pow', op: 'pow', f: (a, b) => a.pow(b), inputs: { random: [pos(S, 0.5, 2), sym(S, 0, 2)], extreme: [pos(S, 1e2, 1e3), sym(S, 0, 0.5)] } },
  unaryCheck('neg', (x) => x.neg(), sym(S, 0, 2), sym(S, 1e5, 1e6)),
  unaryCheck('exp', (x) => x.exp(), sym(S, 0, 2), sym(S, 10, 30)),
  unaryCheck('log', (x) => x.log(), pos(S, 0.1, 3), pos(S, 1e-3, 1e-2)),
  unaryCheck('sqrt', (x) => x.sqrt(), pos(S, 0.1, 3), pos(S, 1e-3, 1e-2)),
  unaryCheck('abs', (x) => x.abs(), sym(S, 0.1, 2), sym(S, 1e-3, 1e-2)),
  unaryCheck('sign', (x) => x.sign().mul(x), sym(S, 0.1, 2), sym(S, 1e-3, 1e-2)),
  unaryCheck('sin', (x) => x.sin(), sym(S, 0, 3), sym(S, 1e2, 1e3)),
  unaryCheck('cos', (x) => x.cos(), sym(S, 0, 3), sym(S, 1e2, 1e3)),
  unaryCheck('tan', (x) => x.tan(), sym(S, 0, 1.2), sym(S, 1.3, 1.45)),
  unaryCheck('asin', (x) => x.asin(), sym(S, 0, 0.9), sym(S, 0.99, 0.995)),
  unaryCheck('acos', (x) => x.acos(), sym(S, 0, 0.9), sym(S, 0.99, 0.995)),
  unaryCheck('atan', (x) => x.atan(), sym(S, 0, 3), sym(S, 1e2, 1e3)),
  unaryCheck('sinh', (x) => x.sinh(), sym(S, 0, 2), sym(S, 10, 30)),
  unaryCheck('cosh', (x) => x.cosh(), sym(S, 0, 2), sym(S, 10, 30)),
  unaryCheck('tanh', (x) => x.tanh(), sym(S, 0, 2), sym(S, 5, 20)),
  unaryCheck('sigmoid', (x) => x.sigmoid(), sym(S, 0, 3), sym(S, 10, 40)),
  unaryCheck('softplus', (x) => x.softplus(), sym(S, 0, 3), sym(S, 10, 40)),
  unaryCheck('relu', (x) => x.relu(), sym(S, 0.1, 2), sym(S, 1e-3, 1e-2)),
  { name: 'compare', op: 'compare', f: (a, b) => a.gt(b).mul(a), inputs: both([sym(S, 0.1, 2), sym(S, 0.1, 2)]) },
  { name: 'where', op: 'where', f: (c, a, b) => c.gt(0).where(a, b), inputs: both([{ ...sym(S, 0.1, 1), constant: true }, sym(S, 0, 2), sym([3], 0, 2)]) },
  { name: 'sum', op: 'sum', f: (x) => x.sum(1).mul(x.sum([0, 2], true).sum()), inputs: { random: [sym([2, 3, 2], 0, 2)], extreme: [sym([2, 3, 2], 1e3, 1e4)] } },
  { name: 'max', op: 'max', f: (x) => x.amax(1).add(x.amax()), inputs: { random: [{ ...sym([3, 4], 0, 2), distinct: true }], extreme: [{ ...sym([3, 4], 1e3, 1e4), distinct: true }] } },
  { name: 'logSumExp', op: 'logSumExp', f: (x) => x.logSumExp(1).add(x.logSumExp(0).sum()), inputs: { random: [sym([3, 4], 0, 2)], extreme: [sym([3, 4], 500, 800)] } },
  { name: 'softmaxCrossEntropy', op: 'softmaxCrossEntropy', f: (z, t) => z.softmaxCrossEntropy(t).square().sum(), inputs: { random: [sym([3, 4], 0, 2), pos([3, 4], 0, 1)], extreme: [sym([3, 4], 500, 800), pos([3, 4], 0, 1)] } },
  { name: 'softmaxCrossEntropy(t constant)', op: 'softmaxCrossEntropy', f: (z, t) => z.softmaxCrossEntropy(t).square().sum(), inputs: { random: [sym([3, 4], 0, 2), { ...pos([3, 4], 0, 1), constant: true }], extreme: [sym([3, 4], 500, 800), { ...pos([3, 4], 0, 1), constant: true }] } },
  { name: 'broadcastTo', op: 'broadcastTo', f: (x) => x.broadcastTo([2, 3, 4]).mul(x.sin()), inputs: both([sym([3, 1], 0, 2)]) },
  { name: 'matmul', op: 'matmul', f: (a, b) => a.matmul(b), inputs: both([sym([2, 3], 0, 2), sym([3, 4], 0, 2)]) },
  { name: 'matmul(aᵀ)', op: 'matmul', f: (a, b) => a.matmul(b, true, false), inputs: both([sym([3, 2], 0, 2), sym([3, 4], 0, 2)]) },
  { name: 'matmul(bᵀ)', op: 'matmul', f: (a, b) => a.matmul(b, false, true), inputs: both([sym([2, 3], 0, 2), sym([4, 3], 0, 2)]) },
  { name: 'matmul(aᵀbᵀ)', op: 'matmul', f: (a, b) => a.matmul(b, true, true), inputs: both([sym([3, 2], 0, 2), sym([4, 3], 0, 2)]) },
  { name: 'matmul(batched)', op: 'matmul', f: (a, b) => a.matmul(b), inputs: both([sym([2, 2, 3], 0, 2), sym([2, 3, 2], 0, 2)]) },
  { name: 'linear', op: 'linear', f: (x, w, b) => x.linear(w, b).sin(), inputs: both([sym([2, 3], 0, 2), sym([3, 4], 0, 2), sym([4], 0, 2)]) },
  { name: 'linear(3-d input)', op: 'linear', f: (x, w, b) => x.linear(w, b).sin(), inputs: both([sym([2, 2, 3], 0, 2), sym([3, 4], 0, 2), sym([4], 0, 2)]) },
  {
    name: 'linear(+ h U + v V)', op: 'linear', f: (x, w, b, h, u, v, vw) => x.linear(w, b, [h, u], [v, vw]).sin(),
    inputs: both([sym([2, 3], 0, 2), sym([3, 4], 0, 2), sym([4], 0, 2), sym([2, 5], 0, 2), sym([5, 4], 0, 2), sym([2, 1], 0, 2), sym([1, 4], 0, 2)]),
  },
  {
    name: 'linear(3-d input, + h U)', op: 'linear', f: (x, w, b, h, u) => x.linear(w, b, [h, u]).sin(),
    inputs: both([sym([2, 2, 3], 0, 2), sym([3, 4], 0, 2), sym([4], 0, 2), sym([2, 2, 5], 0, 2), sym([5, 4], 0, 2)]),
  },
  { name: 'transpose', op: 'transpose', f: (x) => x.transpose([2, 0, 1]).mul(x.transpose([2, 0, 1]).sin()), inputs: both([sym([2, 3, 2], 0, 2)]) },
  { name: 'reshape', op: 'reshape', f: (x) => x.reshape([3, -1]).sin(), inputs: both([sym([2, 3], 0, 2)]) },
  { name: 'slice', op: 'slice', f: (x) => x.slice([0, 1], [2, 2]).exp(), inputs: both([sym([3, 4], 0, 1)]) },
  { name: 'pad', op: 'pad', f: (x) => x.pad([1, 0], [0, 2]).sin(), inputs: both([sym(S, 0, 2)]) },
  { name: 'concat', op: 'concat', f: (a, b) => concat([a, b, a], 1).sin(), inputs: both([sym([2, 2], 0, 2), sym([2, 3], 0, 2)]) },
  { name: 'gather', op: 'gather', f: (x) => x.gather([2, 0, 2], 0).sin(), inputs: both([sym([3, 2], 0, 2)]) },
  { name: 'scatterAdd', op: 'scatterAdd', f: (x) => x.scatterAdd([1, 3, 1], 1, [2, 4]).sin(), inputs: both([sym([2, 3], 0, 2)]) },
];

/** Draws a check's inputs from a seeded stream. */
export function drawInputs(specs: readonly InputSpec[], rng: Rng): Float64Array[] {
  return specs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const mag = s.lo + (s.hi - s.lo) * rng.uniform();
      out[i] = s.signed && rng.uniform() < 0.5 ? -mag : mag;
    }
    if (s.distinct) {
      // Evenly spaced values in a random order: no two are close, so max has no ties.
      const perm = rng.permutation(n);
      const start = s.signed ? -s.hi : s.lo;
      const span = s.signed ? 2 * s.hi : s.hi - s.lo;
      for (let r = 0; r < n; r++) out[perm[r]!] = start + ((r + 0.5) * span) / n;
    }
    return out;
  });
}
