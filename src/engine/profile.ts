/**
 * Profiling: time and call count of the kernels each op ran, by phase (forward, backward,
 * optimizer), and the time outside kernels. Attach one to a context (`ctx.profiler = new
 * Profiler()`); `rmad train --profile` does that and prints its report.
 */
import type { Tensor } from './tensor.js';

export type Phase = 'forward' | 'backward' | 'optimizer';

export interface OpStats {
  op: string;
  phase: Phase;
  calls: number;
  ms: number;
}

export class Profiler {
  private readonly stats = new Map<string, OpStats>();
  /** Set by the walker and the optimizer around their work. */
  phase: Phase = 'forward';
  /** Bytes of the largest tensor produced. */
  largestTensorBytes = 0;

  now(): number {
    return performance.now();
  }

  record(op: string, ms: number, out: Tensor): void {
    const key = `${this.phase}:${op}`;
    let s = this.stats.get(key);
    if (!s) this.stats.set(key, (s = { op, phase: this.phase, calls: 0, ms: 0 }));
    s.calls++;
    s.ms += ms;
    const bytes = out.size * (out.dtype === 'float32' ? 4 : 8);
    if (bytes > this.largestTensorBytes) this.largestTensorBytes = bytes;
  }

  /** Runs `fn` with the phase set to `phase`. */
  during<T>(phase: Phase, fn: () => T): T {
    const was = this.phase;
    this.phase = phase;
    try {
      return fn();
    } finally {
      this.phase = was;
    }
  }

  /** Per-op rows, slowest first. */
  rows(): OpStats[] {
    return [...this.stats.values()].sort((a, b) => b.ms - a.ms);
  }

  /** Milliseconds spent in kernels. */
  kernelMs(): number {
    let ms = 0;
    for (const s of this.stats.values()) ms += s.ms;
    return ms;
  }
}
