/**
 * `rmad compare`: a committed baseline of sweep results against new results, per metric.
 *
 * Matching: a baseline trial is found in the new results by its id (the hash of its resolved
 * config). When no new trial has that id, it is matched by its parameters and seed instead, so a
 * change that alters every config (a new default, an edited model file) still compares each
 * trial with the one that took its place; the table says which way each pair was matched.
 *
 * Direction: higher is better for metrics ending in `accuracy`, lower for the rest (losses),
 * unless a mode is given. Tolerance: absolute (`0.02`: worse by more than 0.02 in the metric's
 * units) or relative with a `%` suffix (`5%`: worse by more than 5% of the baseline's value).
 *
 * A baseline trial that is missing from the new results, or failed there, counts as a
 * regression: the gate cannot vouch for it. Trials that failed in the baseline are skipped;
 * new trials that the baseline does not have are listed, not judged.
 */
import { InputError } from '../errors.js';
import { improvingMode } from '../loaders/schema.js';
import { canonicalJson } from './sweep-plan.js';
import type { TrialRecord } from './sweep-results.js';

export type Tolerance = { kind: 'absolute'; value: number } | { kind: 'relative'; fraction: number };

/** `0.02` or `5%`; negative or non-numbers are an error. */
export function parseTolerance(text: string): Tolerance {
  const t = text.trim();
  const relative = t.endsWith('%');
  const n = Number(relative ? t.slice(0, -1) : t);
  if (t === '' || t === '%' || !Number.isFinite(n) || n < 0) {
    throw new InputError(`expected a number >= 0, absolute (0.02) or relative with % (5%), got '${text}'`, '--tolerance');
  }
  return relative ? { kind: 'relative', fraction: n / 100 } : { kind: 'absolute', value: n };
}

export function toleranceText(t: Tolerance): string {
  return t.kind === 'absolute' ? String(t.value) : `${+(t.fraction * 100).toPrecision(6)}%`;
}

export type CompareOutcome = 'regressed' | 'missing' | 'failed' | 'improved' | 'within' | 'unchanged' | 'skipped' | 'new';

export interface CompareRow {
  metric: string;
  mode: 'min' | 'max';
  /** The baseline trial's id (the new trial's for `new`). */
  id: string;
  /** The new trial's id when it was matched by parameters and seed. */
  newId: string | null;
  matchedBy: 'id' | 'parameters' | null;
  parameters: TrialRecord['parameters'];
  seed: number;
  baseline: number | null;
  current: number | null;
  /** current - baseline. */
  delta: number | null;
  outcome: CompareOutcome;
}

export interface CompareResult {
  rows: CompareRow[];
  counts: Record<CompareOutcome, number>;
  /** No regression, nothing missing, nothing failed. */
  ok: boolean;
}

export interface CompareOptions {
  metrics: readonly string[];
  tolerance: Tolerance;
  /** Overrides the direction taken from each metric's name. */
  mode?: 'min' | 'max';
}

const paramKey = (r: TrialRecord) => canonicalJson({ parameters: r.parameters, seed: r.seed });

/** Compares `current` against `baseline` on every metric; `where` names the inputs in errors. */
export function compareResults(baseline: readonly TrialRecord[], current: readonly TrialRecord[], options: CompareOptions, where = { baseline: 'baseline', current: 'results' }): CompareResult {
  if (options.metrics.length === 0) throw new InputError('name a metric to compare, e.g. --metric val.loss', '--metric');
  if (baseline.length === 0) throw new InputError('holds no trials; a baseline is the results.jsonl of a sweep', where.baseline);
  for (const metric of options.metrics) {
    const known = new Set([...baseline, ...current].flatMap((r) => Object.keys(r.final)));
    if (!known.has(metric)) {
      const names = [...known].sort();
      throw new InputError(`no trial has the metric '${metric}'${names.length ? `; the trials have ${names.join(', ')}` : ''}`, '--metric');
    }
  }

  // Pair each baseline trial with a new one: by id first, then by parameters and seed among those left.
  const byId = new Map(current.map((r) => [r.id, r]));
  const pairs = new Map<TrialRecord, { record: TrialRecord; by: 'id' | 'parameters' } | null>();
  const taken = new Set<TrialRecord>();
  for (const b of baseline) {
    const same = byId.get(b.id);
    if (same && !taken.has(same)) {
      pairs.set(b, { record: same, by: 'id' });
      taken.add(same);
    }
  }
  const leftByParams = new Map<string, TrialRecord[]>();
  for (const r of current) if (!taken.has(r)) leftByParams.set(paramKey(r), [...(leftByParams.get(paramKey(r)) ?? []), r]);
  for (const b of baseline) {
    if (pairs.has(b)) continue;
    const candidate = leftByParams.get(paramKey(b))?.find((r) => !taken.has(r));
    pairs.set(b, candidate ? { record: candidate, by: 'parameters' } : null);
    if (candidate) taken.add(candidate);
  }

  const rows: CompareRow[] = [];
  for (const metric of options.metrics) {
    const mode = options.mode ?? improvingMode(metric);
    for (const b of baseline) {
      const pair = pairs.get(b) ?? null;
      const base = b.final[metric];
      const cur = pair && pair.record.status !== 'failed' ? pair.record.final[metric] : undefined;
      const row: CompareRow = {
        metric, mode, id: b.id, newId: pair && pair.record.id !== b.id ? pair.record.id : null, matchedBy: pair?.by ?? null,
        parameters: b.parameters, seed: b.seed, baseline: finite(base), current: finite(cur), delta: null, outcome: 'unchanged',
      };
      if (b.status === 'failed' || row.baseline === null) row.outcome = 'skipped';
      else if (!pair) row.outcome = 'missing';
      else if (row.current === null) row.outcome = 'failed';
      else {
        row.delta = row.current - row.baseline;
        const worse = mode === 'min' ? row.delta : -row.delta;
        const allowed = options.tolerance.kind === 'absolute' ? options.tolerance.value : options.tolerance.fraction * Math.abs(row.baseline);
        // A hair of slack so that a tolerance written as 0.05 accepts a change printed as 0.0500.
        const slack = 1e-12 * Math.max(1, Math.abs(row.baseline));
        row.outcome = row.delta === 0 ? 'unchanged' : worse > allowed + slack ? 'regressed' : -worse > allowed + slack ? 'improved' : 'within';
      }
      rows.push(row);
    }
    for (const r of current) {
      if (taken.has(r)) continue;
      rows.push({
        metric, mode, id: r.id, newId: null, matchedBy: null, parameters: r.parameters, seed: r.seed,
        baseline: null, current: finite(r.final[metric]), delta: null, outcome: 'new',
      });
    }
  }
  const counts: Record<CompareOutcome, number> = { regressed: 0, missing: 0, failed: 0, improved: 0, within: 0, unchanged: 0, skipped: 0, new: 0 };
  for (const r of rows) counts[r.outcome]++;
  return { rows, counts, ok: counts.regressed + counts.missing + counts.failed === 0 };
}

function finite(v: number | undefined): number | null {
  return v !== undefined && v !== null && Number.isFinite(v) ? v : null;
}
