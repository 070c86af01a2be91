/**
 * Layers: dense, and recurrent layers (rnn, gru, lstm) unrolled over the sequence by a plain
 * TypeScript loop that the autograd differentiates through. Each layer owns its parameters as
 * Variables named `layer.param`; the same classes serve model files and TypeScript code.
 */
import { Rng } from '../engine/random.js';
import { ShapeError } from '../engine/tensor.js';
import type { Context, Variable } from '../engine/variable.js';
import { stack } from '../engine/functions.js';
import type { Activation, DenseSpec, Initializer, LayerSpec, ModelArchSpec, RecurrentSpec } from '../loaders/spec.js';
import { activate, activationFns } from './activations.js';
import { initialize } from './initializers.js';

export interface Layer {
  readonly name: string;
  /** Parameters by their short name (W, b, Wx, Wh). */
  readonly params: ReadonlyMap<string, Variable>;
  /** The output's shape per example (without the batch axis). */
  readonly outputShape: readonly number[];
  forward(x: Variable): Variable;
}

const INITIALIZERS: readonly Initializer[] = ['glorot', 'he', 'zeros'];

/** A layer's options as TypeScript code may give them, checked as a model file's are. */
function checkOptions(layer: string, options: DenseOptions | RecurrentOptions, rng: Rng): void {
  const fail = (what: string) => new RangeError(`${layer}: ${what}`);
  if (!Number.isSafeInteger(options.units) || options.units < 1) throw fail(`units is ${String(options.units)}; it must be a whole number >= 1`);
  if (options.activation !== undefined && !(options.activation in activationFns)) {
    throw fail(`unknown activation '${options.activation}'; the activations are ${Object.keys(activationFns).join(', ')}`);
  }
  if (options.init !== undefined && !INITIALIZERS.includes(options.init)) throw fail(`unknown init '${options.init}'; the initializers are ${INITIALIZERS.join(', ')}`);
  if ('output' in options && options.output !== undefined && options.output !== 'last' && options.output !== 'all') {
    throw fail(`output is '${String(options.output)}'; it must be 'last' or 'all'`);
  }
  if (!(rng instanceof Rng)) throw new TypeError(`${layer}: give an Rng to draw the initial weights from (new Rng(seed))`);
}

function param(ctx: Context, layer: string, name: string, shape: number[], kind: Initializer, fanIn: number, fanOut: number, rng: Rng): Variable {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = initialize(kind, size, fanIn, fanOut, rng.fork(`init/${layer}.${name}`));
  return ctx.variable(values, { shape, name: `${layer}.${name}` });
}

export interface DenseOptions {
  units: number;
  activation?: Activation;
  bias?: boolean;
  init?: Initializer;
}

/** y = activation(x W + b) over the last axis; W is [inputs, units]. */
export class Dense implements Layer {
  readonly params = new Map<string, Variable>();
  readonly outputShape: number[];
  readonly activation: Activation;

  constructor(ctx: Context, readonly name: string, inputShape: readonly number[], options: DenseOptions, rng: Rng) {
    checkOptions(name, options, rng);
    const inputs = inputShape[inputShape.length - 1]!;
    this.activation = options.activation ?? 'identity';
    this.params.set('W', param(ctx, name, 'W', [inputs, options.units], options.init ?? 'glorot', inputs, options.units, rng));
    if (options.bias ?? true) this.params.set('b', param(ctx, name, 'b', [options.units], 'zeros', inputs, options.units, rng));
    this.outputShape = [...inputShape.slice(0, -1), options.units];
  }

  forward(x: Variable): Variable {
    const W = this.params.get('W')!, b = this.params.get('b');
    return activate(b ? x.linear(W, b) : x.matmul(W), this.activation);
  }
}

export interface RecurrentOptions {
  units: number;
  activation?: Activation;
  output?: 'last' | 'all';
  bias?: boolean;
  init?: Initializer;
}

