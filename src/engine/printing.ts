/**
 * Graph printing: a jaxpr-like text form (one line per op, `c:f32[2,3] = matmul a b`) and
 * Graphviz DOT. Leaves that require gradients are the program's inputs; other leaves are
 * constants (scalar constants print inline as literals, as jaxpr does).
 */
import { reverseTopological } from './autograd.js';
import { formatShape } from './tensor.js';
import type { Variable } from './variable.js';

export interface PrintOptions {
  /** Names for variables (otherwise a variable's own name, else a, b, c, ...). */
  names?: Map<Variable, string>;
}

/** Every node that leads to the roots (constants included), inputs before the ops using them. */
export function graphNodes(roots: readonly Variable[]): Variable[] {
  return reverseTopological(roots, () => true).reverse();
}

/** a, b, ..., z, ba, bb, ...: the names jaxpr gives values. */
export function letterName(i: number): string {
  let s = '';
  do {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26) - 1;
  } while (i >= 0);
  return s;
}

function formatParams(params: unknown): string {
  if (params === null || typeof params !== 'object') return '';
  const parts = Object.entries(params as Record<string, unknown>).map(([k, v]) => {
    const val = v instanceof Int32Array ? `[${[...v].join(',')}]` : Array.isArray(v) ? `[${v.join(',')}]` : String(v);
    return `${k}=${val}`;
  });
  return parts.length ? `[${parts.join(' ')}]` : '';
}

function isInlineLiteral(v: Variable): boolean {
  return v.isLeaf && !v.requiresGrad && v.rank === 0 && v.name === undefined;
}

function literal(v: Variable): string {
  const x = v.item();
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

interface Named {
  nodes: Variable[];
  name: (v: Variable) => string;
}

/**
 * Names for every node leading to `roots`: those in `preset` keep theirs, then a variable's own
 * name where it is free, else a, b, c, ... in graph order (as jaxpr names values). Scalar
 * constants are left out: they print inline as literals.
 */
export function nameVariables(roots: readonly Variable[], preset: ReadonlyMap<Variable, string> = new Map()): Map<Variable, string> {
  const names = new Map<Variable, string>(preset);
  const used = new Set(names.values());
  let counter = 0;
  for (const v of graphNodes(roots)) {
    if (names.has(v) || isInlineLiteral(v)) continue;
    let name = v.name !== undefined && !used.has(v.name) ? v.name : undefined;
    while (name === undefined || used.has(name)) name = letterName(counter++);
    used.add(name);
    names.set(v, name);
  }
  return names;
}

function nameNodes(roots: readonly Variable[], options: PrintOptions): Named {
  const names = nameVariables(roots, options.names);
  return { nodes: graphNodes(roots), name: (v) => (isInlineLiteral(v) ? literal(v) : names.get(v)!) };
}

const typed = (v: Variable, name: string): string => `${name}:${formatShape(v.shape, v.dtype)}`;

/** The jaxpr-like text of the graph computing `roots`. */
export function printGraph(roots: Variable | readonly Variable[], options: PrintOptions = {}): string {
  const rs = Array.isArray(roots) ? (roots as readonly Variable[]) : [roots as Variable];
  const { nodes, name } = nameNodes(rs, options);
  const consts = nodes.filter((v) => v.isLeaf && !v.requiresGrad && !isInlineLiteral(v));
  const inputs = nodes.filter((v) => v.isLeaf && v.requiresGrad);
  const ops = nodes.filter((v) => !v.isLeaf);
  const lines = [`{ lambda ${consts.map((v) => typed(v, name(v))).join(' ')} ; ${inputs.map((v) => typed(v, name(v))).join(' ')} . let`];
  for (const v of ops) {
    lines.push(`    ${typed(v, name(v))} = ${v.op}${formatParams(v.params)} ${v.inputs!.map(name).join(' ')}`);
  }
  lines.push(`  in ( ${rs.map(name).join(' ')} ) }`);
  return lines.join('\n');
}

/** Counts of each op in the graph computing `roots`. */
export function countOps(roots: Variable | readonly Variable[]): Map<string, number> {
  const rs = Array.isArray(roots) ? (roots as readonly Variable[]) : [roots as Variable];
  const counts = new Map<string, number>();
  for (const v of graphNodes(rs)) if (v.op) counts.set(v.op, (counts.get(v.op) ?? 0) + 1);
  return new Map([...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

export interface DotOptions extends PrintOptions {
  /** Variables drawn as outputs (a loss, say): bold, filled. */
  highlight?: readonly Variable[];
}

const dotQuote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/**
 * Graphviz DOT: ops are boxes, inputs ellipses, constants grey; frozen named leaves (parameters
 * with requiresGrad false) are dashed blue; the roots and `highlight` are filled.
 */
export function toDot(roots: Variable | readonly Variable[], options: DotOptions = {}): string {
  const rs = Array.isArray(roots) ? (roots as readonly Variable[]) : [roots as Variable];
  const { nodes, name } = nameNodes(rs, options);
  const marked = new Set([...rs, ...(options.highlight ?? [])]);
  const lines = ['digraph rmad {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=10];'];
  for (const v of nodes) {
    if (isInlineLiteral(v)) continue;
    const label = `${name(v)}\n${formatShape(v.shape, v.dtype)}${v.op ? `\n${v.op}${formatParams(v.params)}` : ''}`;
    const attrs = [`label=${dotQuote(label)}`];
    if (v.op) attrs.push('shape=box');
    else if (v.requiresGrad) attrs.push('shape=ellipse');
    else if (v.name !== undefined) attrs.push('shape=ellipse', 'style=dashed', 'color=blue', 'fontcolor=blue', 'xlabel="frozen"');
    else attrs.push('shape=ellipse', 'color=grey', 'fontcolor=grey');
    if (marked.has(v)) attrs.push('style="filled,bold"', 'fillcolor="#ffe0b0"');
    lines.push(`  ${dotQuote(name(v))} [${attrs.join(', ')}];`);
  }
  for (const v of nodes) {
    if (!v.inputs) continue;
    v.inputs.forEach((x, i) => {
      if (isInlineLiteral(x)) {
        lines.push(`  ${dotQuote(`${name(v)}.lit${i}`)} [label=${dotQuote(literal(x))}, shape=plaintext];`);
        lines.push(`  ${dotQuote(`${name(v)}.lit${i}`)} -> ${dotQuote(name(v))};`);
      } else lines.push(`  ${dotQuote(name(x))} -> ${dotQuote(name(v))};`);
    });
  }
  lines.push('}');
  return lines.join('\n');
}
