/**
 * The layers, losses and optimizers that model files are built of, for TypeScript code: the same
 * classes `rmad train` uses, exported from the package's entry.
 */
import { binaryCrossEntropy, hinge, mse, softmaxCrossEntropy } from './losses.js';

export { Dense, GRU, LSTM, RNN, Sequential } from './layers.js';
export type { DenseOptions, Layer, NamedParameter, RecurrentOptions } from './layers.js';
export { Optimizer, clipByGlobalNorm } from './optimizers.js';
export type { OptimizerSettings } from './optimizers.js';
export type { Activation, Initializer } from '../loaders/spec.js';

/**
 * The losses of model files, each the mean over the batch (`softmaxCrossEntropy` here, not the
 * per-row op of the same name).
 */
export const losses = { hinge, mse, binaryCrossEntropy, softmaxCrossEntropy };
