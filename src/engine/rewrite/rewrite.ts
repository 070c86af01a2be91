/**
 * The rewriting driver: applies a table of rules (rules.ts) and constant folding to every node
 * until none applies (a fixed point), innermost first: a node is rewritten once its inputs are
 * in normal form, and a replacement is normalised in turn. It stops for certain because every
 * rule shrinks the cost of the term it rewrites (checked when a rule is compiled) and, as a
 * guard against what that argument does not cover (sharing in the DAG, broadcasts the driver
 * inserts), because it counts steps and stops at a limit.
 *
 * The replacement is built in the graph's own hash-consing builder, so a replacement that
 * already exists elsewhere in the graph is shared, not duplicated.
 */
import { cpu, CpuBackend } from '../backends/cpu.js';
import { rules as primitives, type Op } from '../primitives.js';
import { ShapeError, broadcastShapes, sameShape, type Tensor } from '../tensor.js';
import { RuleError } from './errors.js';
import { isElementwise } from './fusion.js';
import { Graph, type Node } from './ir.js';
import { costLess, match, namesOf, noBindings, parseRule, patternCost, type Bindings, type Pattern } from './pattern.js';
import { rewriteRules, type Match, type RewriteRule } from './rules.js';

export interface RewriteOptions {
  /** The rules to apply (default: rewriteRules). */
  rules?: readonly RewriteRule[];
  /** Also apply the rules marked `unsafe` (they change results on NaN, Inf or -0). */
  unsafeMath?: boolean;
  /** Evaluate ops whose inputs are all constants (default true). */
  fold?: boolean;
  /** Stop after this many rewrites (default 1000 + 10 per node). */
  maxSteps?: number;
}

export interface RewriteReport {
  /** How many times each rule fired (`fold constants` for folding), in the order first fired. */
  fired: Map<string, number>;
  steps: number;
  /** The step limit stopped rewriting before a fixed point. */
  limitReached: boolean;
}

/** Constants are folded only up to this many elements (a splat of any size folds). */
const FOLD_LIMIT = 1 << 16;

interface CompiledRule {
  rule: RewriteRule;
  lhs: Pattern & { kind: 'op' };
  rhs: Pattern;
}

const compiledRules = new WeakMap<RewriteRule, CompiledRule>();

/**
 * Parses and checks a rule: known ops, every name of the replacement bound by the pattern or
 * by `let`, and a replacement cheaper than the pattern. Throws a RuleError naming the rule.
 */
export function compileRule(rule: RewriteRule): CompiledRule {
  const done = compiledRules.get(rule);
  if (done) return done;
  const where = `rule '${rule.name}'`;
  const { lhs, rhs } = parseRule(rule.rule, where);
  const bound = namesOf(lhs);
  const used = namesOf(rhs);
  const lets = new Set(Object.keys(rule.let ?? {}));
  for (const v of used.vars) if (!bound.vars.has(v) && !lets.has(v)) throw new RuleError(`${where}: '${v}' in the replacement is bound neither by the pattern nor by let`);
  for (const p of used.params) if (!bound.params.has(p) && !lets.has(p)) throw new RuleError(`${where}: params '${p}' in the replacement are bound neither by the pattern nor by let`);
  const before = patternCost(lhs), after = patternCost(rhs);
  if (!costLess(after, before)) {
    throw new RuleError(`${where}: the replacement must cost less than the pattern (cost [${after}] vs [${before}]), or rewriting might never stop`);
  }
  const c: CompiledRule = { rule, lhs: lhs as Pattern & { kind: 'op' }, rhs };
  compiledRules.set(rule, c);
  return c;
}

function matchView(root: Node, b: Bindings): Match {
  return {
    root,
    node: (name) => b.nodes[name]!,
    value: (name) => {
      const n = b.nodes[name];
      return n && n.kind === 'const' ? n.value : null;
    },
    params: <T>(name: string) => b.params[name] as T,
  };
}

