// The shipped model files train as shipped (test split, default seed) to their targets.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModelFile } from '../src/loaders/modelfile.js';
import { decodeSafetensors } from '../src/loaders/safetensors.js';
import { train } from '../src/train/trainer.js';

const models = new URL('../../models/', import.meta.url).pathname;
const root = new URL('../../', import.meta.url).pathname;
const runs = mkdtempSync(join(tmpdir(), 'rmad-models-'));

async function trainShipped(file: string, change?: (spec: ReturnType<typeof loadModelFile>['spec']) => void) {
  const { spec, baseDir } = loadModelFile(join(models, file));
  change?.(spec);
  return train({ spec, baseDir, runsRoot: runs });
}

const targets: [string, number][] = [['svm.yaml', 0.98], ['mlp.yaml', 0.95], ['digits.yaml', 0.96], ['rnn.yaml', 0.99]];
for (const [file, target] of targets) {
  test(`models/${file} reaches test accuracy >= ${target}`, async () => {
    const r = await trainShipped(file);
    const acc = r.summary.final['test.accuracy']!;
    assert.ok(acc >= target, `test accuracy ${acc}`);
  });
}

test('models/transfer.yaml: loaded layers stay bit-identical while a new head trains', async () => {
  const digits = join(runs, 'digits', 'latest');
  const r = await trainShipped('transfer.yaml', (spec) => {
    spec.init!.from = join(digits, 'weights.safetensors');
  });
  const read = (dir: string) => decodeSafetensors(new Uint8Array(readFileSync(join(dir, 'weights.safetensors'))), dir).tensors;
  const before = read(digits), after = read(r.runDir);
  for (const p of ['hidden1.W', 'hidden1.b']) assert.equal(after[p]!.data, before[p]!.data, p);
  assert.ok(r.summary.parameters.frozen === 64 * 64 + 64);
  assert.ok(r.summary.final['test.accuracy']! >= 0.95, `test accuracy ${r.summary.final['test.accuracy']}`);
});

test("an independent reader (scripts/safetensors_ref.py) reads a run's weights", () => {
  const py = spawnSync('python3', [join(root, 'scripts/safetensors_ref.py'), 'read', join(runs, 'digits', 'latest', 'weights.safetensors')], { encoding: 'utf8' });
  if (py.error) {
    console.log('python3 not found: the independent reader check is skipped');
    return;
  }
  assert.is(py.status, 0, py.stderr);
  const summary = JSON.parse(py.stdout);
  const names = Object.keys(summary.tensors ?? summary).filter((k) => k.includes('.'));
  assert.ok(names.includes('hidden1.W') && names.includes('head.b'), py.stdout.slice(0, 200));
});

test.run();
