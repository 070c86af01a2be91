/**
 * The pattern language of the rewrite rules: terms over the IR's ops, written as calls.
 *
 *   div(c, add(1, exp(neg(x))))  ->  mul(c, sigmoid(x))
 *   log(sum{p}(exp(x)))          ->  logSumExp{p}(x)
 *
 * A name is a pattern variable: it matches any node, and a second occurrence must be the same
 * node (hash-consing makes that structural equality). A number matches a constant whose every
 * element has that value. `op{p}` binds the op's params to `p` (ops that have params must bind
 * them), and `op{p}` on the right uses them. `add` and `mul` match either way round.
 */
import { rules } from '../primitives.js';
import { RuleError } from './errors.js';
import { paramsKey, type IROp, type Node } from './ir.js';

export type Pattern =
  | { readonly kind: 'var'; readonly name: string }
  | { readonly kind: 'num'; readonly value: number }
  | { readonly kind: 'op'; readonly op: IROp; readonly params: string | null; readonly args: readonly Pattern[] };

/** What a match binds: nodes to variable names, params to param names. */
export interface Bindings {
  readonly nodes: Readonly<Record<string, Node>>;
  readonly params: Readonly<Record<string, unknown>>;
}

/** Ops whose params are null: they never take `{p}`. */
const PARAMLESS = new Set<string>([
  'add', 'sub', 'mul', 'div', 'pow', 'neg', 'exp', 'log', 'sqrt', 'abs', 'sign', 'sin', 'cos', 'tan',
  'asin', 'acos', 'atan', 'sinh', 'cosh', 'tanh', 'sigmoid', 'softplus', 'relu', 'where', 'detach',
]);
const COMMUTATIVE = new Set<string>(['add', 'mul']);

function knownOps(): Set<string> {
  return new Set([...Object.keys(rules).filter((k) => k !== 'fused'), 'detach']);
}

/** Op weights for the cost that every rule must shrink: transcendental ops cost more than arithmetic. */
const WEIGHT: Readonly<Record<string, number>> = {
  exp: 4, log: 4, pow: 4, sigmoid: 4, softplus: 4, tanh: 4, sin: 4, cos: 4, tan: 4, asin: 4, acos: 4, atan: 4,
  sinh: 4, cosh: 4, sqrt: 2, div: 2, sum: 2, max: 2, logSumExp: 6, matmul: 8,
};

/** [weighted ops, nodes]: compared lexicographically, a rule's right side must be smaller. */
export function patternCost(p: Pattern): [number, number] {
  if (p.kind !== 'op') return [0, 1];
  let w = WEIGHT[p.op] ?? 1, n = 1;
  for (const a of p.args) {
    const [aw, an] = patternCost(a);
    w += aw;
    n += an;
  }
  return [w, n];
}

export function costLess(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

// ------------------------------------------------------------------------------ parsing

type Token = { kind: 'ident' | 'num' | 'punct'; text: string; at: number };

function tokenize(text: string, where: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
      continue;
    }
    if (text.startsWith('->', i) || '(){},'.includes(c)) {
      const t = text.startsWith('->', i) ? '->' : c;
      tokens.push({ kind: 'punct', text: t, at: i });
      i += t.length;
      continue;
    }
    const rest = text.slice(i);
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest) ?? /^-?\d+(?:\.\d+)?(?:e[-+]?\d+)?/.exec(rest);
    if (!m) throw new RuleError(`${where}: cannot read '${rest}' at column ${i + 1} of '${text}'`);
    tokens.push({ kind: /^[A-Za-z_]/.test(m[0]) ? 'ident' : 'num', text: m[0], at: i });
    i += m[0].length;
  }
  return tokens;
}

