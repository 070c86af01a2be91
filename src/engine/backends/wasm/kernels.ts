/**
 * The matrix-product kernels, assembled as WebAssembly at run time (see encoder.ts).
 *
 * The product follows the GotoBLAS/BLIS scheme. op(B) is packed into column panels `nr` wide
 * and op(A) into row panels `mr` tall, each stored k-major, so the innermost loop reads both
 * operands sequentially. The micro-kernel keeps an mr x nr tile of C in registers: per step of
 * k it loads nr/lanes vectors of B, broadcasts mr scalars of A, and does mr*nr/lanes vector
 * multiply-adds. x64 gives WebAssembly 16 vector registers (V8 keeps one as scratch), which
 * bounds the tile: 4 x 8 floats takes 8 accumulators + 2 B vectors + 1 broadcast + 1 product.
 */
import { Code, encodeModule, I32, V128, type FunctionDef } from './encoder.js';
import { WebAssemblyApi } from './wasm-api.js';

export interface KernelShape {
  /** Bytes per element: 4 (f32) or 8 (f64). */
  readonly elt: 4 | 8;
  /** Rows of the register tile of C. */
  readonly mr: number;
  /** Columns of the register tile; a multiple of the vector lanes (16 / elt). */
  readonly nr: number;
  /** Steps of k per iteration of the inner loop (a power of 2). */
  readonly unroll: number;
  /** Use relaxed-SIMD multiply-add (one instruction where the CPU fuses) instead of mul + add. */
  readonly fma: boolean;
}

/** The exported functions of a kernel instance. Addresses and strides are in bytes. */
export interface KernelExports {
  /**
   * Packs a `kc x cols` block whose rows are contiguous (row stride `ld`) into panels `mr`
   * (packRowsA) or `nr` (packRowsB) wide: panel q, at dst + q * panelBytes(kc, w, elt), holds
   * for each row p the elements q*w .. q*w + w - 1, zero past `cols`.
   */
  packRowsA(src: number, ld: number, kc: number, cols: number, dst: number): void;
  packRowsB(src: number, ld: number, kc: number, cols: number, dst: number): void;
  /** The same panels from a block stored transposed: element (p, j) at src + j*ld + p*elt. */
  packColsA(src: number, ld: number, kc: number, cols: number, dst: number): void;
  packColsB(src: number, ld: number, kc: number, cols: number, dst: number): void;
  /**
   * C[mTiles*mr, nTiles*nr] (row stride ldc) = (accumulate ? C : 0) + Apacked @ Bpacked, where
   * Apacked is mTiles panels of mr x kc and Bpacked nTiles panels of kc x nr (as packed above).
   */
  macro(aPack: number, bPack: number, c: number, ldc: number, kc: number, mTiles: number, nTiles: number, accumulate: number): void;
  /** Moves `rows` rows of `width` bytes, `ld` bytes apart at `c`, next to each other at `c`. */
  compact(c: number, ld: number, width: number, rows: number): void;
  /** compact's inverse: `rows` rows of `width` bytes next to each other at `c` move `ld` bytes apart. */
  spread(c: number, ld: number, width: number, rows: number): void;
}

/**
 * Bytes left free after each packed panel. Panels of kc = 256 rows are otherwise 4 or 8 KiB
 * apart, so the packing's stores to consecutive panels all fall in one set of the L1 cache
 * (and in separate pages): measured 3x slower.
 */
export const PANEL_PAD = 64;

/** Bytes of one packed panel: kc rows of w elements, then the pad. */
export function panelBytes(kc: number, w: number, elt: number): number {
  return kc * w * elt + PANEL_PAD;
}

/** Pages (64 KiB) a kernel's memory may grow to: the whole 32-bit address space. */
export const MAX_PAGES = 65536;

/**
 * The tile and unrolling: the fastest in a sweep of tiles (2x16, 3x8, 3x12, 3x16, 4x8, 4x12,
 * 5x8, 6x8, 7x8 floats) and unrollings (1, 2, 4, 8) under V8 11 on x64. Larger tiles and
 * unrolled k loops should win in theory but come out slower from V8's register allocation.
 */
