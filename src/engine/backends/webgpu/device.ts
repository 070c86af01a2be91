/**
 * The main thread's end of the GPU: a worker thread that owns the GPUDevice, a command stream
 * to it, a size-bucketed buffer pool, and synchronous waits.
 *
 * Why a worker. `Backend.read()` is synchronous, and WebGPU has exactly one way to get data
 * back: `GPUBuffer.mapAsync()`. In Dawn's Node bindings (the `webgpu` package) that promise is
 * settled by `instance.ProcessEvents()`, which the bindings schedule with `setImmediate` on the
 * thread that created the device. The package exposes no way to process events or wait
 * (`create` and `globals` are its whole surface; `wgpuInstanceWaitAny` is not bound), so a
 * thread that blocks can never see its own map complete. Measured: a main thread that maps a
 * buffer and then blocks in `Atomics.wait` for 2 s finds `mapState === 'pending'` afterwards.
 * So the device lives in a worker, which keeps its own event loop turning, and the main thread
 * blocks in `Atomics.wait` on a SharedArrayBuffer flag until the worker has mapped the result;
 * the bytes come back through `receiveMessageOnPort`, itself synchronous. A round trip costs
 * about 0.3 ms on llvmpipe. Everything that needs no answer (allocations, uploads, kernels) is
 * queued and posted in batches, so the main thread runs ahead of the GPU as it would in a
 * browser. Creation is synchronous the same way: the main thread waits for the worker to
 * report its adapter.
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import { workerThreads } from '../../../node-builtins.js';
import {
  SIGNAL_GONE, SIGNAL_WAITING,
  type AdapterInfo, type Batch, type Cmd, type Limits, type Reply, type SyncRequest, type WorkerInit,
} from './protocol.js';
import type { Kernel } from './kernels.js';
import { packageFile } from '../../../package-file.js';

/** No WebGPU adapter (or no Dawn binary) on this machine. */
export class NoGpuError extends Error {
  override name = 'NoGpuError';
  constructor(readonly reason: string) {
    super(
      `no WebGPU adapter was found (${reason}). To get one: on Debian or Ubuntu without a GPU, install ` +
      `Mesa's software Vulkan driver with \`bash .ci/install-vulkan.sh\`; elsewhere use a machine with a GPU ` +
      `and its Vulkan driver (Metal on macOS, D3D12 on Windows). Or use the CPU backend.`,
    );
  }
}

/** The GPU reported an error (a failed allocation, a lost device, a kernel the driver rejected). */
export class GpuError extends Error {
  override name = 'GpuError';
}

export interface GpuDeviceOptions {
  /** Options for Dawn's `create()`, e.g. `['backend=vulkan']`. */
  readonly dawnOptions?: readonly string[];
  readonly powerPreference?: 'high-performance' | 'low-power';
  /** Bytes of free buffers kept for reuse; more are destroyed. Default 512 MiB. */
  readonly poolBytes?: number;
  /** How long a synchronous wait may take before it is an error. Default 10 minutes. */
  readonly timeoutMs?: number;
}

/** A GPU buffer shared by the tensors that view it (reshape shares); returned to the pool at 0 refs. */
export class Storage {
  refs = 1;
  constructor(readonly id: number, readonly bytes: number) {}
}

/** Commands queued before a flush is forced (the rest go at the next microtask). */
const MAX_QUEUED = 256;

/**
 * Pool buckets: sizes are rounded up to 4 steps per power of two (at most 25% waste), from 256
 * bytes, so a freed buffer serves any later request of nearly its size.
 */
export function bucketBytes(bytes: number): number {
  if (bytes <= 256) return 256;
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 2);
  return Math.ceil(bytes / step) * step;
}

