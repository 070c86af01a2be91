/**
 * float32 elementwise kernels in WebAssembly SIMD (4 lanes), assembled at load time like the
 * matrix-product kernels (encoder.ts), the column sums of a reduction, and the row steps of a
 * softmax (scalar code, see rowShift). V8 runs Math.tanh at 10 to 15 ns an element and
 * Math.exp at 7 to 10; these kernels run exp, log, tanh and sigmoid in 1.2 to 2 ns and the
 * four arithmetic ops in 0.12, plus 0.1 to 0.3 ns of copies (streaming.ts; bench/kernels.ts
 * measures them through the backend).
 *
 * The arithmetic ops are IEEE float32 operations, so they give exactly what the reference's
 * loops give: a float64 sum, difference, product or quotient of two float32 values rounded to
 * float32 is the correctly rounded float32 result (53 >= 2*24 + 2 bits make the double
 * rounding innocuous). The transcendentals are float32 polynomial approximations, written
 * as scalar C would be (no fused multiply-add, so the results do not depend on the CPU), and
 * measured on all 2^32 float32 inputs against Math.* rounded to float32
 * (`node dist/bench/kernels.js --only=ulps`):
 *
 *   exp      at most 1 ulp   (99.58% of inputs exact)
 *   log      at most 1 ulp   (99.68% exact)
 *   tanh     at most 1 ulp   (99.83% exact)
 *   sigmoid  at most 2 ulps of the reference's float32 sigmoid (cpu.ts), which rounds each
 *            step of 1 / (1 + e^-x) to float32 (99.80% exact)
 *
 * and NaN, infinities and zeros exactly as Math.* gives them, for every input (NaN for NaN,
 * tanh(-0) = -0, log(-0) = -Inf, exp(-Inf) = 0, ...), subnormal results included.
 *
 * relu (a lane-wise max with +0: relu(-0) = +0, NaN for NaN) and the comparisons (a lane mask
 * anded with the bits of 1.0, so 1 where true and 0 where false, false for NaN but `ne`) are
 * exact, like the arithmetic ops.
 *
 * Every kernel works on whole vectors: callers round lengths up to 4 lanes and leave 16
 * bytes of slack after each array, whose lanes are computed and thrown away.
 */
import { Code, encodeModule, F32, F64, I32, V128, type FunctionDef, type SimdOp } from './encoder.js';

export type FastUnaryOp = 'exp' | 'log' | 'tanh' | 'sigmoid' | 'relu';
/** Activations whose gradient has a kernel: `${name}_grad(v, g, dst, vectors)` (Backend.activationGrad). */
export type FastActivation = 'tanh' | 'sigmoid' | 'relu';
export type FastBinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';
/**
 * How the operands of a binary op line up with the output: equal shapes; one operand a single
 * value; or one operand repeating along the output's trailing axes (a bias), every `m` elements.
 */
export type BinaryForm = 'same' | 'scalarA' | 'scalarB' | 'trailingA' | 'trailingB';

export const FAST_UNARY_OPS: readonly FastUnaryOp[] = ['exp', 'log', 'tanh', 'sigmoid', 'relu'];
export const FAST_BINARY_OPS: readonly FastBinaryOp[] = ['add', 'sub', 'mul', 'div', 'gt', 'ge', 'lt', 'le', 'eq', 'ne'];
export const FAST_ACTIVATIONS: readonly FastActivation[] = ['tanh', 'sigmoid', 'relu'];
const FORMS: readonly BinaryForm[] = ['same', 'scalarA', 'scalarB', 'trailingA', 'trailingB'];

