/**
 * gradcheck with PyTorch's rules: float64; central differences (f(x+ε) - f(x-ε)) / 2ε with
 * ε = 1e-6; the analytic and numeric Jacobians agree elementwise when |a - n| <= atol + rtol |n|
 * (atol 1e-5, rtol 1e-3); the analytic pass runs twice and must give identical results. `order:
 * 2` checks the gradient of the gradient the same way: it gradchecks x, u -> ∂(u·f(x))/∂x.
 */
import { concat } from './functions.js';
import { Rng } from './random.js';
import { Tensor, flattenNested, type NestedArray, type Shape } from './tensor.js';
import { Variable, newContext, type Context } from './variable.js';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  order?: 1 | 2;
  /** Per input: false treats it as a constant (labels, masks). Default: all true. */
  wrt?: readonly boolean[];
  /** Compare random projections vᵀJu instead of whole Jacobians; a failure is re-checked in full. */
  fast?: boolean;
  /** Seed of the random projections and of order 2's random cotangent. */
  seed?: number;
  /**
   * Where the analytic gradients are computed. `gpu` has no float64, so they are computed there
   * in float32 and compared with float64 central differences on the CPU, with tolerances fit
   * for float32 as defaults (atol 1e-3, rtol 1e-2 instead of 1e-5 and 1e-3: second
   * derivatives of float32 programs lose about four of its seven digits).
   */
  device?: 'cpu' | 'gpu';
}

export interface InputReport {
  input: number;
  shape: number[];
  checked: boolean;
  maxAbsError: number;
  maxRelError: number;
  /** The element where |a - n| exceeds its tolerance by the most (or the largest error). */
  worst: { output: number; element: number; analytic: number; numeric: number } | null;
  /** Row-major [outputs, elements] Jacobians, kept on failure. */
  analytic: Float64Array | null;
  numeric: Float64Array | null;
}

export interface GradcheckReport {
  ok: boolean;
  order: 1 | 2;
  outputShape: number[];
  inputs: InputReport[];
  /** The two analytic passes differed. */
  nondeterministic: boolean;
  /** A one-line summary; on failure it names the input, the element and both values. */
  message: string;
}

type Input = NestedArray | Tensor | ArrayLike<number>;
type Fn = (...xs: Variable[]) => Variable;

interface Point {
  shapes: Shape[];
  values: Float64Array[];
}

function toPoint(inputs: readonly Input[]): Point {
  const shapes: Shape[] = [], values: Float64Array[] = [];
  for (const x of inputs) {
    if (x instanceof Tensor) {
      shapes.push(x.shape);
      values.push(Float64Array.from(x.data()));
    } else if (typeof x === 'number' || Array.isArray(x)) {
      const { shape, flat } = flattenNested(x as NestedArray);
      shapes.push(shape);
      values.push(Float64Array.from(flat));
    } else {
      const a = x as ArrayLike<number>;
      shapes.push([a.length]);
      values.push(Float64Array.from(a));
    }
  }
  return { shapes, values };
}

export function gradcheck(f: Fn, inputs: readonly Input[], options: GradcheckOptions = {}): GradcheckReport {
  checkOptions(options, inputs.length);
  const point = toPoint(inputs);
  const wrt = point.values.map((_, i) => options.wrt?.[i] ?? true);
  if ((options.order ?? 1) === 2) return gradgradcheck(f, point, wrt, options);
  return check(f, point, wrt, options, 1);
}

/** Options that would make a check pass or fail for the wrong reason are refused. */
function checkOptions(o: GradcheckOptions, inputs: number): void {
  for (const key of ['eps', 'atol', 'rtol'] as const) {
    const v = o[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && (key === 'eps' ? v > 0 : v >= 0))) {
      throw new RangeError(`gradcheck: ${key} is ${JSON.stringify(v) ?? String(v)}; it must be a finite number ${key === 'eps' ? '> 0' : '>= 0'}`);
    }
  }
  if (o.order !== undefined && o.order !== 1 && o.order !== 2) throw new RangeError(`gradcheck: order is ${JSON.stringify(o.order)}; it must be 1 or 2`);
  if (o.wrt !== undefined && o.wrt.length !== inputs) throw new RangeError(`gradcheck: wrt has ${o.wrt.length} entries for ${inputs} inputs; give one per input`);
  if (o.device !== undefined && o.device !== 'cpu' && o.device !== 'gpu') throw new RangeError(`gradcheck: device is ${JSON.stringify(o.device)}; it must be 'cpu' or 'gpu'`);
}

