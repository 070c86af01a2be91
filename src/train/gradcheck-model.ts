/**
 * The runs behind `rmad gradcheck`: the built-in checks (every primitive, layer type and loss, at
 * random and extreme inputs, first and second order) and the check of a model file's parameter
 * gradients on a few rows of its own data. Each check becomes one result row, named so that a
 * failure reads on its own: the op or the layer and parameter, the input, the worst element and
 * a window of both Jacobians around it. Library code: results go to a callback, nothing prints.
 */
import { drawInputs, primitiveChecks, type InputSpec, type Range } from '../engine/checks.js';
import { gradcheck, type GradcheckReport } from '../engine/gradcheck.js';
import { Rng } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { newContext, type Variable } from '../engine/variable.js';
import { layerChecks, lossChecks } from '../layers/checks.js';
import { lossFor } from '../layers/losses.js';
import type { Layer } from '../layers/layers.js';
import type { ModelSpec } from '../loaders/spec.js';
import { setup, type Setup } from './trainer.js';

export type CheckKind = 'primitive' | 'layer' | 'loss' | 'parameter';
export type Order = 1 | 2;

export interface CheckArg {
  name: string;
  shape: number[];
  /** false: a constant (labels, a mask, a frozen parameter), not differentiated. */
  checked: boolean;
}

/** Rows and columns [from, to) of the Jacobians around the worst element. */
export interface JacobianWindow {
  rows: [number, number];
  cols: [number, number];
  analytic: number[][];
  numeric: number[][];
}

export interface CheckFailure {
  /** The argument whose Jacobian disagrees (null when only the two analytic passes differed). */
  input: number | null;
  inputName: string | null;
  inputShape: number[] | null;
  /** Flat and multi-dimensional indices of the worst element and of its output. */
  element: number | null;
  elementIndex: number[] | null;
  output: number | null;
  outputIndex: number[] | null;
  analytic: number | null;
  numeric: number | null;
  /** [outputs, elements] of the failing argument's Jacobian. */
  jacobianShape: [number, number] | null;
  window: JacobianWindow | null;
  nondeterministic: boolean;
}

export interface CheckResult {
  kind: CheckKind;
  /** The primitive check's name (`matmul(aᵀ)`), the layer (`gru(output=all)`), the loss, or `layer.param`. */
  name: string;
  /** The primitive a primitive check exercises. */
  op: string | null;
  /** The model file of a parameter check. */
  file: string | null;
  args: CheckArg[];
  order: Order;
  range: Range | 'data';
  mode: 'full' | 'fast';
  status: 'pass' | 'fail' | 'skipped';
  maxAbsError: number;
  maxRelError: number;
  /** gradcheck's one-line summary, or why the check was skipped. */
  message: string;
  failure: CheckFailure | null;
  ms: number;
}

/** The name of order 2's extra argument, the random cotangent u. */
export const COTANGENT = 'u (cotangent)';

/** At most this many rows and columns of each Jacobian go into a failure's window. */
const WINDOW = 6;

function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = flat % shape[d]!;
    flat = Math.floor(flat / shape[d]!);
  }
  return index;
}

/** A span of at most `width` indices out of `n`, holding `at`, as centred as the ends allow. */
function around(at: number, n: number, width: number): [number, number] {
  const from = Math.max(0, Math.min(at - Math.floor(width / 2), n - width));
  return [from, Math.min(n, from + width)];
}

interface Meta {
  kind: CheckKind;
  name: string;
  op: string | null;
  file: string | null;
  argNames: string[];
  range: Range | 'data';
  mode: 'full' | 'fast';
}

