/**
 * Node's built-in modules that only some runs need, loaded on first use: importing node:v8 and
 * node:worker_threads at the top cost every start several milliseconds (W6), in processes that
 * never compile a kernel or start a thread.
 */
import { createRequire } from 'node:module';

type Builtins = { 'node:v8': typeof import('node:v8'); 'node:os': typeof import('node:os'); 'node:worker_threads': typeof import('node:worker_threads') };

/** process.getBuiltinModule from Node 20.16; before it, require (whose set-up alone costs 5 ms). */
function builtin<K extends keyof Builtins>(id: K): Builtins[K] {
  // Typed as always there; absent before Node 20.16.
  const loaded = (process.getBuiltinModule as typeof process.getBuiltinModule | undefined)?.(id);
  return loaded ?? (createRequire(import.meta.url)(id) as Builtins[K]);
}

export const nodeV8 = (): Builtins['node:v8'] => builtin('node:v8');
export const nodeOs = (): Builtins['node:os'] => builtin('node:os');
export const workerThreads = (): Builtins['node:worker_threads'] => builtin('node:worker_threads');
