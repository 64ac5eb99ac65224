// The JavaScript heap's share of a run's peak memory.
//
// Building and serializing a model graph (thousands of nodes, protobuf objects) leaves tens of MB
// of garbage on the V8 heap, and V8 keeps the heap's pages (and a young generation sized for that
// burst) long after: on a 135M-parameter model that was 0.05× of the weight bytes, held through
// the whole run that follows. These two levers let the process give it back at the moment it
// matters (measured in `npm run bench -- --real-size`).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | null | undefined;

/**
 * Node flags for the processes that hold a model (the CLI's shebang in scripts/build.mjs, the
 * engine's fork): a young generation capped at 1 MiB per semi-space. Their JavaScript allocates in
 * bursts (graph building, report JSON) between long native runs, where V8's default (growing to
 * 16 MiB per semi-space, and kept) only holds garbage beside the weights. It must be given at start:
 * set at run time it does not shrink a heap already configured.
 */
export const MODEL_PROCESS_NODE_FLAGS = ['--max-semi-space-size=1'];

/**
 * A full garbage collection now, so the heap shrinks before a long native run (after a session
 * opened, its graph's objects are garbage). Node exposes `gc` only with --expose-gc; setting the
 * flag at run time and fetching `gc` from a fresh context is the documented way around that.
 *
 * This collection also compacts every page: a plain full collection frees the objects but leaves
 * the survivors spread over the pages the graph building filled (old space 15 MiB holding 6 MiB on
 * a 135M model's attribution, kept resident through the run). Only here, not on every collection
 * (the flag is set for this one and cleared after), so the collections V8 schedules itself keep
 * their cost.
 */
export function collectGarbage(): void {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  if (!collect) return;
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    collect();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
}
