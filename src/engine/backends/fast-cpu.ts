/**
 * The CPU backend contexts use: the reference backend (cpu.ts) with its matrix product replaced
 * by WebAssembly SIMD kernels, on worker threads for large products. Everything it overrides is
 * tested against the reference on random shapes (test/fast-cpu.test.ts).
 */
import { Tensor, arrayFor } from '../tensor.js';
import { CpuBackend, matmulDims } from './cpu.js';
import { matmulF32Parallel, matmulF64Parallel } from './wasm/index.js';

export class FastCpuBackend extends CpuBackend {
  override matmul(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor {
    const { batch, m, k, n, batchShape } = matmulDims(a, b, transposeA, transposeB);
    const da = this.read(a), db = this.read(b);
    const out = arrayFor(a.dtype, batch * m * n);
    const bBatched = b.rank > 2;
    for (let t = 0; t < batch; t++) {
      const at = da.subarray(t * m * k, (t + 1) * m * k);
      const bt = bBatched ? db.subarray(t * k * n, (t + 1) * k * n) : db;
      const ct = out.subarray(t * m * n, (t + 1) * m * n);
      if (out instanceof Float32Array) matmulF32Parallel(at as Float32Array, bt as Float32Array, m, k, n, transposeA, transposeB, ct as Float32Array);
      else matmulF64Parallel(at as Float64Array, bt as Float64Array, m, k, n, transposeA, transposeB, ct as Float64Array);
    }
    return this.make([...batchShape, m, n], a.dtype, out);
  }
}

export const fastCpu = new FastCpuBackend();
