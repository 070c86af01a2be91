// `rmad graph`: the printed forward and backward graphs of a model file, pinned by snapshots of
// models/svm.yaml (UPDATE_SNAPSHOTS=1 rewrites them), readable names, frozen parameters shown.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { graphDot, graphText, modelGraph } from '../src/cli/graph.js';
import { loadModelFile } from '../src/loaders/modelfile.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rmad = (...args: string[]) => spawnSync(process.execPath, ['bin/rmad', ...args], { cwd: root, encoding: 'utf8' });
const fixtures = `${root}/test/fixtures/graph`;

function snapshot(name: string, text: string): void {
  const path = `${fixtures}/${name}`;
  if (process.env.UPDATE_SNAPSHOTS === '1' || !existsSync(path)) {
    mkdirSync(fixtures, { recursive: true });
    writeFileSync(path, text);
  }
  assert.fixture(text, readFileSync(path, 'utf8'));
}

const graphOf = (file: string, sets: string[] = [], batch = 4) => {
  const { spec, baseDir } = loadModelFile(`${root}/models/${file}`, sets);
  return modelGraph(spec, baseDir, batch, 'float32');
};

test('rmad graph models/svm.yaml: the text matches its snapshot', () => {
  const r = rmad('graph', 'models/svm.yaml');
  assert.is(r.status, 0, r.stderr);
  snapshot('svm.txt', r.stdout);
});

test('rmad graph models/svm.yaml --format dot: the DOT matches its snapshot', () => {
  const r = rmad('graph', 'models/svm.yaml', '--format', 'dot');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^digraph rmad \{\n/);
  snapshot('svm.dot', r.stdout);
});

test('the graphs name data x and y, parameters layer.param and gradients layer.param.grad', () => {
  const text = graphText(graphOf('svm.yaml'), 'both');
  assert.match(text, /\{ lambda y:f32\[4,1\] ; x:f32\[4,2\] svm\.W:f32\[2,1\] svm\.b:f32\[1\] \. let\n/);
  assert.match(text, /= linear x svm\.W svm\.b\n/);
  assert.match(text, /\n    loss:f32\[\] = div [a-z]+ 4\.0\n  in \( loss \) \}/);
  assert.match(text, /\n    svm\.W\.grad:f32\[2,1\] = matmul\[transposeA=true transposeB=false\] x [a-z]+\n/);
  assert.match(text, /in \( svm\.W\.grad svm\.b\.grad \) \}/);
  assert.match(text, /\ntotal +6 +8\n$/);
});

test('frozen parameters appear as constants, their layer recorded; only trainable ones get gradients', () => {
  const mg = graphOf('mlp.yaml', ['freeze=[hidden1]'], 2);
  const text = graphText(mg, 'forward');
  assert.match(text, /\{ lambda hidden1\.W:f32\[4,16\] hidden1\.b:f32\[16\] y:f32\[2,3\] ; x:f32\[2,4\] head\.W:f32\[16,3\] head\.b:f32\[3\] \. let\n/);
  assert.match(text, /= tanh /);
  assert.not.match(text, /: backward graph,/);
  assert.equal(mg.grads.map((g) => mg.names.get(g)), ['head.W.grad', 'head.b.grad']);
  const dot = graphDot(mg, 'both');
  assert.match(dot, /"hidden1\.W" \[label="hidden1\.W\\nf32\[4,16\]", shape=ellipse, style=dashed, color=blue, fontcolor=blue, xlabel="frozen"\];/);
  assert.match(dot, /"loss" \[label="loss\\nf32\[\]\\ndiv", shape=box, style="filled,bold", fillcolor="#ffe0b0"\];/);
  assert.match(dot, /\n  "head\.W\.grad" \[fillcolor="#d8ecff"\];\n/);
  assert.match(dot, /\n\}\n\/\/ op +forward +backward adds\n/);
});

test('a recurrent model: --batch sets the rows, the unrolled steps show in the op counts', () => {
  const mg = graphOf('rnn.yaml', [], 3);
  const text = graphText(mg, 'both');
  assert.match(text, /x:f32\[3,8,1\]/);
  assert.match(text, /\ntanh +8 +0\n/, 'one tanh per step');
  assert.ok(mg.backwardOps.length > 0);
});

test('exit 2: a bad --batch, or --optimize with --format dot, is one line', () => {
  const r = rmad('graph', 'models/svm.yaml', '--batch', '0');
  assert.is(r.status, 2);
  assert.is(r.stderr, "--batch: takes a whole number >= 1, got '0'\n");
  const dot = rmad('graph', 'models/svm.yaml', '--optimize', '--format', 'dot');
  assert.is(dot.status, 2);
  assert.is(dot.stderr, '--optimize: prints text only; leave out --format dot\n');
});

test.run();
