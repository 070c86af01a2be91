// Helpers shared by the test files (not a test file itself).
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
