/**
 * What every command shares: how errors become one line and an exit code, and how tables are
 * drawn. Commands parse flags and print; the library underneath never prints.
 */
import { InputError } from '../errors.js';
import { GpuDtypeError, NoGpuError } from '../engine/backends/webgpu/index.js';

export const EXIT = { ok: 0, failed: 1, input: 2, interrupted: 130 } as const;

/** Thrown by a command to end with an exit code after it printed what it had to say. */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

let debug = false;
export function setDebug(on: boolean): void {
  debug = on;
}

/** Prints an error the way a user can act on, and returns the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof Exit) return e.code;
  if (e instanceof InputError) {
    process.stderr.write(`${e.line()}\n`);
    if (debug && e.stack) process.stderr.write(`${e.stack}\n`);
    return EXIT.input;
  }
  // A device the machine lacks, or a dtype it cannot run, is a wrong choice of flags.
  if (e instanceof NoGpuError || e instanceof GpuDtypeError) {
    process.stderr.write(`rmad: ${e.message}\n`);
    return EXIT.input;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`rmad: ${err.name === 'Error' ? '' : `${err.name}: `}${err.message}\n`);
  if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
  else if (err.name !== 'DivergedError') process.stderr.write('rmad: run again with --debug for the stack trace\n');
  return EXIT.failed;
}

/**
 * A whole-number flag's value (parsed by yargs, or its text), checked: at least `min` and exact
 * in a double. The error quotes the value as typed (yargs turns `--seed abc` into NaN).
 */
export function wholeNumber(flag: string, value: number | string, min: number): number {
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (Number.isSafeInteger(n) && n >= min) return n;
  const limit = Math.abs(n) > Number.MAX_SAFE_INTEGER ? `at most 2^53 - 1` : `a whole number >= ${min}`;
  throw new InputError(`takes ${limit}, got '${typed(flag, value)}'`, flag);
}

/** Whether `flag` is on the command line (as `--flag v` or `--flag=v`). */
export function given(flag: string): boolean {
  return process.argv.some((a) => a === flag || a.startsWith(`${flag}=`));
}

/** A flag's value as typed (`--flag v` or `--flag=v`, the last time it was given), else as parsed. */
export function typed(flag: string, value: unknown): string {
  const args = process.argv;
  let found = String(value);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag && i + 1 < args.length) found = args[i + 1]!;
    else if (args[i]!.startsWith(`${flag}=`)) found = args[i]!.slice(flag.length + 1);
  }
  return found;
}

/** A plain text table with aligned columns; numbers are right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const line = (r: readonly string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** A metric value as people read it. */
export function fmt(v: number | undefined): string {
  if (v === undefined) return '-';
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4);
}
