/// <reference types="@webgpu/types" />
/**
 * The device worker: owns Dawn's GPUDevice and replays the main thread's command batches in
 * order. It makes no decisions of its own; device.ts explains why it exists.
 *
 * Ordering rules it keeps:
 * - kernels and copies are recorded into one command encoder (consecutive kernels share one
 *   compute pass; WebGPU orders and fences dispatches within a pass);
 * - `queue.writeBuffer` runs on the queue timeline immediately, ahead of anything recorded but
 *   not yet submitted, so the encoder is submitted before every write;
 * - the batch's parameter block is written before its first kernel and the encoder is
 *   submitted at the end of every batch, so the next batch may overwrite the block.
 */
import { workerData, parentPort } from 'node:worker_threads';
import {
  SIGNAL_GONE, SIGNAL_REPLIED,
  type Batch, type Cmd, type KernelCmd, type Reply, type SyncRequest, type WorkerInit,
} from './protocol.js';

const init = workerData as WorkerInit;

function reply(r: Reply, transfer: ArrayBuffer[] = []): void {
  init.replyPort.postMessage(r, transfer);
  Atomics.store(init.signal, 0, SIGNAL_REPLIED);
  Atomics.notify(init.signal, 0);
}

process.on('exit', () => {
  Atomics.store(init.signal, 0, SIGNAL_GONE);
  Atomics.notify(init.signal, 0);
});

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

class Executor {
  private readonly buffers = new Map<number, GPUBuffer>();
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private paramBuffer: GPUBuffer | null = null;
  private readBuffer: GPUBuffer | null = null;
  /** Error-scope results of batches not yet reported; the first error wins. */
  private pendingScopes: Promise<void>[] = [];
  private firstError: string | null = null;

  constructor(private readonly device: GPUDevice) {
    device.lost.then((info) => this.fail(`device lost: ${info.message || info.reason}`), () => undefined);
    device.addEventListener('uncapturederror', (ev) => this.fail((ev as GPUUncapturedErrorEvent).error.message));
  }

  private fail(message: string): void {
    this.firstError ??= message;
  }

