/**
 * Prints numbers as the Nim seed's examples do: 16 significant digits, trailing zeros dropped,
 * and a whole number keeps its `.0` (Nim's `$` for floats).
 */
export function nimFloat(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const s = String(Number(x.toPrecision(16)));
  return /[.e]/.test(s) ? s : `${s}.0`;
}
