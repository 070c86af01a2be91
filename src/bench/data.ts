/**
 * The shared workloads' data and checks (WORKLOADS.md of the peers' harness, ../shared/peers in
 * the development tree): deterministic generators that produce, bit for bit, the inputs every
 * peer (PyTorch, TensorFlow.js, jax-js) trains on, the correctness checks of their results, and
 * the harness's timing rule. Kept identical to the harness, so that rmad's figures compare with
 * the peers' lines from the same sitting.
 */

/** xorshift32, its seed mixed with the golden-ratio constant. */
export class XorShift32 {
  private s: number;

  constructor(seed: number) {
    const s = Math.imul(seed >>> 0, 0x9e3779b9) >>> 0;
    this.s = s === 0 ? 1 : s;
  }

  nextU32(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }

  /** Uniform in (0, 1): u32 / 2^32, exact in float64. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal by Box-Muller from two uniforms, the cosine branch. */
  normal(): number {
    const u1 = this.uniform(), u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/** n float32 values uniform in (-a, a). */
export function uniformSym(rng: XorShift32, n: number, a: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.uniform() - 1) * a;
  return out;
}

function uniformRange(rng: XorShift32, n: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.uniform();
  return out;
}

/** n integer labels floor(k u). */
function labels(rng: XorShift32, n: number, k: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(k * rng.uniform());
  return out;
}

function oneHot(y: Int32Array, k: number): Float32Array {
  const out = new Float32Array(y.length * k);
  for (let i = 0; i < y.length; i++) out[i * k + y[i]!] = 1;
  return out;
}

// ---------------------------------------------------------------- W1: Karpathy's neuron

export const W1 = {
  inputs: { a: 1, b: 2, c: -3, x: -1, y: 3 },
  s: 0.8807970779778823,
  grads: { a: -0.1049936, b: 0.3149808, c: 0.1049936, x: 0.1049936, y: 0.2099872 } as Record<string, number>,
  iters: 20000,
};

export function checkW1(s: number, g: Record<string, number>, tol = 1e-6): boolean {
  if (!(Math.abs(s - W1.s) <= tol)) return false;
  return Object.keys(W1.grads).every((k) => Math.abs(g[k]! - W1.grads[k]!) <= tol);
}

// ---------------------------------------------------------------- W2: micrograd's demo

export interface MlpLayer {
  nin: number;
  nout: number;
  /** [nout][nin], row-major. */
  W: Float32Array;
  b: Float32Array;
}

/** Two moons, n points (the outer half labelled -1, the inner +1), with normal noise. */
function moons(n: number, noise: number, seed: number): { X: Float32Array; y: Float32Array; n: number } {
  const nOut = Math.floor(n / 2), nIn = n - nOut;
  const xs = new Float64Array(n * 2);
  const y = new Float32Array(n);
  for (let i = 0; i < nOut; i++) {
    const t = (Math.PI * i) / (nOut - 1);
    xs[2 * i] = Math.cos(t);
    xs[2 * i + 1] = Math.sin(t);
    y[i] = -1;
  }
  for (let i = 0; i < nIn; i++) {
    const t = (Math.PI * i) / (nIn - 1), r = nOut + i;
    xs[2 * r] = 1 - Math.cos(t);
    xs[2 * r + 1] = 1 - Math.sin(t) - 0.5;
    y[r] = 1;
  }
  const rng = new XorShift32(seed);
  const X = new Float32Array(n * 2);
  for (let i = 0; i < n * 2; i++) X[i] = xs[i]! + noise * rng.normal();
  return { X, y, n };
}

/** An MLP's layers, biases zero; weights U(-1, 1) ('unit') or U(-1/sqrt(in), 1/sqrt(in)) ('fanin'). */
function mlpParams(sizes: readonly number[], seed: number, dist: 'unit' | 'fanin'): MlpLayer[] {
  const rng = new XorShift32(seed);
  const layers: MlpLayer[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const nin = sizes[l]!, nout = sizes[l + 1]!;
    layers.push({ nin, nout, W: uniformSym(rng, nout * nin, dist === 'unit' ? 1 : 1 / Math.sqrt(nin)), b: new Float32Array(nout) });
  }
  return layers;
}

export const W2cfg = { sizes: [2, 16, 16, 1], paramSeed: 2, lr: 0.1, alpha: 1e-4 };

export function w2Data(): { X: Float32Array; y: Float32Array; n: number; layers: MlpLayer[] } {
  return { ...moons(100, 0.1, 1), layers: mlpParams(W2cfg.sizes, W2cfg.paramSeed, 'unit') };
}

// ---------------------------------------------------------------- W3: matrix product

export const W3sizes = [128, 256, 512, 1024];

/** Matrices of small dyadic values: every product and partial sum is exact in float32 up to n = 1024. */
export function w3Matrices(n: number): { A: Float32Array; B: Float32Array } {
  const A = new Float32Array(n * n), B = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      A[i * n + j] = (((i * 7 + j * 3) % 17) - 8) / 8;
      B[i * n + j] = (((i * 5 + j * 11) % 13) - 6) / 4;
    }
  }
  return { A, B };
}

