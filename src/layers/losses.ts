/**
 * Losses, each the mean over the batch, each numerically stable for any finite input, and the
 * accuracy of a model's output under each (computed on the host, outside the graph).
 */
import { sameShape, ShapeError } from '../engine/tensor.js';
import type { Variable } from '../engine/variable.js';
import type { LossSpec } from '../loaders/spec.js';

/**
 * The output and its target must have one shape: broadcasting a [batch, 1] output against a
 * [batch] target would compare every output with every target, a silently wrong loss.
 */
function checkTarget(loss: string, out: Variable, y: Variable): void {
  if (!sameShape(out.shape, y.shape)) {
    throw new ShapeError(`${loss}: the output ${out.describe()} and the target ${y.describe()} differ in shape; give the target the output's shape`);
  }
}

/** mean(max(0, margin - y s)) with y in {-1, +1}. */
export function hinge(scores: Variable, y: Variable, margin = 1): Variable {
  checkTarget('hinge', scores, y);
  return y.mul(scores).rsub(margin).relu().mean();
}

/** mean((p - y)²). */
export function mse(pred: Variable, y: Variable): Variable {
  checkTarget('mse', pred, y);
  return pred.sub(y).square().mean();
}

/**
 * Binary cross entropy on logits z with y in {0, 1}: -[y log σ(z) + (1 - y) log(1 - σ(z))]
 * = softplus(z) - y z, which never takes the log of 0.
 */
export function binaryCrossEntropy(logits: Variable, y: Variable): Variable {
  checkTarget('binaryCrossEntropy', logits, y);
  return logits.softplus().sub(y.mul(logits)).mean();
}

/** -Σ y log softmax(z) over the classes (last axis), averaged over the batch. */
export function softmaxCrossEntropy(logits: Variable, onehot: Variable): Variable {
  return logits.softmaxCrossEntropy(onehot).mean();
}

export function lossFor(spec: LossSpec): (out: Variable, y: Variable) => Variable {
  switch (spec.type) {
    case 'hinge': return (s, y) => hinge(s, y, spec.margin);
    case 'mse': return mse;
    case 'binary_cross_entropy': return binaryCrossEntropy;
    case 'softmax_cross_entropy': return softmaxCrossEntropy;
  }
}

/** How many rows the output gets right, for losses that classify (null for mse). */
export function countCorrect(loss: LossSpec['type'], out: ArrayLike<number>, y: ArrayLike<number>, rows: number): number | null {
  const width = out.length / rows;
  let right = 0;
  for (let r = 0; r < rows; r++) {
    if (loss === 'hinge') right += (out[r]! > 0 ? 1 : -1) === y[r] ? 1 : 0;
    else if (loss === 'binary_cross_entropy') right += (out[r]! > 0 ? 1 : 0) === y[r] ? 1 : 0;
    else if (loss === 'softmax_cross_entropy') right += argmax(out, r * width, width) === argmax(y, r * width, width) ? 1 : 0;
    else return null;
  }
  return right;
}

export function argmax(a: ArrayLike<number>, offset: number, width: number): number {
  let best = 0;
  for (let i = 1; i < width; i++) if (a[offset + i]! > a[offset + best]!) best = i;
  return best;
}

/** The model's output as predictions: probabilities for the cross entropies, raw otherwise. */
export function predictionOf(loss: LossSpec['type'], out: Variable): Variable {
  if (loss === 'softmax_cross_entropy') return out.softmax(-1);
  if (loss === 'binary_cross_entropy') return out.sigmoid();
  return out;
}
