/**
 * A worker thread of the matrix-product pool (started by parallel.ts). It instantiates the
 * kernels on the shared memory, then sleeps on the control block's GEN word and works on each
 * job it is woken for. It never returns to its event loop: it is unref()ed, so the process
 * exits without it, and terminate() interrupts the wait.
 */
import { workerData } from 'node:worker_threads';
import type { Blocking } from './gemm.js';
import type { KernelShape } from './kernels.js';
import { CONTROL_INTS, GEN, readJob, work } from './protocol.js';
import { instantiate } from './workspace.js';
import type { WasmMemory, WasmModule } from './wasm-api.js';

export interface WorkerInit {
  readonly memory: WasmMemory;
  /** This thread's number: 1, 2, ... (the main thread is 0); it picks the packing scratch. */
  readonly thread: number;
  readonly kernels: readonly { readonly module: WasmModule; readonly shape: KernelShape; readonly blocking: Blocking }[];
}

/**
 * Microseconds a worker polls GEN before sleeping. Waking a sleeping thread costs 40 us or
 * more (a virtual CPU that halted must be woken by the host), about the time of a 64 x 64 x 64
 * product; polling a little keeps the worker ready for the next product of a training step.
 */
const SPIN_US = 200;

const init = workerData as WorkerInit;
const kernels = init.kernels.map((k) => ({ ...k, exports: instantiate(k.module, init.memory) }));
const ctl = new Int32Array(init.memory.buffer, 0, CONTROL_INTS);

let seen = 0;
for (;;) {
  for (const until = performance.now() + SPIN_US / 1000; Atomics.load(ctl, GEN) === seen && performance.now() < until;);
  Atomics.wait(ctl, GEN, seen);
  const gen = Atomics.load(ctl, GEN);
  if (gen === seen) continue;
  seen = gen;
  const job = readJob(ctl);
  const kernel = kernels.find((k) => k.shape.elt === job.elt);
  if (kernel) work(ctl, gen, job, init.thread, kernel.exports, kernel.shape, kernel.blocking);
}
