/** The optimisation pipeline: rewrite rules and constant folding to a fixed point, then fusion. */
import type { Backend } from '../backend.js';
import { fuse, fusibleOn } from './fusion.js';
import type { Graph } from './ir.js';
import { rewrite, type RewriteOptions } from './rewrite.js';

export interface OptimizeOptions extends RewriteOptions {
  /** Apply the rewrite rules (default true). */
  rewrite?: boolean;
  /** Fuse chains of elementwise ops (default true). */
  fuse?: boolean;
  /** The most ops one fused node takes (default 48). */
  maxFusedSteps?: number;
  /** The backend the graph will run on: fusion leaves alone the ops it runs faster on its own (fusibleOn). */
  backend?: Backend;
}

export interface OptimizeReport {
  /** Op nodes before, after the rules, and after fusion. */
  nodesBefore: number;
  nodesRewritten: number;
  nodesAfter: number;
  /** How many times each rule fired. */
  fired: Map<string, number>;
  steps: number;
  limitReached: boolean;
  /** Fused nodes made, and the op nodes they took. */
  fusedGroups: number;
  fusedOps: number;
}

export function optimize(graph: Graph, options: OptimizeOptions = {}): { graph: Graph; report: OptimizeReport } {
  const nodesBefore = graph.ops().length;
  let g = graph;
  let fired = new Map<string, number>(), steps = 0, limitReached = false;
  if (options.rewrite ?? true) {
    const r = rewrite(g, options);
    ({ fired, steps, limitReached } = r.report);
    g = r.graph;
  }
  const nodesRewritten = g.ops().length;
  let fusedGroups = 0, fusedOps = 0;
  if (options.fuse ?? true) {
    const f = fuse(g, { maxSteps: options.maxFusedSteps, fusible: fusibleOn(options.backend, g.dtype) });
    ({ groups: fusedGroups, fusedOps } = f);
    g = f.graph;
  }
  return { graph: g, report: { nodesBefore, nodesRewritten, nodesAfter: g.ops().length, fired, steps, limitReached, fusedGroups, fusedOps } };
}