/** The exported functions. Addresses are in bytes; counts in 4-lane vectors. */
export type ElementwiseExports =
  & { [K in FastUnaryOp]: (src: number, dst: number, vectors: number) => void }
  & { [K in `${FastBinaryOp}_same` | `${FastActivation}_grad`]: (a: number, b: number, dst: number, vectors: number) => void }
  & { [K in `${FastBinaryOp}_scalarA` | `${FastBinaryOp}_scalarB`]: (big: number, scalar: number, dst: number, vectors: number) => void }
  & {
    /**
     * acc[j] = (init ? 0 : acc[j]) + the sum of column j of `rows` rows `rowBytes` apart, for
     * 8 * groups columns; acc holds float64.
     */
    columnSums: (x: number, acc: number, rows: number, rowBytes: number, groups: number, init: number) => void;
  }
  & {
    /** See rowShift and the other row kernels below: addresses in bytes, counts in rows and elements. */
    rowShift: (x: number, e: number, max: number, rows: number, run: number) => number;
    rowSums: (x: number, sums: number, rows: number, run: number) => void;
    rowNll: (z: number, t: number, lse: number, dst: number, rows: number, run: number) => void;
    rowSoftmaxGrad: (e: number, t: number, scale: number, g: number, dst: number, rows: number, run: number) => void;
  }
  & {
    /** `rows` rows `rowBytes` apart, each of `rowVectors` vectors; the small operand repeats per row. */
    [K in `${FastBinaryOp}_trailingA` | `${FastBinaryOp}_trailingB`]:
      (big: number, small: number, dst: number, rows: number, rowBytes: number, rowVectors: number) => void
  };

const f32bits = (bits: number): number => new Float32Array(Int32Array.of(bits).buffer)[0]!;

/** Emits the lane-wise op `name` applied to locals (stack order: first operand first). */
function op(c: Code, name: Parameters<Code['v']>[0], ...args: number[]): Code {
  for (const a of args) c.get(a);
  return c.v(name);
}

/** p = coefs[0]; p = p * x + coefs[i] for each later coefficient (Horner), into local `out`. */
function horner(c: Code, x: number, coefs: readonly number[], out: number): void {
  c.f32x4(coefs[0]!).set(out);
  for (const k of coefs.slice(1)) c.get(out).get(x).v('f32x4.mul').f32x4(k).v('f32x4.add').set(out);
}

/** Temporaries of the transcendental emitters, declared once per function. */
interface Temps {
  readonly t: number[];
  readonly q: number;
}

function temps(c: Code): Temps {
  return { t: Array.from({ length: 6 }, () => c.local(V128)), q: c.local(V128) };
}

/**
 * e^x into local `out` (x is not modified). Cody-Waite reduction x = q ln2 + s, |s| <= ln2/2,
 * with ln2 split in two so q * L2U is exact; e^s = 1 + s + s^2 P(s), P of degree 5 (SLEEF's
 * expf coefficients); then 2^q is applied as two factors 2^(q>>1) 2^(q - (q>>1)), each a
 * normal float32 for |q| <= 151, so results that overflow give Inf and results in the
 * subnormal range are rounded once. x is first clamped to [-104, 104]: beyond, e^x is 0 or
 * Inf in float32 anyway. NaN passes through the clamps (pmin/pmax return their first
 * operand when a comparison is false).
 */
const ROUNDER = 1.5 * 2 ** 23;
const ROUNDER_BITS = 0x4b400000;

