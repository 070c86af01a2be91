// rmad against PyTorch: values and gradients of the cases in fixtures/oracle.json (written by
// scripts/oracle.py with PyTorch, float64), to 1e-9 relative.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { concat, newContext, stack, type Context, type Variable } from '../src/index.js';

type Expr = string | number | [string, ...unknown[]];
interface Case {
  name: string;
  expr: Expr;
  inputs: { name: string; shape: number[]; data: number[]; constant: boolean }[];
  value: { shape: number[]; data: number[] };
  pull: { shape: number[]; data: number[] } | null;
  grads: Record<string, number[]>;
}

const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/oracle.json', import.meta.url), 'utf8')) as { cases: Case[] };

type P = Record<string, never> & { axes?: number[]; keepdims?: boolean; axis?: number; perm?: number[]; shape?: number[]; begin?: number[]; size?: number[]; indices?: number[]; slope?: number; min?: number; max?: number };

function evaluate(ctx: Context, e: Expr, env: Map<string, Variable>): Variable {
  if (typeof e === 'string') return env.get(e)!;
  if (typeof e === 'number') return ctx.scalar(e);
  const [op, ...rest] = e;
  const last = rest[rest.length - 1];
  const hasParams = last !== null && typeof last === 'object' && !Array.isArray(last);
  const p = (hasParams ? last : {}) as P;
  const argExprs = (hasParams ? rest.slice(0, -1) : rest) as Expr[];
  if (op === 'concat' || op === 'stack') {
    const xs = (argExprs[0] as unknown as Expr[]).map((a) => evaluate(ctx, a, env));
    return op === 'concat' ? concat(xs, p.axis) : stack(xs, p.axis);
  }
  const args = argExprs.map((a) => evaluate(ctx, a, env));
  const [x, y, z] = args as [Variable, Variable, Variable];
  switch (op) {
    case 'transpose': return x.transpose(p.perm);
    case 'reshape': return x.reshape(p.shape!);
    case 'sum': return x.sum(p.axes, p.keepdims);
    case 'mean': return x.mean(p.axes, p.keepdims);
    case 'amax': return x.amax(p.axes, p.keepdims);
    case 'softmax': return x.softmax(p.axis);
    case 'logSoftmax': return x.logSoftmax(p.axis);
    case 'logSumExp': return x.logSumExp(p.axis);
    case 'slice': return x.slice(p.begin!, p.size!);
    case 'gather': return x.gather(p.indices!, p.axis);
    case 'where': return x.where(y, z);
    case 'clip': return x.clip(p.min!, p.max!);
    case 'leakyRelu': return x.leakyRelu(p.slope);
    case 'matmul': return x.matmul(y);
    default: {
      const method = (x as unknown as Record<string, (...a: unknown[]) => Variable>)[op];
      assert.type(method, 'function', `rmad has no method '${op}'`);
      return method!.call(x, ...args.slice(1));
    }
  }
}

function close(actual: ArrayLike<number>, expected: number[], what: string): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    const ok = Math.abs(a - e) <= 1e-12 + 1e-9 * Math.abs(e);
    if (!ok) assert.unreachable(`${what}[${i}]: rmad ${a}, PyTorch ${e}`);
  }
}

test('the fixture has at least 40 cases', () => {
  assert.ok(fixture.cases.length >= 40, `${fixture.cases.length} cases`);
});

for (const c of fixture.cases) {
  test(`oracle: ${c.name}`, () => {
    const ctx = newContext('float64');
    const env = new Map<string, Variable>();
    for (const input of c.inputs) {
      env.set(input.name, ctx.variable(input.data, { shape: input.shape, requiresGrad: !input.constant, name: input.name }));
    }
    const out = evaluate(ctx, c.expr, env);
    assert.equal([...out.shape], c.value.shape, 'output shape');
    close(out.data(), c.value.data, 'value');
    const g = c.pull ? out.grad(ctx.tensor(c.pull.data, c.pull.shape)) : out.grad();
    for (const [name, expected] of Object.entries(c.grads)) close(g.tensor(env.get(name)!).data(), expected, `d/d${name}`);
  });
}

test.run();