export class GpuDevice {
  readonly adapter: AdapterInfo;
  readonly limits: Limits;
  private readonly worker: Worker;
  private readonly signal: Int32Array;
  private readonly replyPort: MessagePort;
  private readonly poolLimit: number;
  private readonly timeoutMs: number;
  private readonly alignU32: number;
  private cmds: Cmd[] = [];
  private transfer: ArrayBuffer[] = [];
  private params = new Uint32Array(4096);
  private paramLength = 0;
  private flushQueued = false;
  private readonly sentKeys = new Set<string>();
  private nextId = 1;
  private readonly free = new Map<number, number[]>();
  private pooled = 0;
  private live = 0;
  private closed = false;

  constructor(options: GpuDeviceOptions = {}) {
    this.poolLimit = options.poolBytes ?? 512 * 2 ** 20;
    this.timeoutMs = options.timeoutMs ?? 600_000;
    this.signal = new Int32Array(new SharedArrayBuffer(4));
    const { MessageChannel, Worker } = workerThreads();
    const { port1, port2 } = new MessageChannel();
    this.replyPort = port1;
    const init: WorkerInit = {
      signal: this.signal,
      replyPort: port2,
      dawnOptions: [...(options.dawnOptions ?? [])],
      powerPreference: options.powerPreference ?? 'high-performance',
    };
    this.worker = new Worker(packageFile('engine/backends/webgpu/worker.js'), { workerData: init, transferList: [port2] });
    // The worker must not keep the process alive: Dawn's instance would hold it forever.
    this.worker.unref();
    const r = this.wait();
    if (!r.ok) {
      void this.worker.terminate();
      this.closed = true;
      throw r.kind === 'gpu' ? new GpuError(r.message) : new NoGpuError(r.message);
    }
    this.adapter = r.adapter!;
    this.limits = r.limits!;
    this.alignU32 = Math.max(1, this.limits.minStorageBufferOffsetAlignment / 4);
  }

  /** A buffer of at least `bytes`, from the pool when one of its bucket is free. */
  alloc(bytes: number): Storage {
    this.checkOpen();
    const size = bucketBytes(bytes);
    if (size > this.limits.maxStorageBufferBindingSize) {
      throw new GpuError(`a tensor of ${bytes} bytes exceeds this GPU's largest storage binding (${this.limits.maxStorageBufferBindingSize} bytes)`);
    }
    this.live += size;
    const list = this.free.get(size);
    const id = list?.pop();
    if (id !== undefined) {
      this.pooled -= size;
      return new Storage(id, size);
    }
    const fresh = this.nextId++;
    this.enqueue({ t: 'create', id: fresh, bytes: size });
    return new Storage(fresh, size);
  }

  /** Drops one reference; at zero the buffer goes back to the pool (or is destroyed past its limit). */
  release(s: Storage): void {
    if (--s.refs > 0 || this.closed) return;
    this.live -= s.bytes;
    if (this.pooled + s.bytes > this.poolLimit) {
      this.enqueue({ t: 'destroy', id: s.id });
      return;
    }
    let list = this.free.get(s.bytes);
    if (!list) this.free.set(s.bytes, (list = []));
    list.push(s.id);
    this.pooled += s.bytes;
  }

  /** Destroys every pooled buffer (live ones stay). */
  trim(): void {
    for (const list of this.free.values()) for (const id of list) this.enqueue({ t: 'destroy', id });
    this.free.clear();
    this.pooled = 0;
  }

  /** Bytes held by live tensors and by the pool. */
  memory(): { liveBytes: number; pooledBytes: number } {
    return { liveBytes: this.live, pooledBytes: this.pooled };
  }

  /** Uploads `data` to the start of the buffer; `data` is handed over (do not touch it after). */
  write(s: Storage, data: Float32Array | Int32Array | Uint32Array): void {
    this.checkOpen();
    this.transfer.push(data.buffer as ArrayBuffer);
    this.enqueue({ t: 'write', id: s.id, data });
  }

  copy(src: Storage, srcOffset: number, dst: Storage, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    this.enqueue({ t: 'copy', src: src.id, srcOffset, dst: dst.id, dstOffset, bytes });
  }