function emitExp(c: Code, x: number, out: number, tmp: Temps): void {
  const [dc, qf, s, u] = tmp.t;
  const { q } = tmp;
  c.get(x).f32x4(104).v('f32x4.pmin').f32x4(-104).v('f32x4.pmax').set(dc);
  // q = x log2(e) rounded to an integer (half to even) by adding 1.5 * 2^23: the sum's low
  // mantissa bits are q, and subtracting the constant back gives q as a float.
  c.get(dc).f32x4(Math.LOG2E).v('f32x4.mul').f32x4(ROUNDER).v('f32x4.add').tee(q);
  c.f32x4(ROUNDER).v('f32x4.sub').set(qf);
  c.get(q).i32x4(ROUNDER_BITS).v('i32x4.sub').set(q);
  c.get(dc).get(qf).f32x4(0.693145751953125).v('f32x4.mul').v('f32x4.sub').set(s);
  c.get(s).get(qf).f32x4(1.428606765330187045e-6).v('f32x4.mul').v('f32x4.sub').set(s);
  horner(c, s, [1.98527617612853646278381e-4, 1.39304355252534151077271e-3, 8.33336077630519866943359e-3,
    4.16664853692054748535156e-2, 1.66666671633720397949219e-1, 0.5], u);
  // u = 1 + (s^2 u + s)
  c.f32x4(1).get(s).get(s).v('f32x4.mul').get(u).v('f32x4.mul').get(s).v('f32x4.add').v('f32x4.add').set(u);
  // 2^h as float bits: (h + 127) << 23, for h = q >> 1 and h = q - (q >> 1)
  const pow2 = (): void => { c.i32x4(127).v('i32x4.add').i32(23).v('i32x4.shl'); };
  c.get(u).get(q).i32(1).v('i32x4.shr_s').tee(dc); // dc now holds q >> 1
  pow2();
  c.v('f32x4.mul');
  c.get(q).get(dc).v('i32x4.sub');
  pow2();
  c.v('f32x4.mul').set(out);
}

/** Below this |x|, tanh uses its odd polynomial; above, 1 - 2 / (e^2|x| + 1). */
const TANH_SMALL = 0.625;

/**
 * tanh x into `out`. For |x| <= 0.625, |x| + |x| s P(s) with s = x^2 and P of degree 4
 * (Cephes tanhf's coefficients); above, 1 - 2 / (e^2|x| + 1), which is exactly 1 from
 * |x| = 9.01 and stays 1 as e^2|x| overflows. Both are computed for every lane and the sign of
 * x put back last, so tanh(-0) = -0 and the polynomial's 0 + 0 * ... never loses it.
 */
function emitTanh(c: Code, x: number, out: number, tmp: Temps, a: number, small: number): void {
  const s = tmp.t[4]!, p = tmp.t[5]!;
  c.get(x).v('f32x4.abs').tee(a).get(a).v('f32x4.mul').set(s);
  horner(c, s, [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1], p);
  c.get(a).get(a).get(s).get(p).v('f32x4.mul').v('f32x4.mul').v('f32x4.add').set(small);
  op(c, 'f32x4.add', a, a).set(p);
  emitExp(c, p, out, tmp);
  c.f32x4(1).f32x4(2).get(out).f32x4(1).v('f32x4.add').v('f32x4.div').v('f32x4.sub'); // the large form
  c.get(small).get(a).f32x4(TANH_SMALL).v('f32x4.gt').v('v128.bitselect');
  c.get(x).i32x4(0x80000000 | 0).v('v128.and').v('v128.or').set(out);
}

/**
 * The logistic function, with the reference's float32 formula (cpu.ts): e = e^-|x|, then
 * 1 / (1 + e) for x >= 0 and e / (1 + e) below, so it never overflows and tiny results come
 * out subnormal rather than 0.
 */
function emitSigmoid(c: Code, x: number, out: number, tmp: Temps, e: number): void {
  c.get(x).v('f32x4.abs').v('f32x4.neg').set(e);
  emitExp(c, e, out, tmp);
  c.f32x4(1).get(out);
  c.get(x).v128Zero().v('f32x4.ge');
  c.v('v128.bitselect');
  c.f32x4(1).get(out).v('f32x4.add').v('f32x4.div').set(out);
}

/**
 * log x into `out`. Subnormal x is first scaled by 2^23. x = 2^k m with m in [sqrt(1/2),
 * sqrt(2)) (the exponent is taken after subtracting m's lower bound, as musl's logf does), and
 * log(1 + f), f = m - 1 (exact), is f - f^2/2 + f^3 P(f), P of degree 8 (Cephes logf's
 * coefficients), plus k ln2 with ln2 split in two. Fixed up last: log(±0) = -Inf,
 * log(Inf) = Inf, NaN for x < 0 and for NaN.
 */
