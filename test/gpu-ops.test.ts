// Every primitive, layer and loss check run on the WebGPU backend agrees with the CPU backend in
// float32: values and gradients, within rtol 1e-4 + atol 1e-5 (scaled by the largest magnitude
// of the compared array: the GPU's exp-based functions are within 16 ulp, sums are reordered).
// Also one model trained with --device gpu gives the CPU's metrics.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, gradcheck, newContext, rules, type Context, type Variable } from '../src/index.js';
import { NoGpuError, defaultWebGpuBackend } from '../src/engine/backends/webgpu/index.js';
import { drawInputs, primitiveChecks, type InputSpec } from '../src/engine/checks.js';
import { layerChecks, lossChecks } from '../src/layers/checks.js';
import { loadModelFile } from '../src/loaders/modelfile.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/train/trainer.js';

let available = true;
try {
  defaultWebGpuBackend();
} catch (e) {
  if (!(e instanceof NoGpuError)) throw e;
  available = false;
  if (process.env.RMAD_REQUIRE_GPU === '1') test('webgpu adapter (RMAD_REQUIRE_GPU=1)', () => assert.unreachable(e.message));
  else console.log(`webgpu: no adapter (${e.reason}); GPU op and layer tests skipped`);
}

/** The output and the gradients of sum(output * pull) in one context. */
function run(ctx: Context, f: (...xs: Variable[]) => Variable, specs: readonly InputSpec[], values: Float64Array[], pull: Float64Array | null) {
  const xs = values.map((v, i) => ctx.variable(v, { shape: specs[i]!.shape, requiresGrad: !specs[i]!.constant }));
  const y = f(...xs);
  const p = pull ?? Float64Array.from({ length: y.size }, (_, i) => Math.sin(i + 1));
  const g = y.requiresGrad ? y.grad(ctx.tensor(p, y.shape)) : null;
  return { y: Float64Array.from(y.data()), grads: xs.map((x) => (x.requiresGrad && g ? Float64Array.from(g.tensor(x).data()) : null)), pull: p };
}

function close(what: string, gpu: Float64Array, cpu: Float64Array): void {
  assert.is(gpu.length, cpu.length, `${what}: length`);
  const scale = Math.max(1, ...Array.from(cpu, Math.abs));
  for (let i = 0; i < cpu.length; i++) {
    if (!(Math.abs(gpu[i]! - cpu[i]!) <= 1e-5 * scale + 1e-4 * Math.abs(cpu[i]!))) assert.unreachable(`${what}[${i}]: gpu ${gpu[i]}, cpu ${cpu[i]}`);
  }
}

if (available) {
  const cpuCtx = newContext('float32');
  const gpuCtx = newContext('float32', { device: 'gpu' });
  const all = [
    ...primitiveChecks.map((c) => ({ name: `primitive ${c.name}`, f: c.f, specs: c.inputs.random })),
    ...[...layerChecks, ...lossChecks].map((c) => ({ name: `${c.kind} ${c.name}`, f: c.f, specs: c.inputs.random })),
  ];
  for (const c of all) {
    test(`gpu agrees with cpu: ${c.name}`, () => {
      const values = drawInputs(c.specs, new Rng(11).fork(c.name));
      const a = run(cpuCtx, c.f, c.specs, values, null);
      const b = run(gpuCtx, c.f, c.specs, values, a.pull);
      close('value', b.y, a.y);
      a.grads.forEach((g, i) => {
        if (g) close(`gradient of input ${i}`, b.grads[i]!, g);
      });
    });
  }

  test('gradcheck on the gpu: float32 analytic gradients against float64 differences, both orders', () => {
    for (const c of [...primitiveChecks.filter((p) => ['matmul', 'tanh', 'logSumExp'].includes(p.name)), ...layerChecks.filter((l) => l.name.startsWith('lstm'))]) {
      const specs = c.inputs.random;
      const values = drawInputs(specs, new Rng(3).fork(c.name)).map((v, i) => cpuCtx.tensor(v, specs[i]!.shape));
      for (const order of [1, 2] as const) {
        const r = gradcheck(c.f, values, { order, device: 'gpu', wrt: specs.map((sp) => !sp.constant) });
        assert.ok(r.ok, `${c.name} order ${order}: ${r.message}`);
      }
    }
    const original = rules.tanh.backward;
    rules.tanh.backward = (g, _x, y) => [g.mul(y)];
    try {
      assert.not.ok(gradcheck((x: Variable) => x.tanh(), [[0.3, -0.5]], { device: 'gpu' }).ok, 'a wrong rule is caught on the gpu');
    } finally {
      rules.tanh.backward = original;
    }
  });

  test('rmad sweep --device gpu trains its trials on the gpu', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rmad-gpu-sweep-')), 'sweep');
    const bin = new URL('../../bin/rmad', import.meta.url).pathname;
    const model = new URL('../../models/sweep-mlp.yaml', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [bin, 'sweep', model, '--device', 'gpu', '--set', 'train.epochs=2', '--set', 'sweep.seeds=[0]', '--set', 'sweep.expect=[]', '--out', out], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout.trim().split('\n').pop()!, /^sweep: 4 passed, 0 failed$/);
  });

  test('a model trained with device gpu reaches the metrics of the cpu', async () => {
    const { spec, baseDir } = loadModelFile(new URL('../../models/mlp.yaml', import.meta.url).pathname, ['train.epochs=5']);
    const dir = mkdtempSync(join(tmpdir(), 'rmad-gpu-'));
    const c = await train({ spec, baseDir, runDir: join(dir, 'cpu') });
    const g = await train({ spec, baseDir, runDir: join(dir, 'gpu'), device: 'gpu' });
    for (const key of ['train.loss', 'val.loss', 'test.loss']) {
      assert.ok(Math.abs(g.summary.final[key]! - c.summary.final[key]!) < 1e-4, `${key}: gpu ${g.summary.final[key]}, cpu ${c.summary.final[key]}`);
    }
  });
}

test.run();
