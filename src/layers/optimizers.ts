/**
 * Optimizers: sgd, momentum (optionally Nesterov), adam and adamw, with weight decay, global
 * gradient-norm clipping and a learning-rate schedule. Updates run as the engine's own ops in
 * no-grad mode, so they work on any backend. Frozen parameters are never given to an
 * optimizer: they get no update, no decay and no state.
 */
import { Gradients } from '../engine/autograd.js';
import { weightDecayOf, type OptimizerUpdate } from '../engine/backend.js';
import { ContextMismatchError } from '../engine/errors.js';
import { describeValue, sameShape, ShapeError, type Tensor } from '../engine/tensor.js';
import { Variable, type Value } from '../engine/variable.js';
import type { OptimizerSpec, ScheduleSpec } from '../loaders/spec.js';

/** The learning rate at the start of epoch `epoch` (0-based). */
export function scheduledLr(lr: number, schedule: ScheduleSpec, epoch: number): number {
  switch (schedule.type) {
    case 'constant': return lr;
    case 'step': return lr * Math.pow(schedule.gamma, Math.floor(epoch / schedule.step_size));
    case 'exponential': return lr * Math.pow(schedule.gamma, epoch);
    case 'cosine': {
      const t = Math.min(epoch, schedule.t_max);
      return schedule.min_lr + ((lr - schedule.min_lr) * (1 + Math.cos((Math.PI * t) / schedule.t_max))) / 2;
    }
  }
}

export type OptimizerSettings = Omit<OptimizerSpec, 'schedule'>;

export const defaultOptimizer: Omit<OptimizerSettings, 'type' | 'lr'> = {
  momentum: 0.9, nesterov: false, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0, clip_norm: null,
};

export class Optimizer {
  /** Optimizer state per parameter (momentum buffer, Adam's moments), by parameter name. */
  readonly state = new Map<string, Variable[]>();
  /** Steps taken (Adam's bias correction counts them). */
  steps = 0;
  /** Where the backend keeps each parameter beside its state (see allocateState), if it does. */
  private homes: Tensor[] | null = null;
  lr: number;
  readonly settings: OptimizerSettings;

  constructor(settings: Partial<OptimizerSettings> & Pick<OptimizerSettings, 'type' | 'lr'>, readonly params: readonly Variable[]) {
    for (const key of Object.keys(settings)) {
      // A model file's optimizer section carries its schedule, which the training loop applies.
      if (!(key in defaultOptimizer) && key !== 'type' && key !== 'lr' && key !== 'schedule') {
        throw new RangeError(`optimizer: unknown setting '${key}'; the settings are type, lr, ${Object.keys(defaultOptimizer).join(', ')}`);
      }
    }
    this.settings = { ...defaultOptimizer, ...settings };
    checkSettings(this.settings);
    this.lr = settings.lr;
    const names = new Map<string, Variable>();
    for (const [i, p] of params.entries()) {
      if (!p.requiresGrad) throw new RangeError(`optimizer: parameter ${p.describe()} is frozen; give an optimizer only trainable parameters`);
      // State is kept by name (checkpoints store it so): two parameters of one name would share it.
      const key = stateName(p, i), other = names.get(key);
      if (other) {
        throw new RangeError(other === p
          ? `optimizer: parameter ${p.describe()} is given twice; give each parameter once`
          : `optimizer: two parameters are named '${key}'; name them apart (layers of one model need names of their own)`);
      }
      names.set(key, p);
    }
  }

