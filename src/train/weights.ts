/**
 * Model weights in the safetensors format (what PyTorch, JAX and Hugging Face tools read):
 * one tensor per parameter, named `layer.param`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { DType } from '../engine/tensor.js';
import type { Sequential } from '../layers/layers.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../loaders/safetensors.js';

export function modelTensors(model: Sequential): Record<string, NamedTensor> {
  const out: Record<string, NamedTensor> = {};
  for (const p of model.parameters()) {
    const v = p.variable;
    const data = v.data();
    out[p.name] = { dtype: v.dtype, shape: [...v.shape], data: v.dtype === 'float32' ? Float32Array.from(data) : Float64Array.from(data) };
  }
  return out;
}

export function encodeWeights(model: Sequential, metadata: Record<string, string>): Uint8Array {
  return encodeSafetensors(modelTensors(model), { format: 'rmad', ...metadata });
}

/** Reads a weights file, or a run folder's weights.safetensors; `missing` says what to do where there is none. */
export function readWeights(path: string, missing = 'train the model it comes from first, or point init.from at a run folder or a .safetensors file'): Record<string, NamedTensor> {
  let file = path;
  if (existsSync(path) && statSync(path).isDirectory()) file = join(path, 'weights.safetensors');
  if (!existsSync(file)) throw new InputError(`no weights file here; ${missing}`, file);
  return decodeSafetensors(new Uint8Array(readFileSync(file)), file).tensors;
}

export interface LoadReport {
  loaded: string[];
  skipped: { name: string; reason: string }[];
}

/**
 * Copies weights into the model's parameters: those of `layers` (every layer by default).
 * `strict`: a missing tensor or a shape mismatch is an error; otherwise it is skipped and reported.
 */
export function loadWeights(model: Sequential, tensors: Record<string, NamedTensor>, options: { layers?: readonly string[]; strict: boolean; where: string }): LoadReport {
  const report: LoadReport = { loaded: [], skipped: [] };
  const wanted = options.layers ? new Set(options.layers) : null;
  for (const p of model.parameters()) {
    if (wanted && !wanted.has(p.layer)) continue;
    const t = tensors[p.name];
    let reason: string | null = null;
    if (!t) reason = `the weights file has no tensor '${p.name}' (it has ${Object.keys(tensors).join(', ') || 'none'})`;
    else if (t.shape.length !== p.variable.rank || t.shape.some((d, i) => d !== p.variable.shape[i])) {
      reason = `'${p.name}' has shape [${t.shape.join(',')}] in the weights file and [${p.variable.shape.join(',')}] in the model`;
    }
    if (reason) {
      if (options.strict && (!wanted || t !== undefined || wanted.has(p.layer))) {
        throw new InputError(`${reason}; fix init.load or set init.strict: false to skip it`, options.where);
      }
      report.skipped.push({ name: p.name, reason });
      continue;
    }
    p.variable.assign(t!.data);
    report.loaded.push(p.name);
  }
  return report;
}

export function tensorData(t: NamedTensor, dtype: DType): Float32Array | Float64Array {
  return dtype === 'float32' ? Float32Array.from(t.data) : Float64Array.from(t.data);
}
