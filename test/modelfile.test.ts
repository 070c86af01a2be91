import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { InputError, InputErrors } from '../src/errors.js';
import { checkAgainstData, loadModelFile, parameterNames, parseModelText, renderModel, resolveModel } from '../src/loaders/modelfile.js';
import { toJsonSchema } from '../src/loaders/schema.js';

const fixtures = fileURLToPath(new URL('../../test/fixtures/models/', import.meta.url));
const models = fileURLToPath(new URL('../../models/', import.meta.url));
const shipped = ['svm', 'mlp', 'digits', 'rnn', 'transfer'];

/** A valid model; each error case below changes one line of it. Line numbers are stable. */
const base = `rmad: 1
name: t
data:
  source: generator
  generator: blobs
  params: {n: 60, classes: 3}
  labels: onehot
  split: {train: 0.8, val: 0.2}
model:
  input: 2
  layers:
    - {name: hidden1, type: dense, units: 8, activation: tanh}
    - {name: head, type: dense, units: 3}
loss: {type: softmax_cross_entropy}
optimizer: {type: adam, lr: 0.01}
train: {epochs: 5}
`;

/** `base` with `from` replaced by `to` (which must be there, so a stale case cannot pass silently). */
function edit(from: string, to: string, text = base): string {
  assert.ok(text.includes(from), `the base model has no '${from}'`);
  return text.replace(from, to);
}

/** The one-line messages that parsing `text` reports. */
function errorsOf(text: string, fileName = 'm.yaml'): string[] {
  try {
    parseModelText(text, fileName);
  } catch (e) {
    assert.instance(e, InputErrors);
    return (e as InputErrors).errors.map((err) => err.line());
  }
  assert.unreachable('expected InputErrors, the model was accepted');
  return [];
}

test('every shipped model validates, with its defaults filled in', () => {
  for (const name of shipped) {
    const { spec, baseDir } = loadModelFile(`${models}${name}.yaml`);
    assert.is(spec.rmad, 1, name);
    assert.is(baseDir, models.replace(/\/$/, ''), name);
    assert.equal(spec.metrics, ['loss', 'accuracy'], name);
    assert.is(spec.sweep, null, name);
  }
  const mlp = loadModelFile(`${models}mlp.yaml`).spec;
  assert.is(mlp.name, 'mlp-iris');
  assert.equal(mlp.data.split, { train: 0.7, val: 0.15, test: 0.15 });
  assert.equal(mlp.model.layers[1], { type: 'dense', name: 'head', units: 3, activation: 'identity', bias: true, init: 'glorot' });
  const rnn = loadModelFile(`${models}rnn.yaml`).spec;
  assert.equal(rnn.data.sequence, { steps: 8, features: 1 }, 'data.sequence follows model.input');
  assert.equal(rnn.model.layers[0], { type: 'rnn', name: 'rnn1', units: 32, activation: 'tanh', output: 'last', bias: true, init: 'glorot' });
  const transfer = loadModelFile(`${models}transfer.yaml`).spec;
  assert.equal(transfer.init, { from: '../runs/digits/latest/weights.safetensors', load: ['hidden1'], strict: true });
  assert.equal(transfer.freeze, ['hidden1']);
  const digits = loadModelFile(`${models}digits.yaml`).spec.data;
  assert.ok(digits.source === 'csv' && digits.features === undefined, 'no features: every column but the target');
});