function emitLog(c: Code, x: number, out: number, tmp: Temps): void {
  const [xs, k, f, z, y, e] = tmp.t;
  const adj = tmp.q;
  const MIN_NORMAL = 2 ** -126;
  const SQRT_HALF_BITS = 0x3f3504f3;
  c.get(x).f32x4(MIN_NORMAL).v('f32x4.lt').set(adj); // all ones where x is subnormal (or <= 0)
  c.get(x).f32x4(2 ** 23).v('f32x4.mul').get(x).get(adj).v('v128.bitselect').set(xs);
  c.get(adj).i32x4(23).v('v128.and').set(adj);
  c.get(xs).i32x4(SQRT_HALF_BITS).v('i32x4.sub').set(xs);
  c.get(xs).i32(23).v('i32x4.shr_s').get(adj).v('i32x4.sub').set(k);
  c.get(xs).i32x4(0x007fffff).v('v128.and').i32x4(SQRT_HALF_BITS).v('i32x4.add').f32x4(1).v('f32x4.sub').set(f);
  c.get(k).v('f32x4.convert_i32x4_s').set(e);
  op(c, 'f32x4.mul', f, f).set(z);
  horner(c, f, [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
    -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1], y);
  c.get(y).get(f).v('f32x4.mul').get(z).v('f32x4.mul');
  c.get(e).f32x4(-2.12194440e-4).v('f32x4.mul').v('f32x4.add');
  c.f32x4(-0.5).get(z).v('f32x4.mul').v('f32x4.add').set(y);
  c.get(f).get(y).v('f32x4.add').get(e).f32x4(0.693359375).v('f32x4.mul').v('f32x4.add').set(out);
  c.f32x4(-Infinity).get(out).get(x).v128Zero().v('f32x4.eq').v('v128.bitselect').set(out);
  c.f32x4(Infinity).get(out).get(x).f32x4(Infinity).v('f32x4.eq').v('v128.bitselect').set(out);
  c.get(out).f32x4(f32bits(0x7fc00000)).get(x).v128Zero().v('f32x4.ge').v('v128.bitselect').set(out);
}

/** Decrements local `i` and branches to the enclosing loop while it is not zero. */
function countDown(c: Code, i: number): void {
  c.get(i).i32(1).i32Sub().tee(i).brIf(0);
}

function bump(c: Code, i: number, bytes: number): void {
  c.get(i).i32(bytes).i32Add().set(i);
}

/** dst[i] = f(src[i]) over `vectors` vectors. */
function unaryKernel(name: FastUnaryOp): Code {
  const c = new Code([I32, I32, I32]);
  const [src, dst, n] = [0, 1, 2];
  const x = c.local(V128), out = c.local(V128), extra = [c.local(V128), c.local(V128)];
  const tmp = temps(c);
  c.get(n).if().loop();
  c.get(src).v128Load().set(x);
  if (name === 'exp') emitExp(c, x, out, tmp);
  else if (name === 'log') emitLog(c, x, out, tmp);
  else if (name === 'tanh') emitTanh(c, x, out, tmp, extra[0]!, extra[1]!);
  else if (name === 'sigmoid') emitSigmoid(c, x, out, tmp, extra[0]!);
  else c.get(x).v128Zero().v('f32x4.max').set(out);
  c.get(dst).get(out).v128Store();
  bump(c, src, 16);
  bump(c, dst, 16);
  countDown(c, n);
  c.end().end();
  return c;
}

const arith = (op: SimdOp) => (c: Code): void => void c.v(op);
/** A comparison's lane mask (all ones where true) anded with the bits of 1.0: 1 or 0. */
const compare = (op: SimdOp) => (c: Code): void => void c.v(op).f32x4(1).v('v128.and');

