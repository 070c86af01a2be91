// A small neural net trained by hand on the SVM's six points: three hidden ReLU units and a
// linear score, 13 parameters drawn from the seed's generator. The Nim original passes a1 where
// a4 belongs when it rebuilds its weights each iteration (and prints the result of that bug);
// this port trains the intended network.
import { newContext, type Variable } from '../src/index.js';
import { nimFloat } from './format.js';
import { NimRandom } from './nim-random.js';

const f = Math.fround;
const data: [number, number, number][] = [
  [1.2, 0.7, 1], [-0.3, -0.5, -1], [3.0, 0.1, 1], [-0.1, -1.0, -1], [-1.0, 1.1, -1], [2.1, -3, 1],
];
const names = ['a1', 'b1', 'c1', 'a2', 'b2', 'c2', 'a3', 'b3', 'c3', 'a4', 'b4', 'c4', 'd4'] as const;
const step = f(0.01);
const rng = new NimRandom();
const params = names.map(() => f(rng.float(1.0) - 0.5));

function score(p: Variable[] | number[], x: Variable | number, y: Variable | number): Variable | number {
  if (typeof p[0] === 'number') {
    const q = p as number[];
    const relu = (v: number): number => Math.max(0, v);
    const n = [0, 1, 2].map((k) => relu(f(f(f(q[3 * k]! * (x as number)) + f(q[3 * k + 1]! * (y as number))) + q[3 * k + 2]!)));
    return f(f(f(f(q[9]! * n[0]!) + f(q[10]! * n[1]!)) + f(q[11]! * n[2]!)) + q[12]!);
  }
  const v = p as Variable[];
  const n = [0, 1, 2].map((k) => v[3 * k]!.mul(x).add(v[3 * k + 1]!.mul(y)).add(v[3 * k + 2]!).relu());
  return v[9]!.mul(n[0]!).add(v[10]!.mul(n[1]!)).add(v[11]!.mul(n[2]!)).add(v[12]!);
}

function accuracy(): number {
  let right = 0;
  for (const [x, y, label] of data) if (((score(params, f(x), f(y)) as number) > 0 ? 1 : -1) === label) right++;
  return right / data.length;
}

for (let iter = 0; iter < 825; iter++) {
  const [px, py, label] = data[rng.int(data.length)]!;
  const ctx = newContext('float32');
  const vars = params.map((p) => ctx.variable(p));
  const s = score(vars, ctx.variable(px), ctx.variable(py)) as Variable;
  const sv = s.item();
  const pull = label === 1 && sv < 1 ? 1 : label === -1 && sv > -1 ? -1 : 0;
  const g = s.grad(pull);
  params.forEach((p, i) => {
    const gi = g.scalar(vars[i]!);
    // Every parameter but the output bias d4 is pulled towards zero.
    params[i] = names[i] === 'd4' ? f(p + f(step * gi)) : f(p + f(step * f(gi - p)));
  });
  if (iter % 100 === 0) {
    console.log(`training accuracy at iter ${iter}: ${nimFloat(accuracy())}`);
    console.log(names.map((n, i) => `${n} = ${nimFloat(params[i]!)}`).join(', '));
  }
}
console.log(`final training accuracy: ${nimFloat(accuracy())}`);