export function defaultShape(elt: 4 | 8, fma: boolean): KernelShape {
  return { elt, mr: 4, nr: elt === 4 ? 8 : 4, unroll: 1, fma };
}

/** Adds `delta` to local `i`. */
function bump(c: Code, i: number, delta: number): void {
  c.get(i).i32(delta).i32Add().set(i);
}

/** Adds local `d` to local `i`. */
function bumpBy(c: Code, i: number, d: number): void {
  c.get(i).get(d).i32Add().set(i);
}

/** Decrements local `i` and branches to the enclosing loop while it is not zero. */
function countDown(c: Code, i: number): void {
  c.get(i).i32(1).i32Sub().tee(i).brIf(0);
}

function macroKernel(s: KernelShape): Code {
  const { elt, mr, nr, unroll } = s;
  const nv = (nr * elt) / 16;
  const c = new Code([I32, I32, I32, I32, I32, I32, I32, I32]);
  const [aPack, bPack, cBase, ldc, kc, mTiles, nTiles, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7];
  const jt = c.local(I32), it = c.local(I32), aPanel = c.local(I32), ap = c.local(I32), bp = c.local(I32);
  const cp = c.local(I32), row = c.local(I32), kk = c.local(I32), aStep = c.local(I32), bStep = c.local(I32);
  const acc: number[] = [];
  for (let i = 0; i < mr * nv; i++) acc.push(c.local(V128));
  const bv: number[] = [];
  for (let v = 0; v < nv; v++) bv.push(c.local(V128));
  const av = c.local(V128);

  // One step of k, `step` steps past the panel pointers: acc[r][v] += A[r] * B[v].
  const body = (step: number): void => {
    for (let v = 0; v < nv; v++) c.get(bp).v128Load(step * nr * elt + v * 16).set(bv[v]!);
    for (let r = 0; r < mr; r++) {
      c.get(ap).loadSplat(elt, (step * mr + r) * elt).set(av);
      for (let v = 0; v < nv; v++) {
        const x = acc[r * nv + v]!;
        if (s.fma) c.get(av).get(bv[v]!).get(x).vmadd(elt).set(x);
        else c.get(x).get(av).get(bv[v]!).vmul(elt).vadd(elt).set(x);
      }
    }
  };
  // The k loop, `steps` steps per iteration, run `kk` times (kk may be 0).
  const kLoop = (steps: number): void => {
    c.get(kk).if().loop();
    for (let u = 0; u < steps; u++) body(u);
    bump(c, ap, steps * mr * elt);
    bump(c, bp, steps * nr * elt);
    countDown(c, kk);
    c.end().end();
  };

  c.get(kc).i32(mr * elt).i32Mul().i32(PANEL_PAD).i32Add().set(aStep);
  c.get(kc).i32(nr * elt).i32Mul().i32(PANEL_PAD).i32Add().set(bStep);
  c.get(nTiles).set(jt);
  c.loop(); // over panels of B
  c.get(aPack).set(aPanel).get(cBase).set(cp).get(mTiles).set(it);
  c.loop(); // over panels of A
  c.get(accumulate).if();
  c.get(cp).set(row);
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < nv; v++) c.get(row).v128Load(v * 16).set(acc[r * nv + v]!);
    bumpBy(c, row, ldc);
  }
  c.else();
  for (const x of acc) c.v128Zero().set(x);
  c.end();
  c.get(aPanel).set(ap).get(bPack).set(bp);
  c.get(kc).i32(Math.log2(unroll)).i32ShrU().set(kk);
  kLoop(unroll);
  if (unroll > 1) {
    c.get(kc).i32(unroll - 1).i32And().set(kk);
    kLoop(1);
  }
  c.get(cp).set(row);
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < nv; v++) c.get(row).get(acc[r * nv + v]!).v128Store(v * 16);
    bumpBy(c, row, ldc);
  }
  c.get(row).set(cp); // row is now cp + mr * ldc: the next tile down
  bumpBy(c, aPanel, aStep);
  countDown(c, it);
  c.end();
  bumpBy(c, bPack, bStep);
  bump(c, cBase, nr * elt);
  countDown(c, jt);
  c.end();
  return c;
}