test('defaults: optimizer, train, split remainder, derived modes and t_max', () => {
  const spec = loadModelFile(`${fixtures}full.yaml`).spec;
  assert.equal(spec.optimizer, {
    type: 'momentum',
    lr: 0.1,
    momentum: 0.9,
    nesterov: true,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weight_decay: 0,
    clip_norm: 1.5,
    schedule: { type: 'cosine', t_max: 30, min_lr: 0.001 },
  });
  assert.equal(spec.train, {
    epochs: 30,
    batch_size: 32,
    shuffle: true,
    eval_every: 1,
    early_stop: { metric: 'val.accuracy', mode: 'max', patience: 3, min_delta: 0 },
    checkpoint: { every: 5 },
  });
  assert.equal(spec.data.split, { train: 0.7, val: 0.2, test: 0.1 });
  assert.equal(spec.model.layers[1], { type: 'gru', name: 'enc2', units: 8, activation: 'tanh', output: 'last', bias: false, init: 'glorot' });
  assert.equal(spec.sweep, {
    method: 'random',
    parameters: { 'optimizer.lr': { loguniform: [0.001, 0.1] }, 'model.layers.head.init': ['zeros', 'glorot'] },
    seeds: [1, 2],
    max_trials: 8,
    seed: 0,
    objective: { metric: 'val.loss', mode: 'min' },
    expect: [{ metric: 'test.accuracy', scope: 'mean', min: 0.5 }],
  });
  const plain = parseModelText(edit('labels: onehot', 'labels: real', edit('loss: {type: softmax_cross_entropy}', 'loss: {type: mse}')), 'r.yaml');
  assert.equal(plain.metrics, ['loss'], 'no accuracy for real labels');
  assert.equal(plain.freeze, []);
  assert.is(plain.init, null);
  assert.is(plain.seed, 0);
  assert.equal(plain.data.source === 'generator' && plain.data.params, { n: 60, classes: 3 });
  assert.equal(parseModelText(edit('  split: {train: 0.8, val: 0.2}\n', ''), 's.yaml').data.split, { train: 1 });
});

test('the error of DESIGN.md, read from a file: position, path with the layer name, suggestion', () => {
  const file = `${fixtures}typo.yaml`;
  try {
    loadModelFile(file);
    assert.unreachable('accepted a misspelt key');
  } catch (e) {
    assert.instance(e, InputErrors);
    assert.equal((e as InputErrors).errors.map((x) => x.line()), [`${file}:14:9: model.layers[hidden2].activaton: unknown key; did you mean 'activation'?`]);
  }
});

test('all the errors of a file, one line each, in file order', () => {
  const file = `${fixtures}several.yaml`;
  try {
    loadModelFile(file);
    assert.unreachable('accepted a broken file');
  } catch (e) {
    assert.equal((e as InputErrors).errors.map((x) => x.line()), [
      `${file}:9:3: data.normalise: unknown key; did you mean 'normalize'?`,
      `${file}:13:58: model.layers[hidden1].activation: 'tanhh' is not one of identity, relu, leaky_relu, tanh, sigmoid, softmax, gelu; did you mean 'tanh'?`,
      `${file}:16:1: optimizer: missing required key 'lr' (e.g. lr: 0.01)`,
      `${file}:17:17: train.epochs: must be >= 1, got -5`,
    ]);
    assert.match((e as InputErrors).line(), /^.*several\.yaml:9:3: .*\n.*:13:58: /);
  }
});

test('YAML syntax errors carry the parser position; empty and non-mapping files are explained', () => {
  assert.equal(errorsOf('rmad: 1\nname: [a, b\n'), ['m.yaml:3:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]']);
  assert.equal(errorsOf('rmad: 1\nmodel:\n\tinput: 1\n'), ['m.yaml:3:1: YAML syntax error: tabs are not allowed as indentation; indent with spaces']);
  assert.equal(errorsOf('rmad: 1\nname: a\nrmad: 1\n'), ["m.yaml:3:1: duplicate key 'rmad'; a key may appear only once in a mapping"]);
  assert.equal(errorsOf('rmad: 1\n---\nrmad: 1\n'), ["m.yaml:2:1: the file holds more than one YAML document ('---'); a model file is one document"]);
  assert.equal(errorsOf('rmad: 1\nname: *n\n'), ["m.yaml:2:7: unknown alias '*n'; define the anchor &n before it is used"]);
  assert.equal(errorsOf(''), ['m.yaml:1:1: the file is empty; a model file is a mapping that starts with rmad: 1']);
  assert.equal(errorsOf('# just a comment\n'), ['m.yaml:1:1: the file is empty; a model file is a mapping that starts with rmad: 1']);
  assert.equal(errorsOf('- rmad: 1\n'), ['m.yaml:1:1: expected a mapping of keys (rmad, name, data, model, ...) at the top level, got a list']);
});