/** Each binary op on the two vectors atop the stack. */
const binaryOps: { readonly [K in FastBinaryOp]: (c: Code) => void } = {
  add: arith('f32x4.add'), sub: arith('f32x4.sub'), mul: arith('f32x4.mul'), div: arith('f32x4.div'),
  gt: compare('f32x4.gt'), ge: compare('f32x4.ge'), lt: compare('f32x4.lt'), le: compare('f32x4.le'),
  eq: compare('f32x4.eq'), ne: compare('f32x4.ne'),
};

/**
 * A function (a, b, dst, vectors) over two operands and a destination of equal lengths, a
 * vector at a time: `body` leaves on the stack the vector to store, given the locals that point
 * at this step's vectors of a and b.
 */
function sameKernel(body: (c: Code, a: number, b: number) => void): Code {
  const c = new Code([I32, I32, I32, I32]);
  const [a, b, dst, n] = [0, 1, 2, 3];
  c.get(n).if().loop();
  c.get(dst);
  body(c, a, b);
  c.v128Store();
  bump(c, a, 16);
  bump(c, b, 16);
  bump(c, dst, 16);
  countDown(c, n);
  c.end().end();
  return c;
}

/**
 * The binary op in one form. In the trailing forms each row's last vector may run past the
 * row: its extra lanes land at the start of the next row, which is computed after and
 * overwrites them (so dst must not overlap the operands).
 */
function binaryKernel(name: FastBinaryOp, form: BinaryForm): Code {
  const emit = binaryOps[name];
  if (form === 'same') return sameKernel((c, a, b) => emit(c.get(a).v128Load().get(b).v128Load()));
  if (form === 'scalarA' || form === 'scalarB') {
    const c = new Code([I32, F32, I32, I32]);
    const [big, scalar, dst, n] = [0, 1, 2, 3];
    const s = c.local(V128);
    c.get(scalar).v('f32x4.splat').set(s);
    c.get(n).if().loop();
    c.get(dst);
    if (form === 'scalarA') c.get(s).get(big).v128Load();
    else c.get(big).v128Load().get(s);
    emit(c);
    c.v128Store();
    bump(c, big, 16);
    bump(c, dst, 16);
    countDown(c, n);
    c.end().end();
    return c;
  }
  const c = new Code([I32, I32, I32, I32, I32, I32]);
  const [big, small, dst, rows, rowBytes, rowVectors] = [0, 1, 2, 3, 4, 5];
  const bp = c.local(I32), sp = c.local(I32), dp = c.local(I32), j = c.local(I32);
  c.get(rows).if().loop();
  c.get(big).set(bp).get(small).set(sp).get(dst).set(dp).get(rowVectors).set(j);
  c.loop();
  c.get(dp);
  if (form === 'trailingA') c.get(sp).v128Load().get(bp).v128Load();
  else c.get(bp).v128Load().get(sp).v128Load();
  emit(c);
  c.v128Store();
  bump(c, bp, 16);
  bump(c, sp, 16);
  bump(c, dp, 16);
  countDown(c, j);
  c.end();
  c.get(big).get(rowBytes).i32Add().set(big);
  c.get(dst).get(rowBytes).i32Add().set(dst);
  countDown(c, rows);
  c.end().end();
  return c;
}

/**
 * An activation's gradient from v (the output of tanh and sigmoid, the input of relu) and g,
 * as its backward rule's ops compute it one by one: tanh g (1 - v v), sigmoid g (v (1 - v)),
 * relu g [v > 0]. Each step is a float32 operation, so the bits are the same.
 */
