// The seed's five examples, run as a user runs them, print the seed's numbers.
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const run = (name: string): string[] =>
  execFileSync(process.execPath, [new URL(`../examples/${name}.js`, import.meta.url).pathname], { encoding: 'utf8' }).trim().split('\n');

test('ex00: add and multiply', () => {
  assert.equal(run('ex00-add-mul'), ['9.5', 'wrt(x1) = 3.0', 'wrt(x2) = 1.5']);
});

test('ex01: sine, float32 digits (and float64)', () => {
  assert.equal(run('ex01-sine'), [
    'float32: z = 2.57942533493042, wrt(x) = 5.077582359313965, wrt(y) = 0.5',
    'float64: z = 2.579425538604203, wrt(x) = 5.077582561890373, wrt(y) = 0.5',
  ]);
});

test("ex02: Karpathy's neuron, float32 digits", () => {
  assert.equal(run('ex02-neuron'), [
    '0.8807970285415649',
    'wrt(a) = -0.1049936264753342',
    'wrt(b) = 0.3149808645248413',
    'wrt(c) = 0.1049936264753342',
    'wrt(x) = 0.1049936264753342',
    'wrt(y) = 0.2099872529506683',
  ]);
});

test("ex03: the SVM's trajectory with the seed's generator", () => {
  const lines = run('ex03-svm');
  assert.is(lines.length, 20);
  assert.is(lines[0], 'training accuracy at iter 0: 0.5');
  assert.is(lines[1], 'a = 0.9900000095367432, b = -2.970000028610229, c = -1.0');
  assert.is(lines[18], 'training accuracy at iter 900: 1.0');
});

test('ex04: the small net starts from the seed\'s numbers and reaches accuracy 1.0', () => {
  const lines = run('ex04-neural-net');
  assert.match(lines[1]!, /^a1 = -0\.2646308243274689, b1 = 0\.3196182548999786, c1 = -0\.1649954319000244, /);
  assert.match(lines[1]!, /d4 = -0\.444730281829834$/);
  assert.is(lines[16], 'training accuracy at iter 800: 1.0');
  assert.is(lines[lines.length - 1], 'final training accuracy: 1.0');
});

test.run();