/** Parses `lhs -> rhs`. */
export function parseRule(text: string, where = 'rule'): { lhs: Pattern; rhs: Pattern } {
  const tokens = tokenize(text, where);
  const ops = knownOps();
  let i = 0;
  const peek = () => tokens[i];
  const expect = (t: string) => {
    const tok = tokens[i++];
    if (!tok || tok.text !== t) throw new RuleError(`${where}: expected '${t}'${tok ? ` at column ${tok.at + 1}, found '${tok.text}'` : ' at the end'} in '${text}'`);
  };
  const pattern = (): Pattern => {
    const tok = tokens[i++];
    if (!tok) throw new RuleError(`${where}: the rule '${text}' ends too soon`);
    if (tok.kind === 'num') return { kind: 'num', value: Number(tok.text) };
    if (tok.kind !== 'ident') throw new RuleError(`${where}: unexpected '${tok.text}' at column ${tok.at + 1} in '${text}'`);
    const next = peek();
    if (next?.text !== '(' && next?.text !== '{') {
      if (ops.has(tok.text)) throw new RuleError(`${where}: '${tok.text}' is an op; write ${tok.text}(x) (in '${text}')`);
      return { kind: 'var', name: tok.text };
    }
    if (!ops.has(tok.text)) throw new RuleError(`${where}: unknown op '${tok.text}' in '${text}'; ops are ${[...ops].sort().join(', ')}`);
    let params: string | null = null;
    if (next.text === '{') {
      i++;
      const name = tokens[i++];
      if (name?.kind !== 'ident') throw new RuleError(`${where}: expected a params name after '${tok.text}{' in '${text}'`);
      params = name.text;
      expect('}');
    }
    if (params !== null && PARAMLESS.has(tok.text)) throw new RuleError(`${where}: '${tok.text}' has no params to bind in '${text}'`);
    if (params === null && !PARAMLESS.has(tok.text)) throw new RuleError(`${where}: '${tok.text}' has params: bind them as ${tok.text}{p}(...) in '${text}'`);
    expect('(');
    const args: Pattern[] = [pattern()];
    while (peek()?.text === ',') {
      i++;
      args.push(pattern());
    }
    expect(')');
    return { kind: 'op', op: tok.text as IROp, params, args };
  };
  const lhs = pattern();
  expect('->');
  const rhs = pattern();
  if (i !== tokens.length) throw new RuleError(`${where}: unexpected '${tokens[i]!.text}' after the rule '${text}'`);
  if (lhs.kind !== 'op') throw new RuleError(`${where}: the left side of '${text}' must be an op`);
  return { lhs, rhs };
}

/** Variable and params names a pattern binds. */
export function namesOf(p: Pattern, vars = new Set<string>(), params = new Set<string>()): { vars: Set<string>; params: Set<string> } {
  if (p.kind === 'var') vars.add(p.name);
  else if (p.kind === 'op') {
    if (p.params !== null) params.add(p.params);
    for (const a of p.args) namesOf(a, vars, params);
  }
  return { vars, params };
}

// ------------------------------------------------------------------------------ matching

export const noBindings: Bindings = { nodes: {}, params: {} };

/**
 * Matches `p` at `n`, calling `k` with the bindings of each way it matches until `k` accepts one
 * (returns true): so a condition checked in `k` can reject one way round of `add(a, b)` and
 * accept the other.
 */
export function match(p: Pattern, n: Node, b: Bindings, k: (b: Bindings) => boolean, round = (v: number) => v): boolean {
  switch (p.kind) {
    case 'var': {
      const bound = b.nodes[p.name];
      if (bound) return bound === n && k(b);
      return k({ nodes: { ...b.nodes, [p.name]: n }, params: b.params });
    }
    case 'num':
      return n.kind === 'const' && Object.is(n.value, round(p.value)) && k(b);
    case 'op': {
      if (n.kind !== 'op' || n.op !== p.op || n.inputs.length !== p.args.length) return false;
      let bp = b;
      if (p.params !== null) {
        if (p.params in b.params) {
          if (paramsKey(b.params[p.params]) !== paramsKey(n.params)) return false;
        } else bp = { nodes: b.nodes, params: { ...b.params, [p.params]: n.params } };
      }
      if (matchArgs(p.args, n.inputs, 0, false, bp, k, round)) return true;
      return COMMUTATIVE.has(p.op) && n.inputs[0] !== n.inputs[1] && matchArgs(p.args, n.inputs, 0, true, bp, k, round);
    }
  }
}

function matchArgs(ps: readonly Pattern[], ns: readonly Node[], i: number, swap: boolean, b: Bindings, k: (b: Bindings) => boolean, round: (v: number) => number): boolean {
  if (i === ps.length) return k(b);
  const n = ns[swap ? ps.length - 1 - i : i]!;
  return match(ps[i]!, n, b, (b2) => matchArgs(ps, ns, i + 1, swap, b2, k, round), round);
}
