import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/loaders/atomic.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../src/loaders/safetensors.js';
import { inputError } from './helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const script = join(root, 'scripts/safetensors_ref.py');
const fixture = join(root, 'test/fixtures/data/reference.safetensors');
const dir = mkdtempSync(join(tmpdir(), 'rmad-safetensors-'));


/** What scripts/safetensors_ref.py writes (values exact in float32 where the dtype is F32). */
const REFERENCE = {
  matrix: { dtype: 'float32', shape: [2, 3], values: [1.5, -2.25, 3.0, 0.125, -0, 1024.5] },
  vector: { dtype: 'float64', shape: [4], values: [0.1, -1e-300, 2 ** 60, 3.141592653589793] },
  scalar: { dtype: 'float32', shape: [], values: [-7.75] },
} as const;
const REFERENCE_METADATA = { format: 'pt', writer: 'safetensors_ref.py' };

function checkReference(file: string): void {
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(file)), file);
  assert.equal(metadata, REFERENCE_METADATA);
  assert.equal(Object.keys(tensors).sort(), ['matrix', 'scalar', 'vector']);
  for (const [name, want] of Object.entries(REFERENCE)) {
    const t = tensors[name]!;
    assert.is(t.dtype, want.dtype, name);
    assert.equal(t.shape, [...want.shape], name);
    assert.ok(t.data instanceof (want.dtype === 'float32' ? Float32Array : Float64Array), name);
    assert.equal([...t.data], [...want.values], name);
  }
  assert.ok(Object.is(tensors.matrix!.data[4], -0), 'negative zero survives');
}

const sample = (): Record<string, NamedTensor> => ({
  'layer.w': { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) },
  'layer.b': { dtype: 'float64', shape: [3], data: Float64Array.from([0.1, 0.2, -0.3]) },
  step: { dtype: 'float64', shape: [], data: Float64Array.from([42]) },
  empty: { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) },
});

/** A file from raw parts, for corrupt cases: an explicit header length, header text and buffer. */
function craft(header: string | object | Buffer, buffer: number[] = [], length?: number): Uint8Array {
  const text = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const out = Buffer.alloc(8 + text.length + buffer.length);
  out.writeBigUInt64LE(BigInt(length ?? text.length), 0);
  text.copy(out, 8);
  Buffer.from(buffer).copy(out, 8 + text.length);
  return new Uint8Array(out);
}

test('round trip: names, dtypes, shapes, values, metadata', () => {
  const bytes = encodeSafetensors(sample(), { epoch: '3', format: 'pt' });
  const back = decodeSafetensors(bytes, 'w.safetensors');
  assert.equal(back.metadata, { epoch: '3', format: 'pt' });
  for (const [name, t] of Object.entries(sample())) {
    const got = back.tensors[name]!;
    assert.is(got.dtype, t.dtype, name);
    assert.equal(got.shape, t.shape, name);
    assert.equal([...got.data], [...t.data], name);
  }
});

test('float32 tensors are stored as float32 (values round to single precision)', () => {
  const bytes = encodeSafetensors({ w: { dtype: 'float32', shape: [1], data: Float64Array.from([0.1]) } });
  const back = decodeSafetensors(bytes, 'w.safetensors');
  assert.is(back.tensors.w!.data[0], Math.fround(0.1));
  assert.is(bytes.length - 8 - Number(Buffer.from(bytes).readBigUInt64LE(0)), 4);
});

test('layout: little-endian length, padded header, sorted contiguous offsets', () => {
  const bytes = Buffer.from(encodeSafetensors(sample(), { a: 'b' }));
  const n = Number(bytes.readBigUInt64LE(0));
  assert.is(n % 8, 0);
  const text = bytes.subarray(8, 8 + n).toString('utf8');
  assert.ok(text.startsWith('{'));
  assert.match(text, /\}\s*$/);
  const header = JSON.parse(text) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  assert.equal(names, ['empty', 'layer.b', 'layer.w', 'step']);
  assert.equal(names.map((k) => header[k]!.data_offsets), [[0, 0], [0, 24], [24, 48], [48, 56]]);
  assert.equal(names.map((k) => header[k]!.dtype), ['F32', 'F64', 'F32', 'F64']);
  assert.is(bytes.length, 8 + n + 56);
  assert.is(bytes.readDoubleLE(8 + n + 48), 42);
});

test('determinism: insertion order does not change the bytes', () => {
  const s = sample();
  const reversed = Object.fromEntries(Object.entries(s).reverse());
  const a = Buffer.from(encodeSafetensors(s, { x: '1', y: '2' }));
  const b = Buffer.from(encodeSafetensors(reversed, { y: '2', x: '1' }));
  assert.ok(a.equals(b));
});

test('reads the committed file written by the Python reference', () => {
  checkReference(fixture);
});

const python = spawnSync('python3', ['--version']).status === 0;

