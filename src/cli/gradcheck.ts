/**
 * `rmad gradcheck [FILE...]`: with no file, every primitive, layer type and loss at first and
 * second order; with model files, each parameter's gradient of the model's loss. A table (or one
 * JSON object per check), each failure explained below it; exit 1 if any check fails.
 */
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../errors.js';
import { loadModelFile } from '../loaders/modelfile.js';
import {
  COTANGENT, FAST_ABOVE, builtinChecks, checkModel, runBuiltinChecks,
  type CheckResult, type JacobianWindow, type Order,
} from '../train/gradcheck-model.js';
import { EXIT, Exit, given, table, typed, wholeNumber } from './output.js';

export interface GradcheckArgs {
  files?: string[];
  order?: number;
  json?: boolean;
  seed: number;
  only?: string;
  batch: number;
  mode: 'auto' | 'full' | 'fast';
  set?: string[];
  device: 'cpu' | 'gpu';
}

const shape = (s: readonly number[]): string => `[${s.join(',')}]`;

/** An error as the table shows it: two significant digits. */
function err(v: number): string {
  if (v === 0) return '0';
  return Number.isFinite(v) ? v.toExponential(1) : String(v);
}

function verdict(r: CheckResult): string {
  return r.status === 'pass' ? 'pass' : r.status === 'fail' ? 'FAIL' : 'skipped (frozen)';
}

/** The check function's arguments; constants (labels, masks) in parentheses. */
function shapes(r: CheckResult): string {
  return r.args.filter((a) => a.name !== COTANGENT).map((a) => (a.checked ? shape(a.shape) : `(${shape(a.shape)})`)).join(' ');
}

function builtinTable(results: readonly CheckResult[]): string {
  return table(
    ['check', 'shapes', 'order', 'range', 'max abs err', 'max rel err', 'result'],
    results.map((r) => [`${r.kind} ${r.name}`, shapes(r), String(r.order), r.range, err(r.maxAbsError), err(r.maxRelError), verdict(r)]),
  );
}

function parameterTable(results: readonly CheckResult[]): string {
  return table(
    ['parameter', 'shape', 'order', 'mode', 'max abs err', 'max rel err', 'result'],
    results.map((r) => [r.name, shape(r.args[0]!.shape), String(r.order), r.status === 'skipped' ? '-' : r.mode, r.status === 'skipped' ? '-' : err(r.maxAbsError), r.status === 'skipped' ? '-' : err(r.maxRelError), verdict(r)]),
  );
}

function matrix(title: string, m: number[][], w: JacobianWindow, worst: [number, number]): string {
  const header = ['', ...Array.from({ length: w.cols[1] - w.cols[0] }, (_, c) => `e${w.cols[0] + c}`)];
  const rows = m.map((row, r) => [
    `o${w.rows[0] + r}`,
    ...row.map((v, c) => {
      const text = Number.isFinite(v) ? v.toPrecision(6) : String(v);
      return w.rows[0] + r === worst[0] && w.cols[0] + c === worst[1] ? `>${text}<` : text;
    }),
  ]);
  const cells = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return [title, ...cells.map((row) => `    ${row.map((c, i) => c.padStart(widths[i]!)).join('  ')}`)].join('\n');
}

/** What failed, where, and a window of both Jacobians around the worst element (marked >x<). */
export function explainFailure(r: CheckResult): string {
  const what = r.kind === 'parameter' ? `${r.file}: parameter ${r.name} (order ${r.order}, ${r.mode})` : `${r.kind} ${r.name}${r.op && r.op !== r.name ? ` (op ${r.op})` : ''} (${r.range}, order ${r.order})`;
  const lines = [`FAIL ${what}`];
  const f = r.failure;
  if (f?.nondeterministic) lines.push('  the analytic gradient differs between two identical backward passes');
  if (f && f.input !== null) {
    lines.push(
      `  input ${f.input}${f.inputName === `input ${f.input}` ? '' : ` '${f.inputName}'`} ${shape(f.inputShape!)}, element ${f.element} ${shape(f.elementIndex!)} of output ${f.output} ${shape(f.outputIndex!)}: ` +
        `analytic ${f.analytic} vs numeric ${f.numeric} (|diff| ${err(Math.abs(f.analytic! - f.numeric!))})`,
    );
    const w = f.window!;
    const [outs, elems] = f.jacobianShape!;
    const part = w.rows[1] - w.rows[0] < outs || w.cols[1] - w.cols[0] < elems ? `, rows ${w.rows[0]}-${w.rows[1] - 1} and columns ${w.cols[0]}-${w.cols[1] - 1} shown` : '';
    const worst: [number, number] = [f.output!, f.element!];
    lines.push(matrix(`  analytic Jacobian [${outs} output${outs === 1 ? '' : 's'} x ${elems} element${elems === 1 ? '' : 's'}]${part}:`, w.analytic, w, worst));
    lines.push(matrix('  numeric Jacobian (central differences):', w.numeric, w, worst));
  } else if (!f?.nondeterministic) lines.push(`  ${r.message}`);
  return lines.join('\n');
}

function parseOrders(order: number | undefined, fallback: Order[]): Order[] {
  if (order === undefined) return fallback;
  if (order !== 1 && order !== 2) throw new InputError(`takes 1 or 2, got '${typed('--order', order)}'`, '--order');
  return [order];
}

