/**
 * curves.svg: loss and accuracy per epoch, one panel each, one line per split. Plain SVG text,
 * readable in any browser and in a pull request.
 */

const COLORS: Record<string, string> = { train: '#1f77b4', val: '#ff7f0e', test: '#2ca02c' };
/** Points drawn per line: more than the panel's width in pixels. */
const MAX_POINTS = 1000;
const W = 420, H = 260, PAD = { left: 56, right: 16, top: 28, bottom: 40 };

export type MetricRow = Record<string, number>;

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.01 ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

function panel(rows: readonly MetricRow[], metric: string, x0: number): string {
  const series = Object.keys(COLORS)
    .map((split) => ({ split, key: `${split}.${metric}` }))
    .filter(({ key }) => rows.some((r) => Number.isFinite(r[key])));
  const parts: string[] = [`<g transform="translate(${x0},0)">`, `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${metric}</text>`];
  if (series.length === 0 || rows.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" font-size="11" fill="#888">no ${metric} recorded</text></g>`);
    return parts.join('');
  }
  // Loops, not Math.min(...values): a long run's values overflow the call stack as arguments.
  let lo = Infinity, hi = -Infinity, e0 = Infinity, e1 = -Infinity;
  for (const r of rows) {
    e0 = Math.min(e0, r.epoch!);
    e1 = Math.max(e1, r.epoch!);
    for (const { key } of series) {
      const v = r[key]!;
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  e1 = Math.max(e1, e0 + 1);
  const px = (e: number) => PAD.left + ((e - e0) / (e1 - e0)) * (W - PAD.left - PAD.right);
  const py = (v: number) => H - PAD.bottom - ((v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  parts.push(`<rect x="${PAD.left}" y="${PAD.top}" width="${W - PAD.left - PAD.right}" height="${H - PAD.top - PAD.bottom}" fill="none" stroke="#ccc"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    parts.push(`<text x="${PAD.left - 4}" y="${py(v) + 4}" text-anchor="end" font-size="10">${fmt(v)}</text>`);
  }
  parts.push(`<text x="${PAD.left}" y="${H - PAD.bottom + 14}" font-size="10">${e0}</text>`);
  parts.push(`<text x="${W - PAD.right}" y="${H - PAD.bottom + 14}" text-anchor="end" font-size="10">${e1}</text>`);
  parts.push(`<text x="${(W + PAD.left) / 2}" y="${H - 8}" text-anchor="middle" font-size="11">epoch</text>`);
  // At most about MAX_POINTS points a line, the last row always among them.
  const every = Math.ceil(rows.length / MAX_POINTS);
  const shown = every > 1 ? rows.filter((_, i) => i % every === 0 || i === rows.length - 1) : rows;
  series.forEach(({ split, key }, i) => {
    const pts = shown.filter((r) => Number.isFinite(r[key])).map((r) => `${px(r.epoch!).toFixed(1)},${py(r[key]!).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${COLORS[split]}" stroke-width="1.5" points="${pts.join(' ')}"/>`);
    parts.push(`<text x="${W - PAD.right - 4}" y="${PAD.top + 14 + 13 * i}" text-anchor="end" font-size="11" fill="${COLORS[split]}">${split}</text>`);
  });
  parts.push('</g>');
  return parts.join('');
}

/** The SVG document for a run's metric rows (each with `epoch` and `<split>.<metric>` keys). */
export function curvesSvg(title: string, rows: readonly MetricRow[]): string {
  const metrics = ['loss', 'accuracy'].filter((m) => rows.some((r) => Object.keys(r).some((k) => k.endsWith(`.${m}`))));
  const panels = metrics.length ? metrics : ['loss'];
  const width = W * panels.length;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 20}" viewBox="0 0 ${width} ${H + 20}" font-family="Helvetica, Arial, sans-serif">`,
    `<text x="8" y="14" font-size="12" fill="#444">${title.replace(/[<&>]/g, '')}</text>`,
    `<g transform="translate(0,20)">${panels.map((m, i) => panel(rows, m, i * W)).join('')}</g>`,
    '</svg>',
    '',
  ].join('\n');
}