test('Python reference: it writes, we read; we write, it reads', () => {
  if (!python) {
    console.log('  (python3 not found: skipping the live round trip with scripts/safetensors_ref.py)');
    return;
  }
  const theirs = join(dir, 'theirs.safetensors');
  const w = spawnSync('python3', [script, 'write', theirs], { encoding: 'utf8' });
  assert.is(w.status, 0, w.stderr);
  checkReference(theirs);

  const ours = join(dir, 'ours.safetensors');
  writeFileSync(ours, encodeSafetensors(sample(), { format: 'pt' }));
  const r = spawnSync('python3', [script, 'read', ours], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { order: string[]; metadata: object; tensors: Record<string, { dtype: string; shape: number[]; values: unknown }> };
  assert.equal(summary.order, ['empty', 'layer.b', 'layer.w', 'step']);
  assert.equal(summary.metadata, { format: 'pt' });
  assert.equal(summary.tensors['layer.w'], { dtype: 'F32', shape: [2, 3], values: [[1, 2, 3], [4, 5, 6.5]] });
  assert.equal(summary.tensors['layer.b'], { dtype: 'F64', shape: [3], values: [0.1, 0.2, -0.3] });
  assert.equal(summary.tensors.step, { dtype: 'F64', shape: [], values: 42 });
  assert.equal(summary.tensors.empty, { dtype: 'F32', shape: [0, 4], values: [] });
});

test('Python reference rejects a corrupt file (so its read check means something)', () => {
  if (!python) return;
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, craft({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, [0, 0, 0, 0]));
  const r = spawnSync('python3', [script, 'read', bad], { encoding: 'utf8' });
  assert.is(r.status, 1);
  assert.match(r.stderr, 'invalid safetensors');
});

const corrupt: [string, () => Uint8Array, string][] = [
  ['shorter than the length prefix', () => new Uint8Array(5), 'shorter than the 8-byte'],
  ['header length past the end', () => craft('{}', [], 1000), 'header length 1000 exceeds'],
  ['header length absurdly large', () => craft('{}', [], 2 ** 53), 'exceeds'],
  ['header not UTF-8', () => craft(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 'not UTF-8'],
  ['header not starting with {', () => craft(' {}'), 'does not start with {'],
  ['header not JSON', () => craft('{"a": '), 'not valid JSON'],
  ['metadata value not a string', () => craft({ __metadata__: { epoch: 3 } }), '__metadata__.epoch must be a string'],
  ['tensor entry not an object', () => craft({ w: [1, 2] }), "tensor 'w' must be an object"],
  ['unknown field', () => craft({ w: { dtype: 'F32', shape: [], data_offsets: [0, 4], layout: 'c' } }, [0, 0, 0, 0]), 'unknown field(s) layout'],
  ['unknown dtype', () => craft({ w: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), 'unknown dtype "F33"'],
  ['negative shape', () => craft({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), 'shape must be a list'],
  ['offsets malformed', () => craft({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, [0, 0, 0, 0]), 'data_offsets must be [begin, end]'],
  ['byte length does not match the shape', () => craft({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, [0, 0, 0, 0]), 'needs 8 bytes'],
  ['offsets past the buffer (truncated)', () => craft({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, [0, 0, 0, 0]), 'truncated'],
  [
    'overlapping tensors',
    () => craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Array(8).fill(0)),
    'overlaps',
  ],
  ['a gap before a tensor', () => craft({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Array(8).fill(0)), 'gap'],
  ['trailing bytes', () => craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Array(6).fill(0)), '2 trailing bytes'],
];

for (const [what, make, message] of corrupt) {
  test(`corrupt file: ${what}`, () => {
    const e = inputError(() => decodeSafetensors(make(), 'runs/x/weights.safetensors'));
    assert.is(e.where, 'runs/x/weights.safetensors');
    assert.match(e.message, message);
  });
}

test('unsupported dtypes of the format are refused with what to do', () => {
  for (const dtype of ['F16', 'BF16', 'I64']) {
    const e = inputError(() => decodeSafetensors(craft({ w: { dtype, shape: [2], data_offsets: [0, 4] } }, [0, 0, 0, 0]), 'w.safetensors'));
    assert.is(e.where, 'w.safetensors');
    assert.match(e.message, `dtype ${dtype}, which rmad does not read`);
    assert.match(e.message, 'convert the weights to F32 or F64');
  }
});

test('a header padded with spaces and a zero-length tensor decode', () => {
  const bytes = craft('{"z":{"dtype":"F64","shape":[0],"data_offsets":[0,0]},"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}   ', [0, 0, 0x80, 0x3f]);
  const back = decodeSafetensors(bytes, 'p.safetensors');
  assert.equal([...back.tensors.w!.data], [1]);
  assert.is(back.tensors.z!.data.length, 0);
  assert.equal(back.metadata, {});
});

test('writeFileAtomic: writes, replaces, leaves no temporary file', () => {
  const path = join(dir, 'atomic', 'out.bin');
  rmSync(join(dir, 'atomic'), { recursive: true, force: true });
  assert.throws(() => writeFileAtomic(path, 'x'), /ENOENT/);
  mkdirSync(join(dir, 'atomic'));
  writeFileAtomic(path, 'first');
  writeFileAtomic(path, new Uint8Array([1, 2, 3]));
  assert.equal([...readFileSync(path)], [1, 2, 3]);
  assert.equal(readdirSync(join(dir, 'atomic')), ['out.bin']);
  writeFileAtomic(path, 'text ü');
  assert.is(readFileSync(path, 'utf8'), 'text ü');
  assert.equal(readdirSync(join(dir, 'atomic')), ['out.bin']);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