  async run(batch: Batch): Promise<void> {
    const d = this.device;
    d.pushErrorScope('validation');
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('internal');
    try {
      if (batch.params.length > 0) {
        this.paramBuffer = this.ensure(this.paramBuffer, batch.params.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
        d.queue.writeBuffer(this.paramBuffer, 0, batch.params.buffer, batch.params.byteOffset, batch.params.byteLength);
      }
      for (const cmd of batch.cmds) this.exec(cmd);
      this.submit();
    } catch (e) {
      this.fail(messageOf(e));
      this.encoder = null;
      this.pass = null;
    }
    for (let i = 0; i < 3; i++) {
      this.pendingScopes.push(d.popErrorScope().then((err) => { if (err) this.fail(err.message); }, (e: unknown) => this.fail(messageOf(e))));
    }
    if (batch.sync) await this.sync(batch.sync);
  }

  private async sync(req: SyncRequest): Promise<void> {
    let data: ArrayBuffer | undefined;
    try {
      if (req.t === 'read') {
        const bytes = Math.max(4, req.bytes);
        this.readBuffer = this.ensure(this.readBuffer, bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
        const enc = this.device.createCommandEncoder();
        enc.copyBufferToBuffer(this.buffer(req.id), 0, this.readBuffer, 0, bytes);
        this.device.queue.submit([enc.finish()]);
        await this.readBuffer.mapAsync(GPUMapMode.READ, 0, bytes);
        data = this.readBuffer.getMappedRange(0, bytes).slice(0, req.bytes);
        this.readBuffer.unmap();
      } else {
        await this.device.queue.onSubmittedWorkDone();
      }
    } catch (e) {
      this.fail(messageOf(e));
    }
    await Promise.all(this.pendingScopes);
    this.pendingScopes = [];
    if (this.firstError !== null) {
      const message = this.firstError;
      this.firstError = null;
      reply({ ok: false, kind: 'gpu', message });
    } else if (data) reply({ ok: true, data }, [data]);
    else reply({ ok: true });
  }

  private exec(cmd: Cmd): void {
    switch (cmd.t) {
      case 'create':
        this.buffers.set(cmd.id, this.device.createBuffer({
          size: cmd.bytes,
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        }));
        return;
      case 'destroy':
        this.buffer(cmd.id).destroy();
        this.buffers.delete(cmd.id);
        return;
      case 'write':
        this.submit();
        this.device.queue.writeBuffer(this.buffer(cmd.id), 0, cmd.data.buffer, cmd.data.byteOffset, cmd.data.byteLength);
        return;
      case 'copy':
        this.endPass();
        this.enc().copyBufferToBuffer(this.buffer(cmd.src), cmd.srcOffset, this.buffer(cmd.dst), cmd.dstOffset, cmd.bytes);
        return;
      case 'kernel':
        this.dispatch(cmd);
        return;
    }
  }

  private dispatch(cmd: KernelCmd): void {
    let p = this.pipelines.get(cmd.key);
    if (!p) {
      if (cmd.source === undefined) throw new Error(`kernel ${cmd.key}: no source was sent`);
      const module = this.device.createShaderModule({ code: cmd.source, label: cmd.key });
      const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: cmd.key });
      p = { pipeline, layout: pipeline.getBindGroupLayout(0) };
      this.pipelines.set(cmd.key, p);
    }
    const entries: GPUBindGroupEntry[] = [{
      binding: 0,
      resource: { buffer: this.paramBuffer!, offset: cmd.paramOffset * 4, size: Math.max(1, cmd.paramCount) * 4 },
    }];
    for (let i = 0; i < cmd.buffers.length; i++) entries.push({ binding: i + 1, resource: { buffer: this.buffer(cmd.buffers[i]!) } });
    const group = this.device.createBindGroup({ layout: p.layout, entries });
    if (!this.pass) this.pass = this.enc().beginComputePass();
    this.pass.setPipeline(p.pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(cmd.groups[0], cmd.groups[1], cmd.groups[2]);
  }

  private buffer(id: number): GPUBuffer {
    const b = this.buffers.get(id);
    if (!b) throw new Error(`buffer ${id} does not exist on the device`);
    return b;
  }

  private enc(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private submit(): void {
    this.endPass();
    if (this.encoder) this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
  }

  /** `current` when it holds `bytes`, else a new buffer (the old one is freed once the GPU is done with it). */
  private ensure(current: GPUBuffer | null, bytes: number, usage: number): GPUBuffer {
    if (current && current.size >= bytes) return current;
    current?.destroy();
    let size = 256;
    while (size < bytes) size *= 2;
    return this.device.createBuffer({ size, usage });
  }
}

/**
 * Dawn's instance lives exactly as long as the object `create()` returns: once that is garbage
 * collected, the device under it goes too (seen as hangs and segfaults). Held here for good.
 */
let instance: GPU | null = null;

async function start(): Promise<void> {
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch (e) {
    reply({ ok: false, kind: 'load', message: `the webgpu package (Dawn) did not load: ${messageOf(e)}` });
    return;
  }
  let adapter: GPUAdapter | null = null;
  try {
    Object.assign(globalThis, mod.globals);
    instance = mod.create([...init.dawnOptions]);
    adapter = await instance.requestAdapter({ powerPreference: init.powerPreference });
  } catch (e) {
    reply({ ok: false, kind: 'no-adapter', message: messageOf(e) });
    return;
  }
  if (!adapter) {
    reply({ ok: false, kind: 'no-adapter', message: 'requestAdapter() returned null' });
    return;
  }
  let device: GPUDevice;
  try {
    const l = adapter.limits;
    device = await adapter.requestDevice({
      requiredLimits: { maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxBufferSize: l.maxBufferSize },
    });
  } catch (e) {
    reply({ ok: false, kind: 'no-adapter', message: `requestDevice() failed: ${messageOf(e)}` });
    return;
  }
  const info = adapter.info;
  const exec = new Executor(device);
  let chain = Promise.resolve();
  parentPort!.on('message', (batch: Batch) => {
    chain = chain.then(() => exec.run(batch));
  });
  const dl = device.limits;
  reply({
    ok: true,
    adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
    limits: {
      maxStorageBufferBindingSize: dl.maxStorageBufferBindingSize,
      maxBufferSize: dl.maxBufferSize,
      minStorageBufferOffsetAlignment: dl.minStorageBufferOffsetAlignment,
      maxComputeWorkgroupsPerDimension: dl.maxComputeWorkgroupsPerDimension,
    },
  });
}

void start();
