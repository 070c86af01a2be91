// Types of data.mjs: the shared deterministic data and timing helpers of the benchmark workloads
// (../../shared/peers/WORKLOADS.md), copied unchanged so rmad's bench and the peers use one definition.
export class XorShift32 {
  constructor(seed: number);
  nextU32(): number;
  uniform(): number;
  normal(): number;
}
export interface MlpLayer { nin: number; nout: number; W: Float32Array; b: Float32Array }
export interface W4Config { name: string; sizes: number[]; batch: number; xSeed: number; ySeed: number; pSeed: number }
export const W1: { inputs: Record<'a' | 'b' | 'c' | 'x' | 'y', number>; s: number; grads: Record<string, number>; iters: number };
export function checkW1(s: number, g: Record<string, number>, tol?: number): boolean;
export const W2cfg: { sizes: number[]; paramSeed: number; lr: number; alpha: number };
export function w2Data(): { X: Float32Array; y: Float32Array; n: number; layers: MlpLayer[] };
export function w3Matrices(n: number): { A: Float32Array; B: Float32Array };
export function w3Check(n: number, C: ArrayLike<number>): boolean;
export const W3sizes: number[];
export const W4cfg: { big: W4Config; small: W4Config; lr: number; beta1: number; beta2: number; eps: number };
export function w4Data(cfg: W4Config): { X: Float32Array; y: Int32Array; Y: Float32Array; layers: MlpLayer[] };
export const W5cfg: { T: number; batch: number; nin: number; hidden: number; nout: number; xSeed: number; ySeed: number; pSeed: number; lr: number };
export function w5Data(): { X: Float32Array; y: Int32Array; Y: Float32Array; Wxh: Float32Array; Whh: Float32Array; bh: Float32Array; Why: Float32Array; by: Float32Array };
export function transpose(a: Float32Array, r: number, c: number): Float32Array;
export function checkLosses(workload: string, losses: number[], tol?: number): boolean;
export function median(xs: number[]): number;
export function nowMs(): number;
export interface Measured { ms: number; samples: number; iters: number; min: number; max: number }
export function measure(fn: () => unknown, options?: { warmup?: number; samples?: number; iters?: number | 'auto'; targetMs?: number; capMs?: number }): Promise<Measured>;
export function emit(workload: string, peer: string, param: string, metric: string, value: number, ok: boolean, info?: Record<string, unknown>): void;
export function guarded(workload: string, peer: string, param: string, metric: string, body: () => Promise<void> | void): Promise<void>;
export function selected(name: string): boolean;
