/** Canonical forms and rewrite rules: tracing, the graph IR, the rule table, fusion, compile. */
export { trace, TracingBackend } from './trace.js';
export type { Traceable } from './trace.js';
export { Graph, GraphBuilder, Node, printIR } from './ir.js';
export type { IROp, NodeKind, PrintIROptions } from './ir.js';
export { rewriteRules, knownPositive, cannotBeNegativeZero } from './rules.js';
export type { Match, RewriteRule } from './rules.js';
export { rewrite, compileRule } from './rewrite.js';
export type { RewriteOptions, RewriteReport } from './rewrite.js';
export { fuse, FusedProgram } from './fusion.js';
export type { FuseOptions, FuseResult } from './fusion.js';
export { optimize } from './optimize.js';
export type { OptimizeOptions, OptimizeReport } from './optimize.js';
export { Plan } from './execute.js';
export { compile, compileValueAndGrad } from './compile.js';
export type { CompileOptions, Compiled, CompiledFunction, ValueAndGrad } from './compile.js';
export { CompileError, RuleError, TraceError } from './errors.js';
