/**
 * The fused optimizer updates of backend.ts's OptimizerUpdate in WebAssembly SIMD, one pass
 * over the parameter, its gradient and its state, in place in kernel memory:
 *   sgd:      p = p - lr (g + wd p)
 *   momentum: g' = g + wd p;  v = μ v + g';  p = p - lr (nesterov ? g' + μ v : v)
 *   adam(w):  g' = g + l2 p;  m = β1 m + (1-β1) g';  v = β2 v + ((1-β2) g') g'
 *             p = (p - lr (m c1) / (√(v c2) + ε)) - d p
 * with c1 = 1 / (1 - β1^t), c2 = 1 / (1 - β2^t), and for adam l2 = wd, d = 0, for adamw
 * l2 = 0, d = lr wd; a decay term whose coefficient is 0 is left out. The operations and their
 * order are those of the reference's loop (cpu.ts), so in float64 the results are the
 * reference's, bit for bit.
 *
 * A momentum buffer or moment smaller in magnitude than the smallest normal number of its type
 * is stored as 0 (see backend.ts's OptimizerUpdate), as the reference does.
 *
 * float32 tensors are updated in float32 arithmetic (4 lanes), as PyTorch does; the reference
 * computes in float64 and rounds what it stores, so the two differ by a few float32 roundings
 * of each step's update (test/fast-cpu-elementwise.test.ts bounds it).
 */
import { F32_MIN_NORMAL, F64_MIN_NORMAL } from '../../tensor.js';
import type { WeightDecayForm } from '../../backend.js';
import { Code, encodeModule, F32, F64, I32, V128, type FunctionDef, type ValType } from './encoder.js';

export type OptimizerKind = 'sgd' | 'momentum' | 'nesterov' | 'adam';
/**
 * A kernel for each form of weight decay (weightDecayOf), as PyTorch skips the decay when it is
 * 0: each term dropped is two operations of the thirty-odd an Adam vector takes.
 */
export type OptimizerKernelName = `${OptimizerKind}_${WeightDecayForm}_f${32 | 64}`;

/**
 * Every kernel takes the same arguments and reads those its update needs: addresses in bytes
 * (the parameter, its gradient, and up to two state arrays), a count in vectors of 16 bytes,
 * then the scalars. `decay` is wd for 'l2' and d = lr wd for 'decoupled'.
 */
export type OptimizerKernel = (p: number, g: number, s0: number, s1: number, vectors: number, lr: number, decay: number,
  momentum: number, b1: number, oneMinusB1: number, b2: number, oneMinusB2: number, c1: number, c2: number, eps: number) => void;
export type OptimizerExports = Record<OptimizerKernelName, OptimizerKernel>;

export const optimizerKernelName = (kind: OptimizerKind, decay: WeightDecayForm, f64: boolean): OptimizerKernelName =>
  `${kind}_${decay}_f${f64 ? 64 : 32}`;

const ADDRESSES = 4, SCALARS = 10;

/** The update with this decay for one element type: float32 (f32x4) or float64 (f64x2). */
function update(kind: OptimizerKind, decay: WeightDecayForm, elt: 4 | 8): Code {
  const T: 'f32x4' | 'f64x2' = elt === 4 ? 'f32x4' : 'f64x2';
  const F = elt === 4 ? F32 : F64;
  const c = new Code([...Array<ValType>(ADDRESSES).fill(I32), I32, ...Array<ValType>(SCALARS).fill(F)]);
  const [pp, gp, s0, s1] = [0, 1, 2, 3], n = ADDRESSES;
  // A scalar argument splatted once into a vector local.
  const scalar = (i: number): number => {
    const l = c.local(V128);
    c.get(ADDRESSES + 1 + i).v(`${T}.splat`).set(l);
    return l;
  };
  const add = `${T}.add` as const, sub = `${T}.sub` as const, mul = `${T}.mul` as const;
  const lr = scalar(0), wd = decay === 'none' ? -1 : scalar(1);
  const p = c.local(V128), g = c.local(V128), a = c.local(V128), b = c.local(V128);
  // x = (|x| or x) < smallest normal ? 0 : x (NaN kept), then stored at `ptr`
  const smallest = c.local(V128);
  (elt === 4 ? c.f32x4(F32_MIN_NORMAL) : c.f64x2(F64_MIN_NORMAL)).set(smallest);
  const storeFlushed = (ptr: number, x: number, nonNegative = false): void => {
    c.get(ptr).get(x).get(x);
    if (!nonNegative) c.v(`${T}.abs`);
    c.get(smallest).v(`${T}.lt`).v('v128.andnot').tee(x).v128Store();
  };
  const mu = kind === 'momentum' || kind === 'nesterov' ? scalar(2) : -1;
  const [b1, omb1, b2, omb2, c1, c2, eps] = kind === 'adam' ? [3, 4, 5, 6, 7, 8, 9].map(scalar) : [];

  c.get(n).if().loop();
  c.get(pp).v128Load().set(p);
  c.get(gp).v128Load().set(g);
  // g' = g + wd p
  if (decay === 'l2') c.get(g).get(wd).get(p).v(mul).v(add).set(g);
  if (kind === 'sgd') {
    c.get(pp).get(p).get(lr).get(g).v(mul).v(sub).v128Store();
  } else if (kind === 'momentum' || kind === 'nesterov') {
    // v = μ v + g'
    c.get(mu).get(s0).v128Load().v(mul).get(g).v(add).set(a);
    storeFlushed(s0, a);
    c.get(pp).get(p).get(lr);
    if (kind === 'nesterov') c.get(g).get(mu).get(a).v(mul).v(add);
    else c.get(a);
    c.v(mul).v(sub).v128Store();
  } else {
    // m = β1 m + (1-β1) g'
    c.get(b1!).get(s0).v128Load().v(mul).get(omb1!).get(g).v(mul).v(add).set(a);
    storeFlushed(s0, a);
    // v = β2 v + ((1-β2) g') g', never negative: 0 <= β2 < 1 (the optimizer checks it)
    c.get(b2!).get(s1).v128Load().v(mul).get(omb2!).get(g).v(mul).get(g).v(mul).v(add).set(b);
    storeFlushed(s1, b, true);
    // p = (p - lr (m c1) / (√(v c2) + ε)) - d p
    c.get(pp).get(p);
    c.get(lr).get(a).get(c1!).v(mul).v(mul);
    c.get(b).get(c2!).v(mul).v(`${T}.sqrt`).get(eps!).v(add);
    c.v(`${T}.div`).v(sub);
    if (decay === 'decoupled') c.get(wd).get(p).v(mul).v(sub);
    c.v128Store();
  }
  const arrays = kind === 'sgd' ? [pp, gp] : kind === 'adam' ? [pp, gp, s0, s1] : [pp, gp, s0];
  for (const q of arrays) c.get(q).i32(16).i32Add().set(q);
  c.get(n).i32(1).i32Sub().tee(n).brIf(0);
  c.end().end();
  return c;
}

/** The bytes of the optimizer module, importing a non-shared memory. */
export function optimizerBytes(maxPages: number): Uint8Array {
  const functions: FunctionDef[] = [];
  for (const kind of ['sgd', 'momentum', 'nesterov', 'adam'] as const) {
    for (const decay of kind === 'adam' ? ['none', 'l2', 'decoupled'] as const : ['none', 'l2'] as const) {
      for (const f64 of [false, true]) functions.push({ name: optimizerKernelName(kind, decay, f64), code: update(kind, decay, f64 ? 8 : 4) });
    }
  }
  return encodeModule(functions, { shared: false, minPages: 1, maxPages });
}
