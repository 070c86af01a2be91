// rmad compare: new sweep results against a baseline, trial by trial; matching by id and then by
// parameters and seed, the direction of each metric, absolute and relative tolerances, and the
// command line's table, last line and exit codes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InputError } from '../src/errors.js';
import { compareResults, parseTolerance, type CompareOptions } from '../src/train/sweep-compare.js';
import type { TrialRecord } from '../src/train/sweep.js';
import { expectBadInput, rmad } from './helpers.js';


const rec = (id: string, lr: number, final: Record<string, number>, status: TrialRecord['status'] = 'ok', seed = 0): TrialRecord => ({
  id, trial: 1, parameters: { 'optimizer.lr': lr }, seed, status, final, best: null, run: `trials/${id}`, wallSeconds: 1,
});

const baseline = [
  rec('aaaaaaaaaaaa', 0.01, { 'val.loss': 0.5, 'val.accuracy': 0.8 }),
  rec('bbbbbbbbbbbb', 0.1, { 'val.loss': 0.2, 'val.accuracy': 0.9 }),
];
const abs = (value: number): CompareOptions['tolerance'] => ({ kind: 'absolute', value });

function outcomes(current: TrialRecord[], options: CompareOptions, base = baseline): string[] {
  return compareResults(base, current, options).rows.map((r) => `${r.metric} ${r.id} ${r.outcome}`);
}

test('tolerance: absolute, or relative with %', () => {
  assert.equal(parseTolerance('0.02'), { kind: 'absolute', value: 0.02 });
  assert.equal(parseTolerance('5%'), { kind: 'relative', fraction: 0.05 });
  assert.equal(parseTolerance('0'), { kind: 'absolute', value: 0 });
  for (const bad of ['', '%', '-1', 'abc', '5%%']) {
    assert.throws(() => parseTolerance(bad), (e: unknown) => e instanceof InputError && e.where === '--tolerance', bad);
  }
});

test('the same results pass; lower is better for losses, higher for accuracies', () => {
  const same = compareResults(baseline, baseline, { metrics: ['val.loss', 'val.accuracy'], tolerance: abs(0) });
  assert.ok(same.ok);
  assert.is(same.counts.unchanged, 4);
  const lossUp = [rec('aaaaaaaaaaaa', 0.01, { 'val.loss': 0.6, 'val.accuracy': 0.7 }), baseline[1]!];
  assert.equal(outcomes(lossUp, { metrics: ['val.loss', 'val.accuracy'], tolerance: abs(0.05) }), [
    'val.loss aaaaaaaaaaaa regressed', 'val.loss bbbbbbbbbbbb unchanged', 'val.accuracy aaaaaaaaaaaa regressed', 'val.accuracy bbbbbbbbbbbb unchanged',
  ]);
  const better = [rec('aaaaaaaaaaaa', 0.01, { 'val.loss': 0.4, 'val.accuracy': 0.95 }), baseline[1]!];
  assert.equal(outcomes(better, { metrics: ['val.loss', 'val.accuracy'], tolerance: abs(0.05) }).filter((o) => o.includes('aaa')), [
    'val.loss aaaaaaaaaaaa improved', 'val.accuracy aaaaaaaaaaaa improved',
  ]);
  assert.ok(compareResults(baseline, better, { metrics: ['val.loss'], tolerance: abs(0.05) }).ok, 'an improvement passes');
  // --mode overrides the direction taken from the name.
  assert.equal(outcomes(better, { metrics: ['val.loss'], tolerance: abs(0.05), mode: 'max' })[0], 'val.loss aaaaaaaaaaaa regressed');
});

test('tolerance: within passes, beyond fails; relative is a share of the baseline value', () => {
  const slightly = [rec('aaaaaaaaaaaa', 0.01, { 'val.loss': 0.52, 'val.accuracy': 0.8 }), baseline[1]!];
  const run = (t: string) => compareResults(baseline, slightly, { metrics: ['val.loss'], tolerance: parseTolerance(t) });
  assert.is(run('0.03').rows[0]!.outcome, 'within');
  assert.ok(run('0.03').ok);
  assert.is(run('0.01').rows[0]!.outcome, 'regressed');
  assert.not.ok(run('0.01').ok);
  assert.is(run('5%').rows[0]!.outcome, 'within', '0.02 is 4% of 0.5');
  assert.is(run('3%').rows[0]!.outcome, 'regressed');
  assert.is(run('0.02').rows[0]!.outcome, 'within', 'exactly at the tolerance passes');
  const row = run('0').rows[0]!;
  assert.equal([row.baseline, row.current], [0.5, 0.52]);
  assert.ok(Math.abs(row.delta! - 0.02) < 1e-12);
});

