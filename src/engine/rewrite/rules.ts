/**
 * The rewrite rules, as data: each a pattern and its replacement in the pattern language
 * (pattern.ts), the conditions under which the two sides agree, and the maths of why. Every rule
 * must make the term cheaper (pattern.ts's cost: weighted ops, then nodes), which with the step
 * limit of rewrite.ts guarantees that rewriting stops.
 *
 * "Agree" means: the same value in exact arithmetic, the same float result where the left side
 * neither overflows nor underflows in an intermediate (where it does, the right side is the more
 * accurate: log(exp(800)) is Inf, 800 is right), and the same on NaN, ±Inf and -0 inputs. Rules
 * that differ on NaN, Inf or -0 carry `unsafe` (saying where) and run only with `unsafeMath`.
 * Gradients agree in the same sense, at first and higher order (test/rewrite.test.ts proves each
 * rule on random inputs, with gradcheck on the rewritten graph).
 *
 * The engine composes softmax as exp(logSoftmax(x)) = exp(x - logSumExp(x)), so log(softmax(x))
 * becomes logSoftmax(x) by `log-exp`; mean as sum / n; sigmoid is a primitive, but a user's
 * 2 / (1 + e^-x) is not, until `sigmoid` rewrites it.
 */
import type { Node } from './ir.js';

/** The nodes and params a match bound, for a rule's conditions and computed values. */
export interface Match {
  /** The node the rule is rewriting. */
  readonly root: Node;
  node(name: string): Node;
  /** The value of a constant bound to `name` (every element equal), or null if it is not one. */
  value(name: string): number | null;
  params<T>(name: string): T;
}

export interface RewriteRule {
  readonly name: string;
  /** `pattern -> replacement`. */
  readonly rule: string;
  /** Why the sides are equal (the maths), and the conditions it needs. */
  readonly why: string;
  /** Conditions on the bound nodes; the rule applies only where it returns true. */
  readonly when?: (m: Match) => boolean;
  /**
   * Names of the replacement that the pattern does not bind: a number (a new scalar constant)
   * or params. Null: the rule does not apply.
   */
  readonly let?: Readonly<Record<string, (m: Match) => number | object | null>>;
  /** Set on rules that change results on NaN, Inf or -0: where they do. Off unless `unsafeMath`. */
  readonly unsafe?: string;
}

const DEPTH = 48;

const positiveMemo = new WeakMap<Node, boolean>();

/**
 * Whether every element of `n` is > 0 in exact arithmetic: a positive constant, exp, sigmoid,
 * softplus, cosh, and sums, products, quotients, square roots and powers of positive values.
 * (In floats exp, sigmoid and softplus can underflow to 0; a rule that relies on positivity then
 * gives the exact-arithmetic result where the left side would give 0, Inf or NaN.)
 */
export function knownPositive(n: Node, depth = 0): boolean {
  const memo = positiveMemo.get(n);
  if (memo !== undefined) return memo;
  let r = false;
  if (n.kind === 'const') r = n.value! > 0;
  else if (n.kind === 'tensor' && !n.external) r = n.tensor!.data().every((v) => v > 0);
  else if (n.kind === 'op' && depth < DEPTH) {
    const [a, b] = n.inputs;
    switch (n.op) {
      case 'exp': case 'sigmoid': case 'softplus': case 'cosh': r = true; break;
      case 'sqrt': r = knownPositive(a!, depth + 1); break;
      case 'pow': r = knownPositive(a!, depth + 1); break;
      case 'add': case 'mul': case 'div': r = knownPositive(a!, depth + 1) && knownPositive(b!, depth + 1); break;
      case 'where': r = knownPositive(b!, depth + 1) && knownPositive(n.inputs[2]!, depth + 1); break;
      default: r = false;
    }
  }
  positiveMemo.set(n, r);
  return r;
}

const notNegZeroMemo = new WeakMap<Node, boolean>();

/**
 * Whether no element of `n` can be -0: a constant that is not -0, values > 0, relu, abs,
 * comparisons (0 or 1), and a + b where either cannot be -0 (IEEE: a sum is -0 only when both
 * terms are -0), a - b where a cannot be.
 */
