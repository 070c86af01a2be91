/**
 * The WebAssembly memory the kernels work in, and the kernels instantiated on it.
 *
 * One memory per JavaScript thread, grown as products need and reused between calls:
 * operands are copied in, the product computed there, and the result copied out. The memory is
 * shared (a SharedArrayBuffer) where the engine allows it, so that worker threads can compute
 * parts of the same product in place; otherwise it is a plain one and only one thread works.
 */
import { defaultBlocking, type Blocking } from './gemm.js';
import { defaultShape, hasRelaxedSimd, kernelBytes, MAX_PAGES, type KernelExports, type KernelShape } from './kernels.js';
import { WebAssemblyApi, type WasmMemory, type WasmModule } from './wasm-api.js';
import { nodeV8 } from '../../../node-builtins.js';

const PAGE = 65536;
/** The start of memory is kept for the thread pool's control block (see parallel.ts). */
export const CONTROL_BYTES = 4096;

/** A compiled kernel for one element size, and its instance on a workspace's memory. */
export interface Kernel {
  readonly shape: KernelShape;
  readonly blocking: Blocking;
  readonly module: WasmModule;
  readonly exports: KernelExports;
}

/** Compiled modules, per (element size, shared): compiling is synchronous and done once. */
const modules = new Map<string, WasmModule>();
let relaxed: boolean | undefined;

/**
 * The kernel for `elt`, with relaxed-SIMD multiply-add where the engine accepts it (Node 22
 * and later, or Node 20 run with --experimental-wasm-relaxed-simd): fused on CPUs with FMA,
 * it does in one instruction what otherwise takes two (measured 55 against 45 GFLOP/s).
 */
export function kernelShape(elt: 4 | 8): KernelShape {
  relaxed ??= hasRelaxedSimd() || enableRelaxedSimd();
  return defaultShape(elt, relaxed);
}

/**
 * Node 20 ships relaxed SIMD behind a V8 flag (on by default from Node 22). The flag only
 * governs which wasm modules validate, and it is set before the first module is compiled, so
 * turning it on here is safe; RMAD_NO_FMA=1 keeps the plain mul + add kernel.
 */
function enableRelaxedSimd(): boolean {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22 || process.env.RMAD_NO_FMA === '1') return false;
  nodeV8().setFlagsFromString('--experimental-wasm-relaxed-simd');
  return hasRelaxedSimd();
}

export function compileKernel(shape: KernelShape, shared: boolean): WasmModule {
  const key = `${shape.elt}/${shape.mr}x${shape.nr}/${shape.unroll}/${shape.fma}/${shared}`;
  let module = modules.get(key);
  if (!module) {
    module = new WebAssemblyApi.Module(kernelBytes(shape, shared));
    modules.set(key, module);
  }
  return module;
}

export function instantiate(module: WasmModule, memory: WasmMemory): KernelExports {
  return new WebAssemblyApi.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
}

export class Workspace {
  readonly memory: WasmMemory;
  private readonly kernels = new Map<4 | 8, Kernel>();
  private f32view: Float32Array<ArrayBufferLike> = new Float32Array(0);
  private f64view: Float64Array<ArrayBufferLike> = new Float64Array(0);

  /**
   * The memory's size, kept here: only this thread grows it, and reading `memory.buffer` is a
   * call into the engine (50-200 ns) that every product made twice.
   */
  private bytes = PAGE;

  constructor(readonly shared: boolean) {
    this.memory = new WebAssemblyApi.Memory({ initial: 1, maximum: MAX_PAGES, shared });
  }

  kernel(elt: 4 | 8): Kernel {
    let k = this.kernels.get(elt);
    if (!k) {
      const shape = kernelShape(elt);
      const module = compileKernel(shape, this.shared);
      k = { shape, blocking: defaultBlocking(shape), module, exports: instantiate(module, this.memory) };
      this.kernels.set(elt, k);
    }
    return k;
  }

  /** Grows the memory to at least `bytes`. */
  reserve(bytes: number): void {
    const have = this.bytes;
    if (bytes <= have) return;
    const pages = Math.ceil((bytes - have) / PAGE);
    if (have / PAGE + pages > MAX_PAGES) {
      throw new RangeError(`matrix product needs ${bytes} bytes of WebAssembly memory, more than the 4 GiB a 32-bit memory can address; split the product`);
    }
    this.memory.grow(pages);
    this.bytes = this.memory.buffer.byteLength;
  }

  /** A Float32Array over the whole memory (views are rebuilt after the memory grows). */
  f32(): Float32Array<ArrayBufferLike> {
    if (this.f32view.byteLength !== this.bytes) this.f32view = new Float32Array(this.memory.buffer);
    return this.f32view;
  }

  f64(): Float64Array<ArrayBufferLike> {
    if (this.f64view.byteLength !== this.bytes) this.f64view = new Float64Array(this.memory.buffer);
    return this.f64view;
  }
}

let main: Workspace | undefined;
let local: Workspace | undefined;

/**
 * The workspace of this thread, created on first use: shared memory if the engine allows it,
 * so that worker threads can take part in products.
 */
export function workspace(): Workspace {
  if (!main) {
    try {
      main = new Workspace(true);
    } catch {
      main = new Workspace(false);
    }
  }
  return main;
}

/**
 * A workspace in plain (unshared) memory, for products this thread computes alone: copies into
 * a SharedArrayBuffer measured 2.5 times slower (800 KiB: 34 against 14 us), and more where a
 * worker thread read the same memory last.
 */
export function localWorkspace(): Workspace {
  local ??= new Workspace(false);
  return local;
}
