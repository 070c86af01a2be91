/**
 * CSV data: a header row, numeric feature columns, and one target column that is either numeric
 * (read as numbers) or text (class names, mapped to indices in sorted order of the names).
 * Every problem is an InputError whose `where` points at the cell: `file:row:column`, with the
 * row counted as a line of the file (the header is row 1) and the column named.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { InputError } from '../errors.js';

/** A data table: what the CSV reader and the built-in generators both produce. */
export interface Table {
  /** rows x featureNames.length, row-major. */
  x: Float64Array;
  /** One value per row: the number read, or the class index when `classes` is set. */
  target: Float64Array;
  rows: number;
  featureNames: string[];
  /** Class names in index order, or null for a numeric target. */
  classes: string[] | null;
  /** Set by sequence generators: each row is `[steps, features]`, step-major. */
  featureShape?: number[];
}

export interface CsvColumns {
  /** Feature column names, in the order the model sees them; omitted: every column but the target. */
  features?: string[];
  /** The target column; omitted (for predicting on new data): no target is read. */
  target?: string;
  /**
   * Known class names (from training): a text target is mapped onto these instead of onto the
   * names found in this file, so indices agree with the trained model.
   */
  classes?: string[];
}

interface ParsedRecord {
  record: string[];
  info: { lines: number };
}

/**
 * Reads `path`; `where` in errors is `path` itself (pass it as the user wrote it), and `from`
 * names the setting or flag that gave it.
 */
export function readCsv(path: string, columns: CsvColumns, from = 'data.path'): Table {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const relative = from === 'data.path' ? ' (it is relative to the model file\'s folder)' : '';
    if (code === 'ENOENT') throw new InputError(`CSV file not found; check ${from}${relative}`, path);
    if (code === 'EISDIR') throw new InputError(`this is a folder, not a CSV file; point ${from} at the .csv file`, path);
    throw new InputError(`cannot read the CSV file (${code ?? String(err)}); check its permissions`, path);
  }
  return parseCsv(text, path, columns);
}

