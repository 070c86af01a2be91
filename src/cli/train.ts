/** `rmad train FILE`: trains a model file into a run folder. */
import { readFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../errors.js';
import type { DType } from '../engine/tensor.js';
import { loadModelFile, parseModelText } from '../loaders/modelfile.js';
import type { ModelSpec } from '../loaders/spec.js';
import { readDataInfo, runConfigFile } from '../train/run-folder.js';
import { train, type TrainEvent, type TrainResult } from '../train/trainer.js';
import { EXIT, Exit, fmt, table, wholeNumber } from './output.js';

export interface TrainArgs {
  file?: string;
  set?: string[];
  out?: string;
  runs: string;
  json?: boolean;
  resume?: string;
  device: 'cpu' | 'gpu';
  dtype?: DType;
  seed?: number;
  profile?: boolean;
  compile?: boolean;
}

/** The flags shared by commands that read a model file and may override it. */
export function modelFileOptions<T>(y: Argv<T>) {
  return y
    .option('set', { type: 'string', array: true, describe: 'override a setting: --set model.layers.hidden1.units=32', requiresArg: true })
    .option('seed', { type: 'number', describe: 'the master seed (same as --set seed=N)', requiresArg: true });
}

/** The --set overrides, with --seed as one more. */
export function overrides(args: { set?: string[]; seed?: number }): string[] {
  const list = [...(args.set ?? [])];
  if (args.seed !== undefined) {
    list.push(`seed=${wholeNumber('--seed', args.seed, 0)}`);
  }
  return list;
}

/** The spec, its folder and its file: a model file, or a resumed run folder's config. */
export function specFor(args: { file?: string; set?: string[]; seed?: number; resume?: string }): { spec: ModelSpec; baseDir: string; file: string } {
  if (args.resume) {
    if (args.file) throw new InputError(`give a model file or --resume, not both: a resumed run trains the config in its folder (change its settings with --set)`, args.file);
    const config = runConfigFile(args.resume);
    const info = readDataInfo(args.resume);
    return { spec: parseModelText(readFileSync(config, 'utf8'), config, overrides(args)), baseDir: info.baseDir, file: config };
  }
  if (!args.file) throw new InputError('name a model file (rmad train models/mlp.yaml) or a run to --resume', 'rmad train');
  const loaded = loadModelFile(args.file, overrides(args));
  return { spec: loaded.spec, baseDir: loaded.baseDir, file: args.file };
}

/** Renders training events for people: a bar on a terminal, a few plain lines otherwise. */
class HumanProgress {
  private bar: cliProgress.SingleBar | null = null;
  private every = 1;
  private epochs = 0;

  constructor(private readonly tty: boolean) {}

  handle(e: TrainEvent): void {
    switch (e.type) {
      case 'start': {
        this.epochs = e.epochs;
        this.every = Math.max(1, Math.ceil(e.epochs / 20));
        const rows = e.params.map((p) => [p.name, `[${p.shape.join(', ')}]`, p.count, p.trainable ? 'trainable' : 'frozen']);
        process.stdout.write(`${e.name}: ${Object.entries(e.rows).map(([k, v]) => `${v} ${k}`).join(', ')} rows\n`);
        process.stdout.write(`${table(['parameter', 'shape', 'size', 'state'], rows)}\n`);
        process.stdout.write(`${e.trainable} trainable, ${e.frozen} frozen${e.loaded.length ? `; loaded ${e.loaded.join(', ')}` : ''}\n`);
        if (e.startEpoch > 0) process.stdout.write(`resuming at epoch ${e.startEpoch + 1}\n`);
        if (this.tty) {
          this.bar = new cliProgress.SingleBar({
            format: 'epoch {epoch}/{epochs} {bar} {percentage}% | loss {loss} | {metric}',
            stream: process.stderr, hideCursor: true, clearOnComplete: true,
          }, cliProgress.Presets.shades_classic);
          this.bar.start((e.epochs - e.startEpoch) * e.batchesPerEpoch, 0, { epoch: e.startEpoch + 1, epochs: e.epochs, loss: '-', metric: '' });
        }
        break;
      }
      case 'batch':
        this.bar?.increment(1, { epoch: e.epoch, loss: e.loss.toFixed(4) });
        break;
      case 'epoch': {
        const keys = Object.keys(e.metrics).filter((k) => k.includes('.'));
        const text = keys.map((k) => `${k} ${fmt(e.metrics[k])}`).join('  ');
        if (this.bar) this.bar.update({ metric: keys.filter((k) => k.startsWith('val.') || k === 'train.accuracy').map((k) => `${k} ${fmt(e.metrics[k])}`).join(' ') });
        else if (e.epoch % this.every === 0 || e.epoch === this.epochs || e.epoch === 1) process.stderr.write(`epoch ${e.epoch}/${e.epochs}  ${text}\n`);
        break;
      }
      case 'early_stop':
        this.stop();
        process.stderr.write(`early stop at epoch ${e.epoch}: ${e.metric} has not improved on ${fmt(e.best)} (epoch ${e.bestEpoch}) for the patience set\n`);
        break;
      case 'checkpoint':
        break;
      case 'interrupted':
        this.stop();
        process.stderr.write(`interrupted in epoch ${e.epoch}; checkpoint saved: rmad train --resume ${e.path}\n`);
        break;
      case 'end': {
        this.stop();
        const s = e.summary;
        const splits = ['train', 'val', 'test'].filter((sp) => Object.keys(s.final).some((k) => k.startsWith(`${sp}.`)));
        const metrics = [...new Set(Object.keys(s.final).filter((k) => k.includes('.')).map((k) => k.split('.')[1]!))];
        process.stdout.write(`${table(['split', ...metrics], splits.map((sp) => [sp, ...metrics.map((m) => fmt(s.final[`${sp}.${m}`]))]))}\n`);
        if (s.best) process.stdout.write(`best ${s.best.metric} ${fmt(s.best.value)} at epoch ${s.best.epoch}\n`);
        process.stdout.write(`${s.epochs.completed} epochs in ${s.wallSeconds.toFixed(1)} s; run folder ${s.runDir}\n`);
        break;
      }
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

function printProfile(result: TrainResult, wallMs: number): void {
  const p = result.profiler!;
  const rows = p.rows().map((r) => [r.phase, r.op, r.calls, r.ms.toFixed(1), ((r.ms * 1000) / r.calls).toFixed(1)]);
  process.stdout.write(`\nprofile (time in kernels by op and phase)\n${table(['phase', 'op', 'calls', 'total ms', 'mean µs'], rows)}\n`);
  const kernel = p.kernelMs();
  const peak = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`kernels ${kernel.toFixed(0)} ms of ${wallMs.toFixed(0)} ms: ${(100 * (1 - kernel / wallMs)).toFixed(1)}% outside kernels (graph building, walking, data, evaluation); peak memory ${peak.toFixed(0)} MiB resident, largest tensor ${(p.largestTensorBytes / 1024).toFixed(0)} KiB\n`);
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train [file]',
  describe: 'train a model file; writes a run folder',
  builder: (y) =>
    modelFileOptions(y)
      .positional('file', { type: 'string', describe: 'the model file (YAML)' })
      .option('out', { type: 'string', describe: 'the run folder (default runs/<name>/<time>)', requiresArg: true })
      .option('runs', { type: 'string', default: 'runs', describe: 'where run folders go', requiresArg: true })
      .option('json', { type: 'boolean', describe: 'one JSON object per event on stdout' })
      .option('resume', { type: 'string', describe: 'continue the run in this folder from its checkpoint', requiresArg: true })
      .option('device', { choices: ['cpu', 'gpu'] as const, default: 'cpu' as const, describe: 'where kernels run' })
      .option('dtype', { choices: ['float32', 'float64'] as const, describe: 'the precision of parameters and arithmetic (default float32; a resumed run keeps its own)' })
      .option('profile', { type: 'boolean', describe: 'print time and calls per op, and peak memory, at the end' })
      .option('compile', { type: 'boolean', describe: 'train with the compiled step: traced once per batch shape, rewritten and fused (see rmad graph --optimize)' }) as Argv<TrainArgs>,
  handler: async (args) => {
    for (const flag of ['out', 'runs', 'resume'] as const) {
      if (args[flag] === '') throw new InputError('is empty; give a folder', `--${flag}`);
    }
    const { spec, baseDir, file } = specFor(args);
    const human = new HumanProgress(Boolean(process.stderr.isTTY) && !args.json);
    let stop = false;
    const onSigint = () => {
      if (stop) process.exit(EXIT.interrupted);
      stop = true;
    };
    process.on('SIGINT', onSigint);
    const started = performance.now();
    try {
      const result = await train({
        spec, baseDir, file, runDir: args.resume ?? args.out, runsRoot: args.runs, resume: Boolean(args.resume),
        dtype: args.dtype, device: args.device, profile: args.profile, compile: args.compile,
        shouldStop: () => stop,
        onEvent: args.json
          ? (e) => { if (e.type !== 'batch') process.stdout.write(`${JSON.stringify({ event: e.type, ...e, type: undefined })}\n`); }
          : (e) => human.handle(e),
      });
      if (args.profile) printProfile(result, performance.now() - started);
      if (result.interrupted) throw new Exit(EXIT.interrupted);
    } finally {
      human.stop();
      process.off('SIGINT', onSigint);
    }
  },
};
