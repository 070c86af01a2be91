// The seed's first example: y = x1*x2 + x1 + 5 and its gradient, in a float32 context.
import { newContext } from '../src/index.js';
import { nimFloat } from './format.js';

const ctx = newContext('float32');
const x1 = ctx.variable(1.5);
const x2 = ctx.variable(2);
const y = x1.mul(x2).add(x1).add(5);
console.log(nimFloat(y.item()));
const g = y.grad();
console.log(`wrt(x1) = ${nimFloat(g.scalar(x1))}`);
console.log(`wrt(x2) = ${nimFloat(g.scalar(x2))}`);