test('unknown keys: a suggestion when one is close, else the allowed keys', () => {
  assert.equal(errorsOf(edit('train: {epochs: 5}', 'train: {epochs: 5}\nmetrix: [loss]')), ["m.yaml:17:1: metrix: unknown key; did you mean 'metrics'?"]);
  assert.equal(errorsOf(edit('labels: onehot', 'labels: onehot\n  colour: red')), [
    'm.yaml:8:3: data.colour: unknown key; allowed keys: source, generator, params, labels, normalize, split, sequence',
  ]);
  assert.equal(errorsOf(edit('units: 3}', 'units: 3, output: all}')), ['m.yaml:13:43: model.layers[head].output: unknown key for type dense (only rnn, gru and lstm take it)']);
  assert.equal(errorsOf(edit('type: adam', 'type: sgd, momentum: 0.9')), ['m.yaml:15:24: optimizer.momentum: used only when type is momentum; remove it or set type: momentum']);
  assert.equal(errorsOf(edit('classes: 3', 'classes: 3, sprad: 1')), ["m.yaml:6:31: data.params.sprad: blobs has no parameter 'sprad'; did you mean 'spread'?"]);
  assert.equal(errorsOf(edit('classes: 3', 'classes: 3, noise: 1')), ["m.yaml:6:31: data.params.noise: blobs has no parameter 'noise'; blobs takes n, classes, features, spread"]);
});

test('missing required keys point at the mapping that lacks them', () => {
  assert.equal(errorsOf(edit('rmad: 1\n', '')), ["m.yaml:1:1: missing required key 'rmad' (e.g. rmad: 1 as the first line)"]);
  assert.equal(errorsOf(edit('{epochs: 5}', '{batch_size: 8}')), ["m.yaml:16:1: train: missing required key 'epochs' (e.g. epochs: 100)"]);
  assert.equal(errorsOf(edit('{name: head, type: dense, units: 3}', '{name: head, units: 3}')), [
    "m.yaml:13:7: model.layers[head]: missing required key 'type' (one of dense, rnn, gru, lstm)",
  ]);
});

test('wrong types, with what was found', () => {
  assert.equal(errorsOf(edit('lr: 0.01', "lr: '0.01'")), ["m.yaml:15:29: optimizer.lr: expected a number, got string '0.01'"]);
  assert.equal(errorsOf(edit('lr: 0.01', 'lr: abc')), ["m.yaml:15:29: optimizer.lr: expected a number, got string 'abc'"]);
  assert.equal(errorsOf(edit('epochs: 5', 'epochs: 2.5')), ['m.yaml:16:17: train.epochs: expected an integer, got 2.5']);
  assert.equal(errorsOf(edit('epochs: 5}', 'epochs: 5, shuffle: yes}')), ["m.yaml:16:29: train.shuffle: expected true or false, got string 'yes'"]);
  assert.equal(errorsOf(edit('lr: 0.01', 'lr: .inf')), ['m.yaml:15:29: optimizer.lr: expected a finite number, got .inf']);
  assert.equal(errorsOf(edit('input: 2', 'input: [2]')), ['m.yaml:10:10: model.input: expected an integer or a mapping, got a list']);
  assert.equal(errorsOf(edit('train: {epochs: 5}', 'train:')), ['m.yaml:16:1: train: expected a mapping, got null']);
});

test('out of range values', () => {
  assert.equal(errorsOf(edit('epochs: 5', 'epochs: -1')), ['m.yaml:16:17: train.epochs: must be >= 1, got -1']);
  assert.equal(errorsOf(edit('lr: 0.01', 'lr: 0')), ['m.yaml:15:29: optimizer.lr: must be > 0, got 0']);
  assert.equal(errorsOf(edit('val: 0.2', 'val: 1.5')), ['m.yaml:8:28: data.split.val: must be < 1, got 1.5']);
  assert.equal(errorsOf(edit('val: 0.2', 'val: 0.3')), ['m.yaml:8:3: data.split: fractions add up to 1.1, not 1; adjust train, val and test']);
  assert.equal(errorsOf(edit('{train: 0.8, val: 0.2}', '{val: 0.5, test: 0.6}')), [
    'm.yaml:8:3: data.split: val + test = 1.1 leaves no rows to train on; make them add up to less than 1',
  ]);
  assert.equal(errorsOf(edit('classes: 3', 'classes: 1')), ['m.yaml:6:28: data.params.classes: generator \'blobs\': classes must be an integer and >= 2, got 1']);
});