  /**
   * One update: `grads[i]` is the gradient of params[i], or `grads` is a loss's Gradients
   * (`loss.grad()`), from which each parameter's is taken.
   */
  step(grads: readonly Variable[] | Gradients<Value>): void {
    const ctx = this.params[0]?.ctx;
    if (!ctx) return;
    const given = grads instanceof Gradients ? this.params.map((p) => grads.variable(p)) : grads;
    if (given.length !== this.params.length) {
      throw new RangeError(`optimizer: ${given.length} gradients for ${this.params.length} parameters; give one per parameter, in the same order`);
    }
    given.forEach((g, i) => checkGradient(this.params[i]!, g));
    const run = (): void => ctx.noGrad(() => {
      const s = this.settings;
      const gs = s.clip_norm !== null ? clipByGlobalNorm(given, s.clip_norm) : given;
      this.steps++;
      const update: OptimizerUpdate = {
        type: s.type, lr: this.lr, weightDecay: s.weight_decay, momentum: s.momentum, nesterov: s.nesterov,
        beta1: s.beta1, beta2: s.beta2, eps: s.eps, step: this.steps,
      };
      const fused = ctx.backend.optimizerStep?.bind(ctx.backend);
      for (let i = 0; i < this.params.length; i++) {
        const p = this.params[i]!;
        const state = this.stateOf(p, i);
        if (fused) {
          // A value assigned since (a checkpoint's) goes back beside the state.
          const home = this.homes?.[i];
          if (home && p.tensor !== home) {
            ctx.backend.write(home, p.tensor.data());
            p.relocate(home);
          }
          const prof = ctx.profiler, t0 = prof ? prof.now() : 0;
          const tensors: Tensor[] = [];
          for (let j = 0; j < state.length; j++) tensors.push(state[j]!.tensor);
          fused(update, p.tensor, gs[i]!.tensor, tensors);
          if (prof) prof.record(`${s.type} (fused)`, prof.now() - t0, p.tensor);
          p.modified();
        } else {
          p.assign(composedUpdate(update, p, gs[i]!, state).tensor);
        }
      }
    });
    if (ctx.profiler) ctx.profiler.during('optimizer', run);
    else run();
  }

  /**
   * State saved by a checkpoint, by parameter name: copied into state where the backend keeps it
   * for its fused update in place (so a resumed run steps as fast as a fresh one), else taken as
   * it is.
   */
  loadState(saved: ReadonlyMap<string, readonly Variable[]>): void {
    this.state.clear();
    this.allocateState();
    for (const [name, list] of saved) {
      const home = this.state.get(name);
      const fits = home !== undefined && home.length === list.length && home.every((v, k) => v.size === list[k]!.size);
      if (fits) home.forEach((v, k) => v.ctx.backend.write(v.tensor, list[k]!.tensor.data()));
      else this.state.set(name, [...list]);
    }
  }

  /** Arrays of state per parameter: the momentum buffer, or Adam's two moments. */
  private get stateCount(): number {
    return this.settings.type === 'sgd' ? 0 : this.settings.type === 'momentum' ? 1 : 2;
  }

  /**
   * Every parameter's state at once, where the backend keeps it for its fused update in place,
   * and the parameters' values moved beside it (the update then copies only the gradient).
   */
  private allocateState(): void {
    const first = this.params[0];
    const home = first?.ctx.backend.optimizerState?.(this.params.map((q) => q.tensor), this.stateCount);
    if (!first || !home) return;
    this.homes = home.params;
    home.params.forEach((t, j) => this.params[j]!.relocate(t));
    home.state.forEach((tensors, j) => this.state.set(stateName(this.params[j]!, j), tensors.map((t) => first.ctx.constant(t))));
  }

  /**
   * The state of parameter i, zero-initialised on first use: all of it on the first step (see
   * allocateState), unless state was given before.
   */
  private stateOf(p: Variable, i: number): Variable[] {
    if (this.state.size === 0) this.allocateState();
    let state = this.state.get(stateName(p, i));
    if (!state) {
      state = Array.from({ length: this.stateCount }, () => p.ctx.constant(p.ctx.backend.full(p.shape, 0, p.dtype)));
      this.state.set(stateName(p, i), state);
    }
    return state;
  }
}

