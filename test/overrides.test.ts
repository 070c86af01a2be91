import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { InputErrors } from '../src/errors.js';
import { loadModelFile, parseModelText, resolveModel } from '../src/loaders/modelfile.js';
import { applyOverrides, applySetArguments, locatePath } from '../src/loaders/overrides.js';

const models = fileURLToPath(new URL('../../models/', import.meta.url));
const mlpFile = `${models}mlp.yaml`;

/** The one-line messages of the InputErrors that `f` throws. */
function errorsOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    assert.instance(e, InputErrors);
    return (e as InputErrors).errors.map((err) => err.line());
  }
  assert.unreachable('expected InputErrors, nothing was thrown');
  return [];
}

test('--set changes scalars, addresses layers by name or index, and parses flow values', () => {
  const { spec } = loadModelFile(mlpFile, [
    'train.epochs=7',
    'model.layers.hidden1.units=32',
    'model.layers.1.activation=relu',
    'data.split={train: 0.8, test: 0.2}',
    'optimizer.type=momentum',
    'optimizer.nesterov=true',
    'name=mlp-quick',
  ]);
  assert.is(spec.train.epochs, 7);
  assert.is(spec.model.layers[0]!.units, 32);
  assert.is(spec.model.layers[1]!.activation, 'relu');
  assert.equal(spec.data.split, { train: 0.8, test: 0.2 });
  assert.is(spec.optimizer.type, 'momentum');
  assert.is(spec.optimizer.nesterov, true);
  assert.is(spec.optimizer.momentum, 0.9, 'defaults still fill around an override');
  assert.is(spec.name, 'mlp-quick');
  // Untouched keys keep the file's values.
  assert.is(spec.train.batch_size, 16);
  assert.is(spec.model.layers[0]!.activation, 'tanh');
});

test('--set builds a mapping where the file has none, and the result is validated as a whole', () => {
  const { spec } = loadModelFile(mlpFile, ['train.early_stop.metric=val.accuracy', 'optimizer.schedule={type: cosine}']);
  assert.equal(spec.train.early_stop, { metric: 'val.accuracy', mode: 'max', patience: 10, min_delta: 0 });
  assert.equal(spec.optimizer.schedule, { type: 'cosine', t_max: 100, min_lr: 0 }, 't_max follows train.epochs');
  assert.is(loadModelFile(mlpFile, ['train.epochs=40', 'optimizer.schedule.type=cosine']).spec.optimizer.schedule.type, 'cosine');
  assert.equal(loadModelFile(mlpFile, ['train.epochs=40', 'optimizer.schedule={type: cosine}']).spec.optimizer.schedule, { type: 'cosine', t_max: 40, min_lr: 0 });
});

test('a mistyped path fails with one line naming the --set argument', () => {
  assert.equal(errorsOf(() => loadModelFile(mlpFile, ['model.layers.hiden1.units=32'])), [
    "--set model.layers.hiden1.units=32: no layer named 'hiden1'; did you mean 'hidden1'?",
  ]);
  assert.equal(errorsOf(() => loadModelFile(mlpFile, ['train.epoch=5', 'nmae=x', 'model.layers.5.units=1', 'model.layers.nothing_like_it.units=1'])), [
    "--set train.epoch=5: unknown key 'epoch' in train; did you mean 'epochs'?",
    "--set nmae=x: unknown key 'nmae' at the top level; did you mean 'name'?",
    '--set model.layers.5.units=1: model.layers has 2 items; index 5 is out of range',
    "--set model.layers.nothing_like_it.units=1: no layer named 'nothing_like_it'; the layers are: hidden1, head",
  ]);
  assert.equal(errorsOf(() => loadModelFile(mlpFile, ['train.epochs.max=1'])), ["--set train.epochs.max=1: train.epochs is an integer; it has no key 'max'"]);
  assert.equal(errorsOf(() => loadModelFile(mlpFile, ['train.epochs'])), ['--set train.epochs: expected path=value, e.g. --set train.epochs=50']);
  assert.equal(errorsOf(() => loadModelFile(mlpFile, ['train..epochs=1'])), [
    "--set train..epochs=1: 'train..epochs' has an empty key; separate keys with single dots, e.g. optimizer.lr",
  ]);
  assert.equal(errorsOf(() => loadModelFile(mlpFile, ['data.split={train: 0.8'])), [
    "--set data.split={train: 0.8: the value is not valid YAML (Flow map must end with a }); quote the argument in the shell, e.g. --set 'data.split={train: 0.8, test: 0.2}'",
  ]);
});