test('values outside an enum list what is allowed', () => {
  assert.equal(errorsOf(edit('type: adam', 'type: adamm')), ["m.yaml:15:19: optimizer.type: 'adamm' is not one of sgd, momentum, adam, adamw; did you mean 'adam'?"]);
  assert.equal(errorsOf(edit('generator: blobs', 'generator: spirals')), ["m.yaml:5:14: data.generator: 'spirals' is not one of blobs, xor, spiral, moons, circles, parity, sine; did you mean 'spiral'?"]);
  assert.equal(errorsOf(edit('labels: onehot', 'labels: classes')), ["m.yaml:7:11: data.labels: 'classes' is not one of pm1, binary, onehot, real"]);
});

test('version, name and layer names', () => {
  assert.equal(errorsOf(edit('rmad: 1', 'rmad: 2')), ['m.yaml:1:7: rmad: version 2 is not supported; this rmad reads version 1 files: set rmad: 1 and update the file, or upgrade rmad']);
  assert.equal(errorsOf(edit('name: t', 'name: my/run')), ["m.yaml:2:7: name: 'my/run' is not a safe folder name; use letters, digits, '.', '_' and '-'"]);
  assert.equal(errorsOf(edit('name: t', 'name: ..')), ["m.yaml:2:7: name: '..' is not a safe folder name; use letters, digits, '.', '_' and '-'"]);
  assert.equal(errorsOf(edit('name: head', 'name: hidden1')), [
    "m.yaml:13:14: model.layers[1].name: duplicate layer name 'hidden1' (also model.layers[0]); layer names must be unique",
  ]);
  assert.match(errorsOf(edit('name: head', 'name: out.put'))[0]!, /^m\.yaml:13:14: model\.layers\[out\.put\]\.name: 'out\.put' is not a valid layer name; /);
});

test('the loss needs its labels and output units', () => {
  assert.equal(errorsOf(edit('softmax_cross_entropy', 'hinge')), [
    'm.yaml:13:40: model.layers[head].units: hinge needs 1 output unit on the last layer, got 3; set units: 1',
    'm.yaml:14:14: loss.type: hinge needs data.labels: pm1, got onehot',
  ]);
  assert.equal(errorsOf(edit('labels: onehot', 'labels: pm1')), ['m.yaml:14:14: loss.type: softmax_cross_entropy needs data.labels: onehot, got pm1']);
  assert.equal(errorsOf(edit('units: 3}', 'units: 3, activation: softmax}')), [
    'm.yaml:13:55: model.layers[head].activation: softmax_cross_entropy applies the softmax itself; use activation: identity on the last layer',
  ]);
  assert.equal(errorsOf(edit('softmax_cross_entropy', 'binary_cross_entropy', edit('units: 3}', 'units: 1, activation: sigmoid}'))), [
    'm.yaml:13:55: model.layers[head].activation: binary_cross_entropy applies the sigmoid itself; use activation: identity on the last layer',
    'm.yaml:14:14: loss.type: binary_cross_entropy needs data.labels: binary, got onehot',
  ]);
  assert.equal(errorsOf(edit('loss: {type: softmax_cross_entropy}', 'loss: {type: mse}', edit('labels: onehot', 'labels: real'))
    .replace('train: {epochs: 5}', 'train: {epochs: 5}\nmetrics: [loss, accuracy]')), ['m.yaml:17:17: metrics[1]: accuracy needs class labels, but data.labels is real; remove it']);
  // A hinge model that gets labels and units right passes, with the default margin.
  const svm = parseModelText(edit('softmax_cross_entropy', 'hinge', edit('labels: onehot', 'labels: pm1', edit('units: 3}', 'units: 1}'))), 'svm.yaml');
  assert.equal(svm.loss, { type: 'hinge', margin: 1 });
});

