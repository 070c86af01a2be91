// Graph printing: the jaxpr-like text (a snapshot of a small MLP's backward pass pins it, and
// catches a backward that silently grew) and Graphviz DOT.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { countOps, newContext, printGraph, toDot } from '../src/index.js';

const snapshotPath = new URL('../../test/fixtures/mlp-backward.txt', import.meta.url);

function smallMlp() {
  const ctx = newContext('float32');
  const x = ctx.constant([[0.5, -1], [1, 2], [0, 1]]);
  const y = ctx.constant([[1, 0], [0, 1], [1, 0]]);
  const W1 = ctx.variable([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], { name: 'W1' });
  const b1 = ctx.variable([0, 0, 0], { name: 'b1' });
  const W2 = ctx.variable([[1, -1], [0.5, 0.5], [-1, 1]], { name: 'W2' });
  const b2 = ctx.variable([0, 0], { name: 'b2', requiresGrad: false });
  const logits = x.matmul(W1).add(b1).tanh().matmul(W2).add(b2);
  const loss = y.mul(logits.logSoftmax(1)).sum(1).mean().neg();
  return { ctx, loss, W1, b1, W2, b2 };
}

test('the forward graph prints one line per op with dtype and shape', () => {
  const { loss } = smallMlp();
  const text = printGraph(loss);
  assert.match(text, /^\{ lambda a:f32\[3,2\] b:f32\[3,2\] b2:f32\[2\] ; W1:f32\[2,3\] b1:f32\[3\] W2:f32\[3,2\] \. let\n/);
  assert.match(text, /\n    [a-z]+:f32\[3,3\] = matmul\[transposeA=false transposeB=false\] b W1\n/);
  assert.match(text, /= tanh /);
  assert.match(text, /in \( [a-z]+ \) \}$/);
});

test('the printed backward of a small MLP matches its snapshot', () => {
  const { loss, W1, b1, W2 } = smallMlp();
  const g = loss.grad({ createGraph: true });
  const grads = [g.wrt(W1), g.wrt(b1), g.wrt(W2)];
  const text = `${printGraph(grads)}\n\nops: ${[...countOps(grads)].map(([op, n]) => `${op} ${n}`).join(', ')}\n`;
  if (process.env.UPDATE_SNAPSHOTS === '1' || !existsSync(snapshotPath)) writeFileSync(snapshotPath, text);
  assert.fixture(text, readFileSync(snapshotPath, 'utf8'));
});

test('DOT output: ops as boxes, frozen parameters dashed, the output filled', () => {
  const { loss } = smallMlp();
  const dot = toDot(loss);
  assert.match(dot, /^digraph rmad \{/);
  assert.match(dot, /"b2" \[label="b2\\nf32\[2\]", shape=ellipse, style=dashed, color=blue/);
  assert.match(dot, /"W1" -> "[a-z]+";/);
  assert.match(dot, /shape=box, style="filled,bold"/);
  assert.ok(dot.trimEnd().endsWith('}'));
});

test.run();
