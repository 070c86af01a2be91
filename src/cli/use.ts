/** `rmad eval RUN_DIR` and `rmad predict RUN_DIR --input CSV`: use a trained run. */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../loaders/atomic.js';
import { evaluateRun, predictCsv } from '../train/use.js';
import { fmt, table } from './output.js';

export const evalCommand: CommandModule<object, { run: string; data?: string; json?: boolean }> = {
  command: 'eval <run>',
  describe: "evaluate a trained run on its data's splits, or on another CSV",
  builder: (y) =>
    y.positional('run', { type: 'string', demandOption: true, describe: 'the run folder' })
      .option('data', { type: 'string', describe: 'a CSV with the same columns', requiresArg: true })
      .option('json', { type: 'boolean', describe: 'print JSON' }) as Argv<{ run: string; data?: string; json?: boolean }>,
  handler: (args) => {
    const result = evaluateRun(args.run, args.data);
    if (args.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const metrics = [...new Set(Object.values(result).flatMap((m) => Object.keys(m)))];
    process.stdout.write(`${table(['data', ...metrics], Object.entries(result).map(([k, m]) => [k, ...metrics.map((n) => fmt(m[n]))]))}\n`);
  },
};

/** Where predictions may go: a file in a folder that exists, never the input itself. */
function checkOutput(output: string, input: string): void {
  if (existsSync(output) && statSync(output).isDirectory()) throw new InputError('this is a folder; give --output a file name, e.g. predictions.csv', output);
  if (!existsSync(dirname(resolve(output)))) throw new InputError(`the folder ${dirname(output)} does not exist; create it, or write the predictions elsewhere`, output);
  if (existsSync(output) && existsSync(input) && realpathSync(output) === realpathSync(input)) {
    throw new InputError('this is the --input file; writing the predictions there would replace the data: choose another --output', output);
  }
}

const csvCell = (v: string | number): string => (typeof v === 'number' ? String(v) : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export const predictCommand: CommandModule<object, { run: string; input: string; output?: string }> = {
  command: 'predict <run>',
  describe: 'predict with a trained run on the rows of a CSV',
  builder: (y) =>
    y.positional('run', { type: 'string', demandOption: true, describe: 'the run folder' })
      .option('input', { type: 'string', demandOption: true, describe: 'a CSV with the feature columns', requiresArg: true })
      .option('output', { type: 'string', describe: 'write the predictions to this CSV (default: stdout)', requiresArg: true }) as Argv<{ run: string; input: string; output?: string }>,
  handler: (args) => {
    if (args.output) checkOutput(args.output, args.input);
    const p = predictCsv(args.run, args.input);
    const text = [p.header, ...p.rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
    if (args.output) writeFileAtomic(args.output, text);
    else process.stdout.write(text);
  },
};
