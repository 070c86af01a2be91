/**
 * The process a sweep trains its trials in (started by runSweep with child_process.fork, one
 * per job, reused from trial to trial). Trials run in processes rather than threads so that a
 * trial that crashes or runs out of memory takes down only its own process: the sweep records
 * it as failed and starts a fresh worker for the next trial.
 *
 * Protocol (advanced serialization, so NaN survives): the worker says `ready` once it listens
 * (a message sent before that would be lost: the channel does not queue for absent listeners);
 * then the parent sends a TrialRequest at a time and the worker answers each with one
 * TrialReply. The worker exits when the parent disconnects.
 */
import { InputError } from '../errors.js';
import type { ModelSpec } from '../loaders/spec.js';
import type { Summary } from './run-folder.js';
import { train } from './trainer.js';

export interface TrialRequest {
  type: 'trial';
  id: string;
  spec: ModelSpec;
  baseDir: string;
  runDir: string;
  /** Continue from the checkpoint in runDir. */
  resume: boolean;
  /** Where the trial's kernels run. */
  device: 'cpu' | 'gpu';
}

export type TrialReply =
  | { type: 'ready' }
  | { type: 'done'; id: string; summary: Summary; interrupted: boolean }
  | { type: 'error'; id: string; message: string; input: boolean };

async function handle(request: TrialRequest): Promise<TrialReply> {
  try {
    const result = await train({ spec: request.spec, baseDir: request.baseDir, runDir: request.runDir, resume: request.resume, device: request.device });
    return { type: 'done', id: request.id, summary: result.summary, interrupted: result.interrupted };
  } catch (e) {
    if (e instanceof InputError) return { type: 'error', id: request.id, message: e.line().replace(/\n/g, '; '), input: true };
    const err = e instanceof Error ? e : new Error(String(e));
    return { type: 'error', id: request.id, message: `${err.name}: ${err.message}`, input: false };
  }
}

if (!process.send) {
  throw new Error('sweep-worker is started by rmad sweep (child_process.fork), not run directly');
}
process.on('message', (message: TrialRequest) => {
  void handle(message).then((reply) => process.send!(reply));
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' } satisfies TrialReply);
