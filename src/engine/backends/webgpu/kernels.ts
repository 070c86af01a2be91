/**
 * WGSL compute kernels. Each generator returns a `Kernel`: a key (unique per source) and the
 * source itself, built once and cached. Shapes are never baked into a source: they travel in
 * the `p` parameter array (binding 0), so one compiled pipeline serves every shape.
 *
 * Conventions shared by all kernels:
 * - binding 0 is `p: array<u32>`, bindings 1.. the inputs, the last binding the output;
 * - elementwise kernels run 256 threads a workgroup on a 2-d grid of workgroups (a dimension
 *   holds at most 65535), so the flat thread index is (wg.y * nwg.x + wg.x) * 256 + local;
 * - GPUs may flush or mis-handle NaN and Inf in builtins, and WGSL forbids them in constant
 *   expressions, so special values come from bit patterns held in private variables and are
 *   detected from bits, and every builtin whose domain is restricted is guarded;
 * - log, log1p, sin, cos, tan, atan, asin and acos are computed here (polynomials after range
 *   reduction), because Vulkan lets drivers' builtins be far looser than a few ulp; exp and
 *   sqrt are the builtins. Measured on llvmpipe against float64: at most 2 ulp for our own,
 *   16 ulp for what is built on exp;
 * - no formula depends on a cancellation the compiler could fold: Mesa's shader compiler
 *   reassociates float arithmetic ((1 + t) - 1 becomes t).
 */
import type { BinaryOp, ReduceOp, UnaryOp } from '../../backend.js';

export interface Kernel {
  readonly key: string;
  readonly source: string;
}

export const WORKGROUP = 256;

const HEADER = /* wgsl */ `
@group(0) @binding(0) var<storage, read> p: array<u32>;
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
fn nan() -> f32 { return bitcast<f32>(NAN_BITS); }
fn inf() -> f32 { return bitcast<f32>(INF_BITS); }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
fn flat_id(wg: vec3u, nwg: vec3u, li: u32) -> u32 { return (wg.y * nwg.x + wg.x) * ${WORKGROUP}u + li; }
// Natural log of our own: drivers may be off by 2^-21 absolute near x = 1 (llvmpipe is), which
// ruins log1p and softplus. x = m 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh s with
// s = (m - 1)/(m + 1), |s| <= 0.1716, by the series 2(s + s^3/3 + ... + s^9/9) (the next term is
// below 1e-9 relative); m - 1 is exact there (Sterbenz). ln 2 is split so that e * hi is exact.
fn atanh_series2(s: f32) -> f32 {
  let z = s * s;
  return 2.0 * s * (1.0 + z * (1.0 / 3.0 + z * (0.2 + z * (1.0 / 7.0 + z * (1.0 / 9.0)))));
}
fn log_(x: f32) -> f32 {
  if (!(x > 0.0) || !is_finite(x)) {
    if (x == 0.0) { return -inf(); }
    if (x < 0.0 || is_nan(x)) { return nan(); }
    return x;
  }
  let fe = frexp(x);
  var m = fe.fract;
  var e = f32(fe.exp);
  if (m < 0.70710678118654752) { m = m * 2.0; e = e - 1.0; }
  return e * 0.693145751953125 + (e * 1.4286068202862268e-6 + atanh_series2((m - 1.0) / (m + 1.0)));
}
// log(1 + t) = 2 atanh(t / (2 + t)): no cancellation, so t keeps its relative precision when
// tiny. (Tricks that cancel on purpose, like t / ((1 + t) - 1), are folded away by compilers
// that treat float arithmetic as associative, as Mesa's does.)
fn log1p_(t: f32) -> f32 {
  if (abs(t) < 0.41421356) { return atanh_series2(t / (2.0 + t)); }
  return log_(1.0 + t);
}
`;

const ENTRY = '@compute @workgroup_size(256) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32)';

/**
 * Trigonometry of our own. Vulkan lets a driver's sin and cos be off by 2^-11 absolute and its
 * atan by 4096 ulp (llvmpipe's asin is off by 2e-4), so these use a range reduction and
 * minimax polynomials of a few ulp on every GPU:
 * x = j pi/2 + r with |r| <= pi/4, pi/2 split in three parts (Cody-Waite; the first two have
 * few significant bits, so j * part is exact for |j| < 4096); then sin r and cos r by their
 * Taylor-shaped minimax polynomials in z = r^2 (Cephes' single-precision coefficients), and
 * sin x = (sin r, cos r, -sin r, -cos r)[j mod 4].
 * atan folds |x| into [0, tan(pi/8)] with atan x = pi/2 + atan(-1/x) (x > tan(3pi/8)) or
 * pi/4 + atan((x - 1)/(x + 1)) (x > tan(pi/8)), then an odd polynomial.
 */