test('freeze and init.load name layers and parameters that exist, and leave something to train', () => {
  const withFreeze = (list: string) => edit('train: {epochs: 5}', `train: {epochs: 5}\nfreeze: ${list}`);
  assert.equal(errorsOf(withFreeze('[hiden1, head.w, head.bias]')), [
    "m.yaml:17:10: freeze[0]: no layer named 'hiden1'; did you mean 'hidden1'?",
    "m.yaml:17:18: freeze[1]: layer 'head' (dense) has no parameter 'w'; did you mean 'W'?",
    "m.yaml:17:26: freeze[2]: layer 'head' (dense) has no parameter 'bias'; its parameters are: W, b",
  ]);
  assert.equal(errorsOf(withFreeze('[hidden1, head.W, head.b]')), ['m.yaml:17:1: freeze: every parameter is frozen, so there is nothing to train; leave at least one layer or parameter out']);
  assert.equal(errorsOf(withFreeze('[hidden1, hidden1]')), ["m.yaml:17:19: freeze[1]: 'hidden1' is listed twice"]);
  assert.equal(parseModelText(withFreeze('[hidden1, head.W]'), 'm.yaml').freeze, ['hidden1', 'head.W']);
  assert.equal(errorsOf(edit('train: {epochs: 5}', 'train: {epochs: 5}\ninit: {from: w.safetensors, load: [hidden1, hed]}')), [
    "m.yaml:17:45: init.load[1]: no layer named 'hed'; did you mean 'head'?",
  ]);
  assert.equal(parameterNames({ type: 'rnn', name: 'r', units: 2, activation: 'tanh', output: 'last', bias: true, init: 'glorot' }), ['Wx', 'Wh', 'b']);
  assert.equal(parameterNames({ type: 'dense', name: 'd', units: 2, activation: 'tanh', bias: false, init: 'glorot' }), ['W']);
});

test('recurrent layers: sequence input, output all only into another recurrent layer', () => {
  const rnnFirst = edit('type: dense, units: 8, activation: tanh', 'type: rnn, units: 8');
  assert.equal(errorsOf(rnnFirst), ["m.yaml:10:10: model.input: layer 'hidden1' is rnn and reads a sequence; set model.input: {steps, features}"]);
  const sequence = edit('input: 2', 'input: {steps: 2, features: 1}', rnnFirst);
  assert.is(parseModelText(sequence, 'm.yaml').model.layers[0]!.type, 'rnn');
  assert.equal(errorsOf(edit('units: 8}', 'units: 8, output: all}', sequence)), [
    "m.yaml:12:52: model.layers[hidden1].output: output: all feeds a sequence to dense layer 'head'; use output: last, or follow it with another recurrent layer",
  ]);
  assert.equal(errorsOf(edit('input: 2', 'input: {steps: 2, features: 1}')), [
    "m.yaml:10:10: model.input: {steps, features} is a sequence, but the first layer 'hidden1' is dense; give a feature count, or start with an rnn, gru or lstm layer",
  ]);
  const stacked = edit('{name: head, type: dense, units: 3}', '{name: r2, type: lstm, units: 3}', sequence);
  // hidden1 has no output key, so the error points at the layer.
  assert.equal(errorsOf(stacked), ["m.yaml:12:7: model.layers[hidden1].output: 'r2' is lstm and reads a sequence; set output: all here"]);
  assert.equal(parseModelText(edit('units: 8}', 'units: 8, output: all}', stacked), 'm.yaml').model.layers.map((l) => l.type), ['rnn', 'lstm']);
});

