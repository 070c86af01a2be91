// Helpers shared by the test files (not a test file itself).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { InputError } from '../src/errors.js';

/** Runs `f`, requires an InputError, and returns it for the caller to inspect. */
export function inputError(f: () => unknown): InputError {
  try {
    f();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  assert.unreachable('expected an InputError, nothing was thrown');
  throw new Error('unreachable');
}

/** The command line's entry, bin/rmad. */
export const bin = new URL('../../bin/rmad', import.meta.url).pathname;

/** Runs the command line as a user would, in `cwd`: exit code, output, and its last line. */
export function rmad(args: readonly string[], cwd: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, last: r.stdout.trimEnd().split('\n').at(-1) };
}

/** Runs each command line in `cwd`: each must exit 2 with one line on stderr that matches its pattern. */
export function expectBadInput(cwd: string, cases: readonly (readonly [readonly string[], RegExp])[]): void {
  for (const [args, expected] of cases) {
    const r = rmad(args, cwd);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.is(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim(), expected);
  }
}

/** A fresh temporary folder holding `files` (name -> text). */
export function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'rmad-test-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