/** Copies `w` elements from local `s` to local `d` plus `at` bytes, by vectors where the width allows. */
function copyRow(c: Code, elt: 4 | 8, w: number, s: number, d: number, at: number): void {
  let byte = 0;
  for (; byte + 16 <= w * elt; byte += 16) c.get(d).get(s).v128Load(byte).v128Store(at + byte);
  for (; byte < w * elt; byte += elt) c.get(d).get(s).fload(elt, byte).fstore(elt, at + byte);
}

/** Copies the first `valid` (a local) of `w` elements like copyRow, and zeros the rest. */
function copyPartialRow(c: Code, elt: 4 | 8, w: number, valid: number, s: number, d: number, at: number): void {
  for (let j = 0; j < w; j++) {
    c.i32(j).get(valid).i32LtU().if();
    c.get(d).get(s).fload(elt, j * elt).fstore(elt, at + j * elt);
    c.else();
    c.get(d).fconst(elt, 0).fstore(elt, at + j * elt);
    c.end();
  }
}

/**
 * Packs a row-contiguous block into panels `w` wide (see KernelExports.packRowsA). It reads
 * four rows of the source at a time, sequentially, and writes each panel a whole cache line
 * at a time: going panel by panel instead would jump a row stride (often 4 KiB, a new page)
 * per element group, and a row at a time would jump a panel (kc * w * elt, often 4 KiB) per group.
 */
function packRows(elt: 4 | 8, w: number): Code {
  const group = 4;
  const c = new Code([I32, I32, I32, I32, I32]);
  const [src, ld, kc, cols, dst] = [0, 1, 2, 3, 4];
  const full = c.local(I32), rest = c.local(I32), panelBytes = c.local(I32);
  const p = c.local(I32), q = c.local(I32), d = c.local(I32);
  const s: number[] = [];
  for (let i = 0; i < group; i++) s.push(c.local(I32));
  c.get(cols).i32(w).i32DivU().set(full);
  c.get(cols).get(full).i32(w).i32Mul().i32Sub().set(rest);
  c.get(kc).i32(w * elt).i32Mul().i32(PANEL_PAD).i32Add().set(panelBytes);
  // `rows` rows of the source, run `p` times.
  const rowsLoop = (rows: number): void => {
    c.get(p).if().loop();
    for (let i = 0; i < rows; i++) c.get(src).get(ld).i32(i).i32Mul().i32Add().set(s[i]!);
    c.get(dst).set(d).get(full).set(q);
    c.get(q).if().loop();
    for (let i = 0; i < rows; i++) {
      copyRow(c, elt, w, s[i]!, d, i * w * elt);
      bump(c, s[i]!, w * elt);
    }
    bumpBy(c, d, panelBytes);
    countDown(c, q);
    c.end().end();
    c.get(rest).if();
    for (let i = 0; i < rows; i++) copyPartialRow(c, elt, w, rest, s[i]!, d, i * w * elt);
    c.end();
    c.get(src).get(ld).i32(rows).i32Mul().i32Add().set(src);
    bump(c, dst, rows * w * elt);
    countDown(c, p);
    c.end().end();
  };
  c.get(kc).i32(Math.log2(group)).i32ShrU().set(p);
  rowsLoop(group);
  c.get(kc).i32(group - 1).i32And().set(p);
  rowsLoop(1);
  return c;
}

/** Shuffle lanes (bytes) that interleave elements of two vectors, for 4 x 4 and 2 x 2 transposes. */
const bytesOf = (elt: number, elements: readonly number[]): number[] =>
  elements.flatMap((e) => Array.from({ length: elt }, (_, i) => e * elt + i));

