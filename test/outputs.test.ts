// Large kernel outputs are not zeroed (cpu.ts's output): every kernel must write every element
// of its output. With outputChecks.poison each large output starts as NaN, so an element a
// kernel leaves unwritten changes the result; each op below runs with and without it, on both
// CPU backends and dtypes, at sizes over the slabs' (more than 16 KiB of output).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, cpu, fastCpu, type DType, type Tensor } from '../src/index.js';
import { output, outputChecks, type CpuBackend } from '../src/engine/backends/cpu.js';

type Case = [string, (be: CpuBackend, t: (shape: number[]) => Tensor) => Tensor];

const cases: Case[] = [
  ['exp', (be, t) => be.unary('exp', t([70, 75]))],
  ['add, same shapes', (be, t) => be.binary('add', t([70, 75]), t([70, 75]))],
  ['mul, a trailing row', (be, t) => be.binary('mul', t([70, 75]), t([75]))],
  ['sub, a scalar', (be, t) => be.binary('sub', t([1]), t([70, 75]))],
  ['div, a leading column', (be, t) => be.binary('div', t([70, 75]), t([70, 1]))],
  ['add, both broadcast', (be, t) => be.binary('add', t([70, 1]), t([1, 75]))],
  ['where', (be, t) => be.where(be.binary('gt', t([70, 75]), t([75])), t([70, 75]), t([70, 1]))],
  ['sum over a middle axis', (be, t) => be.reduce('sum', t([70, 3, 75]), [1], false)],
  ['sum over the leading axis', (be, t) => be.reduce('sum', t([3, 70, 75]), [0], false)],
  ['sum over axes apart', (be, t) => be.reduce('sum', t([3, 70, 2, 75]), [0, 2], false)],
  ['max over the last axis', (be, t) => be.reduce('max', t([70, 75, 3]), [2], true)],
  ['logsumexp over the last axis', (be, t) => be.reduce('logsumexp', t([70, 75, 3]), [2], false)],
  ['logsumexp over axes apart', (be, t) => be.reduce('logsumexp', t([3, 70, 2, 75]), [0, 2], false)],
  ['softmax cross entropy', (be, t) => be.softmaxCrossEntropy(t([5250, 3]), t([5250, 3]))],
  ['its gradient', (be, t) => be.softmaxCrossEntropyGrad(t([70, 75]), t([70, 75]), t([70]))],
  ['broadcastTo', (be, t) => be.broadcastTo(t([75]), [70, 75])],
  ['broadcastTo, a middle axis', (be, t) => be.broadcastTo(t([70, 1, 75]), [70, 2, 75])],
  ['matmul', (be, t) => be.matmul(t([70, 40]), t([40, 75]), false, false)],
  ['matmul, both transposed', (be, t) => be.matmul(t([40, 70]), t([75, 40]), true, true)],
  ['matmul, batched', (be, t) => be.matmul(t([2, 70, 40]), t([2, 40, 75]), false, false)],
  ['matmul, k = 0', (be, t) => be.matmul(t([70, 0]), t([0, 75]), false, false)],
  ['linear', (be, t) => be.linear(t([70, 40]), t([40, 75]), t([75]))],
  ['transpose', (be, t) => be.transpose(t([70, 75]), [1, 0])],
  ['transpose, rank 3', (be, t) => be.transpose(t([7, 10, 75]), [2, 0, 1])],
  ['slice', (be, t) => be.slice(t([80, 80]), [3, 2], [70, 75])],
  ['pad', (be, t) => be.pad(t([60, 70]), [4, 3], [6, 2])],
  ['concat', (be, t) => be.concat([t([70, 40]), t([70, 35])], 1)],
  ['gather', (be, t) => be.gather(t([90, 75]), Int32Array.from({ length: 70 }, (_, i) => (i * 7) % 90), 0)],
  ['scatterAdd', (be, t) => be.scatterAdd(t([70, 75]), Int32Array.from({ length: 70 }, (_, i) => (i * 3) % 100), 0, [100, 75])],
  ['tanh gradient', (be, t) => be.activationGrad('tanh', t([70, 75]), t([70, 75]))],
  ['relu gradient', (be, t) => be.activationGrad('relu', t([70, 75]), t([70, 75]))],
];

test('a poisoned output starts as NaN (the check below can see an unwritten element)', () => {
  outputChecks.poison = true;
  try {
    for (const dtype of ['float32', 'float64'] as const) assert.ok(output(dtype, 5000).every(Number.isNaN), dtype);
  } finally {
    outputChecks.poison = false;
  }
});

for (const [name, run] of cases) {
  test(`${name}: every element of a large output written, on both CPU backends and dtypes`, () => {
    for (const be of [cpu, fastCpu]) {
      for (const dtype of ['float32', 'float64'] as DType[]) {
        const once = (poison: boolean) => {
          const rng = new Rng(21).fork(name);
          const t = (shape: number[]) => be.fromData(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.range(-1, 1)), shape, dtype);
          outputChecks.poison = poison;
          try {
            return run(be, t).data();
          } finally {
            outputChecks.poison = false;
          }
        };
        const plain = once(false), poisoned = once(true);
        assert.ok(plain.length * (dtype === 'float32' ? 4 : 8) > 16 * 1024, `${name}: the output is large (${plain.length} elements)`);
        for (let i = 0; i < plain.length; i++) {
          if (!Object.is(plain[i], poisoned[i])) assert.unreachable(`${be === cpu ? 'reference' : 'fast'} ${dtype} ${name} [${i}]: ${poisoned[i]} with poison, ${plain[i]} without`);
        }
      }
    }
  });
}

test.run();
