/**
 * A tiny WebAssembly binary encoder: just enough of the format to assemble the matrix-product,
 * elementwise and optimizer kernels at load time, so the package ships no .wasm file and
 * needs no toolchain.
 *
 * A module here has one imported memory (env.memory), a list of functions, and exports them
 * all by name. A function body is written with `Code`, one method per instruction, in the
 * stack-machine order of the binary format. Spec: https://webassembly.github.io/spec/core/binary/
 */

/** Value types (binary encoding of valtype). */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** Unsigned LEB128: 7 bits a byte, low first, high bit set on all but the last. */
function unsigned(out: number[], value: number): void {
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

/** Signed LEB128 of a 32-bit integer: stop once the rest is pure sign extension of bit 6. */
function signed(out: number[], value: number): void {
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

function utf8(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  unsigned(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** log2 of an access width in bytes: the alignment hint of a memarg. */
function alignOf(bytes: number): number {
  return Math.log2(bytes) | 0;
}

/**
 * The instructions of one function body. Locals are numbered parameters first, then the
 * declared locals in the order `local` returned them.
 */
export class Code {
  readonly bytes: number[] = [];
  /** Declared (non-parameter) locals, one entry each. */
  readonly localTypes: ValType[] = [];

  constructor(readonly params: readonly ValType[], readonly results: readonly ValType[] = []) {}

  /** Declares a local and returns its index. */
  local(type: ValType): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  private op(...bytes: number[]): this {
    this.bytes.push(...bytes);
    return this;
  }
  private simd(opcode: number): this {
    this.bytes.push(0xfd);
    unsigned(this.bytes, opcode);
    return this;
  }
  private memarg(width: number, offset: number): this {
    unsigned(this.bytes, alignOf(width));
    unsigned(this.bytes, offset);
    return this;
  }

  // control: blocks have no result here (blocktype 0x40)
  loop(): this { return this.op(0x03, 0x40); }
  if(): this { return this.op(0x04, 0x40); }
  else(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  /** Branch to the `depth`-th enclosing label (0 = innermost) if the popped value is not 0. */
  brIf(depth: number): this { this.op(0x0d); unsigned(this.bytes, depth); return this; }
  drop(): this { return this.op(0x1a); }

  get(i: number): this { this.op(0x20); unsigned(this.bytes, i); return this; }
  set(i: number): this { this.op(0x21); unsigned(this.bytes, i); return this; }
  tee(i: number): this { this.op(0x22); unsigned(this.bytes, i); return this; }

  i32(value: number): this { this.op(0x41); signed(this.bytes, value); return this; }
  i32LtU(): this { return this.op(0x49); }
  i32GeU(): this { return this.op(0x4f); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32DivU(): this { return this.op(0x6e); }
  i32And(): this { return this.op(0x71); }
  i32Shl(): this { return this.op(0x74); }
  i32ShrU(): this { return this.op(0x76); }

  /** Scalar load/store of a float of `width` bytes (4: f32, 8: f64) at address + offset. */
  fload(width: 4 | 8, offset = 0): this { return this.op(width === 4 ? 0x2a : 0x2b).memarg(width, offset); }
  fstore(width: 4 | 8, offset = 0): this { return this.op(width === 4 ? 0x38 : 0x39).memarg(width, offset); }
  /** A float constant of `width` bytes (4: f32, 8: f64). */
  fconst(width: 4 | 8, value: number): this {
    const bytes = new Uint8Array(width === 4 ? Float32Array.of(value).buffer : Float64Array.of(value).buffer);
    return this.op(width === 4 ? 0x43 : 0x44, ...bytes);
  }
  /** A scalar numeric instruction without immediates, by its text-format name (see NUMERIC_OPS). */
  f(name: NumericOp): this { return this.op(NUMERIC_OPS[name]); }
  /** Returns from the function with what is on the stack. */
  return(): this { return this.op(0x0f); }

  /** Bulk memory: pops dst, src, n and copies n bytes (overlap allowed). */
  memoryCopy(): this {
    this.bytes.push(0xfc);
    unsigned(this.bytes, 10);
    return this.op(0x00, 0x00);
  }

  // 128-bit SIMD
  v128Load(offset = 0): this { return this.simd(0x00).memarg(16, offset); }
  v128Store(offset = 0): this { return this.simd(0x0b).memarg(16, offset); }
  /** Loads one float of `width` bytes and copies it into every lane. */
  loadSplat(width: 4 | 8, offset = 0): this { return this.simd(width === 4 ? 0x09 : 0x0a).memarg(width, offset); }
  v128Zero(): this {
    this.simd(0x0c);
    for (let i = 0; i < 16; i++) this.bytes.push(0);
    return this;
  }
  /** Pops a, b: byte i of the result is byte lanes[i] of the 32 bytes a ++ b. */
  shuffle(lanes: readonly number[]): this {
    this.simd(0x0d);
    for (const lane of lanes) this.bytes.push(lane);
    return this;
  }
  /** A 128-bit constant from its 16 bytes (little-endian lanes). */
  v128Const(bytes: Uint8Array): this {
    this.simd(0x0c);
    for (const b of bytes) this.bytes.push(b);
    return this;
  }
  /** v128 constants with `value` in every lane. */
  f32x4(value: number): this { return this.v128Const(new Uint8Array(new Float32Array(4).fill(value).buffer)); }
  f64x2(value: number): this { return this.v128Const(new Uint8Array(new Float64Array(2).fill(value).buffer)); }
  i32x4(value: number): this { return this.v128Const(new Uint8Array(new Int32Array(4).fill(value).buffer)); }
  /** Loads 8 bytes into the low half of a vector, zeroing the high half. */
  v128Load64Zero(offset = 0): this { return this.simd(0x5d).memarg(8, offset); }
  /** A SIMD instruction without immediates, by its text-format name (see SIMD_OPS). */
  v(name: SimdOp): this { return this.simd(SIMD_OPS[name]); }
  /** Lane-wise a + b for 4 x f32 (width 4) or 2 x f64 (width 8). */
  vadd(width: 4 | 8): this { return this.simd(width === 4 ? 0xe4 : 0xf0); }
  vmul(width: 4 | 8): this { return this.simd(width === 4 ? 0xe6 : 0xf2); }
  /** Relaxed SIMD: pops a, b, c and pushes a*b + c, fused or not as the hardware prefers. */
  vmadd(width: 4 | 8): this { return this.simd(width === 4 ? 0x105 : 0x107); }
}

/**
 * The SIMD instructions without immediates that the kernels use, by their text-format names,
 * with their opcodes (the LEB128 number after the 0xfd prefix). Shifts pop the vector, then
 * an i32 shift count. pmin(a, b) is b < a ? b : a and pmax(a, b) is a < b ? b : a (one x64
 * instruction each, and NaN in a passes through); min and max order NaN and -0 as IEEE does.
 * Spec: https://webassembly.github.io/spec/core/binary/instructions.html#vector-instructions
 */
export const SIMD_OPS = {
  'f32x4.splat': 0x13, 'f64x2.splat': 0x14,
  'f32x4.eq': 0x41, 'f32x4.ne': 0x42, 'f32x4.lt': 0x43, 'f32x4.gt': 0x44, 'f32x4.le': 0x45, 'f32x4.ge': 0x46,
  'f64x2.lt': 0x49,
  'v128.and': 0x4e, 'v128.andnot': 0x4f, 'v128.or': 0x50, 'v128.bitselect': 0x52,
  'f64x2.promote_low_f32x4': 0x5f,
  'i32x4.shl': 0xab, 'i32x4.shr_s': 0xac, 'i32x4.add': 0xae, 'i32x4.sub': 0xb1,
  'f32x4.abs': 0xe0, 'f32x4.neg': 0xe1, 'f32x4.sqrt': 0xe3, 'f32x4.add': 0xe4, 'f32x4.sub': 0xe5,
  'f32x4.mul': 0xe6, 'f32x4.div': 0xe7, 'f32x4.min': 0xe8, 'f32x4.max': 0xe9, 'f32x4.pmin': 0xea, 'f32x4.pmax': 0xeb,
  'f64x2.abs': 0xec, 'f64x2.neg': 0xed, 'f64x2.sqrt': 0xef, 'f64x2.add': 0xf0, 'f64x2.sub': 0xf1,
  'f64x2.mul': 0xf2, 'f64x2.div': 0xf3, 'f64x2.min': 0xf4, 'f64x2.max': 0xf5, 'f64x2.pmin': 0xf6, 'f64x2.pmax': 0xf7,
  'f32x4.convert_i32x4_s': 0xfa,
} as const;
export type SimdOp = keyof typeof SIMD_OPS;

/**
 * The scalar float instructions the row kernels use, by their text-format names, with their
 * opcodes. f32.max returns NaN when either operand is NaN and orders -0 below +0.
 * Spec: https://webassembly.github.io/spec/core/binary/instructions.html#numeric-instructions
 */
export const NUMERIC_OPS = {
  'f32.eq': 0x5b, 'f32.sub': 0x93, 'f32.max': 0x97,
  'f64.neg': 0x9a, 'f64.add': 0xa0, 'f64.sub': 0xa1, 'f64.mul': 0xa2,
  'f32.demote_f64': 0xb6, 'f64.promote_f32': 0xbb,
} as const;
export type NumericOp = keyof typeof NUMERIC_OPS;

export interface FunctionDef {
  readonly name: string;
  readonly code: Code;
}

function section(out: number[], id: number, body: number[]): void {
  out.push(id);
  unsigned(out, body.length);
  for (const b of body) out.push(b);
}

/**
 * The bytes of a module importing `env.memory` (shared or not, `minPages` up to `maxPages`)
 * and exporting every function under its name.
 */
export function encodeModule(
  functions: readonly FunctionDef[],
  memory: { readonly shared: boolean; readonly minPages: number; readonly maxPages: number },
): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

  // One type per function keeps the encoder simple; duplicates are legal.
  const types: number[] = [];
  unsigned(types, functions.length);
  for (const { code } of functions) {
    types.push(0x60);
    unsigned(types, code.params.length);
    types.push(...code.params);
    unsigned(types, code.results.length);
    types.push(...code.results);
  }
  section(out, 1, types);

  const imports: number[] = [];
  unsigned(imports, 1);
  utf8(imports, 'env');
  utf8(imports, 'memory');
  // import kind 2 = memory; limits flag bit 0: has maximum, bit 1: shared
  imports.push(0x02, memory.shared ? 0x03 : 0x01);
  unsigned(imports, memory.minPages);
  unsigned(imports, memory.maxPages);
  section(out, 2, imports);

  const funcs: number[] = [];
  unsigned(funcs, functions.length);
  for (let i = 0; i < functions.length; i++) unsigned(funcs, i);
  section(out, 3, funcs);

  const exports: number[] = [];
  unsigned(exports, functions.length);
  functions.forEach(({ name }, i) => {
    utf8(exports, name);
    exports.push(0x00); // export kind 0 = function
    unsigned(exports, i);
  });
  section(out, 7, exports);

  const codes: number[] = [];
  unsigned(codes, functions.length);
  for (const { code } of functions) {
    const body: number[] = [];
    // Locals are declared as runs of equal type.
    const runs: [number, ValType][] = [];
    for (const t of code.localTypes) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    unsigned(body, runs.length);
    for (const [count, type] of runs) {
      unsigned(body, count);
      body.push(type);
    }
    body.push(...code.bytes, 0x0b);
    unsigned(codes, body.length);
    codes.push(...body);
  }
  section(out, 10, codes);

  return Uint8Array.from(out);
}
