/**
 * The fused optimizer updates of backend.ts's OptimizerUpdate in WebAssembly SIMD, one pass
 * over the parameter, its gradient and its state, in place in kernel memory:
 *   sgd:      p = p - lr (g + wd p)
 *   momentum: g' = g + wd p;  v = μ v + g';  p = p - lr (nesterov ? g' + μ v : v)
 *   adam(w):  g' = g + l2 p;  m = β1 m + (1-β1) g';  v = β2 v + ((1-β2) g') g'
 *             p = (p - lr (m c1) / (√(v c2) + ε)) - d p
 * with c1 = 1 / (1 - β1^t), c2 = 1 / (1 - β2^t), and for adam l2 = wd, d = 0, for adamw
 * l2 = 0, d = lr wd. The operations and their order are those of the reference's loop
 * (cpu.ts), so in float64 the results are the reference's, bit for bit.
 *
 * A momentum buffer or moment smaller in magnitude than the smallest normal number of its type
 * is stored as 0 (see backend.ts's OptimizerUpdate), as the reference does.
 *
 * float32 tensors are updated in float32 arithmetic (4 lanes), as PyTorch does; the reference
 * computes in float64 and rounds what it stores, so the two differ by a few float32 roundings
 * of each step's update (test/fast-cpu-elementwise.test.ts bounds it).
 */
import { F32_MIN_NORMAL, F64_MIN_NORMAL } from '../../tensor.js';
import { Code, encodeModule, F32, F64, I32, V128, type FunctionDef, type ValType } from './encoder.js';

export type OptimizerKind = 'sgd' | 'momentum' | 'nesterov' | 'adam';

/** Exported as `${kind}_f32` and `${kind}_f64`; addresses in bytes, counts in vectors of 16 bytes. */
export interface OptimizerExports {
  sgd_f32(p: number, g: number, vectors: number, lr: number, wd: number): void;
  sgd_f64(p: number, g: number, vectors: number, lr: number, wd: number): void;
  momentum_f32(p: number, g: number, v: number, vectors: number, lr: number, wd: number, mu: number): void;
  momentum_f64(p: number, g: number, v: number, vectors: number, lr: number, wd: number, mu: number): void;
  nesterov_f32(p: number, g: number, v: number, vectors: number, lr: number, wd: number, mu: number): void;
  nesterov_f64(p: number, g: number, v: number, vectors: number, lr: number, wd: number, mu: number): void;
  adam_f32(p: number, g: number, m: number, v: number, vectors: number, lr: number, l2: number,
    b1: number, oneMinusB1: number, b2: number, oneMinusB2: number, c1: number, c2: number, eps: number, decoupled: number): void;
  adam_f64(p: number, g: number, m: number, v: number, vectors: number, lr: number, l2: number,
    b1: number, oneMinusB1: number, b2: number, oneMinusB2: number, c1: number, c2: number, eps: number, decoupled: number): void;
}

/** The update for one element type: float32 (f32x4) or float64 (f64x2). */
function update(kind: OptimizerKind, elt: 4 | 8): Code {
  const T: 'f32x4' | 'f64x2' = elt === 4 ? 'f32x4' : 'f64x2';
  const F = elt === 4 ? F32 : F64;
  const arrays = kind === 'sgd' ? 2 : kind === 'adam' ? 4 : 3;
  const scalars = kind === 'sgd' ? 2 : kind === 'adam' ? 10 : 3;
  const c = new Code([...Array<ValType>(arrays).fill(I32), I32, ...Array<ValType>(scalars).fill(F)]);
  const ptr = Array.from({ length: arrays }, (_, i) => i);
  const n = arrays;
  // Each scalar parameter splatted once into a vector local.
  const s = Array.from({ length: scalars }, (_, i) => {
    const l = c.local(V128);
    c.get(arrays + 1 + i).v(`${T}.splat`).set(l);
    return l;
  });
  const add = `${T}.add` as const, sub = `${T}.sub` as const, mul = `${T}.mul` as const;
  const p = c.local(V128), g = c.local(V128), a = c.local(V128), b = c.local(V128);
  const load = (i: number, into: number): void => { c.get(ptr[i]!).v128Load().set(into); };
  // g' = g + wd p (the weight-decay coefficient is always the second scalar)
  const decayed = (): void => { c.get(g).get(s[1]!).get(p).v(mul).v(add).set(g); };
  // x = |x| < smallest normal ? 0 : x (NaN kept), then stored as state array i
  const smallest = c.local(V128);
  (elt === 4 ? c.f32x4(F32_MIN_NORMAL) : c.f64x2(F64_MIN_NORMAL)).set(smallest);
  const storeFlushed = (i: number, x: number): void => {
    c.get(ptr[i]!).get(x).get(x).v(`${T}.abs`).get(smallest).v(`${T}.lt`).v('v128.andnot').tee(x).v128Store();
  };

  c.get(n).if().loop();
  load(0, p);
  load(1, g);
  if (kind === 'sgd') {
    const [lr] = s;
    decayed();
    c.get(ptr[0]!).get(p).get(lr).get(g).v(mul).v(sub).v128Store();
  } else if (kind === 'momentum' || kind === 'nesterov') {
    const [lr, , mu] = s;
    decayed();
    // v = μ v + g'
    c.get(mu).get(ptr[2]!).v128Load().v(mul).get(g).v(add).set(a);
    storeFlushed(2, a);
    c.get(ptr[0]!).get(p).get(lr);
    if (kind === 'nesterov') c.get(g).get(mu).get(a).v(mul).v(add);
    else c.get(a);
    c.v(mul).v(sub).v128Store();
  } else {
    const [lr, , b1, omb1, b2, omb2, c1, c2, eps, decoupled] = s;
    decayed();
    // m = β1 m + (1-β1) g'
    c.get(b1).get(ptr[2]!).v128Load().v(mul).get(omb1).get(g).v(mul).v(add).set(a);
    storeFlushed(2, a);
    // v = β2 v + ((1-β2) g') g'
    c.get(b2).get(ptr[3]!).v128Load().v(mul).get(omb2).get(g).v(mul).get(g).v(mul).v(add).set(b);
    storeFlushed(3, b);
    // p = (p - lr (m c1) / (√(v c2) + ε)) - d p
    c.get(ptr[0]!).get(p);
    c.get(lr).get(a).get(c1).v(mul).v(mul);
    c.get(b).get(c2).v(mul).v(`${T}.sqrt`).get(eps).v(add);
    c.v(`${T}.div`).v(sub);
    c.get(decoupled).get(p).v(mul).v(sub).v128Store();
  }
  for (const q of ptr) c.get(q).i32(16).i32Add().set(q);
  c.get(n).i32(1).i32Sub().tee(n).brIf(0);
  c.end().end();
  return c;
}

/** The bytes of the optimizer module, importing a non-shared memory. */
export function optimizerBytes(maxPages: number): Uint8Array {
  const functions: FunctionDef[] = [];
  for (const kind of ['sgd', 'momentum', 'nesterov', 'adam'] as const) {
    for (const elt of [4, 8] as const) functions.push({ name: `${kind}_f${elt * 8}`, code: update(kind, elt) });
  }
  return encodeModule(functions, { shared: false, minPages: 1, maxPages });
}