function activationGradKernel(name: FastActivation): Code {
  return sameKernel((c, vp, gp) => {
    const v = c.local(V128);
    c.get(vp).v128Load().set(v);
    c.get(gp).v128Load();
    if (name === 'tanh') c.f32x4(1).get(v).get(v).v('f32x4.mul').v('f32x4.sub');
    else if (name === 'sigmoid') c.get(v).f32x4(1).get(v).v('f32x4.sub').v('f32x4.mul');
    else c.get(v).v128Zero().v('f32x4.gt').f32x4(1).v('v128.and');
    c.v('f32x4.mul');
  });
}

/**
 * Column sums of float32 rows, accumulated in float64 row after row: acc[j] (+)= x[0][j] +
 * x[1][j] + ... in that order, which is the reference's reduction (cpu.ts), so the sums round
 * to the same float32 values. Eight columns at a time, in four f64x2 accumulators: one would
 * wait on its own additions. Columns are padded to whole groups of eight; the extra ones read
 * past the row and are thrown away.
 */
function columnSums(): Code {
  const c = new Code([I32, I32, I32, I32, I32, I32]);
  const [x, acc, rows, rowBytes, groups, init] = [0, 1, 2, 3, 4, 5];
  const xp = c.local(I32), r = c.local(I32);
  const a = [c.local(V128), c.local(V128), c.local(V128), c.local(V128)];
  c.get(groups).if().loop();
  for (let k = 0; k < 4; k++) {
    c.get(init).if();
    c.v128Zero().set(a[k]!);
    c.else();
    c.get(acc).v128Load(16 * k).set(a[k]!);
    c.end();
  }
  c.get(x).set(xp).get(rows).set(r);
  c.loop();
  for (let k = 0; k < 4; k++) c.get(a[k]!).get(xp).v128Load64Zero(8 * k).v('f64x2.promote_low_f32x4').v('f64x2.add').set(a[k]!);
  c.get(xp).get(rowBytes).i32Add().set(xp);
  countDown(c, r);
  c.end();
  for (let k = 0; k < 4; k++) c.get(acc).get(a[k]!).v128Store(16 * k);
  bump(c, x, 32);
  bump(c, acc, 64);
  countDown(c, groups);
  c.end().end();
  return c;
}

/** Emits `perRow` once for each of `rows` rows, handing it a free i32 local for its element loops. */
function rowLoops(c: Code, rows: number, perRow: (i: number) => void): void {
  const i = c.local(I32);
  c.get(rows).if().loop();
  perRow(i);
  countDown(c, rows);
  c.end().end();
}

/**
 * The element-by-element steps of a softmax over float32 rows of `run` elements (run >= 1), the
 * exponentials between them being the `exp` kernel's:
 *   rowShift        m = the row's maximum, stored at `max`, and e = x - m rounded to float32;
 *                   returns 0 at the first row whose maximum is not finite (a NaN, +Infinity,
 *                   or a row of -Infinity), 1 when every row was shifted
 *   rowSums         each row's sum, in order, in float64
 *   rowNll          -Σ t (z - lse) per row in float64, lse the row's float64 value, rounded
 *   rowSoftmaxGrad  g (e s - t) per element in float64, s and g the row's, rounded (dst may be e)
 * Written as scalar code: rows of a few classes leave most lanes of a vector idle. Sums and
 * products are taken in float64 in element order, as the reference (cpu.ts) takes them, and
 * rounded to float32 once; f32.max gives NaN for a row with NaN, as the reference's maximum does.
 */
function rowShift(): Code {
  const c = new Code([I32, I32, I32, I32, I32], [I32]);
  const [x, e, max, rows, run] = [0, 1, 2, 3, 4];
  const p = c.local(I32), m = c.local(F32);
  rowLoops(c, rows, (i) => {
    c.fconst(4, -Infinity).set(m);
    c.get(x).set(p).get(run).set(i);
    c.loop();
    c.get(m).get(p).fload(4).f('f32.max').set(m);
    bump(c, p, 4);
    countDown(c, i);
    c.end();
    // m - m is 0 for a finite m and NaN for NaN or an infinity.
    c.get(m).get(m).f('f32.sub').fconst(4, 0).f('f32.eq').if().else().i32(0).return().end();
    c.get(max).get(m).fstore(4);
    bump(c, max, 4);
    c.get(run).set(i);
    c.loop();
    c.get(e).get(x).fload(4).get(m).f('f32.sub').fstore(4);
    bump(c, x, 4);
    bump(c, e, 4);
    countDown(c, i);
    c.end();
  });
  c.i32(1);
  return c;
}

