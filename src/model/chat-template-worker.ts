// The worker thread that renders a chat template (see chat-template.ts): a template comes from a
// stranger's tokenizer_config.json and may loop or allocate without end, so it runs here, where
// the caller can stop it and V8 bounds its heap.
import { parentPort, workerData } from 'node:worker_threads';
import { Environment, Template } from '@huggingface/jinja';

/**
 * Ranges longer than this are refused. The library's `range` builds an array; one of some 10⁸
 * items does not stop at the worker's heap limit but at V8's largest array, whose failure is a
 * fatal error that ends the whole process (seen: SIGTRAP under load), not the worker alone.
 * No chat template loops over more than a conversation's messages.
 */
const MAX_RANGE = 1_000_000;

function rangeLength(start: number, stop: number | undefined, step = 1): number {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  if (step === 0) return 0; // the library's own range reports it
  return Math.max(0, Math.ceil((to - from) / step));
}

// The library registers its globals with Environment.set when a render starts; its range is
// wrapped there, so the interpreter and everything else stay the library's.
const set = Environment.prototype.set;
Environment.prototype.set = function (this: Environment, name: string, value: unknown) {
  if (name === 'range' && typeof value === 'function') {
    const range = value as (start: number, stop?: number, step?: number) => number[];
    value = (start: number, stop?: number, step?: number) => {
      const length = rangeLength(start, stop, step);
      if (!(length <= MAX_RANGE)) throw new Error(`range() of ${length} items (at most ${MAX_RANGE})`);
      return range(start, stop, step);
    };
  }
  return set.call(this, name, value as never);
} as typeof set;

const { template, context } = workerData as { template: string; context: Record<string, unknown> };
try {
  parentPort!.postMessage({ ok: true, text: new Template(template).render(context) });
} catch (e) {
  parentPort!.postMessage({ ok: false, message: e instanceof Error ? e.message : String(e) });
}