const TRIG = /* wgsl */ `
fn quadrant(x: f32) -> vec2f {
  let j = round(x * 0.6366197723675814);
  let r = ((x - j * 1.5703125) - j * 0.0004838705062866211) - j * -4.371138828673793e-8;
  return vec2f(r, j);
}
fn sin_poly(r: f32) -> f32 {
  let z = r * r;
  return r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
}
fn cos_poly(r: f32) -> f32 {
  let z = r * r;
  return 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
}
fn sin_cos(r: f32, q: u32) -> f32 {
  switch (q) {
    case 0u: { return sin_poly(r); }
    case 1u: { return cos_poly(r); }
    case 2u: { return -sin_poly(r); }
    default: { return -cos_poly(r); }
  }
}
fn atan_(x: f32) -> f32 {
  let a = abs(x);
  var base = 0.0;
  var t = a;
  if (a > 2.414213562373095) { base = 1.5707963267948966; t = -1.0 / a; }
  else if (a > 0.41421356237309503) { base = 0.7853981633974483; t = (a - 1.0) / (a + 1.0); }
  let z = t * t;
  let y = base + (((((8.05374449538e-2 * z - 1.38776856032e-1) * z + 1.99777106478e-1) * z - 3.33329491539e-1) * z) * t + t);
  return select(y, -y, x < 0.0);
}
`;

/** Each unary op as a WGSL function `f(x: f32) -> f32`; a missing op does not compile. */
const UNARY: { [K in UnaryOp]: string } = {
  neg: 'return -x;',
  exp: 'return exp(x);',
  log: 'return log_(x);',
  sqrt: 'if (x < 0.0) { return nan(); } return sqrt(x);',
  abs: 'return abs(x);',
  // NaN falls through every test and comes back as itself.
  sign: 'if (x > 0.0) { return 1.0; } if (x < 0.0) { return -1.0; } if (x == 0.0) { return 0.0; } return x;',
  sin: 'let q = quadrant(x); return sin_cos(q.x, u32(i32(q.y) & 3));',
  cos: 'let q = quadrant(x); return sin_cos(q.x, u32(i32(q.y) + 1) & 3u);',
  // tan(r + j pi/2) is tan r for even j and -1/tan r for odd j.
  tan: `let q = quadrant(x);
  let s = sin_poly(q.x); let c = cos_poly(q.x);
  if ((i32(q.y) & 1) == 0) { return s / c; }
  return -c / s;`,
  atan: 'return atan_(x);',
  // asin x = atan(x / sqrt(1 - x^2)), acos x = 2 atan(sqrt((1 - x) / (1 + x))); (1 - x)(1 + x)
  // keeps its precision near |x| = 1, where 1 - x*x would cancel.
  asin: 'if (abs(x) > 1.0) { return nan(); } return atan_(x / sqrt((1.0 - x) * (1.0 + x)));',
  acos: 'if (abs(x) > 1.0) { return nan(); } return 2.0 * atan_(sqrt((1.0 - x) / (1.0 + x)));',
  // sinh x = x + x^3/6 + x^5/120 + ... near 0 (the exponential form cancels there); elsewhere
  // e = exp(|x| - ln 2) = e^|x| / 2 and sinh|x| = e - 1/(4e), which overflows only where sinh does.
  sinh: `let a = abs(x);
  if (a < 0.1) { let x2 = x * x; return x * (1.0 + x2 * (1.0 / 6.0 + x2 * (1.0 / 120.0))); }
  let e = exp(a - 0.6931471805599453);
  return sign(x) * (e - 0.25 / e);`,
  cosh: 'let e = exp(abs(x) - 0.6931471805599453); return e + 0.25 / e;',
  // tanh |x| = (1 - t) / (1 + t) with t = exp(-2|x|) <= 1 (never overflows); near 0 its series
  // x - x^3/3 + 2x^5/15 - 17x^7/315, which keeps the relative precision the quotient loses.
  tanh: `let a = abs(x);
  if (a < 0.1) { let x2 = x * x; return x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0)))); }
  let t = exp(-2.0 * a);
  return sign(x) * (1.0 - t) / (1.0 + t);`,
  // Only ever exp of a non-positive number: 1/(1 + e^-x) for x >= 0, e^x/(1 + e^x) below.
  sigmoid: 'if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); } let e = exp(x); return e / (1.0 + e);',
  // softplus x = max(x, 0) + log(1 + e^-|x|).
  softplus: 'if (x > 0.0) { return x + log1p_(exp(-x)); } return log1p_(exp(x));',
  // NaN stays NaN (as max(x, 0) does on the CPU backend).
  relu: 'if (x > 0.0 || is_nan(x)) { return x; } return 0.0;',
};