function rowSums(): Code {
  const c = new Code([I32, I32, I32, I32]);
  const [x, sums, rows, run] = [0, 1, 2, 3];
  const s = c.local(F64);
  rowLoops(c, rows, (i) => {
    c.fconst(8, 0).set(s);
    c.get(run).set(i);
    c.loop();
    c.get(s).get(x).fload(4).f('f64.promote_f32').f('f64.add').set(s);
    bump(c, x, 4);
    countDown(c, i);
    c.end();
    c.get(sums).get(s).fstore(8);
    bump(c, sums, 8);
  });
  return c;
}

function rowNll(): Code {
  const c = new Code([I32, I32, I32, I32, I32, I32]);
  const [z, t, lse, dst, rows, run] = [0, 1, 2, 3, 4, 5];
  const l = c.local(F64), s = c.local(F64);
  rowLoops(c, rows, (i) => {
    c.get(lse).fload(8).set(l);
    c.fconst(8, 0).set(s);
    c.get(run).set(i);
    c.loop();
    c.get(s).get(t).fload(4).f('f64.promote_f32').get(z).fload(4).f('f64.promote_f32').get(l).f('f64.sub').f('f64.mul').f('f64.add').set(s);
    bump(c, z, 4);
    bump(c, t, 4);
    countDown(c, i);
    c.end();
    c.get(dst).get(s).f('f64.neg').f('f32.demote_f64').fstore(4);
    bump(c, lse, 8);
    bump(c, dst, 4);
  });
  return c;
}

function rowSoftmaxGrad(): Code {
  const c = new Code([I32, I32, I32, I32, I32, I32, I32]);
  const [e, t, scale, g, dst, rows, run] = [0, 1, 2, 3, 4, 5, 6];
  const sc = c.local(F64), gr = c.local(F64);
  rowLoops(c, rows, (i) => {
    c.get(scale).fload(8).set(sc);
    c.get(g).fload(4).f('f64.promote_f32').set(gr);
    c.get(run).set(i);
    c.loop();
    c.get(dst).get(gr).get(e).fload(4).f('f64.promote_f32').get(sc).f('f64.mul').get(t).fload(4).f('f64.promote_f32').f('f64.sub').f('f64.mul');
    c.f('f32.demote_f64').fstore(4);
    bump(c, e, 4);
    bump(c, t, 4);
    bump(c, dst, 4);
    countDown(c, i);
    c.end();
    bump(c, scale, 8);
    bump(c, g, 4);
  });
  return c;
}

/** The bytes of the elementwise module, importing a non-shared memory. */
export function elementwiseBytes(maxPages: number): Uint8Array {
  const functions: FunctionDef[] = FAST_UNARY_OPS.map((name) => ({ name, code: unaryKernel(name) }));
  for (const name of FAST_BINARY_OPS) for (const form of FORMS) functions.push({ name: `${name}_${form}`, code: binaryKernel(name, form) });
  for (const name of FAST_ACTIVATIONS) functions.push({ name: `${name}_grad`, code: activationGradKernel(name) });
  functions.push({ name: 'columnSums', code: columnSums() });
  functions.push({ name: 'rowShift', code: rowShift() }, { name: 'rowSums', code: rowSums() });
  functions.push({ name: 'rowNll', code: rowNll() }, { name: 'rowSoftmaxGrad', code: rowSoftmaxGrad() });
  return encodeModule(functions, { shared: false, minPages: 1, maxPages });
}
