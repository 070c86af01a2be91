/**
 * Initialisers, drawn from a seeded stream. glorot: uniform in ±√(6 / (fan_in + fan_out))
 * (Glorot and Bengio, 2010); he: normal with standard deviation √(2 / fan_in) (He et al., 2015);
 * zeros.
 */
import type { Rng } from '../engine/random.js';
import type { Initializer } from '../loaders/spec.js';

export function initialize(kind: Initializer, size: number, fanIn: number, fanOut: number, rng: Rng): Float64Array {
  const out = new Float64Array(size);
  if (kind === 'glorot') {
    const a = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < size; i++) out[i] = rng.range(-a, a);
  } else if (kind === 'he') {
    const sd = Math.sqrt(2 / fanIn);
    for (let i = 0; i < size; i++) out[i] = rng.normal() * sd;
  }
  return out;
}
