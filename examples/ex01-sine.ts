// The seed's second example: z = x*y + sin(x), in float32 (the float64 digits follow for comparison).
import { newContext, sin, type DType } from '../src/index.js';
import { nimFloat } from './format.js';

for (const dtype of ['float32', 'float64'] as DType[]) {
  const ctx = newContext(dtype);
  const x = ctx.variable(0.5);
  const y = ctx.variable(4.2);
  const z = x.mul(y).add(sin(x));
  const g = z.grad();
  console.log(`${dtype}: z = ${nimFloat(z.item())}, wrt(x) = ${nimFloat(g.scalar(x))}, wrt(y) = ${nimFloat(g.scalar(y))}`);
}
