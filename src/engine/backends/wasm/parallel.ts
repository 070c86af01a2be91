/**
 * The thread pool: worker threads that compute chunks of C in the main thread's shared
 * memory (protocol.ts). The API stays synchronous: the main thread takes chunks too,
 * then blocks in Atomics.wait until the workers have finished theirs.
 *
 * Workers start on the first parallel product and are unref()ed, so they never keep the process
 * alive. Until a worker is up (about 40 ms), the main thread simply claims its chunks itself.
 */
import type { Worker } from 'node:worker_threads';
import { roundUp } from './gemm.js';
import { CONTROL_INTS, DONE, FAILED, GEN, MAX_CHUNKS, postJob, work, type Job } from './protocol.js';
import type { WorkerInit } from './worker.js';
import type { Kernel, Workspace } from './workspace.js';
import { nodeOs, workerThreads } from '../../../node-builtins.js';
import { packageFile } from '../../../package-file.js';

/** Chunks per thread: more balance the load when a core is busy with something else. */
const CHUNKS_PER_THREAD = 4;
/** Fewest rows or columns in a chunk. */
const MIN_CHUNK = 32;
/**
 * Milliseconds the main thread polls for the workers' last chunks before sleeping (they
 * usually end within microseconds, and a sleeping thread takes 40 us or more to wake). With
 * the worker's own polling (worker.ts) this took n = 256 from 48 to 60 GFLOP/s on 2 threads.
 */
const MAIN_SPIN_MS = 0.5;

export class Pool {
  /** Worker t (t >= 1: the main thread is 0) sits at slots[t - 1]; null once it has exited. */
  private readonly slots: (Worker | null)[] = [];
  private readonly ctl: Int32Array;
  private gen = 0;

  constructor(private readonly ws: Workspace) {
    this.ctl = new Int32Array(ws.memory.buffer, 0, CONTROL_INTS);
  }

  /** Starts workers until `threads` threads can work, the main one included. */
  grow(threads: number): void {
    const live = this.slots.filter((w) => w !== null).length;
    if (live + 1 >= threads) return;
    const kernels = [this.ws.kernel(4), this.ws.kernel(8)].map(({ module, shape, blocking }) => ({ module, shape, blocking }));
    for (let missing = threads - 1 - live, t = 1; missing > 0; t++) {
      if (this.slots[t - 1]) continue;
      const init: WorkerInit = { memory: this.ws.memory, thread: t, kernels };
      const worker = new (workerThreads().Worker)(packageFile('engine/backends/wasm/worker.js'), { workerData: init });
      worker.unref();
      // A worker that fails to start never claims a chunk, so products go on without it; the
      // slot (and its scratch) goes to the next worker started.
      const forget = (): void => {
        if (this.slots[t - 1] === worker) this.slots[t - 1] = null;
      };
      worker.on('error', forget);
      worker.on('exit', forget);
      this.slots[t - 1] = worker;
      missing--;
    }
  }

  /**
   * How C is cut: along its longer side, in chunks of whole tiles (mr rows or nr columns),
   * CHUNKS_PER_THREAD per thread but none under MIN_CHUNK: each chunk re-reads (by rows) or
   * re-packs (by columns) the whole other operand.
   */
  chunking(m: number, n: number, mr: number, nr: number, threads: number): { byColumns: boolean; chunkSize: number; chunks: number } {
    const byColumns = n > m;
    const extent = byColumns ? n : m, tile = byColumns ? nr : mr;
    const want = Math.min(MAX_CHUNKS, threads * CHUNKS_PER_THREAD, Math.max(threads, Math.floor(extent / MIN_CHUNK)));
    const chunkSize = roundUp(Math.ceil(extent / want), tile);
    return { byColumns, chunkSize, chunks: Math.ceil(extent / chunkSize) };
  }

  /** Runs `job` on all threads and returns when every chunk is done. */
  run(job: Job, kernel: Kernel): void {
    const ctl = this.ctl;
    this.gen = (this.gen % 0x3fffffff) + 1;
    postJob(ctl, this.gen, job);
    Atomics.notify(ctl, GEN);
    work(ctl, this.gen, job, 0, kernel.exports, kernel.shape, kernel.blocking);
    for (const until = performance.now() + MAIN_SPIN_MS; Atomics.load(ctl, DONE) < job.chunks && performance.now() < until;);
    for (let d = Atomics.load(ctl, DONE); d < job.chunks; d = Atomics.load(ctl, DONE)) Atomics.wait(ctl, DONE, d);
    if (Atomics.load(ctl, FAILED) !== 0) throw new Error('matrix product: a worker thread failed on its part of the product');
  }

  /**
   * Terminates the workers; later products start new ones. Safe between products: the main
   * thread only returns from `run` once no worker holds a chunk.
   */
  async close(): Promise<void> {
    const workers = this.slots.filter((w) => w !== null);
    this.slots.fill(null);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

let threads: number | undefined;

/**
 * Threads a parallel product uses by default: one per core, or RMAD_THREADS. Read once: asking
 * the operating system cost more than a small product.
 */
export function defaultThreads(): number {
  if (threads === undefined) {
    const fromEnv = Number(process.env.RMAD_THREADS);
    threads = Number.isInteger(fromEnv) && fromEnv >= 1 ? fromEnv : Math.max(1, nodeOs().availableParallelism());
  }
  return threads;
}
