/**
 * How the main thread and the workers share one product: a control block of int32 at the
 * start of the shared memory, and a claim loop that both run.
 *
 * C is cut into chunks of rows (or of columns, when it is wider than tall). The main thread
 * writes the job, then bumps GEN and wakes the workers; every thread, the main one included,
 * claims chunks one at a time by compare-and-swap on CLAIM until none are left, and counts
 * them in DONE; the main thread returns once DONE reaches the number of chunks. CLAIM carries the low bits of the job's
 * generation next to the chunk counter, so a worker that read a job late can never claim a
 * chunk of a newer one: its compare-and-swap fails, and it drops what it read.
 */
import { computeBlock, packB, type Blocking, type GemmLayout } from './gemm.js';
import type { KernelExports, KernelShape } from './kernels.js';

export const GEN = 0;
export const CLAIM = 1;
export const DONE = 2;
/** Set when a thread failed on a chunk; the main thread throws. */
export const FAILED = 3;
const JOB = 8;
/** Int32 slots the control block uses (it fits in workspace.CONTROL_BYTES). */
export const CONTROL_INTS = JOB + 18;

/** The most chunks a job may have: the counter is the low 16 bits of CLAIM. */
export const MAX_CHUNKS = 0xffff;

export interface Job extends GemmLayout {
  readonly elt: 4 | 8;
  /** Whether chunks are ranges of columns of C rather than of rows. */
  readonly byColumns: boolean;
  /**
   * Rows (columns) per chunk, a multiple of mr (nr): chunk i is rows (columns)
   * i*chunkSize .. (i+1)*chunkSize, the last one cut at m (n).
   */
  readonly chunkSize: number;
  readonly chunks: number;
  /** Threads 0 .. threads - 1 work on this job; any others leave it alone. */
  readonly threads: number;
  /** Thread t packs A at packA + t * packAStride. */
  readonly packA: number;
  readonly packAStride: number;
}

const tagOf = (gen: number): number => (gen & 0x7fff) << 16;

/** Writes `job` as generation `gen` and opens its chunks for claiming (main thread). */
export function postJob(ctl: Int32Array, gen: number, job: Job): void {
  const fields = [job.elt, job.m, job.k, job.n, +job.transposeA, +job.transposeB, job.a, job.b, job.c,
    job.ldc, job.packB, job.packA, job.packAStride, +job.byColumns, job.chunkSize, job.chunks, job.threads, +job.accumulate];
  for (let i = 0; i < fields.length; i++) ctl[JOB + i] = fields[i]!;
  Atomics.store(ctl, DONE, 0);
  Atomics.store(ctl, FAILED, 0);
  Atomics.store(ctl, CLAIM, tagOf(gen));
  Atomics.store(ctl, GEN, gen);
}

/** The job of the current generation (it may be stale: see the module comment). */
export function readJob(ctl: Int32Array): Job {
  const f = (i: number): number => ctl[JOB + i]!;
  // Addresses are unsigned: a memory may reach 4 GiB.
  const u = (i: number): number => f(i) >>> 0;
  return {
    elt: f(0) === 8 ? 8 : 4, m: f(1), k: f(2), n: f(3), transposeA: f(4) !== 0, transposeB: f(5) !== 0,
    a: u(6), b: u(7), c: u(8), ldc: f(9), packB: u(10), packA: u(11), packAStride: u(12),
    byColumns: f(13) !== 0, chunkSize: f(14), chunks: f(15), threads: f(16), accumulate: f(17) !== 0,
  };
}

/** Claims and computes chunks of generation `gen` until none are left, as thread `thread`. */
export function work(
  ctl: Int32Array, gen: number, job: Job, thread: number,
  kx: KernelExports, shape: KernelShape, blocking: Blocking,
): void {
  if (thread >= job.threads) return;
  const tag = tagOf(gen);
  const packA = job.packA + thread * job.packAStride;
  for (;;) {
    const claim = Atomics.load(ctl, CLAIM);
    const chunk = claim & 0xffff;
    if ((claim & 0x7fff0000) !== tag || chunk >= job.chunks) return;
    if (Atomics.compareExchange(ctl, CLAIM, claim, claim + 1) !== claim) continue;
    const start = chunk * job.chunkSize;
    try {
      if (job.byColumns) {
        const end = Math.min(job.n, start + job.chunkSize);
        packB(kx, shape, blocking, job, start, end);
        computeBlock(kx, shape, blocking, job, 0, job.m, start, end, packA);
      }
      else computeBlock(kx, shape, blocking, job, start, Math.min(job.m, start + job.chunkSize), 0, job.n, packA);
    } catch {
      // Still counted as done, or the main thread would wait forever; it sees FAILED.
      Atomics.store(ctl, FAILED, 1);
    }
    if (Atomics.add(ctl, DONE, 1) + 1 === job.chunks) Atomics.notify(ctl, DONE);
  }
}
