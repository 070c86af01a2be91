/**
 * Profiling: time and call count per op, forward and backward apart, and the share of time
 * spent outside kernels. Attach one to a context (`ctx.profiler = new Profiler()`); `rmad train
 * --profile` does that and prints `report()`.
 */
import type { Tensor } from './tensor.js';

export interface OpStats {
  op: string;
  phase: 'forward' | 'backward';
  calls: number;
  ms: number;
}

export class Profiler {
  private readonly stats = new Map<string, OpStats>();
  private readonly start = performance.now();
  /** Bytes of the largest tensor seen, a lower bound on what one op needs. */
  largestTensorBytes = 0;

  now(): number {
    return performance.now();
  }

  record(op: string, phase: 'forward' | 'backward', ms: number, out: Tensor | null): void {
    const key = `${phase}:${op}`;
    let s = this.stats.get(key);
    if (!s) this.stats.set(key, (s = { op, phase, calls: 0, ms: 0 }));
    s.calls++;
    s.ms += ms;
    if (out) {
      const bytes = out.size * (out.dtype === 'float32' ? 4 : 8);
      if (bytes > this.largestTensorBytes) this.largestTensorBytes = bytes;
    }
  }

  /** Per-op rows, slowest first. Backward rows include the ops the rule ran (they nest). */
  rows(): OpStats[] {
    return [...this.stats.values()].sort((a, b) => b.ms - a.ms);
  }

  /** Milliseconds since the profiler was created. */
  elapsed(): number {
    return performance.now() - this.start;
  }
}
