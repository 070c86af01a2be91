// Karpathy's "modular" linear SVM, trained by hand on six points with the seed's own random
// numbers: every printed digit equals the Nim original's. All arithmetic is float32.
import { newContext } from '../src/index.js';
import { nimFloat } from './format.js';
import { NimRandom } from './nim-random.js';

const f = Math.fround;
const data: [number, number, number][] = [
  [1.2, 0.7, 1], [-0.3, -0.5, -1], [3.0, 0.1, 1], [-0.1, -1.0, -1], [-1.0, 1.1, -1], [2.1, -3, 1],
];
const step = f(0.01);
const rng = new NimRandom();
let a = f(1), b = f(-3), c = f(-1);

function accuracy(): number {
  let right = 0;
  for (const [x, y, label] of data) {
    const score = f(f(f(a * f(x)) + f(b * f(y))) + c);
    if ((score > 0 ? 1 : -1) === label) right++;
  }
  return right / data.length;
}

for (let iter = 0; iter < 925; iter++) {
  const [px, py, label] = data[rng.int(data.length)]!;
  const ctx = newContext('float32');
  const [va, vb, vc] = [a, b, c].map((v) => ctx.variable(v));
  const x = ctx.variable(px), y = ctx.variable(py);
  const score = va!.mul(x).add(vb!.mul(y)).add(vc!);
  const s = score.item();
  const pull = label === 1 && s < 1 ? 1 : label === -1 && s > -1 ? -1 : 0;
  const g = score.grad(pull);
  // The regularisation pulls a and b towards zero; c is not regularised.
  a = f(a + f(step * f(g.scalar(va!) - a)));
  b = f(b + f(step * f(g.scalar(vb!) - b)));
  c = f(c + f(step * g.scalar(vc!)));
  if (iter % 100 === 0) {
    console.log(`training accuracy at iter ${iter}: ${nimFloat(accuracy())}`);
    console.log(`a = ${nimFloat(a)}, b = ${nimFloat(b)}, c = ${nimFloat(c)}`);
  }
}