function toResult(report: GradcheckReport, meta: Meta, ms: number): CheckResult {
  // Order 2 checks (x..., u) -> ∂(u·f)/∂x: its last argument is the random cotangent u.
  const names = report.order === 2 ? [...meta.argNames, COTANGENT] : meta.argNames;
  const args = report.inputs.map((r, i) => ({ name: names[i] ?? `input ${i}`, shape: r.shape, checked: r.checked }));
  const checked = report.inputs.filter((r) => r.checked);
  const maxAbsError = checked.reduce((m, r) => (r.maxAbsError > m || r.maxAbsError !== r.maxAbsError ? r.maxAbsError : m), 0);
  const maxRelError = checked.reduce((m, r) => (r.maxRelError > m || r.maxRelError !== r.maxRelError ? r.maxRelError : m), 0);
  let failure: CheckFailure | null = null;
  if (!report.ok) {
    const bad = report.inputs.find((r) => r.analytic && r.numeric);
    failure = {
      input: null, inputName: null, inputShape: null, element: null, elementIndex: null, output: null, outputIndex: null,
      analytic: null, numeric: null, jacobianShape: null, window: null, nondeterministic: report.nondeterministic,
    };
    if (bad && bad.worst) {
      const outputs = report.outputShape.reduce((a, b) => a * b, 1);
      const elements = bad.shape.reduce((a, b) => a * b, 1);
      const rows = around(bad.worst.output, outputs, WINDOW), cols = around(bad.worst.element, elements, WINDOW);
      const cut = (jac: Float64Array): number[][] =>
        Array.from({ length: rows[1] - rows[0] }, (_, r) => Array.from(jac.subarray((rows[0] + r) * elements + cols[0], (rows[0] + r) * elements + cols[1])));
      failure = {
        ...failure,
        input: bad.input, inputName: args[bad.input]!.name, inputShape: bad.shape,
        element: bad.worst.element, elementIndex: unravel(bad.worst.element, bad.shape),
        output: bad.worst.output, outputIndex: unravel(bad.worst.output, report.outputShape),
        analytic: bad.worst.analytic, numeric: bad.worst.numeric,
        jacobianShape: [outputs, elements],
        window: { rows, cols, analytic: cut(bad.analytic!), numeric: cut(bad.numeric!) },
      };
    }
  }
  return {
    kind: meta.kind, name: meta.name, op: meta.op, file: meta.file, args, order: report.order, range: meta.range, mode: meta.mode,
    status: report.ok ? 'pass' : 'fail', maxAbsError, maxRelError, message: report.message, failure, ms,
  };
}

export interface BuiltinCheckOptions {
  orders: readonly Order[];
  ranges?: readonly Range[];
  /** Seeds the drawn inputs and gradcheck's random cotangents. */
  seed?: number;
  /** Runs only the checks this accepts, given `kind name` (`primitive sin`, `layer lstm(output=all)`). */
  filter?: (label: string) => boolean;
  onResult?: (r: CheckResult) => void;
  /** Where the analytic gradients are computed (gpu: float32, see GradcheckOptions.device). */
  device?: 'cpu' | 'gpu';
}

interface Builtin {
  kind: CheckKind;
  name: string;
  op: string | null;
  args: string[];
  f: (...xs: Variable[]) => Variable;
  inputs: Record<Range, InputSpec[]>;
}

/** Every built-in check in order: primitives, then layers, then losses. */
export function builtinChecks(): Builtin[] {
  return [
    ...primitiveChecks.map((c) => ({ kind: 'primitive' as const, name: c.name, op: c.op as string, args: c.inputs.random.map((_, i) => `input ${i}`), f: c.f, inputs: c.inputs })),
    ...[...layerChecks, ...lossChecks].map((c) => ({ kind: c.kind, name: c.name, op: null, args: c.args, f: c.f, inputs: c.inputs })),
  ];
}

/** Runs the built-in checks: each check x range x order is one result. */
export function runBuiltinChecks(options: BuiltinCheckOptions): CheckResult[] {
  const seed = options.seed ?? 0;
  const ranges = options.ranges ?? (['random', 'extreme'] as const);
  const scratch = newContext('float64');
  const results: CheckResult[] = [];
  for (const check of builtinChecks()) {
    if (options.filter && !options.filter(`${check.kind} ${check.name}`)) continue;
    for (const range of ranges) {
      const specs = check.inputs[range];
      const values = drawInputs(specs, new Rng(seed).fork(`gradcheck/${check.kind}/${check.name}/${range}`));
      const tensors: Tensor[] = values.map((v, i) => scratch.tensor(v, specs[i]!.shape));
      for (const order of options.orders) {
        const started = performance.now();
        const report = gradcheck(check.f, tensors, { order, seed, wrt: specs.map((s) => !s.constant), device: options.device });
        const r = toResult(report, { kind: check.kind, name: check.name, op: check.op, file: null, argNames: check.args, range, mode: 'full' }, performance.now() - started);
        results.push(r);
        options.onResult?.(r);
      }
    }
  }
  return results;
}

export interface ModelCheckOptions {
  /** The model file, as named in results. */
  file: string;
  orders: readonly Order[];
  /** Rows of the train split the loss is taken over. */
  batch?: number;
  seed?: number;
  /** `auto`: fast above `fastAbove` trainable parameters. */
  mode?: 'auto' | 'full' | 'fast';
  fastAbove?: number;
  onResult?: (r: CheckResult) => void;
  device?: 'cpu' | 'gpu';
}