test('matching: by id, else by parameters and seed; missing and failed trials fail; new ones are listed', () => {
  // Every id changed (a default changed), the parameters and seeds did not.
  const renamed = [rec('cccccccccccc', 0.1, { 'val.loss': 0.2 }), rec('dddddddddddd', 0.01, { 'val.loss': 0.9 })];
  const r = compareResults(baseline, renamed, { metrics: ['val.loss'], tolerance: abs(0.1) });
  assert.equal(r.rows.map((x) => [x.id, x.newId, x.matchedBy, x.outcome]), [
    ['aaaaaaaaaaaa', 'dddddddddddd', 'parameters', 'regressed'],
    ['bbbbbbbbbbbb', 'cccccccccccc', 'parameters', 'unchanged'],
  ]);
  // Same parameters, another seed: no match.
  const otherSeed = [rec('cccccccccccc', 0.1, { 'val.loss': 0.2 }, 'ok', 7), baseline[0]!];
  assert.equal(outcomes(otherSeed, { metrics: ['val.loss'], tolerance: abs(0) }), ['val.loss aaaaaaaaaaaa unchanged', 'val.loss bbbbbbbbbbbb missing', 'val.loss cccccccccccc new']);
  assert.not.ok(compareResults(baseline, otherSeed, { metrics: ['val.loss'], tolerance: abs(0) }).ok, 'a missing trial fails');
  const failed = [rec('aaaaaaaaaaaa', 0.01, {}, 'failed'), baseline[1]!];
  assert.equal(outcomes(failed, { metrics: ['val.loss'], tolerance: abs(1) })[0], 'val.loss aaaaaaaaaaaa failed');
  assert.not.ok(compareResults(baseline, failed, { metrics: ['val.loss'], tolerance: abs(1) }).ok);
  // A baseline trial that failed is not compared; a gate-failed one is (it has metrics).
  const baseFailed = [rec('aaaaaaaaaaaa', 0.01, {}, 'failed'), rec('bbbbbbbbbbbb', 0.1, { 'val.loss': 0.2 }, 'gate-failed')];
  assert.equal(outcomes(baseline, { metrics: ['val.loss'], tolerance: abs(0) }, baseFailed), ['val.loss aaaaaaaaaaaa skipped', 'val.loss bbbbbbbbbbbb unchanged']);
});

test('bad input: an unknown metric, an empty baseline', () => {
  assert.throws(() => compareResults(baseline, baseline, { metrics: ['val.los'], tolerance: abs(0) }), (e: unknown) => e instanceof InputError && /no trial has the metric 'val\.los'; the trials have val\.accuracy, val\.loss/.test(e.message));
  assert.throws(() => compareResults([], baseline, { metrics: ['val.loss'], tolerance: abs(0) }), (e: unknown) => e instanceof InputError && /holds no trials/.test(e.message));
});