export function cannotBeNegativeZero(n: Node, depth = 0): boolean {
  const memo = notNegZeroMemo.get(n);
  if (memo !== undefined) return memo;
  let r = false;
  if (knownPositive(n)) r = true;
  else if (n.kind === 'const') r = !Object.is(n.value, -0);
  else if (n.kind === 'tensor' && !n.external) r = n.tensor!.data().every((v) => !Object.is(v, -0));
  else if (n.kind === 'op' && depth < DEPTH) {
    const [a, b] = n.inputs;
    switch (n.op) {
      case 'relu': case 'abs': case 'compare': r = true; break;
      case 'add': r = cannotBeNegativeZero(a!, depth + 1) || cannotBeNegativeZero(b!, depth + 1); break;
      case 'sub': r = cannotBeNegativeZero(a!, depth + 1); break;
      case 'where': r = cannotBeNegativeZero(b!, depth + 1) && cannotBeNegativeZero(n.inputs[2]!, depth + 1); break;
      default: r = false;
    }
  }
  notNegZeroMemo.set(n, r);
  return r;
}

const isIdentity = (perm: readonly number[]) => perm.every((p, i) => p === i);
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The rule table. Order matters only for speed: the first rule that applies at a node fires. */
export const rewriteRules: readonly RewriteRule[] = [
  // ------------------------------------------------------------------ identities
  { name: 'mul-one', rule: 'mul(x, 1) -> x', why: 'x·1 = x for every float, NaN, ±Inf and -0 included; d/dx = 1' },
  { name: 'div-one', rule: 'div(x, 1) -> x', why: 'x/1 = x for every float' },
  { name: 'sub-zero', rule: 'sub(x, 0) -> x', why: 'x - 0 = x for every float (-0 - 0 = -0)' },
  { name: 'add-negative-zero', rule: 'add(x, -0) -> x', why: 'x + (-0) = x for every float: -0 is the additive identity of IEEE 754' },
  {
    name: 'add-zero', rule: 'add(x, 0) -> x', when: (m) => cannotBeNegativeZero(m.node('x')),
    why: 'x + 0 = x for every float but -0 (-0 + 0 = +0): applied where x cannot be -0 (see cannotBeNegativeZero)',
  },
  { name: 'pow-one', rule: 'pow(x, 1) -> x', why: 'x^1 = x for every float; d/dx = 1·x^0 = 1' },
  { name: 'neg-neg', rule: 'neg(neg(x)) -> x', why: '-(-x) = x for every float' },
  { name: 'mul-minus-one', rule: 'mul(x, -1) -> neg(x)', why: 'x·(-1) = -x exactly, signs of zeros and NaN included' },
  { name: 'add-neg', rule: 'add(x, neg(y)) -> sub(x, y)', why: 'IEEE 754 defines x - y as x + (-y)' },
  { name: 'sub-neg', rule: 'sub(x, neg(y)) -> add(x, y)', why: 'x - (-y) = x + y, as IEEE 754 defines subtraction' },
  {
    name: 'neg-mul-constant', rule: 'neg(mul(x, c)) -> mul(x, nc)', let: { nc: (m) => (m.value('c') === null ? null : -m.value('c')!) },
    why: '-(x·c) = x·(-c) exactly: rounding is symmetric in sign',
  },
  {
    name: 'neg-div-constant', rule: 'neg(div(x, c)) -> div(x, nc)', let: { nc: (m) => (m.value('c') === null ? null : -m.value('c')!) },
    why: '-(x/c) = x/(-c) exactly: rounding is symmetric in sign (the mean of a loss, negated)',
  },
  // ------------------------------------------------------------------ exp and log
  {
    name: 'log-exp', rule: 'log(exp(x)) -> add(x, 0)',
    why: 'ln eˣ = x, and log softmax(x) = log exp(x - logSumExp(x)) = logSoftmax(x); d/dx = eˣ/eˣ = 1. The + 0 keeps the one float difference ' +
      'away: ln e^-0 = ln 1 = +0, and -0 + 0 = +0; it goes where x cannot be -0 (add-zero) and costs nothing once fused',
  },
  {
    name: 'exp-log', rule: 'exp(log(x)) -> x', when: (m) => knownPositive(m.node('x')),
    why: 'e^(ln x) = x for x > 0 only (for x < 0 the left side is NaN): applied where x is known positive',
  },
  {
    name: 'sigmoid', rule: 'div(c, add(1, exp(neg(x)))) -> mul(c, sigmoid(x))',
    why: 'c / (1 + e^-x) = c σ(x), and σ never overflows where e^-x does; d/dx = c σ(x)(1 - σ(x)) both ways',
  },
  { name: 'softplus', rule: 'log(add(1, exp(x))) -> softplus(x)', why: 'ln(1 + eˣ) = softplus(x), which does not overflow for large x; d/dx = σ(x)' },
  {
    name: 'logsumexp', rule: 'log(sum{p}(exp(x))) -> logSumExp{p}(x)',
    why: 'ln Σ eˣ over the same axes is logSumExp, computed as m + ln Σ e^(x-m) without overflow; d/dx = softmax(x)',
  },
  {
    name: 'pow-pow', rule: 'pow(pow(x, a), b) -> pow(x, ab)',
    when: (m) => {
      const a = m.value('a'), b = m.value('b');
      return a !== null && b !== null && ((Number.isInteger(a) && Number.isInteger(b)) || knownPositive(m.node('x')));
    },
    let: { ab: (m) => m.value('a')! * m.value('b')! },
    why: '(xᵃ)ᵇ = x^(ab) for constant a, b when both are integers (any real x) or x > 0; not otherwise: (x²)^½ = |x| ≠ x for x < 0, and (x^½)² is NaN there',
  },
  {
    name: 'pow-square', rule: 'pow(mul(x, x), b) -> pow(x, b2)',
    when: (m) => m.value('b') !== null && (Number.isInteger(m.value('b')!) || knownPositive(m.node('x'))),
    let: { b2: (m) => 2 * m.value('b')! },
    why: '(x·x)ᵇ = x^(2b) under the conditions of pow-pow with a = 2 (pow-two has already made x² a product)',
  },
  { name: 'pow-two', rule: 'pow(x, 2) -> mul(x, x)', why: 'x^2 = x·x, correctly rounded both ways; d/dx = 2x either way (after pow-pow, so that (x³)² is x⁶)' },
  // ------------------------------------------------------------------ shapes
  {
    name: 'transpose-transpose', rule: 'transpose{p}(transpose{q}(x)) -> transpose{r}(x)',
    let: { r: (m) => ({ perm: m.params<{ perm: number[] }>('p').perm.map((i) => m.params<{ perm: number[] }>('q').perm[i]!) }) },
    why: 'two permutations compose into one: the outer p of the inner q is r[k] = q[p[k]]',
  },
  { name: 'transpose-identity', rule: 'transpose{p}(x) -> x', when: (m) => isIdentity(m.params<{ perm: number[] }>('p').perm), why: 'the identity permutation' },
  { name: 'reshape-reshape', rule: 'reshape{p}(reshape{q}(x)) -> reshape{p}(x)', why: 'row-major reshapes compose: only the last shape matters' },
  { name: 'reshape-identity', rule: 'reshape{p}(x) -> x', when: (m) => sameShape(m.params<{ shape: number[] }>('p').shape, m.node('x').shape), why: 'a reshape to the same shape' },
  { name: 'broadcast-broadcast', rule: 'broadcastTo{p}(broadcastTo{q}(x)) -> broadcastTo{p}(x)', why: 'broadcasting twice is broadcasting once to the last shape' },
  { name: 'broadcast-identity', rule: 'broadcastTo{p}(x) -> x', when: (m) => sameShape(m.params<{ shape: number[] }>('p').shape, m.node('x').shape), why: 'a broadcast to the same shape' },
  // ------------------------------------------------------------------ unsafe: only with unsafeMath
  { name: 'add-zero-any', rule: 'add(x, 0) -> x', unsafe: 'x = -0 gives -0, where x + 0 is +0', why: 'x + 0 = x but for the sign of a zero' },
  { name: 'mul-zero', rule: 'mul(x, 0) -> 0', unsafe: 'NaN·0 and ±Inf·0 are NaN, and a negative x gives -0', why: 'x·0 = 0 for finite x' },
  { name: 'sub-self', rule: 'sub(x, x) -> 0', unsafe: 'Inf - Inf and NaN - NaN are NaN', why: 'x - x = 0 for finite x' },
  { name: 'div-self', rule: 'div(x, x) -> 1', unsafe: '0/0, Inf/Inf and NaN/NaN are NaN', why: 'x/x = 1 for finite non-zero x' },
  { name: 'zero-sub', rule: 'sub(0, x) -> neg(x)', unsafe: '0 - 0 = +0 but -(0) = -0', why: '0 - x = -x but for the sign of a zero' },
  { name: 'pow-half', rule: 'pow(x, 0.5) -> sqrt(x)', unsafe: 'pow(-0, ½) = +0 but √-0 = -0; pow(-Inf, ½) = Inf but √-Inf = NaN', why: 'x^½ = √x for x ≥ 0 and NaN inputs' },
  { name: 'exp-log-any', rule: 'exp(log(x)) -> x', unsafe: 'x < 0 gives x where the left side is NaN; x = 0 has gradient 1 where the left side has NaN', why: 'e^(ln x) = x for x > 0' },
];