/**
 * pow with JavaScript's Math.pow semantics: x^0 = 1 for every x, a negative finite base needs
 * an integer exponent (its parity gives the sign), 0^y and (-Inf)^y are 0 or Inf. The general case is
 * e^(y log|x|); small integer exponents that dominate practice are exact products.
 */
const POW = /* wgsl */ `
fn pow_(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (y == 1.0) { return x; }
  if (y == 2.0) { return x * x; }
  if (y == -1.0) { return 1.0 / x; }
  if (y == 0.5 && x >= 0.0) { return sqrt(x); }
  if (is_nan(x) || is_nan(y)) { return nan(); }
  let integer = floor(y) == y;
  // Every float32 of magnitude >= 2^24 is even.
  let odd = integer && abs(y) < 16777216.0 && (i32(y) & 1) != 0;
  if (x == 0.0) {
    let r = select(inf(), 0.0, y > 0.0);
    return select(r, -r, odd && (bitcast<u32>(x) & 0x80000000u) != 0u);
  }
  let r = exp(y * log_(abs(x)));
  if (x > 0.0) { return r; }
  // A negative base needs an integer exponent, except -Inf, whose powers are 0 or Inf.
  if (!integer && x != -inf()) { return nan(); }
  return select(r, -r, odd);
}
`;

/** Each binary op as an expression over `a` and `b`; the comparisons give 1 or 0. */
const BINARY: { [K in BinaryOp]: string } = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  pow: 'pow_(a, b)',
  gt: 'select(0.0, 1.0, a > b)',
  ge: 'select(0.0, 1.0, a >= b)',
  lt: 'select(0.0, 1.0, a < b)',
  le: 'select(0.0, 1.0, a <= b)',
  eq: 'select(0.0, 1.0, a == b)',
  // NaN is unequal to everything; comparing bits keeps that independent of how != compiles.
  ne: 'select(0.0, 1.0, a != b || is_nan(a) || is_nan(b))',
};

/** An elementwise body: the function definitions it needs and the expression over in0, in1, in2. */
interface Elementwise {
  readonly name: string;
  readonly arity: 1 | 2 | 3;
  readonly defs: string;
  readonly expr: string;
}

export function unaryOp(op: UnaryOp): Elementwise {
  const trig = ['sin', 'cos', 'tan', 'asin', 'acos', 'atan'].includes(op);
  return { name: op, arity: 1, defs: `${trig ? TRIG : ''}fn f(x: f32) -> f32 {\n  ${UNARY[op]}\n}\n`, expr: 'f(in0)' };
}

export function binaryOp(op: BinaryOp): Elementwise {
  return { name: op, arity: 2, defs: `${op === 'pow' ? POW : ''}fn f(a: f32, b: f32) -> f32 { return ${BINARY[op]}; }\n`, expr: 'f(in0, in1)' };
}

/** cond != 0 ? a : b, where a NaN condition counts as true (it is not 0). */
export const WHERE: Elementwise = { name: 'where', arity: 3, defs: '', expr: 'select(in2, in1, in0 != 0.0 || is_nan(in0))' };
export const COPY: Elementwise = { name: 'copy', arity: 1, defs: '', expr: 'in0' };

const cache = new Map<string, Kernel>();
function cached(key: string, build: () => string): Kernel {
  let k = cache.get(key);
  if (!k) {
    k = { key, source: HEADER + build() };
    cache.set(key, k);
  }
  return k;
}

function inputBindings(arity: number): string {
  let s = '';
  for (let j = 0; j < arity; j++) s += `@group(0) @binding(${j + 1}) var<storage, read> x${j}: array<f32>;\n`;
  return s + `@group(0) @binding(${arity + 1}) var<storage, read_write> out: array<f32>;\n`;
}