/**
 * The shared loop of the recurrent layers: per step, the cell's update from x_t and h, whose
 * projections x_t Wx + b + h Wh are one op where the cell needs only their sum (RNN, LSTM).
 * Each step slices its input rather than a projection of the whole sequence: the input is
 * usually data, whose slices need no gradient, where the projection's slices each needed one
 * (and with the transposes to step-major order cost 23 against 10-11 ms a forward and backward
 * at 50 steps, batch 32, 32 features, 128 units). A second recurrent layer's input does need
 * one; the walker adds each slice's share into it in place (autograd.ts).
 */
abstract class Recurrent implements Layer {
  readonly params = new Map<string, Variable>();
  readonly outputShape: number[];
  protected readonly units: number;
  protected readonly output: 'last' | 'all';

  constructor(ctx: Context, readonly name: string, private readonly inputShape: readonly number[], options: RecurrentOptions, gates: number, rng: Rng) {
    if (inputShape.length !== 2) throw new RangeError(`${name}: a recurrent layer needs input of shape [steps, features], got [${inputShape.join(',')}]`);
    checkOptions(name, options, rng);
    const [steps, features] = inputShape as [number, number];
    this.units = options.units;
    this.output = options.output ?? 'last';
    const width = gates * this.units;
    const init = options.init ?? 'glorot';
    this.params.set('Wx', param(ctx, name, 'Wx', [features, width], init, features, this.units, rng));
    this.params.set('Wh', param(ctx, name, 'Wh', [this.units, width], init, this.units, this.units, rng));
    if (options.bias ?? true) this.params.set('b', param(ctx, name, 'b', [width], 'zeros', features, this.units, rng));
    this.outputShape = this.output === 'last' ? [this.units] : [steps, this.units];
  }

  forward(x: Variable): Variable {
    if (x.rank !== 3 || x.shape[1] !== this.inputShape[0] || x.shape[2] !== this.inputShape[1]) {
      throw new ShapeError(`${this.name}: input ${x.describe()}; the layer reads [batch, ${this.inputShape.join(', ')}] (batch, steps, features)`);
    }
    const [batch, steps, features] = x.shape as [number, number, number];
    const state = this.initialState(x.ctx, batch);
    const outputs: Variable[] = [];
    for (let t = 0; t < steps; t++) {
      this.step(x.slice([0, t, 0], [batch, 1, features]).reshape([batch, features]), state);
      if (this.output === 'all') outputs.push(state.h);
    }
    return this.output === 'all' ? stack(outputs, 1) : state.h;
  }

  protected initialState(ctx: Context, batch: number): { h: Variable; c?: Variable } {
    return { h: ctx.constant(ctx.backend.full([batch, this.units], 0, ctx.dtype)) };
  }

  /** One step: updates the state from this step's input `xt`. */
  protected abstract step(xt: Variable, state: { h: Variable; c?: Variable }): void;

  /** x_t Wx + b, plus h Wh when `h` is given: one op with a bias (the products added in its kernel). */
  protected project(xt: Variable, h?: Variable): Variable {
    const Wx = this.params.get('Wx')!, Wh = this.params.get('Wh')!, b = this.params.get('b');
    if (b) return h ? xt.linear(Wx, b, [h, Wh]) : xt.linear(Wx, b);
    const p = xt.matmul(Wx);
    return h ? p.add(h.matmul(Wh)) : p;
  }

  /** Columns [k * units, (k + 1) * units) of a [batch, gates * units] variable. */
  protected gate(v: Variable, k: number): Variable {
    return v.slice([0, k * this.units], [v.shape[0]!, this.units]);
  }
}

/** h_t = activation(x_t Wx + h_{t-1} Wh + b) (tanh by default). */
export class RNN extends Recurrent {
  private readonly activation: Activation;

  constructor(ctx: Context, name: string, inputShape: readonly number[], options: RecurrentOptions, rng: Rng) {
    super(ctx, name, inputShape, options, 1, rng);
    this.activation = options.activation ?? 'tanh';
  }

  protected step(xt: Variable, state: { h: Variable }): void {
    state.h = activate(this.project(xt, state.h), this.activation);
  }
}

/**
 * GRU, gates stacked [reset, update, candidate]: r = σ(x Wr + h Ur + br), z = σ(x Wz + h Uz + bz),
 * n = tanh(x Wn + bn + r ⊙ (h Un)), h' = (1 - z) ⊙ n + z ⊙ h.
 */