function evaluate(ctx: Context, f: Fn, point: Point, wrt: readonly boolean[]): { y: Variable; xs: Variable[] } {
  const xs = point.values.map((v, i) => ctx.variable(v, { shape: point.shapes[i]!, requiresGrad: wrt[i]! }));
  return { y: f(...xs), xs };
}

/** Jacobian rows by reverse mode: one backward pass per output element. */
function analyticJacobians(ctx: Context, f: Fn, point: Point, wrt: readonly boolean[]): { shape: number[]; jac: Float64Array[] } {
  const { y, xs } = evaluate(ctx, f, point, wrt);
  const m = y.size;
  const jac = point.values.map((v) => new Float64Array(m * v.length));
  const pull = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    pull.fill(0);
    pull[j] = 1;
    const g = y.grad(ctx.tensor(pull, y.shape));
    xs.forEach((x, i) => {
      if (!wrt[i]) return;
      const gi = g.variable(x).data();
      jac[i]!.set(gi, j * gi.length);
    });
  }
  return { shape: [...y.shape], jac };
}

/** Jacobian columns by central differences. */
function numericJacobians(ctx: Context, f: Fn, point: Point, wrt: readonly boolean[], eps: number, m: number): Float64Array[] {
  return point.values.map((v, i) => {
    const jac = new Float64Array(m * v.length);
    if (!wrt[i]) return jac;
    for (let k = 0; k < v.length; k++) {
      const orig = v[k]!;
      v[k] = orig + eps;
      const plus = Float64Array.from(evaluate(ctx, f, point, wrt).y.data());
      v[k] = orig - eps;
      const minus = evaluate(ctx, f, point, wrt).y.data();
      v[k] = orig;
      for (let j = 0; j < m; j++) jac[j * v.length + k] = (plus[j]! - minus[j]!) / (2 * eps);
    }
    return jac;
  });
}

/** The context analytic gradients are computed in. */
function analyticContext(options: GradcheckOptions): Context {
  return options.device === 'gpu' ? newContext('float32', { device: 'gpu' }) : newContext('float64');
}

function check(f: Fn, point: Point, wrt: readonly boolean[], options: GradcheckOptions, order: 1 | 2): GradcheckReport {
  const gpu = options.device === 'gpu';
  const eps = options.eps ?? 1e-6, atol = options.atol ?? (gpu ? 1e-3 : 1e-5), rtol = options.rtol ?? (gpu ? 1e-2 : 1e-3);
  const ctx = newContext('float64');
  const actx = gpu ? analyticContext(options) : ctx;
  if (options.fast) {
    const fast = fastCheck(actx, ctx, f, point, wrt, eps, atol, rtol, options.seed ?? 0);
    if (fast) return { ...fast, order };
  }
  const first = analyticJacobians(actx, f, point, wrt);
  const second = analyticJacobians(actx, f, point, wrt);
  const nondeterministic = first.jac.some((j, i) => j.some((v, k) => !Object.is(v, second.jac[i]![k])));
  const m = first.shape.reduce((a, b) => a * b, 1);
  const numeric = numericJacobians(ctx, f, point, wrt, eps, m);
  let ok = !nondeterministic;
  let message = nondeterministic ? 'the analytic gradient differs between two identical backward passes' : '';
  const reports: InputReport[] = point.values.map((v, i) => {
    const a = first.jac[i]!, n = numeric[i]!;
    let maxAbs = 0, maxRel = 0, worstExcess = -Infinity;
    let worst: InputReport['worst'] = null;
    for (let idx = 0; idx < a.length; idx++) {
      const diff = Math.abs(a[idx]! - n[idx]!);
      if (diff > maxAbs || diff !== diff) maxAbs = diff;
      // Relative error only where the derivative is larger than atol: beside a numeric 0 it is
      // meaningless, and the absolute tolerance decides.
      if (Math.abs(n[idx]!) > atol) {
        const rel = diff / Math.abs(n[idx]!);
        if (rel > maxRel || rel !== rel) maxRel = rel;
      }
      const excess = diff !== diff ? Infinity : diff - (atol + rtol * Math.abs(n[idx]!));
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = { output: Math.floor(idx / v.length), element: idx % v.length, analytic: a[idx]!, numeric: n[idx]! };
      }
    }
    const failed = wrt[i]! && worstExcess > 0;
    if (failed && ok) {
      ok = false;
      message = `input ${i} [${point.shapes[i]!.join(',')}], element ${worst!.element} (output ${worst!.output}): analytic ${worst!.analytic} vs numeric ${worst!.numeric} (|diff| ${Math.abs(worst!.analytic - worst!.numeric).toExponential(3)} > atol ${atol} + rtol ${rtol}·|numeric|)`;
    }
    return {
      input: i, shape: [...point.shapes[i]!], checked: wrt[i]!, maxAbsError: maxAbs, maxRelError: maxRel,
      worst: wrt[i]! ? worst : null, analytic: failed ? a : null, numeric: failed ? n : null,
    };
  });
  if (ok) message = `ok (${reports.filter((r) => r.checked).length} inputs, max abs error ${Math.max(0, ...reports.map((r) => r.maxAbsError)).toExponential(2)})`;
  return { ok, order, outputShape: first.shape, inputs: reports, nondeterministic, message };
}