/** out[i] = op(x0[i], x1[i], ...) on same-shape contiguous operands. p = [n]. */
export function contiguousKernel(op: Elementwise): Kernel {
  return cached(`contig:${op.name}`, () => {
    let loads = '';
    for (let j = 0; j < op.arity; j++) loads += `  let in${j} = x${j}[i];\n`;
    return `${inputBindings(op.arity)}${op.defs}
${ENTRY} {
  let i = flat_id(wg, nwg, li);
  if (i >= p[0]) { return; }
${loads}  out[i] = ${op.expr};
}
`;
  });
}

/**
 * The strided form: thread i walks the index space `shape` (row-major); operand j is read at
 * offset_j + sum_d c_d * stride_j[d] (a 0 stride broadcasts). With `scatter`, the output is
 * written at its own offset + strides too (slices of a larger tensor: pad, concat).
 * p = [n, rank, shape[rank], stride_0[rank], ..., (dst stride[rank]), offset_0, ..., (dst offset)].
 */
export function stridedKernel(op: Elementwise, scatter: boolean): Kernel {
  return cached(`strided:${op.name}:${scatter ? 's' : 'c'}`, () => {
    const n = op.arity;
    const ways = n + (scatter ? 1 : 0);
    let init = '', step = '', loads = '';
    for (let j = 0; j < ways; j++) {
      init += `  var o${j} = p[2u + ${ways + 1}u * rank + ${j}u];\n`;
      step += `    o${j} += c * p[1u + ${j + 1}u * rank + d];\n`;
    }
    for (let j = 0; j < n; j++) loads += `  let in${j} = x${j}[o${j}];\n`;
    const dst = scatter ? `o${n}` : 'i';
    return `${inputBindings(n)}${op.defs}
${ENTRY} {
  let i = flat_id(wg, nwg, li);
  if (i >= p[0]) { return; }
  let rank = p[1];
${init}  var rem = i;
  for (var d = rank; d > 0u; d--) {
    let extent = p[1u + d];
    let c = rem % extent;
    rem = rem / extent;
${step}  }
${loads}  out[${dst}] = ${op.expr};
}
`;
  });
}

/** out[i] = the float whose bits are p[1]. p = [n, bits]. */
export function fillKernel(): Kernel {
  return cached('fill', () => `@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${ENTRY} {
  let i = flat_id(wg, nwg, li);
  if (i >= p[0]) { return; }
  out[i] = bitcast<f32>(p[1]);
}
`);
}

/**
 * Reduction helpers. The state of a logsumexp is (m, s) with s = sum exp(x - m), m the running
 * max; equal infinities count exp(inf - inf) as 1, which is what the CPU backend's
 * "count the elements equal to an infinite max" gives. NaN anywhere makes m NaN.
 */
const REDUCE_DEFS: { [K in ReduceOp]: { init: string; add: string; merge: string; result: string } } = {
  sum: { init: 'var acc = 0.0;', add: 'acc += v;', merge: 'acc += sa[j];', result: 'acc' },
  max: {
    init: 'var acc = -inf();',
    add: 'if (v > acc || is_nan(v)) { acc = v; }',
    merge: 'let v = sa[j]; if (v > acc || is_nan(v)) { acc = v; }',
    result: 'acc',
  },
  logsumexp: {
    init: 'var m = -inf(); var s = 0.0;',
    add: 'let r = lse_merge(m, s, v, 1.0); m = r.x; s = r.y;',
    merge: 'let r = lse_merge(m, s, sa[j], sb[j]); m = r.x; s = r.y;',
    result: 'm + log_(s)',
  },
};

const LSE = /* wgsl */ `
fn exp_le0(d: f32) -> f32 { if (d < -104.0 || is_nan(d)) { return 0.0; } return exp(d); }
// Merges (m2, s2) into (m1, s1): both describe sum exp(x - m) over disjoint sets.
fn lse_merge(m1: f32, s1: f32, m2: f32, s2: f32) -> vec2f {
  if (is_nan(m1) || is_nan(m2)) { return vec2f(nan(), 1.0); }
  if (m1 == m2) { return vec2f(m1, s1 + s2); }
  if (m1 > m2) { return vec2f(m1, s1 + s2 * exp_le0(m2 - m1)); }
  return vec2f(m2, s2 + s1 * exp_le0(m1 - m2));
}
`;

