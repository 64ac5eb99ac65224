/**
 * `instruction-lens evaluate`: a prompt set through both models, each prompt attributed and scored
 * with the same code as `compare` (operations.attribute → attributeModel), one results line per
 * (prompt, model) appended as soon as it is computed (results.ts). The base model takes all of
 * the shard's prompts first, then the tuned model (one model in memory at a time, loaded once).
 * A run that stopped (killed, cancelled, a machine lost) continues with the same arguments where it
 * stopped: the lines already written are not recomputed.
 */
import { mkdirSync } from 'node:fs';
import { CancelledError, LensError } from '../model/errors.js';
import type { PromptFormat } from '../model/prompt.js';
import type { ModelPool } from '../engine/model-pool.js';
import { attribute, ffnDiff, headsDiff } from '../engine/operations.js';
import { checkpointFingerprint } from '../explain/analysis-cache.js';
import { detectInstructions } from '../explain/instructions.js';
import type { Objective } from '../llm/gradient-graph.js';
import { detectionCounts } from './detection-metrics.js';
import { shardOf, type EvalPrompt, type OnError, type PromptSet } from './prompt-set.js';
import { RESULTS_SCHEMA, ResultsWriter, type PromptResult, type ResultsHeader, type Role, type RunOptions } from './results.js';
import type { ProgressSink } from './progress.js';

export interface EvaluateRun {
  base: string;
  tuned: string;
  set: PromptSet;
  out: string;
  shard: { k: number; n: number };
  options: RunOptions;
  /** The full lexicon (built-in + --verbs) when --verbs was given. */
  lexicon?: readonly string[];
  restart: boolean;
  /** What a prompt the model cannot take does: `skip` records the error in its line, `stop` ends the run. */
  onError: OnError;
  signal?: AbortSignal;
  log?: (line: string) => void;
  progress?: (total: number, already: number) => ProgressSink;
}

export interface EvaluateSummary {
  file: string;
  /** Lines of this shard: prompts × 2 models. */
  total: number;
  /** Found done when the run started. */
  resumed: number;
  computed: number;
  errors: number;
}

const ROLES: readonly Role[] = ['base', 'tuned'];

async function onePrompt(pool: ModelPool, run: EvaluateRun, spec: string, role: Role, p: EvalPrompt): Promise<PromptResult> {
  const head = { kind: 'result' as const, index: p.index, id: p.id, group: p.group, model: role };
  try {
    const report = await attribute(
      pool,
      {
        model: spec,
        prompt: p.prompt,
        response: p.response?.[role],
        format: run.options.format as PromptFormat,
        maxNewTokens: run.options.maxNewTokens,
        objective: run.options.objective as Objective,
        importance: run.options.importance,
        instructionSpans: p.instruction,
        instructionVerbs: run.lexicon,
      },
      { signal: run.signal },
    );
    const detection = p.instruction ? detectionCounts(p.prompt, detectInstructions(p.prompt, { verbs: run.lexicon }).spans, p.instruction) : undefined;
    return {
      ...head,
      response: { text: report.response.text, source: report.response.source },
      instructionSource: report.instructions.source,
      instructionScore: report.instructionScore,
      density: report.density,
      instructionMask: report.instructionMask,
      ...(detection ? { detection } : {}),
    };
  } catch (e) {
    if (!(e instanceof LensError) || run.onError === 'stop') {
      if (e instanceof LensError) throw new LensError(`${run.set.file}:${p.line} (id "${p.id}", ${role} model): ${e.message} (--on-error skip records it and goes on)`);
      throw e;
    }
    run.log?.(`${run.set.file}:${p.line} (id "${p.id}", ${role} model): ${e.message}; recorded, skipped`);
    return { ...head, error: e.message };
  }
}

export async function runEvaluate(pool: ModelPool, run: EvaluateRun): Promise<EvaluateSummary> {
  mkdirSync(run.out, { recursive: true });
  const identity = async (spec: string) => ({ spec, fingerprint: checkpointFingerprint((await pool.get(spec)).checkpoint) });
  const header: ResultsHeader = {
    kind: 'header',
    schema: RESULTS_SCHEMA,
    base: await identity(run.base),
    tuned: await identity(run.tuned),
    options: run.options,
    prompts: { file: run.set.file, hash: run.set.hash, count: run.set.prompts.length, skipped: run.set.skipped },
    shard: run.shard,
  };
  const writer = ResultsWriter.open(run.out, header, { restart: run.restart, log: run.log });
  try {
    const prompts = shardOf(run.set.prompts, run.shard);
    const done = new Set(writer.lines.flatMap((l) => (l.kind === 'result' ? [`${l.model}\u0000${l.index}`] : [])));
    const total = prompts.length * ROLES.length;
    const resumed = done.size;
    const progress = run.progress?.(total, resumed);
    let finished = resumed;
    let computed = 0;
    let errors = writer.lines.filter((l) => l.kind === 'result' && l.error !== undefined).length;
    for (const role of ROLES) {
      const spec = role === 'base' ? run.base : run.tuned;
      for (const p of prompts) {
        if (done.has(`${role}\u0000${p.index}`)) continue;
        if (run.signal?.aborted) throw new CancelledError();
        const line = await onePrompt(pool, run, spec, role, p);
        // An error while cancelling may come from the cancellation: not recorded. A finished line is kept.
        if (run.signal?.aborted && line.error !== undefined) throw new CancelledError();
        writer.append(line);
        computed++;
        finished++;
        if (line.error !== undefined) errors++;
        progress?.update(finished);
      }
    }
    progress?.finish();
    if (run.options.heads && !writer.lines.some((l) => l.kind === 'heads')) {
      run.log?.('heads: the paper\'s Table 3 for the pair (cached per model)');
      const result = await headsDiff(
        pool,
        { base: run.base, tuned: run.tuned, instructionVerbs: run.lexicon, layers: run.options.layers ?? undefined, wordsFile: run.options.words ?? undefined },
        { signal: run.signal, log: run.log },
      );
      writer.append({ kind: 'heads', verbs: result.verbs });
    }
    if (run.options.ffn && !writer.lines.some((l) => l.kind === 'ffn')) {
      run.log?.('ffn: per-layer rotation of the FFN components (cached per model)');
      const result = await ffnDiff(pool, { base: run.base, tuned: run.tuned, layers: run.options.layers ?? undefined, wordsFile: run.options.words ?? undefined }, { signal: run.signal, log: run.log });
      writer.append({ kind: 'ffn', rotation: result.rotation });
    }
    return { file: writer.path, total, resumed, computed, errors };
  } finally {
    writer.close();
  }
}