/**
 * Packs a block stored transposed into panels `w` wide (see KernelExports.packColsA). A panel
 * is `w` lines of the source, each contiguous in k; full panels are transposed in registers,
 * lanes x lanes at a time (4 x 4 floats or 2 x 2 doubles) by shuffles, the rest element by element.
 */
function packCols(elt: 4 | 8, w: number): Code {
  const lanes = 16 / elt;
  const c = new Code([I32, I32, I32, I32, I32]);
  const [src, ld, kc, cols, dst] = [0, 1, 2, 3, 4];
  const col = c.local(I32), j = c.local(I32), line = c.local(I32), s = c.local(I32), d = c.local(I32), p = c.local(I32);
  const r: number[] = [];
  for (let i = 0; i < lanes; i++) r.push(c.local(I32));
  const v: number[] = [];
  for (let i = 0; i < lanes; i++) v.push(c.local(V128));
  const t: number[] = [];
  for (let i = 0; i < lanes; i++) t.push(c.local(V128));
  // Interleaving two vectors: low halves (a0 b0 a1 b1) and high halves (a2 b2 a3 b3) of f32;
  // for f64 (lanes = 2) one step already transposes.
  const lo = lanes === 4 ? bytesOf(4, [0, 4, 1, 5]) : bytesOf(8, [0, 2]);
  const hi = lanes === 4 ? bytesOf(4, [2, 6, 3, 7]) : bytesOf(8, [1, 3]);
  const lo64 = bytesOf(8, [0, 2]), hi64 = bytesOf(8, [1, 3]);

  c.loop(); // over panels
  c.get(cols).get(col).i32Sub().i32(w).i32GeU().if();
  for (let g = 0; g < w; g += lanes) {
    for (let i = 0; i < lanes; i++) c.get(src).get(ld).i32(g + i).i32Mul().i32Add().set(r[i]!);
    c.get(dst).i32(g * elt).i32Add().set(d);
    c.get(kc).i32(Math.log2(lanes)).i32ShrU().set(p);
    c.get(p).if().loop();
    for (let i = 0; i < lanes; i++) c.get(r[i]!).v128Load().set(v[i]!);
    if (lanes === 4) {
      c.get(v[0]!).get(v[1]!).shuffle(lo).set(t[0]!);
      c.get(v[0]!).get(v[1]!).shuffle(hi).set(t[1]!);
      c.get(v[2]!).get(v[3]!).shuffle(lo).set(t[2]!);
      c.get(v[2]!).get(v[3]!).shuffle(hi).set(t[3]!);
      // Row k of the result: elements k of the four lines.
      c.get(d).get(t[0]!).get(t[2]!).shuffle(lo64).v128Store(0);
      c.get(d).get(t[0]!).get(t[2]!).shuffle(hi64).v128Store(w * elt);
      c.get(d).get(t[1]!).get(t[3]!).shuffle(lo64).v128Store(2 * w * elt);
      c.get(d).get(t[1]!).get(t[3]!).shuffle(hi64).v128Store(3 * w * elt);
    } else {
      c.get(d).get(v[0]!).get(v[1]!).shuffle(lo).v128Store(0);
      c.get(d).get(v[0]!).get(v[1]!).shuffle(hi).v128Store(w * elt);
    }
    for (let i = 0; i < lanes; i++) bump(c, r[i]!, 16);
    bump(c, d, lanes * w * elt);
    countDown(c, p);
    c.end().end();
    // The last kc mod lanes elements of each line, one by one.
    c.get(kc).i32(lanes - 1).i32And().set(p);
    c.get(p).if().loop();
    for (let i = 0; i < lanes; i++) {
      c.get(d).get(r[i]!).fload(elt).fstore(elt, i * elt);
      bump(c, r[i]!, elt);
    }
    bump(c, d, w * elt);
    countDown(c, p);
    c.end().end();
  }
  c.else(); // the last, partial panel: line by line, zeros past `cols`
  c.i32(0).set(j).get(src).set(line);
  c.loop();
  c.get(dst).get(j).i32(Math.log2(elt)).i32Shl().i32Add().set(d);
  c.get(kc).set(p);
  c.get(col).get(j).i32Add().get(cols).i32LtU().if();
  c.get(line).set(s);
  c.loop();
  c.get(d).get(s).fload(elt).fstore(elt);
  bump(c, s, elt);
  bump(c, d, w * elt);
  countDown(c, p);
  c.end();
  c.else();
  c.loop();
  c.get(d).fconst(elt, 0).fstore(elt);
  bump(c, d, w * elt);
  countDown(c, p);
  c.end();
  c.end();
  bumpBy(c, line, ld);
  c.get(j).i32(1).i32Add().tee(j).i32(w).i32LtU().brIf(0);
  c.end();
  c.end();
  c.get(src).get(ld).i32(w).i32Mul().i32Add().set(src);
  c.get(dst).get(kc).i32(w * elt).i32Mul().i32Add().i32(PANEL_PAD).i32Add().set(dst);
  c.get(col).i32(w).i32Add().tee(col).get(cols).i32LtU().brIf(0);
  c.end();
  return c;
}