/** The input offset of output `o` (kept axes) and of reduced index `r` (reduced axes). */
const REDUCE_INDEX = /* wgsl */ `
// p = [nOut, R, chunk, nChunks, rankK, rankR, keptShape[rankK], keptStride[rankK], redShape[rankR], redStride[rankR]]
fn kept_offset(o: u32) -> u32 {
  let rk = p[4];
  var rem = o; var off = 0u;
  for (var d = rk; d > 0u; d--) {
    let extent = p[5u + d];
    off += (rem % extent) * p[5u + rk + d];
    rem = rem / extent;
  }
  return off;
}
fn red_offset(r: u32) -> u32 {
  let rk = p[4]; let rr = p[5]; let base = 5u + 2u * rk;
  if (rr == 1u) { return r * p[base + 2u]; }
  var rem = r; var off = 0u;
  for (var d = rr; d > 0u; d--) {
    let extent = p[base + d];
    off += (rem % extent) * p[base + rr + d];
    rem = rem / extent;
  }
  return off;
}
`;

/**
 * One workgroup per (output, chunk of the reduced range): 256 threads stride over the chunk,
 * then a tree in workgroup memory combines their partial results. Partial results of chunk c
 * of output o land at out[o * nChunks + c] (a second pass reduces them).
 */
export function reduceGroupKernel(op: ReduceOp): Kernel {
  return cached(`reduce-group:${op}`, () => {
    const r = REDUCE_DEFS[op];
    const lse = op === 'logsumexp';
    return `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> sa: array<f32, 256>;
${lse ? 'var<workgroup> sb: array<f32, 256>;' : ''}
${lse ? LSE : ''}${REDUCE_INDEX}
@compute @workgroup_size(256) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = wg.y * nwg.x + wg.x;
  let nChunks = p[3];
  let o = g / nChunks;
  let c = g % nChunks;
  let live = o < p[0];
  ${r.init}
  if (live) {
    let base = kept_offset(o);
    let start = c * p[2];
    let stop = min(p[1], start + p[2]);
    for (var k = start + li; k < stop; k += 256u) {
      let v = x[base + red_offset(k)];
      ${r.add}
    }
  }
  sa[li] = ${lse ? 'm' : 'acc'};
  ${lse ? 'sb[li] = s;' : ''}
  workgroupBarrier();
  for (var half = 128u; half > 0u; half = half / 2u) {
    if (li < half) {
      ${lse ? 'm = sa[li]; s = sb[li];' : 'acc = sa[li];'}
      let j = li + half;
      ${r.merge}
      sa[li] = ${lse ? 'm' : 'acc'};
      ${lse ? 'sb[li] = s;' : ''}
    }
    workgroupBarrier();
  }
  if (li == 0u && live) {
    ${lse ? 'm = sa[0]; s = sb[0];' : 'acc = sa[0];'}
    out[g] = ${r.result};
  }
}
`;
  });
}

/** One thread per output, looping over the whole reduced range (short ranges, many outputs). */
export function reduceThreadKernel(op: ReduceOp): Kernel {
  return cached(`reduce-thread:${op}`, () => {
    const r = REDUCE_DEFS[op];
    return `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${op === 'logsumexp' ? LSE : ''}${REDUCE_INDEX}
${ENTRY} {
  let o = flat_id(wg, nwg, li);
  if (o >= p[0]) { return; }
  let base = kept_offset(o);
  ${r.init}
  for (var k = 0u; k < p[1]; k++) {
    let v = x[base + red_offset(k)];
    ${r.add}
  }
  out[o] = ${r.result};
}
`;
  });
}

/**
 * Batched matrix product C = op(A) op(B), tiled: a workgroup of 16x16 threads computes a 64x64
 * tile of C, each thread a 4x4 block held in four vec4 accumulators. The K axis advances 16 at a
 * time through workgroup memory; both tiles are stored k-major as vec4s of 4 consecutive rows
 * (of A) or columns (of B), so the inner loop is 2 vector loads and 4 vector FMAs. Global loads
 * are mapped so that neighbouring threads read neighbouring addresses for either layout.
 * p = [M, N, K, aBatchStride, bBatchStride, batchOffset].
 */