/** A gradient for `p`: a Variable of its context, dtype and shape. */
function checkGradient(p: Variable, g: unknown): void {
  if (!(g instanceof Variable)) throw new TypeError(`optimizer: the gradient of ${p.describe()} is ${describeValue(g)}, not a Variable`);
  if (g.ctx !== p.ctx) throw new ContextMismatchError(`optimizer: the gradient of ${p.describe()} belongs to ${g.ctx}, the parameter to ${p.ctx}`);
  if (g.dtype !== p.dtype || !sameShape(g.shape, p.shape)) {
    throw new ShapeError(`optimizer: the gradient of ${p.describe()} is ${g.describe()}; it must have the parameter's shape and dtype (are the gradients in the parameters' order?)`);
  }
}

/** The ranges PyTorch's optimizers accept (the fused updates rely on them: Adam's v >= 0). */
function checkSettings(s: OptimizerSettings): void {
  if (!['sgd', 'momentum', 'adam', 'adamw'].includes(s.type)) throw new RangeError(`optimizer: unknown type '${s.type}'; the types are sgd, momentum, adam, adamw`);
  if (!Number.isFinite(s.lr)) throw new RangeError(`optimizer: lr is ${s.lr}; it must be a finite number >= 0`);
  if (s.clip_norm !== null && !(s.clip_norm > 0 && Number.isFinite(s.clip_norm))) {
    throw new RangeError(`optimizer: clip_norm is ${s.clip_norm}; it must be a finite number > 0, or null for no clipping`);
  }
  const nonNegative = { ok: (v: number) => v >= 0, range: '>= 0' };
  const unit = { ok: (v: number) => v >= 0 && v < 1, range: 'in [0, 1)' };
  const ranges = [['lr', nonNegative], ['weight_decay', nonNegative], ['momentum', nonNegative], ['beta1', unit], ['beta2', unit], ['eps', nonNegative]] as const;
  for (const [name, { ok, range }] of ranges) {
    if (!ok(s[name])) throw new RangeError(`optimizer: ${name} is ${s[name]}; it must be ${range}`);
  }
}

/** The key of parameter i's state: its name, or its place. */
function stateName(p: Variable, i: number): string {
  return p.name ?? `#${i}`;
}

/**
 * The update of OptimizerUpdate's formulas composed of ordinary kernels, for backends without a
 * fused optimizerStep. It replaces the state variables' values and returns the new parameter.
 */
function composedUpdate(u: OptimizerUpdate, p: Variable, grad: Variable, state: Variable[]): Variable {
  const decay = weightDecayOf(u);
  const g = decay.form === 'l2' ? grad.add(p.mul(decay.coefficient)) : grad;
  switch (u.type) {
    case 'sgd':
      return p.sub(g.mul(u.lr));
    case 'momentum': {
      const v = state[0]!.mul(u.momentum).add(g);
      state[0]!.assign(v.tensor);
      return p.sub((u.nesterov ? g.add(v.mul(u.momentum)) : v).mul(u.lr));
    }
    case 'adam':
    case 'adamw': {
      const m = state[0]!.mul(u.beta1).add(g.mul(1 - u.beta1));
      const v = state[1]!.mul(u.beta2).add(g.square().mul(1 - u.beta2));
      state[0]!.assign(m.tensor);
      state[1]!.assign(v.tensor);
      const mHat = m.div(1 - Math.pow(u.beta1, u.step));
      const vHat = v.div(1 - Math.pow(u.beta2, u.step));
      const next = p.sub(mHat.div(vHat.sqrt().add(u.eps)).mul(u.lr));
      return decay.form === 'decoupled' ? next.sub(p.mul(decay.coefficient)) : next;
    }
  }
}

/** Scales all gradients by min(1, maxNorm / ‖g‖₂) with ‖g‖₂ over all of them together. */
export function clipByGlobalNorm(grads: readonly Variable[], maxNorm: number): Variable[] {
  if (!(maxNorm > 0 && Number.isFinite(maxNorm))) throw new RangeError(`clipByGlobalNorm: maxNorm is ${maxNorm}; it must be a finite number > 0`);
  let sq = 0;
  for (const g of grads) sq += g.square().sum().item();
  const norm = Math.sqrt(sq);
  if (!(norm > maxNorm)) return [...grads];
  const scale = maxNorm / (norm + 1e-6);
  return grads.map((g) => g.mul(scale));
}