  /** Queues one dispatch of `kernel` over `buffers` with `params`, sized in workgroups. */
  dispatch(kernel: Kernel, buffers: readonly Storage[], params: ArrayLike<number>, groups: readonly [number, number, number]): void {
    this.checkOpen();
    if (groups[0] === 0 || groups[1] === 0 || groups[2] === 0) return;
    const offset = Math.ceil(this.paramLength / this.alignU32) * this.alignU32;
    const end = offset + Math.max(1, params.length);
    if (end > this.params.length) {
      const grown = new Uint32Array(Math.max(end, this.params.length * 2));
      grown.set(this.params.subarray(0, this.paramLength));
      this.params = grown;
    }
    for (let i = 0; i < params.length; i++) this.params[offset + i] = params[i]!;
    this.paramLength = end;
    const first = !this.sentKeys.has(kernel.key);
    if (first) this.sentKeys.add(kernel.key);
    this.enqueue({
      t: 'kernel', key: kernel.key, ...(first ? { source: kernel.source } : {}),
      buffers: buffers.map((b) => b.id), paramOffset: offset, paramCount: params.length, groups,
    });
  }

  /** A 2-d grid of 256-thread workgroups covering `n` threads (one dimension holds at most 65535). */
  grid(n: number, perGroup = 256): [number, number, number] {
    const groups = Math.ceil(n / perGroup);
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= max) return [groups, 1, 1];
    const y = Math.ceil(groups / max);
    return [Math.ceil(groups / y), y, 1];
  }

  /** The first `bytes` bytes of the buffer, after every queued command has run. Blocks. */
  read(s: Storage, bytes: number): ArrayBuffer {
    this.checkOpen();
    const r = this.sync({ t: 'read', id: s.id, bytes });
    return r.data!;
  }

  /** Blocks until the GPU has finished everything queued so far. */
  finish(): void {
    this.checkOpen();
    this.sync({ t: 'finish' });
  }

  /** Stops the worker; the device and its buffers are gone. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cmds = [];
    void this.worker.terminate();
  }

  private checkOpen(): void {
    if (this.closed) throw new GpuError('the WebGPU backend was closed');
  }

  private enqueue(cmd: Cmd): void {
    this.cmds.push(cmd);
    if (this.cmds.length >= MAX_QUEUED) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => {
        this.flushQueued = false;
        if (!this.closed) this.flush();
      });
    }
  }

  private flush(sync?: SyncRequest): void {
    if (this.cmds.length === 0 && !sync) return;
    const params = this.params.slice(0, this.paramLength);
    const batch: Batch = { cmds: this.cmds, params, ...(sync ? { sync } : {}) };
    this.worker.postMessage(batch, [params.buffer, ...this.transfer]);
    this.cmds = [];
    this.transfer = [];
    this.paramLength = 0;
  }

  private sync(req: SyncRequest): Reply & { ok: true } {
    Atomics.store(this.signal, 0, SIGNAL_WAITING);
    this.flush(req);
    const r = this.wait();
    if (!r.ok) throw new GpuError(`GPU error: ${r.message}`);
    return r;
  }

  /** Blocks until the worker replies (see the top of this file for why this cannot deadlock). */
  private wait(): Reply {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new GpuError(`the GPU worker did not answer within ${this.timeoutMs} ms`);
      Atomics.wait(this.signal, 0, SIGNAL_WAITING, left);
      const state = Atomics.load(this.signal, 0);
      if (state === SIGNAL_WAITING) continue;
      const m = workerThreads().receiveMessageOnPort(this.replyPort);
      if (m) {
        Atomics.store(this.signal, 0, SIGNAL_WAITING);
        return m.message as Reply;
      }
      if (state === SIGNAL_GONE) {
        this.closed = true;
        throw new GpuError('the GPU worker exited');
      }
      // The flag is raised after the reply is posted, so the message is there; this only guards
      // against a runtime that delivers the two out of order.
      Atomics.wait(this.signal, 0, state, 1);
    }
  }
}