export function matmulKernel(transA: boolean, transB: boolean): Kernel {
  return cached(`matmul:${transA ? 't' : 'n'}${transB ? 't' : 'n'}`, () => {
    // Element e (0..1023) of a 64x16 tile: which row (or column) and which k it holds.
    const aMap = transA
      ? 'let r = e % 64u; let kk = e / 64u; let src = (k0 + kk) * M + row0 + r;'
      : 'let r = e / 16u; let kk = e % 16u; let src = (row0 + r) * K + k0 + kk;';
    const bMap = transB
      ? 'let cc = e / 16u; let kk = e % 16u; let src = (col0 + cc) * K + k0 + kk;'
      : 'let cc = e % 64u; let kk = e / 64u; let src = (k0 + kk) * N + col0 + cc;';
    return `@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
var<workgroup> As: array<vec4f, 256>;
var<workgroup> Bs: array<vec4f, 256>;
@compute @workgroup_size(16, 16) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let M = p[0]; let N = p[1]; let K = p[2];
  let batch = wg.z + p[5];
  let aBase = batch * p[3];
  let bBase = batch * p[4];
  let row0 = wg.y * 64u;
  let col0 = wg.x * 64u;
  let tx = lid.x; let ty = lid.y;
  let t = ty * 16u + tx;
  var acc0 = vec4f(0.0); var acc1 = vec4f(0.0); var acc2 = vec4f(0.0); var acc3 = vec4f(0.0);
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    for (var l = 0u; l < 4u; l++) {
      let e = t + l * 256u;
      {
        ${aMap}
        var v = 0.0;
        if (row0 + r < M && k0 + kk < K) { v = A[aBase + src]; }
        As[kk * 16u + r / 4u][r % 4u] = v;
      }
      {
        ${bMap}
        var v = 0.0;
        if (col0 + cc < N && k0 + kk < K) { v = B[bBase + src]; }
        Bs[kk * 16u + cc / 4u][cc % 4u] = v;
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let a = As[kk * 16u + ty];
      let b = Bs[kk * 16u + tx];
      acc0 = fma(vec4f(a.x), b, acc0);
      acc1 = fma(vec4f(a.y), b, acc1);
      acc2 = fma(vec4f(a.z), b, acc2);
      acc3 = fma(vec4f(a.w), b, acc3);
    }
    workgroupBarrier();
  }
  let cBase = batch * M * N;
  let col = col0 + tx * 4u;
  var rows = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + ty * 4u + i;
    if (row >= M) { break; }
    let v = rows[i];
    for (var j = 0u; j < 4u; j++) {
      if (col + j < N) { C[cBase + row * N + col + j] = v[j]; }
    }
  }
}
`;
  });
}

/**
 * out[o, j, i] = x[o, idx[j], i] over (outer, J, inner). p = [n, J, A, inner]; `idx` is i32.
 */
export function gatherKernel(): Kernel {
  return cached('gather', () => `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${ENTRY} {
  let i = flat_id(wg, nwg, li);
  if (i >= p[0]) { return; }
  let J = p[1]; let A = p[2]; let inner = p[3];
  let ii = i % inner;
  let t = i / inner;
  let j = t % J;
  let o = t / J;
  out[i] = x[(o * A + u32(idx[j])) * inner + ii];
}
`);
}

/**
 * The adjoint of gather without atomics (WebGPU has none for f32): one thread per output
 * element sums, in ascending j, the g[o, j, i] whose index is its own row a. `csr` lists, for
 * each row a, the js that point at it: csr[a] .. csr[a + 1] index into csr[A + 1 ..].
 * The order of the sum is fixed, so the result is deterministic. p = [n, J, A, inner].
 */
export function scatterAddKernel(): Kernel {
  return cached('scatter-add', () => `@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> csr: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${ENTRY} {
  let i = flat_id(wg, nwg, li);
  if (i >= p[0]) { return; }
  let J = p[1]; let A = p[2]; let inner = p[3];
  let ii = i % inner;
  let t = i / inner;
  let a = t % A;
  let o = t / A;
  var s = 0.0;
  for (var q = csr[a]; q < csr[a + 1u]; q++) {
    s += g[(o * J + csr[A + 1u + q]) * inner + ii];
  }
  out[i] = s;
}
`);
}

/** Sets flag[0] to 1 when any element is NaN or infinite (read from its bits). p = [n]. */
export function allFiniteKernel(): Kernel {
  return cached('all-finite', () => `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> flag: array<atomic<u32>>;
${ENTRY} {
  let i = flat_id(wg, nwg, li);
  if (i >= p[0]) { return; }
  if (!is_finite(x[i])) { atomicOr(&flag[0], 1u); }
}
`);
}