/** Rewrites `graph` to a fixed point of the rules; the result shares the graph's builder. */
export function rewrite(graph: Graph, options: RewriteOptions = {}): { graph: Graph; report: RewriteReport } {
  const table = (options.rules ?? rewriteRules).filter((r) => !r.unsafe || options.unsafeMath).map(compileRule);
  const byOp = new Map<string, CompiledRule[]>();
  for (const c of table) {
    let list = byOp.get(c.lhs.op);
    if (!list) byOp.set(c.lhs.op, (list = []));
    list.push(c);
  }
  const builder = graph.builder;
  const nodes = graph.nodes();
  const maxSteps = options.maxSteps ?? 1000 + 10 * nodes.length;
  const fold = options.fold ?? true;
  const round = graph.dtype === 'float32' ? Math.fround : (v: number) => v;
  const report: RewriteReport = { fired: new Map(), steps: 0, limitReached: false };
  const normal = new Map<Node, Node>();

  const fire = (name: string, n: Node): Node => {
    report.steps++;
    report.fired.set(name, (report.fired.get(name) ?? 0) + 1);
    return n;
  };

  const normalize = (start: Node): Node => {
    let cur = start;
    const seen = new Set<Node>();
    for (;;) {
      const known = normal.get(cur);
      if (known) {
        cur = known;
        break;
      }
      if (cur.kind !== 'op') break;
      if (report.steps >= maxSteps) {
        report.limitReached = true;
        break;
      }
      const next = step(cur);
      if (!next || next === cur || seen.has(next)) break;
      seen.add(cur);
      cur = next;
    }
    normal.set(cur, cur);
    normal.set(start, cur);
    return cur;
  };

  const instantiate = (p: Pattern, b: Bindings, lets: Record<string, number | object>, root: boolean): Node => {
    if (p.kind === 'var') {
      const n = b.nodes[p.name];
      if (n) return n;
      const v = lets[p.name];
      if (typeof v !== 'number') throw new RuleError(`a rule's let '${p.name}' is used as a value, so it must give a number (got ${typeof v})`);
      return builder.constant(v);
    }
    if (p.kind === 'num') return builder.constant(p.value);
    const params = p.params === null ? null : p.params in b.params ? b.params[p.params] : lets[p.params];
    const args = p.args.map((a) => instantiate(a, b, lets, false));
    const made = builder.make(p.op, params, args);
    return root ? made : normalize(made);
  };

  const step = (n: Node): Node | null => {
    if (fold) {
      const folded = foldNode(n);
      if (folded) return fire('fold constants', folded);
    }
    for (const c of byOp.get(n.op!) ?? []) {
      let result: Node | null = null;
      match(c.lhs, n, noBindings, (b) => {
        const m = matchView(n, b);
        if (c.rule.when && !c.rule.when(m)) return false;
        const lets: Record<string, number | object> = {};
        for (const [k, f] of Object.entries(c.rule.let ?? {})) {
          const v = f(m);
          if (v === null || v === undefined) return false;
          lets[k] = v;
        }
        try {
          result = fitShape(instantiate(c.rhs, b, lets, true), n);
        } catch (e) {
          if (e instanceof ShapeError) return false;
          throw e;
        }
        return result !== null && result !== n;
      }, round);
      if (result) return fire(c.rule.name, result);
    }
    return null;
  };

  /** The replacement at the shape of the node it replaces: broadcast up if it is smaller. */
  const fitShape = (r: Node, n: Node): Node | null => {
    if (sameShape(r.shape, n.shape)) return r;
    const b = broadcastShapes(r.shape, n.shape);
    if (!sameShape(b, n.shape)) return null;
    return builder.make('broadcastTo', { shape: [...n.shape] }, [normalize(r)]);
  };

  const foldNode = (n: Node): Node | null => {
    if (n.op === 'fused' || !n.inputs.every((x) => x.isConstant)) return null;
    if (n.op === 'detach') return n.inputs[0]!;
    const rule = primitives[n.op as Op];
    if (isElementwise(n.op) && n.inputs.every((x) => x.kind === 'const')) {
      // Splats in, a splat out: one element computes them all.
      const t = rule.forward(cpu, n.inputs.map((x) => cpu.full([], x.value!, graph.dtype)), n.params as never);
      return builder.constant(t.data()[0]!, n.shape);
    }
    if (n.size > FOLD_LIMIT || n.inputs.some((x) => x.size > FOLD_LIMIT)) return null;
    const ts = n.inputs.map((x) => (x.kind === 'const' ? cpu.full(x.shape, x.value!, graph.dtype) : onCpu(x.tensor!)));
    return builder.tensor(rule.forward(cpu, ts, n.params as never), true);
  };

  const mapped = new Map<Node, Node>();
  for (const n of nodes) {
    if (n.kind !== 'op') {
      mapped.set(n, n);
      continue;
    }
    mapped.set(n, normalize(builder.make(n.op!, n.params, n.inputs.map((x) => mapped.get(x)!))));
  }
  return { graph: new Graph(builder, graph.inputs, graph.outputs.map((o) => mapped.get(o)!)), report };
}

function onCpu(t: Tensor): Tensor {
  return t.backend instanceof CpuBackend ? t : cpu.fromData(t.data(), t.shape, t.dtype);
}
