/**
 * The blocked product driver: which panels to pack and which block of C to compute next.
 * It runs the same way on the main thread and in workers, on operands that already sit in
 * a kernel's memory, so it only deals in byte addresses.
 */
import { panelBytes, type KernelExports, type KernelShape } from './kernels.js';

/** Cache blocking: a packed A block is mc x kc (kept in L2), a packed B panel kc x nc. */
export interface Blocking {
  /** Rows of A packed at a time; a multiple of the tile's mr. */
  readonly mc: number;
  readonly kc: number;
  /** Columns of B per panel; a multiple of the tile's nr. */
  readonly nc: number;
}

/**
 * Blocks for a 2 MiB L2 and 48 KiB L1: an A block of 128 x 256 floats is 128 KiB, a B panel
 * of the micro-kernel 8 KiB. At n = 1024, mc from 64 to 256, kc from 128 to 512 and nc from
 * 256 to 4096 all measured within 3% of each other.
 */
export function defaultBlocking(shape: KernelShape): Blocking {
  return { mc: roundUp(128, shape.mr), kc: 256, nc: shape.nr * 512 };
}

/** A product op(A)[m,k] @ op(B)[k,n] laid out in kernel memory (addresses in bytes). */
export interface GemmLayout {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  readonly a: number;
  readonly b: number;
  /** C is padded: rows up to a multiple of mr, row stride `ldc` elements (a multiple of nr). */
  readonly c: number;
  readonly ldc: number;
  /** Where all of op(B) is packed (size `packedBBytes`). */
  readonly packB: number;
  /** C holds values the product is added to (else it is overwritten). */
  readonly accumulate: boolean;
}

export function roundUp(x: number, to: number): number {
  return Math.ceil(x / to) * to;
}

/** Bytes of packed op(B): every block is padded to whole panels of nr columns. */
export function packedBBytes(shape: KernelShape, blocking: Blocking, k: number, n: number): number {
  return Math.ceil(n / shape.nr) * (k * shape.nr * shape.elt + Math.ceil(k / blocking.kc) * panelBytes(0, 0, 0));
}

/** Bytes of one thread's packed A block. */
export function packedABytes(shape: KernelShape, blocking: Blocking): number {
  return (blocking.mc / shape.mr) * panelBytes(blocking.kc, shape.mr, shape.elt);
}

/**
 * Where block (jc, pc) of op(B), kc x nc, is packed: blocks of one column range are
 * consecutive in k, column ranges follow each other.
 */
function bBlockAt(shape: KernelShape, blocking: Blocking, g: GemmLayout, jc: number, pc: number): number {
  const { nr, elt } = shape;
  const kBlocks = Math.ceil(g.k / blocking.kc);
  // Each panel of nr columns over all of k: k * nr elements plus one pad per k block.
  const panelOverK = g.k * nr * elt + kBlocks * panelBytes(0, 0, 0);
  const ncPadded = roundUp(Math.min(blocking.nc, g.n - jc), nr);
  return g.packB + (jc / nr) * panelOverK + (pc / blocking.kc) * (ncPadded / nr) * panelBytes(blocking.kc, nr, elt);
}

/**
 * Packs columns j0 .. j1 of op(B) (j0 a multiple of nr) where bBlockAt puts them; all of op(B)
 * by default. Column ranges pack independently, so threads that split C by columns each pack
 * their own.
 */
export function packB(kx: KernelExports, shape: KernelShape, blocking: Blocking, g: GemmLayout, j0 = 0, j1 = g.n): void {
  const { elt, nr } = shape;
  const ldb = g.transposeB ? g.k : g.n;
  for (let jc = j0 - (j0 % blocking.nc); jc < j1; jc += blocking.nc) {
    const js = Math.max(jc, j0), cols = Math.min(jc + blocking.nc, j1) - js;
    for (let pc = 0; pc < g.k; pc += blocking.kc) {
      const kc = Math.min(blocking.kc, g.k - pc);
      const dst = bBlockAt(shape, blocking, g, jc, pc) + ((js - jc) / nr) * panelBytes(kc, nr, elt);
      if (g.transposeB) kx.packColsB(g.b + (js * ldb + pc) * elt, ldb * elt, kc, cols, dst);
      else kx.packRowsB(g.b + (pc * ldb + js) * elt, ldb * elt, kc, cols, dst);
    }
  }
}

/**
 * The block of C of rows i0 .. i1 and columns j0 .. j1 (i0 a multiple of mr, j0 of nr), from
 * the packed B, packing blocks of A at `packA`. The first k block overwrites C unless the
 * layout accumulates; the others add.
 */
export function computeBlock(
  kx: KernelExports, shape: KernelShape, blocking: Blocking, g: GemmLayout,
  i0: number, i1: number, j0: number, j1: number, packA: number,
): void {
  const { elt, mr, nr } = shape;
  const lda = g.transposeA ? g.m : g.k;
  for (let jc = j0 - (j0 % blocking.nc); jc < j1; jc += blocking.nc) {
    const js = Math.max(jc, j0), je = Math.min(jc + blocking.nc, j1);
    // k innermost: the block of C stays in L2 while all of k is added into it.
    for (let ic = i0; ic < i1; ic += blocking.mc) {
      const mc = Math.min(blocking.mc, i1 - ic);
      for (let pc = 0; pc < g.k; pc += blocking.kc) {
        const kc = Math.min(blocking.kc, g.k - pc);
        const bPanels = bBlockAt(shape, blocking, g, jc, pc) + ((js - jc) / nr) * panelBytes(kc, nr, elt);
        if (g.transposeA) kx.packRowsA(g.a + (pc * lda + ic) * elt, lda * elt, kc, mc, packA);
        else kx.packColsA(g.a + (ic * lda + pc) * elt, lda * elt, kc, mc, packA);
        kx.macro(packA, bPanels, g.c + (ic * g.ldc + js) * elt, g.ldc * elt, kc,
          Math.ceil(mc / mr), Math.ceil((je - js) / nr), pc > 0 || g.accumulate ? 1 : 0);
      }
    }
  }
}
