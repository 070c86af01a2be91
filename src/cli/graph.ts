/**
 * `rmad graph FILE`: the model's forward graph (data to loss) and backward graph (the loss's
 * gradients with respect to the trainable parameters, recorded with `createGraph`) for one batch
 * of its train data, as jaxpr-like text or Graphviz DOT, and the count of each op.
 */
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../errors.js';
import { graphNodes, nameVariables, printGraph, toDot } from '../engine/printing.js';
import { compileValueAndGrad, printIR, trace, type Graph as IRGraph, type Node as IRNode } from '../engine/rewrite/index.js';
import type { DType } from '../engine/tensor.js';
import type { Variable } from '../engine/variable.js';
import { lossFor } from '../layers/losses.js';
import type { ModelSpec } from '../loaders/spec.js';
import { trainRows } from '../train/gradcheck-model.js';
import { setup } from '../train/trainer.js';
import { table, wholeNumber } from './output.js';
import { modelFileOptions, specFor } from './train.js';

export interface GraphArgs {
  file: string;
  format: 'text' | 'dot';
  part: 'forward' | 'backward' | 'both';
  batch: number;
  dtype: DType;
  set?: string[];
  seed?: number;
  optimize?: boolean;
}

export interface ModelGraph {
  name: string;
  rows: number;
  loss: Variable;
  /** The gradients of the loss, one per trainable parameter, themselves differentiable. */
  grads: Variable[];
  /** Readable names: `x`, `y`, `loss`, the parameters' `layer.param`, and `layer.param.grad`. */
  names: Map<Variable, string>;
  /** Every op of the forward graph, and the ops the backward graph adds to it. */
  forwardOps: Variable[];
  backwardOps: Variable[];
}

/** Records the loss of the first `batch` train rows and its gradients with createGraph. */
export function modelGraph(spec: ModelSpec, baseDir: string, batch: number, dtype: DType): ModelGraph {
  const s = setup(spec, baseDir, dtype);
  const { x, y, rows } = trainRows(s, batch);
  // Shaped as the model reads it, so that `x` itself (not a reshaped copy) enters the graph. An
  // op is recorded only when an input requires a gradient: with x a constant, the layers below
  // the first trainable one (frozen ones) would be computed but not recorded, so x is an input.
  const xv = s.ctx.variable(x, { shape: [rows, ...s.model.inputShape] });
  const out = s.model.forward(xv);
  const yv = s.ctx.constant(y, [rows, ...out.shape.slice(1)]);
  const loss = lossFor(spec.loss)(out, yv);
  // The backward graph is linear in the loss's cotangent (1): as an input, it makes every backward
  // op recorded, even where a gradient depends on no parameter (a linear model's, say).
  const cotangent = s.ctx.variable(1, { name: 'dloss' });
  const g = loss.grad(cotangent, { createGraph: true });
  const grads = s.trainable.map((p) => g.variable(p.variable));
  const preset = new Map<Variable, string>([[xv, 'x'], [yv, 'y'], [loss, 'loss'], [cotangent, 'dloss']]);
  for (const p of s.params) preset.set(p.variable, p.name);
  s.trainable.forEach((p, i) => preset.set(grads[i]!, `${p.name}.grad`));
  const forward = graphNodes([loss]);
  const inForward = new Set(forward);
  // One naming for both prints: a forward value keeps its letter in the backward graph.
  const names = nameVariables([loss, ...grads], preset);
  return {
    name: spec.name, rows, loss, grads, names,
    forwardOps: forward.filter((v) => v.op),
    backwardOps: graphNodes(grads).filter((v) => v.op && !inForward.has(v)),
  };
}

function counts(nodes: readonly Variable[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of nodes) m.set(v.op!, (m.get(v.op!) ?? 0) + 1);
  return m;
}

/** One row per op: its nodes in the forward graph and those the backward graph adds. */
export function opCounts(mg: ModelGraph): string {
  const fwd = counts(mg.forwardOps), bwd = counts(mg.backwardOps);
  const ops = [...new Set([...fwd.keys(), ...bwd.keys()])].sort((a, b) => (fwd.get(b) ?? 0) + (bwd.get(b) ?? 0) - (fwd.get(a) ?? 0) - (bwd.get(a) ?? 0) || a.localeCompare(b));
  const rows = ops.map((op) => [op, fwd.get(op) ?? 0, bwd.get(op) ?? 0]);
  rows.push(['total', mg.forwardOps.length, mg.backwardOps.length]);
  return table(['op', 'forward', 'backward adds'], rows);
}

export function graphText(mg: ModelGraph, part: GraphArgs['part']): string {
  const out: string[] = [];
  if (part !== 'backward') {
    out.push(`# ${mg.name}: forward graph, the loss of ${mg.rows} train rows (before ';': labels y, frozen parameters and constants; after: data x and trainable parameters)`);
    out.push(printGraph(mg.loss, { names: mg.names }), '');
  }
  if (part !== 'forward') {
    out.push(`# ${mg.name}: backward graph, the loss's gradients with respect to the ${mg.grads.length} trainable parameters (loss.grad(dloss, { createGraph: true }), dloss = 1)`);
    out.push(printGraph(mg.grads, { names: mg.names }), '');
  }
  out.push(`# op counts (backward adds: the ops of the backward graph that are not in the forward graph)`, opCounts(mg));
  return `${out.join('\n')}\n`;
}

