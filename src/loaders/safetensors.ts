/**
 * The safetensors weights format, as published by Hugging Face (the format PyTorch, JAX and the
 * Hugging Face tools read):
 *
 *   bytes 0..8      N, the header length, a little-endian u64
 *   bytes 8..8+N    the header: UTF-8 JSON, starting with `{`, padded with spaces;
 *                   `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`
 *   bytes 8+N..     the byte buffer; each tensor's little-endian values lie at [begin, end) of it,
 *                   the tensors cover the buffer exactly, without gaps or overlaps
 *
 * rmad writes F32 and F64 and reads only those; other dtypes are refused with a message that
 * says so. The writer is deterministic: tensors in sorted name order, header padded to a
 * multiple of 8 bytes (so the buffer starts aligned), so the same weights give the same bytes.
 */
import { InputError } from '../errors.js';
import type { DType } from '../engine/tensor.js';
import { isCount, isObject } from './json.js';

export interface NamedTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | Float64Array;
}

export interface Safetensors {
  tensors: Record<string, NamedTensor>;
  metadata: Record<string, string>;
}

const CODE: Record<DType, 'F32' | 'F64'> = { float32: 'F32', float64: 'F64' };
const ITEM_SIZE: Record<DType, number> = { float32: 4, float64: 8 };
/** Dtypes of the published format that rmad does not read. */
const OTHER_DTYPES = new Set(['BOOL', 'U8', 'I8', 'U16', 'I16', 'F16', 'BF16', 'U32', 'I32', 'U64', 'I64', 'F8_E4M3', 'F8_E5M2']);
/** Larger headers are refused before parsing: a corrupt length must not allocate gigabytes (the reference reader's limit). */
const MAX_HEADER = 100_000_000;
const METADATA = '__metadata__';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeSafetensors(tensors: Record<string, NamedTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    const sorted: Record<string, string> = {};
    for (const key of Object.keys(metadata).sort()) sorted[key] = metadata[key]!;
    header[METADATA] = sorted;
  }
  let offset = 0;
  for (const name of names) {
    if (name === METADATA) throw new RangeError(`encodeSafetensors: '${METADATA}' is reserved and cannot name a tensor`);
    const t = tensors[name]!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== count) {
      throw new RangeError(`encodeSafetensors: tensor '${name}' has shape [${t.shape.join(',')}] (${count} values) but ${t.data.length} values`);
    }
    const bytes = count * ITEM_SIZE[t.dtype];
    header[name] = { dtype: CODE[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(headerBytes, 8);
  out.fill(0x20, 8 + headerBytes.length, 8 + padded);
  let at = 8 + padded;
  for (const name of names) {
    const t = tensors[name]!;
    if (t.dtype === 'float32') for (let i = 0; i < t.data.length; i++, at += 4) view.setFloat32(at, t.data[i]!, true);
    else for (let i = 0; i < t.data.length; i++, at += 8) view.setFloat64(at, t.data[i]!, true);
  }
  return out;
}

/** Parses and validates a safetensors file; every problem is an InputError at `where` (the file's path). */
export function decodeSafetensors(bytes: Uint8Array, where: string): Safetensors {
  const fail = (what: string): never => {
    throw new InputError(`not a valid safetensors file: ${what}`, where);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(bytes.length - 8)) {
    fail(`header length ${declared} exceeds the ${bytes.length - 8} bytes that follow it (a truncated file, or not safetensors)`);
  }
  if (declared > BigInt(MAX_HEADER)) fail(`header length ${declared} is over the ${MAX_HEADER}-byte limit`);
  const n = Number(declared);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('the header is not UTF-8');
  }
  if (!text.startsWith('{')) fail('the header does not start with {');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    return fail(`the header is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(header)) return fail('the header is not a JSON object');

  const metadata: Record<string, string> = {};
  const entries: { name: string; tensor: NamedTensor; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA) {
      if (!isObject(info)) return fail(`${METADATA} must be an object of strings`);
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') return fail(`${METADATA}.${k} must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    if (!isObject(info)) return fail(`tensor '${name}' must be an object with dtype, shape and data_offsets`);
    const extra = Object.keys(info).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
    if (extra.length > 0) fail(`tensor '${name}' has unknown field(s) ${extra.join(', ')}`);
    const { dtype: code, shape, data_offsets: offsets } = info;
    const dtype = code === 'F32' ? 'float32' : code === 'F64' ? 'float64' : null;
    if (dtype === null) {
      if (typeof code === 'string' && OTHER_DTYPES.has(code)) {
        throw new InputError(`tensor '${name}' has dtype ${code}, which rmad does not read; convert the weights to F32 or F64 (e.g. tensor.float() in PyTorch) and save again`, where);
      }
      return fail(`tensor '${name}' has unknown dtype ${JSON.stringify(code)}`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) return fail(`tensor '${name}' shape must be a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      return fail(`tensor '${name}' data_offsets must be [begin, end], two non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end < begin) fail(`tensor '${name}' data_offsets [${begin}, ${end}] end before they begin`);
    if (end - begin !== count * ITEM_SIZE[dtype]) {
      fail(`tensor '${name}' of shape [${shape.join(',')}] ${code} needs ${count * ITEM_SIZE[dtype]} bytes, its data_offsets span ${end - begin}`);
    }
    entries.push({ name, tensor: { dtype, shape: shape as number[], data: new Float32Array(0) }, begin, end });
  }

  const bufferStart = 8 + n;
  const bufferLength = bytes.length - bufferStart;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) {
      fail(e.begin < expected ? `tensor '${e.name}' overlaps the tensor before it (it begins at ${e.begin}, before ${expected})` : `a gap of unindexed bytes before tensor '${e.name}' (${expected}..${e.begin})`);
    }
    if (e.end > bufferLength) fail(`tensor '${e.name}' ends at byte ${e.end} of a ${bufferLength}-byte buffer (the file is truncated)`);
    expected = e.end;
  }
  if (expected !== bufferLength) fail(`${bufferLength - expected} trailing bytes after the last tensor`);

  const tensors: Record<string, NamedTensor> = {};
  for (const e of entries) {
    e.tensor.data = readValues(bytes, bufferStart + e.begin, bufferStart + e.end, e.tensor.dtype);
    tensors[e.name] = e.tensor;
  }
  return { tensors, metadata };
}

function readValues(bytes: Uint8Array, begin: number, end: number, dtype: DType): Float32Array | Float64Array {
  const count = (end - begin) / ITEM_SIZE[dtype];
  if (LITTLE_ENDIAN) {
    // Copy into a fresh buffer: the file's offsets need not be aligned for a typed-array view.
    const copy = bytes.slice(begin, end).buffer;
    return dtype === 'float32' ? new Float32Array(copy, 0, count) : new Float64Array(copy, 0, count);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + begin, end - begin);
  if (dtype === 'float32') return Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true));
  return Float64Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, true));
}

