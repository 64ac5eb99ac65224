// The worker thread that renders a chat template (see chat-template.ts): a template comes from a
// stranger's tokenizer_config.json and may loop or allocate without end, so it runs here, where
// the caller can stop it and V8 bounds its heap.
import { parentPort, workerData } from 'node:worker_threads';
import { Template } from '@huggingface/jinja';

const { template, context } = workerData as { template: string; context: Record<string, unknown> };
try {
  parentPort!.postMessage({ ok: true, text: new Template(template).render(context) });
} catch (e) {
  parentPort!.postMessage({ ok: false, message: e instanceof Error ? e.message : String(e) });
}
