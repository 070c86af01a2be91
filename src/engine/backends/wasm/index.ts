/**
 * WebAssembly SIMD matrix products, assembled at run time (no .wasm file, no build step).
 */
export {
  addMatmulF32, addMatmulF64, closeThreads, DEFAULT_PARALLEL_THRESHOLD, matmulF32, matmulF32Parallel, matmulF64, matmulF64Parallel,
  parallelThreshold, setParallelThreshold,
} from './matmul.js';