/** 64 chosen entries of C against float64 dot products; exact equality. */
export function w3Check(n: number, C: ArrayLike<number>): boolean {
  const { A, B } = w3Matrices(n);
  const rng = new XorShift32(1234 + n);
  for (let s = 0; s < 64; s++) {
    const i = rng.nextU32() % n, j = rng.nextU32() % n;
    let acc = 0;
    for (let k = 0; k < n; k++) acc += A[i * n + k]! * B[k * n + j]!;
    if (C[i * n + j] !== acc) return false;
  }
  return true;
}

// ---------------------------------------------------------------- W4, W4s: MLPs with Adam

export interface W4Config {
  name: string;
  sizes: number[];
  batch: number;
  xSeed: number;
  ySeed: number;
  pSeed: number;
}

export const W4cfg = {
  big: { name: 'W4', sizes: [784, 256, 128, 10], batch: 64, xSeed: 3, ySeed: 4, pSeed: 5 } as W4Config,
  small: { name: 'W4s', sizes: [64, 32, 10], batch: 32, xSeed: 6, ySeed: 7, pSeed: 8 } as W4Config,
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
};

export function w4Data(cfg: W4Config): { X: Float32Array; y: Int32Array; Y: Float32Array; layers: MlpLayer[] } {
  const X = uniformRange(new XorShift32(cfg.xSeed), cfg.batch * cfg.sizes[0]!, 0, 1);
  const y = labels(new XorShift32(cfg.ySeed), cfg.batch, 10);
  return { X, y, Y: oneHot(y, 10), layers: mlpParams(cfg.sizes, cfg.pSeed, 'fanin') };
}

// ---------------------------------------------------------------- W5: tanh RNN

export const W5cfg = { T: 50, batch: 32, nin: 32, hidden: 128, nout: 10, xSeed: 9, ySeed: 10, pSeed: 11, lr: 0.1 };

export function w5Data() {
  const c = W5cfg;
  const X = uniformSym(new XorShift32(c.xSeed), c.T * c.batch * c.nin, 1); // [T][batch][nin]
  const y = labels(new XorShift32(c.ySeed), c.batch, c.nout);
  const rng = new XorShift32(c.pSeed);
  const a = 1 / Math.sqrt(c.hidden);
  const Wxh = uniformSym(rng, c.hidden * c.nin, a); // [hidden][nin]
  const Whh = uniformSym(rng, c.hidden * c.hidden, a); // [hidden][hidden]
  const Why = uniformSym(rng, c.nout * c.hidden, a); // [nout][hidden]
  return { X, y, Y: oneHot(y, c.nout), Wxh, Whh, bh: new Float32Array(c.hidden), Why, by: new Float32Array(c.nout) };
}

// ---------------------------------------------------------------- checks and timing

/** A row-major [r][c] array transposed to [c][r]. */
export function transpose(a: Float32Array, r: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j]!;
  return out;
}

/** The float64 reference (NumPy): the loss before the first update and after it. */
const REFERENCE_LOSSES: Record<string, readonly [number, number]> = {
  W2: [1.1583201918485397, 0.9590311175081095],
  W4: [2.3054707670273165, 2.259101548832837],
  W4s: [2.32877704649537, 2.315852822695687],
  W5: [2.3147267160021165, 2.281932870553862],
};

/** A training workload's first two losses against the reference, within a relative tolerance. */
export function checkLosses(workload: string, losses: readonly number[], tol = 1e-3): boolean {
  const ref = REFERENCE_LOSSES[workload];
  if (!ref) return false;
  return ref.every((r, i) => Math.abs(losses[i]! - r) <= tol * Math.max(1e-12, Math.abs(r)));
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface Measured {
  /** The median sample's time per call. */
  ms: number;
  samples: number;
  iters: number;
}

/**
 * The harness's timing rule: `warmup` calls, then `samples` samples of `iters` calls each, the
 * median sample's time per call. With iters 'auto', one more call sizes a sample to about
 * `targetMs`; samples are cut (to 3 at least) where they would take longer than `capMs`.
 */
export function measure(fn: () => void, options: { warmup: number; samples: number; iters: number | 'auto'; targetMs?: number; capMs: number }): Measured {
  let { samples, iters } = options;
  let per = 0;
  for (let i = 0; i < options.warmup; i++) {
    const t0 = nowMs();
    fn();
    per = nowMs() - t0;
  }
  if (iters === 'auto') {
    const t0 = nowMs();
    fn();
    per = nowMs() - t0;
    iters = Math.max(1, Math.round((options.targetMs ?? 50) / Math.max(per, 1e-4)));
  }
  const estimate = per * iters;
  if (estimate * samples > options.capMs) samples = Math.max(3, Math.floor(options.capMs / Math.max(estimate, 1e-9)));
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = nowMs();
    for (let i = 0; i < iters; i++) fn();
    times.push((nowMs() - t0) / iters);
  }
  return { ms: median(times), samples, iters };
}
