/**
 * Renders a model's chat template the way transformers' apply_chat_template does, for one user
 * message — under a budget. A template is code from a stranger's tokenizer_config.json:
 * `{% for i in range(10**12) %}` or nested loops would otherwise block the thread (in the engine:
 * every later request) or exhaust the heap. So it renders in a worker thread with a bounded heap
 * (`resourceLimits`) and a deadline; on timeout, on cancellation or when it runs out of memory the
 * worker is terminated (V8 stops even a tight loop) and the failure is one line naming the file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { CancelledError, LensError } from './errors.js';
import type { TokenizerFiles } from './tokenizer-files.js';

export interface TemplateBudget {
  /** Wall-clock limit for one rendering (default 2000 ms). */
  timeMs?: number;
  /** Heap limit of the rendering worker (default 256 MiB). */
  memoryMb?: number;
}

export const DEFAULT_TEMPLATE_BUDGET: Required<TemplateBudget> = { timeMs: 2000, memoryMb: 256 };

/**
 * dist/chat-template-worker.js beside the bundle; under tsx (tests, scripts) the TypeScript
 * source, loaded through tsx's CommonJS hook (a worker does not inherit the parent's loader).
 */
function newWorker(options: WorkerOptions): Worker {
  const bundled = join(__dirname, 'chat-template-worker.js');
  if (existsSync(bundled)) return new Worker(bundled, options);
  const source = join(__dirname, 'chat-template-worker.ts');
  return new Worker(`require('tsx/cjs'); require(${JSON.stringify(source)});`, { ...options, eval: true });
}

export function renderChatTemplate(files: TokenizerFiles, userMessage: string, signal?: AbortSignal, budget: TemplateBudget = {}): Promise<string> {
  const { timeMs, memoryMb } = { ...DEFAULT_TEMPLATE_BUDGET, ...budget };
  if (!files.chatTemplate) {
    return Promise.reject(new LensError(`${files.tokenizerFile}: the model has no chat_template in tokenizer_config.json; use the raw prompt format`));
  }
  if (signal?.aborted) return Promise.reject(new CancelledError());
  const where = `chat_template of ${files.tokenizerConfigFile}`;
  const context = {
    messages: [{ role: 'user', content: userMessage }],
    add_generation_prompt: true,
    bos_token: files.bosToken ?? '',
    eos_token: files.eosToken ?? '',
  };
  return new Promise<string>((resolve, reject) => {
    const worker = newWorker({
      workerData: { template: files.chatTemplate, context },
      resourceLimits: { maxOldGenerationSizeMb: memoryMb, maxYoungGenerationSizeMb: Math.min(32, memoryMb), stackSizeMb: 4 },
      stdout: true,
      stderr: true,
    });
    let settled = false;
    const finish = (error: Error | null, text?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      if (error) reject(error);
      else resolve(text!);
    };
    const onAbort = () => finish(new CancelledError());
    const timer = setTimeout(() => finish(new LensError(`${where} did not finish rendering within ${timeMs / 1000} s (a template loop that does not end?)`, files.tokenizerConfigFile)), timeMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (m: { ok: boolean; text?: string; message?: string }) => {
      if (m.ok && typeof m.text === 'string') finish(null, m.text);
      else finish(new LensError(`${where} failed to render: ${m.message ?? 'unknown error'}`, files.tokenizerConfigFile));
    });
    worker.once('error', (e: Error & { code?: string }) => {
      const message = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `needs more than ${memoryMb} MiB of memory` : `failed to render: ${e.message}`;
      finish(new LensError(`${where} ${message}`, files.tokenizerConfigFile));
    });
    worker.once('exit', (code) => finish(new LensError(`${where} failed to render (the renderer stopped with code ${code})`, files.tokenizerConfigFile)));
  });
}
