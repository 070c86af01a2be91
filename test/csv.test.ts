import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { closestName, parseCsv, readCsv } from '../src/loaders/csv.js';
import { inputError } from './helpers.js';

const fixtures = fileURLToPath(new URL('../../test/fixtures/data/', import.meta.url));
const datasets = fileURLToPath(new URL('../../datasets/', import.meta.url));


test('text target: classes in sorted order, features default to every other column', () => {
  const t = readCsv(`${fixtures}animals.csv`, { target: 'kind' });
  assert.equal(t.featureNames, ['height', 'weight', 'colour']);
  assert.equal(t.classes, ['bird', 'cat', 'dog']);
  assert.is(t.rows, 4);
  assert.equal([...t.target], [1, 2, 1, 0]);
  assert.equal([...t.x], [1.5, 60, 3, 2.5, 70, 1, 3.5, 80, 2, 4, 90, 5]);
});

test('chosen features come in the order asked', () => {
  const t = readCsv(`${fixtures}animals.csv`, { features: ['colour', 'height'], target: 'kind' });
  assert.equal(t.featureNames, ['colour', 'height']);
  assert.equal([...t.x], [3, 1.5, 1, 2.5, 2, 3.5, 5, 4]);
});

test('numeric target is read as numbers, classes null', () => {
  const t = readCsv(`${fixtures}animals.csv`, { features: ['height', 'colour'], target: 'weight' });
  assert.is(t.classes, null);
  assert.equal([...t.target], [60, 70, 80, 90]);
});

test('known classes map a new file onto the training indices', () => {
  const t = parseCsv('a,y\n1,cat\n2,dog\n', 'new.csv', { target: 'y', classes: ['bird', 'cat', 'dog'] });
  assert.equal([...t.target], [1, 2]);
  const numeric = parseCsv('a,y\n1,3.0\n2,0\n', 'new.csv', { target: 'y', classes: ['0', '3'] });
  assert.equal([...numeric.target], [1, 0]);
  const e = inputError(() => parseCsv('a,y\n1,cat\n2,emu\n', 'new.csv', { target: 'y', classes: ['cat', 'dog'] }));
  assert.is(e.where, 'new.csv:3:y');
  assert.match(e.message, "unknown class 'emu'");
});

test('no target: features only, for predicting on new data', () => {
  const t = parseCsv('a,b\n1,2\n3,4\n', 'in.csv', {});
  assert.equal(t.featureNames, ['a', 'b']);
  assert.is(t.target.length, 0);
  assert.equal([...t.x], [1, 2, 3, 4]);
});

test('byte order mark, CRLF line ends, quoted numbers and a trailing blank line', () => {
  const t = readCsv(`${fixtures}bom-crlf.csv`, { target: 'label' });
  assert.equal(t.featureNames, ['x0', 'x1']);
  assert.equal([...t.x], [1, 2, 3, 4]);
  assert.equal(t.classes, ['no', 'yes']);
  assert.equal([...t.target], [1, 0]);
});

test('the shipped data sets read as documented', () => {
  const iris = readCsv(`${datasets}iris.csv`, { target: 'species' });
  assert.is(iris.rows, 150);
  assert.equal(iris.classes, ['setosa', 'versicolor', 'virginica']);
  assert.equal([...iris.x.subarray(0, 4)], [5.1, 3.5, 1.4, 0.2]);
  const digits = readCsv(`${datasets}digits.csv`, { target: 'digit' });
  assert.is(digits.rows, 1797);
  assert.is(digits.featureNames.length, 64);
  assert.is(digits.classes, null);
  assert.ok(digits.target.every((d) => Number.isInteger(d) && d >= 0 && d <= 9));
});

test('error: missing file names the path and what to check', () => {
  const path = `${fixtures}no-such.csv`;
  const e = inputError(() => readCsv(path, { target: 'y' }));
  assert.is(e.where, path);
  assert.match(e.message, 'not found');
  assert.match(e.message, 'data.path');
});

test('error: a file given by a flag names the flag, not data.path', () => {
  const e = inputError(() => readCsv(`${fixtures}no-such.csv`, { target: 'y' }, '--input'));
  assert.is(e.message, 'CSV file not found; check --input');
  assert.is(inputError(() => readCsv(fixtures, {}, '--data')).message, 'this is a folder, not a CSV file; point --data at the .csv file');
});

test('mixed line endings: rows appended with another line end are rows of their own', () => {
  const t = parseCsv('a,y\r\n1,p\r\n2,q\n3,p\r4,q\r\n', 'mixed.csv', { target: 'y' });
  assert.equal([...t.x], [1, 2, 3, 4]);
  const e = inputError(() => parseCsv('a,y\r\n1,p\n2,q,r\r\n', 'mixed.csv', { target: 'y' }));
  assert.is(e.where, 'mixed.csv:3', 'the file line of the ragged row');
});

test('error: a binary file is quoted printably and briefly', () => {
  const garbage = `a,y\n\u0001\u0002${'\u0000'.repeat(100)},p\n`;
  const e = inputError(() => parseCsv(garbage, 'bin.csv', { target: 'y' }));
  assert.not.match(e.line(), /[\u0000-\u001f]/, 'no control characters');
  assert.match(e.line(), /^bin\.csv:2:a: '\\x01\\x02(\\x00){38}\.\.\.' is not a number/);
});

test('error: empty file', () => {
  const path = `${fixtures}empty.csv`;
  const e = inputError(() => readCsv(path, { target: 'y' }));
  assert.is(e.where, path);
  assert.match(e.message, 'empty');
});