test('a bad value is reported by the schema, located at its --set', () => {
  assert.equal(errorsOf(() => loadModelFile(mlpFile, ['train.epochs=-1'])), ['--set train.epochs=-1: train.epochs: must be >= 1, got -1']);
  assert.equal(errorsOf(() => loadModelFile(mlpFile, ['optimizer.lr=fast'])), ["--set optimizer.lr=fast: optimizer.lr: expected a number, got string 'fast'"]);
  assert.equal(errorsOf(() => loadModelFile(mlpFile, ['optimizer.momentum=0.5'])), [
    '--set optimizer.momentum=0.5: optimizer.momentum: used only when type is momentum; remove it or set type: momentum',
  ]);
  // A cross-field check on an overridden value blames the --set too.
  assert.equal(errorsOf(() => loadModelFile(mlpFile, ['model.layers.head.units=1', 'loss={type: hinge}'])), [
    '--set loss={type: hinge}: loss.type: hinge needs data.labels: pm1, got onehot',
  ]);
});

test('generator parameters are checked against the generator', () => {
  const svm = `${models}svm.yaml`;
  assert.equal(loadModelFile(svm, ['data.params.n=50', 'data.params.spread=0.5']).spec.data, {
    source: 'generator',
    generator: 'blobs',
    params: { n: 50, classes: 2, features: 2, spread: 0.5 },
    labels: 'pm1',
    normalize: 'none',
    split: { train: 0.8, test: 0.2 },
  });
  assert.equal(errorsOf(() => loadModelFile(svm, ['data.params.nn=2'])), ["--set data.params.nn=2: blobs has no parameter 'nn'; did you mean 'n'?"]);
  assert.equal(errorsOf(() => loadModelFile(svm, ['loss.margin=-1'])), ['--set loss.margin=-1: loss.margin: must be > 0, got -1']);
  assert.equal(loadModelFile(svm, ['loss.margin=2']).spec.loss, { type: 'hinge', margin: 2 });
});

test('applyOverrides: dotted paths for sweeps, on a copy of the document', () => {
  const loaded = loadModelFile(mlpFile);
  const before = structuredClone(loaded.document);
  const trial = applyOverrides(loaded.document, { 'optimizer.lr': 0.1, 'model.layers.hidden1.units': 8, 'train.epochs': 3 });
  assert.equal(loaded.document, before, 'the original document is not changed');
  const spec = resolveModel(trial, 'trial');
  assert.is(spec.optimizer.lr, 0.1);
  assert.is(spec.model.layers[0]!.units, 8);
  assert.is(spec.train.epochs, 3);
  assert.equal(errorsOf(() => applyOverrides(loaded.document, { 'optimizer.lrr': 0.1, 'model.layers.hiden1.units': 8 })), [
    "optimizer.lrr: unknown key 'lrr' in optimizer; did you mean 'lr'?",
    "model.layers.hiden1.units: no layer named 'hiden1'; did you mean 'hidden1'?",
  ]);
});

test('sweep parameter keys are whole dotted paths', () => {
  const { document } = loadModelFile(mlpFile);
  assert.equal(locatePath(document, 'sweep.parameters.optimizer.lr'), { path: ['sweep', 'parameters', 'optimizer.lr'] });
  assert.equal(locatePath(document, 'model.layers.head.units'), { path: ['model', 'layers', 1, 'units'] });
  const spec = loadModelFile(mlpFile, ['sweep={method: grid}', 'sweep.parameters.optimizer.lr=[0.1, 0.01]']).spec;
  assert.equal(spec.sweep?.parameters, { 'optimizer.lr': [0.1, 0.01] });
});

test('applySetArguments leaves its input alone and reports what it applied', () => {
  const text = 'rmad: 1\nname: a\n';
  const document = { rmad: 1, name: 'a' };
  const { document: out, applied } = applySetArguments(document, ['name=b', 'seed=3']);
  assert.equal(document, { rmad: 1, name: 'a' });
  assert.equal(out, { rmad: 1, name: 'b', seed: 3 });
  assert.equal(applied, [
    { where: '--set name=b', path: ['name'] },
    { where: '--set seed=3', path: ['seed'] },
  ]);
  // Overrides cannot mend the rest of a file: its own errors keep their file positions.
  assert.equal(errorsOf(() => parseModelText(text, 'a.yaml', ['name=b'])), [
    "a.yaml:1:1: missing required key 'data'",
    "a.yaml:1:1: missing required key 'model'",
    "a.yaml:1:1: missing required key 'loss' (e.g. loss: {type: mse})",
    "a.yaml:1:1: missing required key 'optimizer' (e.g. optimizer: {type: adam, lr: 0.01})",
    "a.yaml:1:1: missing required key 'train' (e.g. train: {epochs: 100})",
  ]);
});

test.run();
