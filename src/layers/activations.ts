/** The activations a layer may apply, by their model-file names. */
import type { Variable } from '../engine/variable.js';
import type { Activation } from '../loaders/spec.js';

export const activationFns: { [A in Activation]: (x: Variable) => Variable } = {
  identity: (x) => x,
  relu: (x) => x.relu(),
  // slope 0.01, as PyTorch's default
  leaky_relu: (x) => x.leakyRelu(0.01),
  tanh: (x) => x.tanh(),
  sigmoid: (x) => x.sigmoid(),
  softmax: (x) => x.softmax(-1),
  gelu: (x) => x.gelu(),
};

export function activate(x: Variable, activation: Activation): Variable {
  return activationFns[activation](x);
}
