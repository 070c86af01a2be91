/**
 * rmad: reverse-mode automatic differentiation for TypeScript.
 *
 *   import { newContext, grad, gradcheck } from 'rmad';
 */
export { Context, Variable, newContext } from './engine/variable.js';
export { GpuDtypeError, NoGpuError, WebGpuBackend } from './engine/backends/webgpu/index.js';
export type { ContextOptions, Operand, Value, VariableOptions } from './engine/variable.js';
export { Gradients, sumToShape } from './engine/autograd.js';
export type { GradOptions } from './engine/autograd.js';
export { grad, valueAndGrad, vjp } from './engine/transforms.js';
export type { GradFn, Fn, TransformOptions } from './engine/transforms.js';
export { gradcheck } from './engine/gradcheck.js';
export type { GradcheckOptions, GradcheckReport, InputReport } from './engine/gradcheck.js';
export { printGraph, toDot, countOps } from './engine/printing.js';
export { Tensor, ShapeError, formatShape } from './engine/tensor.js';
export type { DType, Shape, NestedArray, TypedArray } from './engine/tensor.js';
export type { Backend, UnaryOp, BinaryOp, ReduceOp } from './engine/backend.js';
export { CpuBackend, cpu } from './engine/backends/cpu.js';
export { FastCpuBackend, fastCpu } from './engine/backends/fast-cpu.js';
export { rules } from './engine/primitives.js';
export type { Op, Params, Rule } from './engine/primitives.js';
export { AnomalyError, ContextMismatchError, FrozenError, OpError, VersionError } from './engine/errors.js';
export { Profiler } from './engine/profile.js';
export { Rng } from './engine/random.js';
export * from './engine/functions.js';
export * from './engine/rewrite/index.js';
export * from './layers/index.js';