function summary(results: readonly CheckResult[], seconds: number): string {
  const count = (s: CheckResult['status']) => results.filter((r) => r.status === s).length;
  const skipped = count('skipped');
  return `${results.length} checks: ${count('pass')} passed, ${count('fail')} failed${skipped ? `, ${skipped} skipped (frozen)` : ''} in ${seconds.toFixed(1)} s`;
}

export const gradcheckCommand: CommandModule<object, GradcheckArgs> = {
  command: 'gradcheck [files..]',
  describe: 'check gradients against central differences: every primitive, layer and loss, or the parameters of model files',
  builder: (y) =>
    y
      .positional('files', { type: 'string', array: true, describe: 'model files whose parameter gradients to check (none: the built-in checks)' })
      .option('order', { type: 'number', describe: '1 or 2 (default: both for the built-in checks, 1 for model files)', requiresArg: true })
      .option('json', { type: 'boolean', describe: 'one JSON object per check on stdout' })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the drawn inputs and random projections', requiresArg: true })
      .option('only', { type: 'string', describe: "the built-in check of this name ('sin', 'loss hinge'), or those whose name contains it ('lstm', 'dense(')", requiresArg: true })
      .option('batch', { type: 'number', default: 8, describe: 'rows of a model file\'s train data in the loss', requiresArg: true })
      .option('mode', { choices: ['auto', 'full', 'fast'] as const, default: 'auto' as const, describe: `model files: full Jacobians, or random projections vᵀJu (auto: fast above ${FAST_ABOVE} trainable parameters)` })
      .option('set', { type: 'string', array: true, describe: 'override a model file setting: --set model.layers.hidden1.units=32', requiresArg: true })
      .option('device', { choices: ['cpu', 'gpu'] as const, default: 'cpu' as const, describe: 'where analytic gradients are computed (gpu: in float32, against float64 differences, atol 1e-3 rtol 1e-2)' }) as Argv<GradcheckArgs>,
  handler: (args) => {
    wholeNumber('--seed', args.seed, 0);
    wholeNumber('--batch', args.batch, 1);
    const files = args.files ?? [];
    const json = Boolean(args.json);
    const emit = json ? (r: CheckResult) => process.stdout.write(`${JSON.stringify(r)}\n`) : undefined;
    const started = performance.now();
    const results: CheckResult[] = [];

    if (files.length === 0) {
      // Flags of model files, given without one, would be ignored.
      const unused = (['--set', '--batch', '--mode'] as const).find((f) => given(f));
      if (unused) throw new InputError(`applies to model files; name one (rmad gradcheck models/mlp.yaml ${unused} ...), or leave it out`, unused);
      const needle = args.only?.toLowerCase();
      // A whole name selects that check alone ('sin', not also sinh and asin); otherwise a part of one.
      const exact = builtinChecks().some((c) => [c.name, `${c.kind} ${c.name}`].some((n) => n.toLowerCase() === needle));
      const filter = needle === undefined ? undefined
        : exact ? (label: string) => label.toLowerCase() === needle || label.toLowerCase().endsWith(` ${needle}`)
        : (label: string) => label.toLowerCase().includes(needle);
      if (filter && !builtinChecks().some((c) => filter(`${c.kind} ${c.name}`))) {
        throw new InputError(`'${args.only}' matches no check; names look like 'primitive matmul(aᵀ)', 'layer gru(output=all)', 'loss hinge'`, '--only');
      }
      results.push(...runBuiltinChecks({ orders: parseOrders(args.order, [1, 2]), seed: args.seed, filter, onResult: emit, device: args.device }));
      if (!json) {
        process.stdout.write(`${builtinTable(results)}\n(shapes in parentheses are constants: labels and masks, not differentiated)\n`);
      }
    } else {
      if (args.only !== undefined) throw new InputError('--only selects built-in checks; with model files, every parameter is checked', '--only');
      const orders = parseOrders(args.order, [1]);
      // Every file is read and validated before any check runs, so a typo fails at once.
      const loaded = files.map((file) => ({ file, ...loadModelFile(file, args.set ?? []) }));
      for (const { file, spec, baseDir } of loaded) {
        const check = checkModel(spec, baseDir, { file, orders, batch: args.batch, seed: args.seed, mode: args.mode, onResult: emit, device: args.device });
        results.push(...check.results);
        if (!json) {
          process.stdout.write(`${file} (${check.name}): loss of ${check.rows} train rows, float64; ${check.frozen} frozen parameters; ${check.reason}\n`);
          process.stdout.write(`${parameterTable(check.results)}\n`);
          process.stdout.write('\n');
        }
      }
    }

    if (json) {
      if (results.some((r) => r.status === 'fail')) throw new Exit(EXIT.failed);
      return;
    }
    const failures = results.filter((r) => r.status === 'fail');
    for (const r of failures) process.stdout.write(`\n${explainFailure(r)}\n`);
    process.stdout.write(`${failures.length ? '\n' : ''}${summary(results, (performance.now() - started) / 1000)}\n`);
    if (failures.length) throw new Exit(EXIT.failed);
  },
};