export interface ModelCheck {
  file: string;
  name: string;
  rows: number;
  trainable: number;
  frozen: number;
  mode: 'full' | 'fast';
  /** Why that mode, in words. */
  reason: string;
  results: CheckResult[];
}

/**
 * The full check costs two forward passes per parameter element (central differences of the
 * scalar loss); above this many trainable parameters a random projection vᵀJu (two forward
 * passes per parameter tensor) is checked instead, and only a failure pays for the full Jacobian.
 */
export const FAST_ABOVE = 2000;

/** The first `n` rows of the train split (fewer if it has fewer), flat. */
export function trainRows(s: Setup, n: number): { x: Float64Array; y: Float64Array; rows: number } {
  const split = s.data.splits.train;
  const rows = Math.max(1, Math.min(n, split.rows));
  const xw = split.x.length / split.rows, yw = split.y.length / split.rows;
  return { x: split.x.slice(0, rows * xw), y: split.y.slice(0, rows * yw), rows };
}

interface Slot {
  layer: Layer;
  key: string;
  name: string;
  variable: Variable;
}

/**
 * Checks the loss's gradient with respect to each parameter of the model (one gradcheck per
 * parameter tensor, the others held constant), in float64 on the first rows of the train split;
 * frozen parameters are reported as skipped.
 */
export function checkModel(spec: ModelSpec, baseDir: string, options: ModelCheckOptions): ModelCheck {
  const s = setup(spec, baseDir, 'float64');
  const { x, y, rows } = trainRows(s, options.batch ?? 8);
  const lossFn = lossFor(spec.loss);
  const slots: Slot[] = s.model.layers.flatMap((layer) => [...layer.params].map(([key, variable]) => ({ layer, key, name: variable.name ?? `${layer.name}.${key}`, variable })));
  const trainable = slots.filter((p) => p.variable.requiresGrad).reduce((a, p) => a + p.variable.size, 0);
  const frozen = slots.filter((p) => !p.variable.requiresGrad).reduce((a, p) => a + p.variable.size, 0);
  const fastAbove = options.fastAbove ?? FAST_ABOVE;
  const requested = options.mode ?? 'auto';
  const mode = requested === 'auto' ? (trainable > fastAbove ? 'fast' : 'full') : requested;
  const reason =
    requested !== 'auto' ? `${mode} mode as asked`
    : mode === 'fast' ? `${trainable} trainable parameters > ${fastAbove}: fast mode (random projections vᵀJu; a failure is re-checked with full Jacobians)`
    : `${trainable} trainable parameters <= ${fastAbove}: full Jacobians`;

  /** The loss as a function of every parameter: gradcheck's variables stand in for the model's own. */
  const f = (...ps: Variable[]): Variable => {
    const ctx = ps[0]!.ctx;
    slots.forEach((p, i) => (p.layer.params as Map<string, Variable>).set(p.key, ps[i]!));
    try {
      const out = s.model.forward(ctx.constant(x, [rows, x.length / rows]));
      return lossFn(out, ctx.constant(y, [rows, ...out.shape.slice(1)]));
    } finally {
      slots.forEach((p) => (p.layer.params as Map<string, Variable>).set(p.key, p.variable));
    }
  };
  const values = slots.map((p) => p.variable.tensor);
  const argNames = slots.map((p) => p.name);
  const results: CheckResult[] = [];
  const push = (r: CheckResult): void => {
    results.push(r);
    options.onResult?.(r);
  };
  for (const [i, p] of slots.entries()) {
    for (const order of options.orders) {
      const meta: Meta = { kind: 'parameter', name: p.name, op: null, file: options.file, argNames, range: 'data', mode };
      if (!p.variable.requiresGrad) {
        push({
          kind: 'parameter', name: p.name, op: null, file: options.file, args: [{ name: p.name, shape: [...p.variable.shape], checked: false }],
          order, range: 'data', mode, status: 'skipped', maxAbsError: 0, maxRelError: 0, message: 'frozen: no gradient is computed', failure: null, ms: 0,
        });
        continue;
      }
      const started = performance.now();
      const report = gradcheck(f, values, { order, seed: options.seed ?? 0, fast: mode === 'fast', wrt: slots.map((_, j) => j === i), device: options.device });
      const r = toResult(report, meta, performance.now() - started);
      // Only the parameter under check is an argument of interest; the rest are held constant.
      push({ ...r, args: r.args.filter((_, j) => j === i || j >= slots.length) });
    }
  }
  return { file: options.file, name: spec.name, rows, trainable, frozen, mode, reason, results };
}