test('error: header without data rows', () => {
  const e = inputError(() => parseCsv('a,y\n', 'h.csv', { target: 'y' }));
  assert.is(e.where, 'h.csv');
  assert.match(e.message, 'no data rows');
});

test('error: missing target column lists the columns and suggests the close one', () => {
  const e = inputError(() => readCsv(`${fixtures}animals.csv`, { target: 'knid' }));
  assert.is(e.where, `${fixtures}animals.csv:1`);
  assert.match(e.message, "no target column 'knid'");
  assert.match(e.message, "did you mean 'kind'?");
  assert.match(e.message, 'height, weight, colour, kind');
});

test('error: missing feature column without a close name gives no suggestion', () => {
  const e = inputError(() => readCsv(`${fixtures}animals.csv`, { features: ['height', 'temperature'], target: 'kind' }));
  assert.match(e.message, "no feature column 'temperature'");
  assert.not.match(e.message, 'did you mean');
});

test('error: non-numeric feature cell points at row and column', () => {
  const e = inputError(() => readCsv(`${fixtures}text-in-feature.csv`, { target: 'y' }));
  assert.is(e.where, `${fixtures}text-in-feature.csv:3:b`);
  assert.match(e.message, "'four' is not a number");
});

test('error: ragged row', () => {
  const e = inputError(() => readCsv(`${fixtures}ragged.csv`, { target: 'y' }));
  assert.is(e.where, `${fixtures}ragged.csv:4`);
  assert.match(e.message, 'row has 2 cells but the header has 3');
});

test('error: NaN, empty and infinite cells, each at its own cell', () => {
  const path = `${fixtures}missing.csv`;
  const nan = inputError(() => readCsv(path, { target: 'y' }));
  assert.is(nan.where, `${path}:3:b`);
  assert.match(nan.message, "missing value 'NaN'");
  const empty = inputError(() => parseCsv('a,b,y\n1,2,0\n5,,0\n', 'e.csv', { target: 'y' }));
  assert.is(empty.where, 'e.csv:3:b');
  assert.match(empty.message, 'empty cell');
  const inf = inputError(() => parseCsv('a,b,y\n7,-Infinity,1\n', 'i.csv', { target: 'y' }));
  assert.is(inf.where, 'i.csv:2:b');
  assert.match(inf.message, "infinite value '-Infinity'");
  const overflow = inputError(() => parseCsv('a,y\n1e999,1\n', 'o.csv', { target: 'y' }));
  assert.is(overflow.where, 'o.csv:2:a');
  assert.match(overflow.message, 'overflows');
});

test('error: NaN in a numeric target column', () => {
  const e = inputError(() => parseCsv('a,y\n1,0.5\n2,nan\n', 't.csv', { target: 'y' }));
  assert.is(e.where, 't.csv:3:y');
  assert.match(e.message, "missing value 'nan'");
});

test('error: empty cell in a text target column', () => {
  const e = inputError(() => parseCsv('a,y\n1,cat\n2,\n', 't.csv', { target: 'y' }));
  assert.is(e.where, 't.csv:3:y');
  assert.match(e.message, 'empty target cell');
});

test('error: row numbers are file lines, counting skipped blank lines', () => {
  const e = inputError(() => parseCsv('a,y\n1,0\n\n2,x1\n\n3,oops\n', 'l.csv', { features: ['y'] }));
  assert.is(e.where, 'l.csv:4:y');
  const later = inputError(() => parseCsv('a,y\n1,0\n\n\nq,1\n', 'l.csv', { target: 'y' }));
  assert.is(later.where, 'l.csv:5:a');
});

test('error: hex, blank-padded and malformed numbers are not numbers', () => {
  for (const cell of ['0x10', '1,5', '1..2', '--1', 'e5']) {
    const e = inputError(() => parseCsv(`a,y\n"${cell}",1\n`, 'n.csv', { target: 'y' }));
    assert.is(e.where, 'n.csv:2:a', cell);
  }
});

test('error: duplicate header and target listed as a feature', () => {
  const dup = inputError(() => parseCsv('a,a,y\n1,2,3\n', 'd.csv', { target: 'y' }));
  assert.is(dup.where, 'd.csv:1:a');
  assert.match(dup.message, 'appears twice');
  const both = inputError(() => parseCsv('a,y\n1,2\n', 'd.csv', { features: ['a', 'y'], target: 'y' }));
  assert.match(both.message, 'both the target and a feature');
});

test('error: unclosed quote is reported as invalid CSV with its line', () => {
  const e = inputError(() => parseCsv('a,y\n1,"2\n3,4\n', 'q.csv', { target: 'y' }));
  assert.match(e.where ?? '', /^q\.csv:\d+$/);
  assert.match(e.message, 'not valid CSV');
});

test('error: no feature columns, and a folder given as the file', () => {
  const only = inputError(() => parseCsv('y\n1\n', 'y.csv', { target: 'y' }));
  assert.is(only.where, 'y.csv');
  assert.match(only.message, 'no feature columns');
  const folder = inputError(() => readCsv(fixtures, { target: 'y' }));
  assert.is(folder.where, fixtures);
  assert.match(folder.message, 'folder');
});

test('closestName: case, typos, and nothing when far', () => {
  assert.is(closestName('Species', ['species', 'x']), 'species');
  assert.is(closestName('sepal_lenght', ['sepal_length', 'petal_length']), 'sepal_length');
  assert.is(closestName('zzz', ['species', 'digit']), null);
});

test.run();
