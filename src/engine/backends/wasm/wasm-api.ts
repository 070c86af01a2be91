/**
 * The part of the WebAssembly JavaScript API the kernels use, typed here because the project
 * compiles against lib es2022 without the DOM, where the `WebAssembly` global is declared.
 */

/** A compiled module (opaque; it can be posted to a worker). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export interface WasmMemory {
  /** An ArrayBuffer, or a SharedArrayBuffer for a shared memory; replaced when the memory grows. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Adds `pages` pages of 64 KiB; returns the previous size in pages. */
  grow(pages: number): number;
}

interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}

export const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
