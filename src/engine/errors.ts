/** Errors of the engine, each a class of its own so callers can tell them apart. */

/** An op received variables of two different contexts. */
export class ContextMismatchError extends Error {
  override name = 'ContextMismatchError';
}

/** `wrt()` asked for the gradient of a variable that does not require one. */
export class FrozenError extends Error {
  override name = 'FrozenError';
}

/** A value saved by a recorded graph was replaced before `grad()` ran over that graph. */
export class VersionError extends Error {
  override name = 'VersionError';
}

/** Anomaly mode: a backward rule produced NaN or Inf. */
export class AnomalyError extends Error {
  override name = 'AnomalyError';
}

/** An argument that makes no sense for the op (wrong rank, out-of-range index, ...). */
export class OpError extends Error {
  override name = 'OpError';
}