export function graphDot(mg: ModelGraph, part: GraphArgs['part']): string {
  const roots = part === 'forward' ? [mg.loss] : part === 'backward' ? mg.grads : [mg.loss, ...mg.grads];
  let dot = toDot(roots, { names: mg.names, highlight: [mg.loss] });
  if (part !== 'forward') {
    // A later statement for a node updates its attributes: the gradients get a fill of their own,
    // so the loss stands apart from them.
    const recolor = mg.grads.map((g) => `  "${mg.names.get(g)!.replace(/[\\"]/g, '\\$&')}" [fillcolor="#d8ecff"];`).join('\n');
    dot = dot.replace(/\}\s*$/, `${recolor}\n}`);
  }
  const comment = opCounts(mg).split('\n').map((l) => `// ${l}`).join('\n');
  return `${dot}\n${comment}\n`;
}

export const graphCommand: CommandModule<object, GraphArgs> = {
  command: 'graph <file>',
  describe: "print a model's forward and backward graph for one batch, as text or Graphviz DOT",
  builder: (y) =>
    modelFileOptions(y)
      .positional('file', { type: 'string', demandOption: true, describe: 'the model file (YAML)' })
      .option('format', { choices: ['text', 'dot'] as const, default: 'text' as const, describe: 'jaxpr-like text, or Graphviz DOT (dot -Tsvg)' })
      .option('part', { choices: ['forward', 'backward', 'both'] as const, default: 'both' as const, describe: 'which graph to print' })
      .option('batch', { type: 'number', default: 4, describe: 'rows of train data in the batch', requiresArg: true })
      .option('dtype', { choices: ['float32', 'float64'] as const, default: 'float32' as const, describe: 'the precision the graph is recorded in' })
      .option('optimize', { type: 'boolean', describe: 'print the training step before and after the rewrite rules and fusion (what train --compile runs), the rules that fired and op counts (text only)' }) as Argv<GraphArgs>,
  handler: (args) => {
    wholeNumber('--batch', args.batch, 1);
    if (args.optimize && args.format === 'dot') throw new InputError('prints text only; leave out --format dot', '--optimize');
    const { spec, baseDir } = specFor(args);
    if (args.optimize) return void process.stdout.write(optimizedStepText(spec, baseDir, args.batch, args.dtype));
    const mg = modelGraph(spec, baseDir, args.batch, args.dtype);
    process.stdout.write(args.format === 'dot' ? graphDot(mg, args.part) : graphText(mg, args.part));
  },
};

// ------------------------------------------------------------------ --optimize (src/engine/rewrite)

/**
 * The training step (the loss and its gradients) of `batch` train rows traced as the eager code
 * records it, then as `rmad train --compile` runs it: rewritten and fused. Both as IR text, with
 * the rules that fired and the op counts of each.
 */
export function optimizedStepText(spec: ModelSpec, baseDir: string, batch: number, dtype: DType): string {
  const s = setup(spec, baseDir, dtype);
  const { x, y, rows } = trainRows(s, batch);
  const xv = s.ctx.constant(x, [rows, ...s.model.inputShape]);
  const yv = s.ctx.constant(y, [rows, ...s.model.outputShape]);
  const lossFn = lossFor(spec.loss);
  const params = s.trainable.map((p) => p.variable);
  const before = trace((xb, yb) => {
    const loss = lossFn(s.model.forward(xb), yb);
    const g = loss.grad({ createGraph: true });
    return [loss, ...params.map((p) => g.variable(p))];
  }, [xv, yv]);
  const after = compileValueAndGrad((xb, yb) => lossFn(s.model.forward(xb), yb), params).compiled(xv, yv);
  const names = (g: IRGraph) => new Map<IRNode, string>([[g.inputs[0]!, 'x'], [g.inputs[1]!, 'y'], [g.outputs[0]!, 'loss'], ...s.trainable.map((p, i) => [g.outputs[i + 1]!, `${p.name}.grad`] as [IRNode, string])]);
  const nb = before.countOps(), na = after.graph.countOps();
  const ops = [...new Set([...nb.keys(), ...na.keys()])];
  const fired = [...after.report.fired].map(([rule, n]) => [rule, n]);
  return [
    `# ${spec.name}: the training step (the loss and its ${params.length} gradients) for ${rows} train rows, as recorded: ${before.ops().length} op nodes`,
    printIR(before, { names: names(before) }), '',
    `# after rewriting and fusion (what rmad train --compile runs): ${after.graph.ops().length} op nodes`,
    printIR(after.graph, { names: names(after.graph) }), '',
    `# rules fired (forward pass, then the whole step)`,
    fired.length ? table(['rule', 'times'], fired) : '(none)', '',
    '# op counts',
    table(['op', 'before', 'after'], [...ops.map((op) => [op, nb.get(op) ?? 0, na.get(op) ?? 0]), ['total', before.ops().length, after.graph.ops().length]]),
    '',
  ].join('\n');
}
