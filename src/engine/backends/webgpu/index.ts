/**
 * The WebGPU backend: float32 tensors on a GPU (or Mesa's llvmpipe) through Dawn's Node
 * bindings, the optional `webgpu` package. Nothing here loads Dawn until a backend is created.
 */
export { WebGpuBackend, GpuDtypeError, createWebGpuBackend, defaultWebGpuBackend, type GpuHandle } from './backend.js';
export { NoGpuError, GpuError, type GpuDevice, type GpuDeviceOptions } from './device.js';
export type { AdapterInfo } from './protocol.js';