function compact(): Code {
  const c = new Code([I32, I32, I32, I32]);
  const [base, ld, width, rows] = [0, 1, 2, 3];
  const dst = c.local(I32), src = c.local(I32);
  // Row 0 is already in place; rows move down, so copying in order never overwrites a row to come.
  c.get(rows).i32(1).i32GeU().if();
  c.get(rows).i32(1).i32Sub().set(rows);
  c.get(base).get(width).i32Add().set(dst);
  c.get(base).get(ld).i32Add().set(src);
  c.get(rows).if().loop();
  c.get(dst).get(src).get(width).memoryCopy();
  bumpBy(c, dst, width);
  bumpBy(c, src, ld);
  countDown(c, rows);
  c.end().end();
  c.end();
  return c;
}

function spread(): Code {
  const c = new Code([I32, I32, I32, I32]);
  const [base, ld, width, rows] = [0, 1, 2, 3];
  const dst = c.local(I32), src = c.local(I32);
  // Rows move up: from the last, so a row is moved before the one below overwrites it.
  c.get(rows).i32(1).i32GeU().if();
  c.get(rows).i32(1).i32Sub().set(rows);
  c.get(base).get(rows).get(ld).i32Mul().i32Add().set(dst);
  c.get(base).get(rows).get(width).i32Mul().i32Add().set(src);
  c.get(rows).if().loop();
  c.get(dst).get(src).get(width).memoryCopy();
  c.get(dst).get(ld).i32Sub().set(dst);
  c.get(src).get(width).i32Sub().set(src);
  countDown(c, rows);
  c.end().end();
  c.end();
  return c;
}

/** The bytes of a kernel module for `shape`, importing a memory that is shared or not. */
export function kernelBytes(shape: KernelShape, shared: boolean): Uint8Array {
  const functions: FunctionDef[] = [
    { name: 'packRowsA', code: packRows(shape.elt, shape.mr) },
    { name: 'packRowsB', code: packRows(shape.elt, shape.nr) },
    { name: 'packColsA', code: packCols(shape.elt, shape.mr) },
    { name: 'packColsB', code: packCols(shape.elt, shape.nr) },
    { name: 'macro', code: macroKernel(shape) },
    { name: 'compact', code: compact() },
    { name: 'spread', code: spread() },
  ];
  return encodeModule(functions, { shared, minPages: 1, maxPages: MAX_PAGES });
}

/** True when this engine accepts relaxed-SIMD multiply-add (Node 22+; Node 20 behind a flag). */
export function hasRelaxedSimd(): boolean {
  const c = new Code([], []);
  c.v128Zero().v128Zero().v128Zero().vmadd(4).drop();
  c.v128Zero().v128Zero().v128Zero().vmadd(8).drop();
  try {
    return WebAssemblyApi.validate(encodeModule([{ name: 'f', code: c }], { shared: false, minPages: 1, maxPages: 1 }));
  } catch {
    return false;
  }
}