test('sweeps: paths checked against the schema, methods and gates checked', () => {
  const sweep = (text: string) => edit('train: {epochs: 5}', `train: {epochs: 5}\nsweep: ${text}`);
  assert.equal(errorsOf(sweep('{method: grid, parameters: {optimizer.lrr: [0.1], model.layers.hiden1.units: [4, 8], train.epochs: {uniform: [1, 2]}}}')), [
    "m.yaml:17:36: sweep.parameters[\"optimizer.lrr\"]: unknown key 'lrr' in optimizer; did you mean 'lr'?",
    "m.yaml:17:58: sweep.parameters[\"model.layers.hiden1.units\"]: no layer named 'hiden1'; did you mean 'hidden1'?",
    'm.yaml:17:107: sweep.parameters["train.epochs"]: a grid takes a list of values; use method: random to draw from a distribution',
  ]);
  assert.equal(errorsOf(sweep('{method: list, expect: [{metric: val.accuracy, min: 0.9, max: 0.5}, {metric: test.accuracy, min: 0}]}')), [
    'm.yaml:17:1: sweep: method list needs trials: a list of override sets, e.g. trials: [{optimizer.lr: 0.1}, {optimizer.lr: 0.01}]',
    'm.yaml:17:32: sweep.expect[0]: min 0.9 is above max 0.5; no value can pass',
    "m.yaml:17:85: sweep.expect[1].metric: 'test.accuracy' needs a test split; add test to data.split or use one of train, val",
  ]);
  assert.equal(errorsOf(sweep('{method: random, parameters: {optimizer.lr: [0.1]}, expect: [{metric: val.loss}]}')), ['m.yaml:17:69: sweep.expect[0]: needs at least one of min, max']);
  const ok = parseModelText(sweep('{method: list, trials: [{optimizer.lr: 0.1}, {model.layers.head.activation: tanh}]}'), 'm.yaml');
  assert.equal(ok.sweep?.trials, [{ 'optimizer.lr': 0.1 }, { 'model.layers.head.activation': 'tanh' }]);
  assert.equal(ok.sweep?.objective, { metric: 'val.loss', mode: 'min' });
});

test('early stopping watches a metric of a split that exists', () => {
  const stop = (metric: string) => edit('train: {epochs: 5}', `train: {epochs: 5, early_stop: {metric: ${metric}}}`);
  assert.equal(errorsOf(stop('test.loss')), ["m.yaml:16:41: train.early_stop.metric: 'test.loss' needs a test split; add test to data.split or use one of train, val"]);
  assert.equal(errorsOf(stop('val.acuracy')), ["m.yaml:16:41: train.early_stop.metric: unknown metric 'acuracy' in 'val.acuracy'; did you mean 'accuracy'?"]);
  assert.equal(errorsOf(stop('loss')), ["m.yaml:16:41: train.early_stop.metric: 'loss' is not <split>.<metric>; e.g. val.loss"]);
  assert.equal(parseModelText(stop('val.loss'), 'm.yaml').train.early_stop, { metric: 'val.loss', mode: 'min', patience: 10, min_delta: 0 });
});

test('checkAgainstData: input size, steps and classes against the loaded data', () => {
  const mlp = loadModelFile(`${models}mlp.yaml`).spec;
  checkAgainstData(mlp, { numClasses: 3, featureShape: [4] });
  const lines = (f: () => void) => {
    try {
      f();
    } catch (e) {
      return (e as InputErrors).errors.map((x) => x.line());
    }
    return [];
  };
  assert.equal(lines(() => checkAgainstData(mlp, { numClasses: 4, featureShape: [5] }, 'mlp.yaml')), [
    'mlp.yaml: model.input: the model takes 4 features, the data has 5; set model.input: 5',
    'mlp.yaml: model.layers[head].units: softmax_cross_entropy needs one unit per class: the data has 4 classes, the layer has 3; set units: 4',
  ]);
  const rnn = loadModelFile(`${models}rnn.yaml`).spec;
  checkAgainstData(rnn, { numClasses: 2, featureShape: [8, 1] });
  checkAgainstData(rnn, { numClasses: 2, featureShape: [8] });
  assert.equal(lines(() => checkAgainstData(rnn, { numClasses: 2, featureShape: [10, 1] }, 'rnn.yaml')), [
    'rnn.yaml: model.input: the model takes 8 steps x 1 features, the data has 10 x 1; set model.input: {steps: 10, features: 1}',
  ]);
  const svm = loadModelFile(`${models}svm.yaml`).spec;
  assert.equal(lines(() => checkAgainstData(svm, { numClasses: 3, featureShape: [2] }, 'svm.yaml')), [
    'svm.yaml: data.labels: pm1 labels need two classes, the data has 3; use labels: onehot with softmax_cross_entropy',
  ]);
});