/** Parses CSV text; `file` names it in errors. */
export function parseCsv(text: string, file: string, columns: CsvColumns): Table {
  let records: ParsedRecord[];
  try {
    // The typings assume `info: false`; with `info: true` each record comes wrapped with its position.
    records = parse(text, {
      info: true,
      bom: true,
      // Any line ending, mixed too (a Windows file with rows appended on Linux).
      record_delimiter: ['\r\n', '\n', '\r'],
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
    }) as unknown as ParsedRecord[];
  } catch (err) {
    const e = err as { message?: string; lines?: number };
    const line = typeof e.lines === 'number' ? `:${e.lines}` : '';
    throw new InputError(`not valid CSV: ${e.message ?? String(err)}`, `${file}${line}`);
  }
  if (records.length === 0) throw new InputError('the CSV file is empty; it needs a header row and at least one data row', file);
  const header = records[0]!.record;
  const headerLine = records[0]!.info.lines;
  const seen = new Map<string, number>();
  header.forEach((name, i) => {
    if (name === '') throw new InputError(`column ${i + 1} has an empty name; give every column a name in the header row`, `${file}:${headerLine}`);
    if (seen.has(name)) throw new InputError(`column '${name}' appears twice in the header; rename one of them`, `${file}:${headerLine}:${name}`);
    seen.set(name, i);
  });
  if (records.length === 1) throw new InputError('the CSV file has a header but no data rows', file);

  const columnIndex = (name: string, role: string): number => {
    const i = seen.get(name);
    if (i !== undefined) return i;
    const close = closestName(name, header);
    const hint = close ? `did you mean '${close}'? ` : '';
    throw new InputError(`no ${role} column '${name}'; ${hint}the columns are: ${header.join(', ')}`, `${file}:${headerLine}`);
  };

  const target = columns.target;
  const targetCol = target === undefined ? -1 : columnIndex(target, 'target');
  const featureNames = columns.features ?? header.filter((_, i) => i !== targetCol);
  const featureCols = featureNames.map((name) => {
    if (name === target) throw new InputError(`column '${name}' is both the target and a feature; remove it from data.features`, `${file}:${headerLine}:${name}`);
    return columnIndex(name, 'feature');
  });
  if (featureCols.length === 0) throw new InputError('no feature columns to read; list them in data.features, or leave it out to use every column but the target', file);

  const rows = records.length - 1;
  const f = featureCols.length;
  const x = new Float64Array(rows * f);
  const targetText: string[] = [];
  const targetLines: number[] = [];
  for (let r = 0; r < rows; r++) {
    const { record, info } = records[r + 1]!;
    const line = info.lines;
    if (record.length !== header.length) {
      throw new InputError(`row has ${record.length} cells but the header has ${header.length}; fix the row or quote a cell that contains a comma`, `${file}:${line}`);
    }
    for (let j = 0; j < f; j++) {
      const col = featureCols[j]!;
      x[r * f + j] = readNumber(record[col]!, `${file}:${line}:${header[col]}`);
    }
    if (targetCol >= 0) {
      targetText.push(record[targetCol]!);
      targetLines.push(line);
    }
  }

  if (targetCol < 0) return { x, target: new Float64Array(0), rows, featureNames: [...featureNames], classes: null };
  const where = (r: number): string => `${file}:${targetLines[r]}:${target}`;
  const numeric = columns.classes === undefined && targetText.every((s) => NUMBER.test(s) || missingValue(s) !== null);
  const values = new Float64Array(rows);
  if (numeric) {
    for (let r = 0; r < rows; r++) values[r] = readNumber(targetText[r]!, where(r));
    return { x, target: values, rows, featureNames: [...featureNames], classes: null };
  }
  for (let r = 0; r < rows; r++) {
    if (targetText[r] === '') throw new InputError('empty target cell; every row needs a class name (or remove the row)', where(r));
  }
  const classes = columns.classes ?? [...new Set(targetText)].sort();
  const index = new Map(classes.map((name, i) => [name, i]));
  for (let r = 0; r < rows; r++) {
    const text = targetText[r]!;
    // Classes learnt from a numeric column are named by String(value): '3' also matches '3.0'.
    const i = index.get(text) ?? (NUMBER.test(text) ? index.get(String(Number(text))) : undefined);
    if (i === undefined) {
      throw new InputError(`unknown class '${clip(text)}'; the model was trained on: ${classes.join(', ')}`, where(r));
    }
    values[r] = i;
  }
  return { x, target: values, rows, featureNames: [...featureNames], classes: [...classes] };
}

/** A cell as an error message quotes it: at most 40 characters. */
const clip = (cell: string): string => (cell.length > 40 ? `${cell.slice(0, 40)}...` : cell);

/** A decimal number as people write them: no hex, no blanks, no `Infinity`. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Recognises spellings of a missing or non-finite value, so the error can say which it is. */
function missingValue(cell: string): string | null {
  if (cell === '') return 'empty cell';
  const lower = cell.toLowerCase();
  if (lower === 'nan' || lower === 'na' || lower === 'n/a' || lower === 'null') return `missing value '${clip(cell)}'`;
  if (/^[+-]?(inf|infinity)$/.test(lower)) return `infinite value '${clip(cell)}'`;
  return null;
}

function readNumber(cell: string, where: string): number {
  if (NUMBER.test(cell)) {
    const v = Number(cell);
    if (Number.isFinite(v)) return v;
    throw new InputError(`'${clip(cell)}' overflows to infinity; rescale the column`, where);
  }
  const missing = missingValue(cell);
  if (missing) throw new InputError(`${missing}; rmad does not impute data: fill or drop the row`, where);
  throw new InputError(`'${clip(cell)}' is not a number; feature columns must be numeric (leave text columns out of data.features)`, where);
}

/**
 * The candidate nearest to `name`, if it is close enough to be a likely typo: same letters up
 * to case, or an edit distance of at most a third of the name (at least 1, at most 3).
 */
export function closestName(name: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  for (const c of candidates) {
    if (c.toLowerCase() === name.toLowerCase()) return c;
    const d = editDistance(name, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : null;
}

/** Edit distance counting an insertion, deletion, substitution or swap of neighbours as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