export class GRU extends Recurrent {
  constructor(ctx: Context, name: string, inputShape: readonly number[], options: RecurrentOptions, rng: Rng) {
    super(ctx, name, inputShape, options, 3, rng);
  }

  protected step(xt: Variable, state: { h: Variable }): void {
    const xp = this.project(xt);
    const hu = state.h.matmul(this.params.get('Wh')!);
    const r = this.gate(xp, 0).add(this.gate(hu, 0)).sigmoid();
    const z = this.gate(xp, 1).add(this.gate(hu, 1)).sigmoid();
    const n = this.gate(xp, 2).add(r.mul(this.gate(hu, 2))).tanh();
    state.h = z.rsub(1).mul(n).add(z.mul(state.h));
  }
}

/**
 * LSTM, gates stacked [input, forget, cell, output]: c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g),
 * h' = σ(o) ⊙ tanh(c').
 */
export class LSTM extends Recurrent {
  constructor(ctx: Context, name: string, inputShape: readonly number[], options: RecurrentOptions, rng: Rng) {
    super(ctx, name, inputShape, options, 4, rng);
  }

  protected override initialState(ctx: Context, batch: number): { h: Variable; c: Variable } {
    const zeros = ctx.constant(ctx.backend.full([batch, this.units], 0, ctx.dtype));
    return { h: zeros, c: zeros };
  }

  protected step(xt: Variable, state: { h: Variable; c?: Variable }): void {
    const a = this.project(xt, state.h);
    const c = this.gate(a, 1).sigmoid().mul(state.c!).add(this.gate(a, 0).sigmoid().mul(this.gate(a, 2).tanh()));
    state.c = c;
    state.h = this.gate(a, 3).sigmoid().mul(c.tanh());
  }
}

/** A named parameter of a model: `layer.param`. */
export interface NamedParameter {
  name: string;
  layer: string;
  variable: Variable;
}

/** Layers applied in order. */
export class Sequential {
  constructor(readonly layers: readonly Layer[], readonly inputShape: readonly number[]) {
    const names = new Set<string>();
    for (const layer of layers) {
      // Parameters are named layer.param: checkpoints, weights files and optimizers find them so.
      if (names.has(layer.name)) throw new RangeError(`Sequential: two layers are named '${layer.name}'; give each layer a name of its own`);
      names.add(layer.name);
    }
  }

  forward(x: Variable): Variable {
    let y = x.reshape([x.shape[0]!, ...this.inputShape]);
    for (const layer of this.layers) y = layer.forward(y);
    return y;
  }

  parameters(): NamedParameter[] {
    return this.layers.flatMap((layer) => [...layer.params.values()].map((variable) => ({ name: variable.name!, layer: layer.name, variable })));
  }

  get outputShape(): readonly number[] {
    return this.layers.length ? this.layers[this.layers.length - 1]!.outputShape : this.inputShape;
  }
}

/** Builds the layers of a model file's `model:` section. Parameters draw from `rng` by name. */
export function buildModel(spec: ModelArchSpec, ctx: Context, rng: Rng): Sequential {
  const inputShape = typeof spec.input === 'number' ? [spec.input] : [spec.input.steps, spec.input.features];
  let shape: readonly number[] = inputShape;
  const layers = spec.layers.map((l: LayerSpec) => {
    const layer = buildLayer(l, ctx, shape, rng);
    shape = layer.outputShape;
    return layer;
  });
  return new Sequential(layers, inputShape);
}

function buildLayer(l: LayerSpec, ctx: Context, shape: readonly number[], rng: Rng): Layer {
  if (l.type === 'dense') {
    const d = l as DenseSpec;
    return new Dense(ctx, d.name, shape, { units: d.units, activation: d.activation, bias: d.bias, init: d.init }, rng);
  }
  const r = l as RecurrentSpec;
  const options: RecurrentOptions = { units: r.units, activation: r.activation, output: r.output, bias: r.bias, init: r.init };
  if (r.type === 'rnn') return new RNN(ctx, r.name, shape, options, rng);
  if (r.type === 'gru') return new GRU(ctx, r.name, shape, options, rng);
  return new LSTM(ctx, r.name, shape, options, rng);
}

