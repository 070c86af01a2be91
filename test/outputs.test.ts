// Kernel outputs are not zeroed (cpu.ts's output): every kernel must write every element of its
// output. With outputChecks.poison each output starts as NaN, so an element a kernel leaves
// unwritten changes the result; each op below runs with and without it, on both CPU backends
// and dtypes, at a small size (outputs carved from a slab; the fast backend's small-size
// paths) and a large one (outputs with buffers of their own; its WebAssembly kernels).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, cpu, fastCpu, type DType, type Tensor } from '../src/index.js';
import { output, outputChecks, type CpuBackend } from '../src/engine/backends/cpu.js';

/** An op on tensors made by `t`, with r rows and c columns where it has them. */
type Case = [string, (be: CpuBackend, t: (shape: number[]) => Tensor, r: number, c: number) => Tensor];

const cases: Case[] = [
  ['exp', (be, t, r, c) => be.unary('exp', t([r, c]))],
  ['add, same shapes', (be, t, r, c) => be.binary('add', t([r, c]), t([r, c]))],
  ['mul, a trailing row', (be, t, r, c) => be.binary('mul', t([r, c]), t([c]))],
  ['sub, a scalar', (be, t, r, c) => be.binary('sub', t([1]), t([r, c]))],
  ['div, a leading column', (be, t, r, c) => be.binary('div', t([r, c]), t([r, 1]))],
  ['add, both broadcast', (be, t, r, c) => be.binary('add', t([r, 1]), t([1, c]))],
  ['where', (be, t, r, c) => be.where(be.binary('gt', t([r, c]), t([c])), t([r, c]), t([r, 1]))],
  ['sum over a middle axis', (be, t, r, c) => be.reduce('sum', t([r, 3, c]), [1], false)],
  ['sum over the leading axis', (be, t, r, c) => be.reduce('sum', t([3, r, c]), [0], false)],
  ['sum over axes apart', (be, t, r, c) => be.reduce('sum', t([3, r, 2, c]), [0, 2], false)],
  ['max over the last axis', (be, t, r, c) => be.reduce('max', t([r, c, 3]), [2], true)],
  ['logsumexp over the last axis', (be, t, r, c) => be.reduce('logsumexp', t([r, c, 3]), [2], false)],
  ['logsumexp over axes apart', (be, t, r, c) => be.reduce('logsumexp', t([3, r, 2, c]), [0, 2], false)],
  ['softmax cross entropy', (be, t, r, c) => be.softmaxCrossEntropy(t([r * c, 3]), t([r * c, 3]))],
  ['its gradient', (be, t, r, c) => be.softmaxCrossEntropyGrad(t([r, c]), t([r, c]), t([r]))],
  ['broadcastTo', (be, t, r, c) => be.broadcastTo(t([c]), [r, c])],
  ['broadcastTo, a middle axis', (be, t, r, c) => be.broadcastTo(t([r, 1, c]), [r, 2, c])],
  ['matmul', (be, t, r, c) => be.matmul(t([r, 40]), t([40, c]), false, false)],
  ['matmul, both transposed', (be, t, r, c) => be.matmul(t([40, r]), t([c, 40]), true, true)],
  ['matmul, batched', (be, t, r, c) => be.matmul(t([2, r, 40]), t([2, 40, c]), false, false)],
  ['matmul, k = 0', (be, t, r, c) => be.matmul(t([r, 0]), t([0, c]), false, false)],
  ['linear', (be, t, r, c) => be.linear(t([r, 40]), t([40, c]), t([c]))],
  ['transpose', (be, t, r, c) => be.transpose(t([r, c]), [1, 0])],
  ['transpose, rank 3', (be, t, r, c) => be.transpose(t([7, r, c]), [2, 0, 1])],
  ['slice', (be, t, r, c) => be.slice(t([r + 10, c + 5]), [3, 2], [r, c])],
  ['pad', (be, t, r, c) => be.pad(t([r, c]), [4, 3], [6, 2])],
  ['concat', (be, t, r, c) => be.concat([t([r, 4]), t([r, c - 4])], 1)],
  ['gather', (be, t, r, c) => be.gather(t([r + 20, c]), Int32Array.from({ length: r }, (_, i) => (i * 7) % (r + 20)), 0)],
  ['scatterAdd', (be, t, r, c) => be.scatterAdd(t([r, c]), Int32Array.from({ length: r }, (_, i) => (i * 3) % (r + 30)), 0, [r + 30, c])],
  ['tanh gradient', (be, t, r, c) => be.activationGrad('tanh', t([r, c]), t([r, c]))],
  ['relu gradient', (be, t, r, c) => be.activationGrad('relu', t([r, c]), t([r, c]))],
];

test('a poisoned output starts as NaN (the check below can see an unwritten element)', () => {
  outputChecks.poison = true;
  try {
    for (const dtype of ['float32', 'float64'] as const) for (const n of [20, 5000]) assert.ok(output(dtype, n).every(Number.isNaN), `${dtype} ${n}`);
  } finally {
    outputChecks.poison = false;
  }
});

for (const [name, run] of cases) {
  test(`${name}: every element of its output written, small and large, on both CPU backends and dtypes`, () => {
    for (const be of [cpu, fastCpu]) {
      for (const dtype of ['float32', 'float64'] as DType[]) {
        for (const [r, c] of [[5, 6], [70, 75]] as const) {
          const once = (poison: boolean) => {
            const rng = new Rng(21).fork(name);
            const t = (shape: number[]) => be.fromData(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.range(-1, 1)), shape, dtype);
            outputChecks.poison = poison;
            try {
              return run(be, t, r, c).data();
            } finally {
              outputChecks.poison = false;
            }
          };
          const plain = once(false), poisoned = once(true);
          if (r > 5) assert.ok(plain.length * (dtype === 'float32' ? 4 : 8) > 16 * 1024, `${name}: the output is large (${plain.length} elements)`);
          for (let i = 0; i < plain.length; i++) {
            if (!Object.is(plain[i], poisoned[i])) assert.unreachable(`${be === cpu ? 'reference' : 'fast'} ${dtype} ${name} [${r}x${c}] [${i}]: ${poisoned[i]} with poison, ${plain[i]} without`);
          }
        }
      }
    }
  });
}

test.run();
