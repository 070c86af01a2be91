/**
 * The messages between the WebGPU backend (main thread) and the device worker that owns the
 * GPUDevice. The main thread decides everything (buffer ids, kernel sources, parameters,
 * dispatch sizes); the worker only replays commands against Dawn, in order. See device.ts for
 * why the device lives in a worker at all.
 */

/** Allocate a storage buffer of `bytes` (a multiple of 4) under `id`. */
export interface CreateCmd { readonly t: 'create'; readonly id: number; readonly bytes: number }
/** Free the buffer `id` (its id is never reused). */
export interface DestroyCmd { readonly t: 'destroy'; readonly id: number }
/** Upload `data` to buffer `id` at byte offset 0. */
export interface WriteCmd { readonly t: 'write'; readonly id: number; readonly data: Float32Array | Uint32Array | Int32Array }
/** Copy `bytes` bytes between two buffers. */
export interface CopyCmd {
  readonly t: 'copy'; readonly src: number; readonly srcOffset: number;
  readonly dst: number; readonly dstOffset: number; readonly bytes: number;
}
/**
 * One compute dispatch. Binding 0 is `params` (u32s at `paramOffset` in the batch's parameter
 * block, `paramCount` of them), bindings 1.. are `buffers` in order; the kernel's source decides
 * which of them are read-only. `source` comes with the first use of `key` only.
 */
export interface KernelCmd {
  readonly t: 'kernel';
  readonly key: string;
  readonly source?: string;
  readonly buffers: readonly number[];
  readonly paramOffset: number;
  readonly paramCount: number;
  readonly groups: readonly [number, number, number];
}
export type Cmd = CreateCmd | DestroyCmd | WriteCmd | CopyCmd | KernelCmd;

/** What the main thread waits for at the end of a batch. */
export type SyncRequest =
  | { readonly t: 'read'; readonly id: number; readonly bytes: number }
  | { readonly t: 'finish' };

export interface Batch {
  readonly cmds: readonly Cmd[];
  /** Every kernel's parameters, each run starting at a multiple of the storage offset alignment. */
  readonly params: Uint32Array;
  readonly sync?: SyncRequest;
}

/** The adapter, as the worker found it. */
export interface AdapterInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
}

export interface Limits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly minStorageBufferOffsetAlignment: number;
  readonly maxComputeWorkgroupsPerDimension: number;
}

/** Replies, sent on the reply port and then signalled through the shared flag. */
export type Reply =
  | { readonly ok: true; readonly adapter?: AdapterInfo; readonly limits?: Limits; readonly data?: ArrayBuffer }
  | { readonly ok: false; readonly kind: 'no-adapter' | 'load' | 'gpu'; readonly message: string };

export interface WorkerInit {
  /** Int32Array over a SharedArrayBuffer: [0] is the reply flag (0 waiting, 1 replied, 2 worker gone). */
  readonly signal: Int32Array;
  readonly replyPort: import('node:worker_threads').MessagePort;
  /** Options passed to Dawn's `create()` (e.g. `backend=vulkan`). */
  readonly dawnOptions: readonly string[];
  readonly powerPreference: 'high-performance' | 'low-power';
}

export const SIGNAL_WAITING = 0;
export const SIGNAL_REPLIED = 1;
export const SIGNAL_GONE = 2;
