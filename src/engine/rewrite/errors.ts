/** Errors of tracing, compiling and rewriting, each a class of its own so callers can tell them apart. */

/**
 * The traced function did something a recorded graph cannot express: it read a traced value
 * (`item()`, `data()`, an `if` on a value), updated a variable in place, or used a value of
 * another trace.
 */
export class TraceError extends Error {
  override name = 'TraceError';
}

/** A rewrite rule of the table is malformed: unknown op, unbound variable, or a rule that does not shrink the cost. */
export class RuleError extends Error {
  override name = 'RuleError';
}

/** A compiled function was called with arguments it cannot take (no Variable, two contexts). */
export class CompileError extends Error {
  override name = 'CompileError';
}