test('rmad compare: exit 0 on a pass, 1 on a regression with a table of what moved, 2 on bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rmad-compare-'));
  const jsonl = (records: TrialRecord[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');
  writeFileSync(join(dir, 'base.jsonl'), jsonl(baseline));
  writeFileSync(join(dir, 'worse.jsonl'), jsonl([rec('aaaaaaaaaaaa', 0.01, { 'val.loss': 0.6, 'val.accuracy': 0.8 }), baseline[1]!]));
  writeFileSync(join(dir, 'broken.jsonl'), `${JSON.stringify(baseline[0])}\n{"id": "x"}\n`);
  const same = rmad(['compare', 'base.jsonl', 'base.jsonl', '--metric', 'val.loss'], dir);
  assert.is(same.code, 0, same.stderr);
  assert.is(same.last, 'compare: 0 regressed, 0 improved, 0 within tolerance, 2 unchanged');
  const worse = rmad(['compare', 'base.jsonl', 'worse.jsonl', '--metric', 'val.loss', '--metric', 'val.accuracy', '--tolerance', '10%'], dir);
  assert.is(worse.code, 1, worse.stderr);
  assert.match(worse.stdout, /val\.loss \(min\)\s+aaaaaaaaaaaa\s+optimizer\.lr=0\.01, seed=0\s+0\.5000\s+0\.6000\s+\+0\.1000\s+regressed/);
  assert.not.match(worse.stdout, /bbbbbbbbbbbb/, 'unchanged trials are left out of the table');
  assert.is(worse.last, 'compare: 1 regressed, 0 improved, 0 within tolerance, 3 unchanged');
  const loose = rmad(['compare', 'base.jsonl', 'worse.jsonl', '--metric', 'val.loss', '--tolerance', '0.15'], dir);
  assert.is(loose.code, 0);
  assert.is(loose.last, 'compare: 0 regressed, 0 improved, 1 within tolerance, 1 unchanged');
  expectBadInput(dir, [
    [['compare', 'base.jsonl', 'worse.jsonl'], /--metric|metric/],
    [['compare', 'base.jsonl', 'worse.jsonl', '--metric', 'val.loss', '--tolerance', 'x'], /^--tolerance: expected a number >= 0/],
    [['compare', 'nowhere.jsonl', 'worse.jsonl', '--metric', 'val.loss'], /^nowhere\.jsonl: no such file/],
    [['compare', 'base.jsonl', 'broken.jsonl', '--metric', 'val.loss'], /^broken\.jsonl:2: not a trial record: missing 'parameters'$/],
    [['compare', 'base.jsonl', 'worse.jsonl', '--metric', 'test.loss'], /^--metric: no trial has the metric 'test\.loss'/],
  ]);
});

test('rmad compare: a results line of the wrong shape is bad input (exit 2, file:line), in the baseline or the new results', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rmad-compare-'));
  const line = (r: Record<string, unknown>) => `${JSON.stringify(r)}\n`;
  const good = line(baseline[1]! as unknown as Record<string, unknown>);
  const base = baseline[0]! as unknown as Record<string, unknown>;
  writeFileSync(join(dir, 'base.jsonl'), baseline.map((r) => line(r as unknown as Record<string, unknown>)).join(''));
  const cases: [string, string, RegExp][] = [
    ['string.jsonl', good + line({ ...base, final: { 'val.loss': '0.5' } }), /^string\.jsonl:2: not a trial record: 'final\.val\.loss' should be a number, got a string$/],
    ['null.jsonl', good + line({ ...base, final: { 'val.loss': null } }), /^null\.jsonl:2: not a trial record: 'final\.val\.loss' should be a number, got null$/],
    ['final.jsonl', line({ ...base, final: [0.5] }), /^final\.jsonl:1: not a trial record: 'final' should be an object of metric -> number, got an array$/],
    ['id.jsonl', line({ ...base, id: 7 }), /^id\.jsonl:1: not a trial record: 'id' should be a string, got a number$/],
    ['parameters.jsonl', line({ ...base, parameters: 'optimizer.lr=0.01' }), /^parameters\.jsonl:1: not a trial record: 'parameters' should be an object, got a string$/],
    ['seed.jsonl', line({ ...base, seed: '0' }), /^seed\.jsonl:1: not a trial record: 'seed' should be a number, got a string$/],
    ['dup.jsonl', good + line(base) + line(base), /^dup\.jsonl:3: trial 'aaaaaaaaaaaa' has a line already \(line 2\); keep one line per trial$/],
  ];
  for (const [name, text, message] of cases) {
    writeFileSync(join(dir, name), text);
    // As the baseline (where a bad value would be skipped) and as the new results (where it would fail).
    for (const args of [[name, 'base.jsonl'], ['base.jsonl', name]]) {
      const r = rmad(['compare', ...args, '--metric', 'val.loss'], dir);
      assert.is(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr.trim(), message);
    }
  }
});

test('rmad compare: a results file that starts with a byte-order mark reads as without it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rmad-compare-'));
  writeFileSync(join(dir, 'bom.jsonl'), `\uFEFF${baseline.map((r) => `${JSON.stringify(r)}\n`).join('')}`);
  const r = rmad(['compare', 'bom.jsonl', 'bom.jsonl', '--metric', 'val.loss'], dir);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.last, 'compare: 0 regressed, 0 improved, 0 within tolerance, 2 unchanged');
});

test.run();
