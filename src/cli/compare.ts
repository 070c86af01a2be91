/**
 * `rmad compare BASELINE RESULTS --metric M --tolerance T`: a regression gate of new sweep
 * results against a committed baseline (matching, direction and tolerance: see
 * src/train/sweep-compare.ts). Prints a table of what moved and, as its last line,
 * `compare: N regressed, N improved, ...`. Exit 1 on a regression (or a baseline trial that is
 * missing or failed in the new results), 2 on bad input.
 */
import type { Argv, CommandModule } from 'yargs';
import { compareResults, parseTolerance, toleranceText, type CompareRow } from '../train/sweep-compare.js';
import { describeOverrides, readResults } from '../train/sweep.js';
import { EXIT, Exit, fmt, table } from './output.js';

export interface CompareArgs {
  baseline: string;
  results: string;
  metric: string[];
  tolerance: string;
  mode?: 'min' | 'max';
  all?: boolean;
}

const order: Record<CompareRow['outcome'], number> = { regressed: 0, missing: 1, failed: 2, improved: 3, within: 4, new: 5, skipped: 6, unchanged: 7 };

function signed(v: number | null): string {
  if (v === null) return '-';
  return v > 0 ? `+${fmt(v)}` : fmt(v);
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare <baseline> <results>',
  describe: 'compare sweep results with a baseline; exit 1 on a regression beyond the tolerance',
  builder: (y) =>
    y
      .positional('baseline', { type: 'string', demandOption: true, describe: 'the baseline results.jsonl (or its sweep folder)' })
      .positional('results', { type: 'string', demandOption: true, describe: 'the new results.jsonl (or its sweep folder)' })
      .option('metric', { alias: 'm', type: 'string', array: true, demandOption: 'name the metric to compare, e.g. --metric val.loss', describe: 'final metric to compare, <split>.<metric>; may be repeated', requiresArg: true })
      .option('tolerance', { alias: 't', type: 'string', default: '0', describe: 'allowed worsening: absolute (0.02) or relative to the baseline (5%)', requiresArg: true })
      .option('mode', { choices: ['min', 'max'] as const, describe: 'which way is better (default: max for *accuracy, else min)' })
      .option('all', { type: 'boolean', describe: 'list unchanged trials too' }) as Argv<CompareArgs>,
  handler: (args) => {
    const tolerance = parseTolerance(args.tolerance);
    const baseline = readResults(args.baseline);
    const current = readResults(args.results);
    const result = compareResults(baseline, current, { metrics: args.metric, tolerance, mode: args.mode }, { baseline: args.baseline, current: args.results });
    const shown = result.rows.filter((r) => args.all || r.outcome !== 'unchanged').sort((a, b) => order[a.outcome] - order[b.outcome]);
    const write = (line: string) => process.stdout.write(`${line}\n`);
    write(`${baseline.length} baseline trials, ${current.length} new; tolerance ${toleranceText(tolerance)}`);
    if (shown.length > 0) {
      write(table(
        ['metric', 'trial', 'parameters', 'baseline', 'new', 'change', 'outcome'],
        shown.map((r) => [
          `${r.metric} (${r.mode})`,
          r.newId ? `${r.id} -> ${r.newId}` : r.id,
          describeOverrides({ ...r.parameters, seed: r.seed }),
          fmt(r.baseline ?? undefined), fmt(r.current ?? undefined), signed(r.delta), r.outcome,
        ]),
      ));
    }
    const byParams = result.rows.filter((r) => r.matchedBy === 'parameters').length;
    if (byParams > 0) write(`${byParams / args.metric.length} trials matched by parameters and seed (their ids differ: their resolved configs changed)`);
    const c = result.counts;
    const extra = [c.missing && `${c.missing} missing`, c.failed && `${c.failed} failed`, c.new && `${c.new} new`, c.skipped && `${c.skipped} skipped`].filter(Boolean);
    write(`compare: ${c.regressed} regressed, ${c.improved} improved, ${c.within} within tolerance, ${c.unchanged} unchanged${extra.length ? `, ${extra.join(', ')}` : ''}`);
    if (!result.ok) throw new Exit(EXIT.failed);
  },
};