/** vᵀJu both ways; returns a passing report, or null to fall back to the full check. */
function fastCheck(actx: Context, ctx: Context, f: Fn, point: Point, wrt: readonly boolean[], eps: number, atol: number, rtol: number, seed: number): GradcheckReport | null {
  const rng = new Rng(seed).fork('gradcheck-fast');
  const { y, xs } = evaluate(actx, f, point, wrt);
  const v = Float64Array.from({ length: y.size }, () => rng.normal());
  const u = point.values.map((x, i) => Float64Array.from({ length: x.length }, () => (wrt[i] ? rng.normal() : 0)));
  const g = y.grad(actx.tensor(v, y.shape));
  let analytic = 0;
  xs.forEach((x, i) => {
    if (!wrt[i]) return;
    const gi = g.variable(x).data();
    for (let k = 0; k < gi.length; k++) analytic += gi[k]! * u[i]![k]!;
  });
  const shifted = (sign: number): Float64Array => {
    const p: Point = { shapes: point.shapes, values: point.values.map((x, i) => x.map((e, k) => e + sign * eps * u[i]![k]!)) };
    return Float64Array.from(evaluate(ctx, f, p, wrt).y.data());
  };
  const plus = shifted(1), minus = shifted(-1);
  let numeric = 0;
  for (let j = 0; j < v.length; j++) numeric += (v[j]! * (plus[j]! - minus[j]!)) / (2 * eps);
  const diff = Math.abs(analytic - numeric);
  if (!(diff <= atol + rtol * Math.abs(numeric))) return null;
  return {
    ok: true, order: 1, outputShape: [...y.shape], nondeterministic: false,
    inputs: point.values.map((_, i) => ({
      input: i, shape: [...point.shapes[i]!], checked: wrt[i]!, maxAbsError: diff, maxRelError: diff / Math.max(Math.abs(numeric), 1e-300),
      worst: null, analytic: null, numeric: null,
    })),
    message: `ok (fast: vᵀJu analytic ${analytic} vs numeric ${numeric})`,
  };
}

/** Order 2: gradcheck of (x..., u) -> ∂(u·f(x))/∂x, flattened and joined, with u random. */
function gradgradcheck(f: Fn, point: Point, wrt: readonly boolean[], options: GradcheckOptions): GradcheckReport {
  const y0 = evaluate(newContext('float64'), f, point, wrt).y;
  const rng = new Rng(options.seed ?? 0).fork('gradgradcheck');
  const u = Float64Array.from({ length: y0.size }, () => rng.normal());
  const n = point.values.length;
  const h: Fn = (...args) => {
    const xs = args.slice(0, n);
    const cot = args[n]!;
    const g = f(...xs).grad(cot, { createGraph: true });
    return concat(xs.filter((_, i) => wrt[i]).map((x) => g.variable(x).reshape([-1])), 0);
  };
  const hPoint: Point = { shapes: [...point.shapes, y0.shape], values: [...point.values, u] };
  return check(h, hPoint, [...wrt, true], { ...options, order: 1 }, 2);
}
