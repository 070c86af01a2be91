/**
 * Optimizers: sgd, momentum (optionally Nesterov), adam and adamw, with weight decay, global
 * gradient-norm clipping and a learning-rate schedule. Updates run as the engine's own ops in
 * no-grad mode, so they work on any backend. Frozen parameters are never given to an
 * optimizer: they get no update, no decay and no state.
 */
import type { Variable } from '../engine/variable.js';
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
  lr: number;
  readonly settings: OptimizerSettings;

  constructor(settings: Partial<OptimizerSettings> & Pick<OptimizerSettings, 'type' | 'lr'>, readonly params: readonly Variable[]) {
    this.settings = { ...defaultOptimizer, ...settings };
    this.lr = settings.lr;
    for (const p of params) {
      if (!p.requiresGrad) throw new RangeError(`optimizer: parameter ${p.describe()} is frozen; give an optimizer only trainable parameters`);
    }
  }

  /** One update from the gradients `grads[i]` of `params[i]`. */
  step(grads: readonly Variable[]): void {
    const ctx = this.params[0]?.ctx;
    if (!ctx) return;
    const run = (): void => ctx.noGrad(() => {
      const s = this.settings;
      let gs = grads;
      if (s.clip_norm !== null) gs = clipByGlobalNorm(gs, s.clip_norm);
      this.steps++;
      this.params.forEach((p, i) => {
        let g = gs[i]!;
        const name = p.name ?? `#${i}`;
        // L2 decay through the gradient (PyTorch's weight_decay), except adamw's decoupled form.
        if (s.weight_decay > 0 && s.type !== 'adamw') g = g.add(p.mul(s.weight_decay));
        p.assign(this.updated(name, p, g).tensor);
      });
    });
    if (ctx.profiler) ctx.profiler.during('optimizer', run);
    else run();
  }

  private updated(name: string, p: Variable, g: Variable): Variable {
    const s = this.settings;
    const lr = this.lr;
    switch (s.type) {
      case 'sgd':
        return p.sub(g.mul(lr));
      case 'momentum': {
        // v = μ v + g; p -= lr v (or lr (g + μ v) with Nesterov), as torch.optim.SGD
        const prev = this.state.get(name);
        const v = prev ? prev[0]!.mul(s.momentum).add(g) : g;
        this.state.set(name, [v]);
        return p.sub((s.nesterov ? g.add(v.mul(s.momentum)) : v).mul(lr));
      }
      case 'adam':
      case 'adamw': {
        // m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²; p -= lr m̂ / (√v̂ + ε)
        const prev = this.state.get(name);
        const m = prev ? prev[0]!.mul(s.beta1).add(g.mul(1 - s.beta1)) : g.mul(1 - s.beta1);
        const v = prev ? prev[1]!.mul(s.beta2).add(g.square().mul(1 - s.beta2)) : g.square().mul(1 - s.beta2);
        this.state.set(name, [m, v]);
        const mHat = m.div(1 - Math.pow(s.beta1, this.steps));
        const vHat = v.div(1 - Math.pow(s.beta2, this.steps));
        let next = p.sub(mHat.div(vHat.sqrt().add(s.eps)).mul(lr));
        if (s.type === 'adamw' && s.weight_decay > 0) next = next.sub(p.mul(lr * s.weight_decay));
        return next;
      }
    }
  }
}

/** Scales all gradients by min(1, maxNorm / ‖g‖₂) with ‖g‖₂ over all of them together. */
export function clipByGlobalNorm(grads: readonly Variable[], maxNorm: number): Variable[] {
  let sq = 0;
  for (const g of grads) sq += g.square().sum().item();
  const norm = Math.sqrt(sq);
  if (!(norm > maxNorm)) return [...grads];
  const scale = maxNorm / (norm + 1e-6);
  return grads.map((g) => g.mul(scale));
}