test('render writes every default, and parsing it gives the same spec', () => {
  for (const file of [...shipped.map((n) => `${models}${n}.yaml`), `${fixtures}full.yaml`]) {
    const spec = loadModelFile(file).spec;
    const text = renderModel(spec);
    assert.equal(parseModelText(text, 'rendered.yaml'), spec, file);
  }
  const text = renderModel(loadModelFile(`${models}mlp.yaml`).spec);
  assert.match(text, /\n {4}- \{name: head, type: dense, units: 3, activation: identity, bias: true, init: glorot\}\n/);
  assert.match(text, /\n {2}split: \{train: 0\.7, val: 0\.15, test: 0\.15\}\n/);
  assert.match(text, /\ntrain:\n {2}epochs: 100\n {2}batch_size: 16\n {2}shuffle: true\n/);
  assert.not.match(text, /momentum|nesterov/, 'settings adam does not use are left out');
});

test('resolveModel validates plain data, naming the path', () => {
  const spec = loadModelFile(`${models}svm.yaml`);
  assert.equal(resolveModel(spec.document, 'svm.yaml'), spec.spec);
  try {
    resolveModel({ ...spec.document, train: { epochs: 0 } }, 'trial 3');
    assert.unreachable('accepted epochs: 0');
  } catch (e) {
    assert.equal((e as InputErrors).errors.map((x) => x.line()), ['trial 3: train.epochs: must be >= 1, got 0']);
  }
});

test('a missing file is an InputError naming it', () => {
  try {
    loadModelFile(`${fixtures}nope.yaml`);
    assert.unreachable('read a missing file');
  } catch (e) {
    assert.instance(e, InputError);
    assert.is((e as InputError).line(), `${fixtures}nope.yaml: no such file; check the path`);
  }
});

test('the JSON Schema is valid JSON and describes the keys, types, enums and defaults', () => {
  const schema = JSON.parse(JSON.stringify(toJsonSchema()));
  assert.is(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.is(schema.type, 'object');
  assert.is(schema.additionalProperties, false);
  assert.equal(schema.required, ['rmad', 'name', 'data', 'model', 'loss', 'optimizer', 'train']);
  assert.equal(Object.keys(schema.properties), ['rmad', 'name', 'seed', 'data', 'model', 'loss', 'optimizer', 'train', 'init', 'freeze', 'metrics', 'sweep']);
  assert.equal(schema.properties.rmad, { const: 1, description: 'Schema version.' });
  const optimizer = schema.properties.optimizer;
  assert.equal(optimizer.properties.type.enum, ['sgd', 'momentum', 'adam', 'adamw']);
  assert.equal(optimizer.properties.lr.exclusiveMinimum, 0);
  assert.is(optimizer.properties.beta2.default, 0.999);
  assert.ok(optimizer.allOf.some((c: { if: { required: string[] }; then: unknown }) => c.if.required[0] === 'nesterov'));
  const layers = schema.properties.model.properties.layers;
  assert.equal(layers.items.oneOf.map((v: { properties: { type: { const: string } } }) => v.properties.type.const), ['dense', 'rnn', 'gru', 'lstm']);
  const dense = layers.items.oneOf[0];
  assert.equal(dense.required, ['type', 'name', 'units']);
  assert.is(dense.properties.activation.default, 'identity');
  assert.is(dense.additionalProperties, false);
  assert.equal(schema.properties.train.properties.epochs, { type: 'integer', minimum: 1 });
  const generator = schema.properties.data.oneOf[1];
  assert.ok(generator.allOf.some((c: { then: { properties: { params: { propertyNames: { enum: string[] } } } } }) => c.then.properties.params.propertyNames.enum.join() === 'n,bits'));
  assert.match(schema.properties.metrics.description, /Default: \[loss, accuracy\]/);
});

test.run();
