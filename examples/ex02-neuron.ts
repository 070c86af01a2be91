// Karpathy's neuron: s = sigmoid(a*x + b*y + c) and its five partial derivatives, in float32.
import { newContext, type Variable } from '../src/index.js';
import { nimFloat } from './format.js';

const ctx = newContext('float32');
const [a, b, c, x, y] = [1, 2, -3, -1, 3].map((v) => ctx.variable(v)) as [Variable, Variable, Variable, Variable, Variable];

function forwardNeuron(a: Variable, b: Variable, c: Variable, x: Variable, y: Variable): Variable {
  return a.mul(x).add(b.mul(y)).add(c).sigmoid();
}

const s = forwardNeuron(a, b, c, x, y);
console.log(nimFloat(s.item()));
const g = s.grad();
for (const [name, v] of [['a', a], ['b', b], ['c', c], ['x', x], ['y', y]] as const) {
  console.log(`wrt(${name}) = ${nimFloat(g.scalar(v))}`);
}
