import { parseArgs } from 'node:util';
import { loadCheckpoint } from '../model/checkpoint.js';
import { CancelledError, LensError } from '../model/errors.js';
import { ModelPool, describeCheckpoint } from '../engine/model-pool.js';
import { DEFAULT_MAX_NEW_TOKENS, attribute, compare, ffnDiff, ffnGlobal, generate, headsDiff, headsGlobal, inspect } from '../engine/operations.js';
import type { AttributionProgress } from '../explain/attribution.js';
import type { AnalysisSectionProgress } from '../engine/operations.js';
import { attributionStep, sectionStep, type Role } from '../engine/progress.js';
import { createCliProgress, interactiveStream, type CliProgress } from './progress-line.js';
import { scoreJsonl } from '../explain/score-file.js';
import { renderHtml } from '../report/html.js';
import { renderTerminal, supportsColor } from '../report/terminal.js';
import { formatFfnDiff, formatHeadsDiff } from '../report/diff.js';
import { parseProviderSetting } from '../runtime/session.js';
import { parsePrecisionSetting } from '../llm/runner.js';
import { formatModelInfo } from '../shared/model-info.js';
import { writeOutput, writesToStdout } from '../model/write-file.js';
import { fileError } from '../model/read-file.js';
import { visibleControls } from '../report/escape.js';
import {
  OPTIONS, USAGE, UsageError, ffnOptionsOf, formatOf, headsOptionsOf, importanceOf, instructionSpansOf, layersOf, modeOf, modelOf, objectiveOf, positiveInt, promptOf, verbsOf, type Values,
} from './options.js';
import { evaluateCommand, evaluateReportCommand } from './evaluate-command.js';

/** An attribution's progress events as CLI progress (`role` absent: the only model). */
function attributionProgress(progress: CliProgress, role?: Role) {
  return (p: AttributionProgress) => progress.update(attributionStep(role, p));
}

/** A heads or FFN analysis's progress events as CLI progress (`role` absent: the only model). */
function sectionProgress(progress: CliProgress, role: Role | undefined, p: AnalysisSectionProgress): void {
  progress.update(sectionStep(role, p));
}

/** What every command gets: the parsed options, the model pool, the log and the cancellation signal. */
interface CommandContext {
  values: Values;
  pool: ModelPool;
  log: (line: string) => void;
  /** The progress line (on a terminal) or plain stage lines (elsewhere). */
  progress: CliProgress;
  signal: AbortSignal;
  /** The command line's words after the options are taken out (the command's name first). */
  positionals: string[];
}

/** The commands, by name: each returns the process's exit code. */
const COMMANDS: Record<string, (context: CommandContext) => Promise<number>> = {
  info: async ({ values }) => {
    const info = describeCheckpoint(loadCheckpoint(await modelOf(values)));
    if (values.json) await writeOutput(values.json, JSON.stringify(info, null, 2) + '\n');
    else process.stdout.write(`${visibleControls(formatModelInfo(info), { newline: 'keep', tab: 'keep' })}\n`);
    return 0;
  },
  generate: async ({ values, pool, log, signal }) => {
    const prompt = promptOf(values);
    const result = await generate(
      pool,
      { model: await modelOf(values), prompt, format: formatOf(values), maxNewTokens: positiveInt(values['max-new-tokens'], '--max-new-tokens', DEFAULT_MAX_NEW_TOKENS) },
      signal,
    );
    if (values.json) await writeOutput(values.json, JSON.stringify(result) + '\n');
    // The model's text may hold anything a tokenizer can decode: no control character reaches the terminal.
    if (!writesToStdout(values.json)) process.stdout.write(`${visibleControls(result.text, { newline: 'keep', tab: 'keep' })}\n`);
    log(`${result.outputIds.length} tokens on ${result.executionDevice}`);
    return 0;
  },
  inspect: async ({ values, pool, log }) => {
    if (!values.json) throw new UsageError('inspect needs --json OUT');
    const result = await inspect(pool, { model: await modelOf(values), prompt: promptOf(values), format: formatOf(values), attentions: values.attentions, ffn: values.ffn });
    await writeOutput(values.json, JSON.stringify(result) + '\n');
    log(`wrote ${values.json}: ${result.inputIds.length} positions on ${result.executionDevice}`);
    return 0;
  },
  attribute: async ({ values, pool, log, progress, signal }) => {
    if (!values.json) throw new UsageError('attribute needs --json OUT');
    const prompt = promptOf(values);
    const model = await modelOf(values);
    const report = await attribute(
      pool,
      {
        model,
        prompt,
        response: values.response,
        format: formatOf(values),
        maxNewTokens: positiveInt(values['max-new-tokens'], '--max-new-tokens', DEFAULT_MAX_NEW_TOKENS),
        objective: objectiveOf(values),
        mode: modeOf(values),
        importance: importanceOf(values),
        instructionSpans: instructionSpansOf(values, prompt),
        instructionVerbs: verbsOf(values),
      },
      { signal: signal, onProgress: attributionProgress(progress) },
    );
    progress.stop();
    await writeOutput(values.json, JSON.stringify(report) + '\n');
    log(`wrote ${values.json}: ${report.tokens.length} prompt × ${report.response.tokens.length} response tokens on ${report.executionDevice ?? report.executionProvider}; instruction score ${report.instructionScore.toFixed(3)}`);
    return 0;
  },
  heads: async ({ values, pool, log, progress, signal }) => {
    if (!values.json) throw new UsageError('heads needs --json OUT');
    const options = headsOptionsOf(values);
    const model = await modelOf(values);
    const result = await headsGlobal(pool, { model, provider: parseProviderSetting(values.provider ?? 'auto'), ...options }, { signal, log: progress.note, onProgress: (p) => sectionProgress(progress, undefined, { section: 'heads', progress: p }) });
    progress.stop();
    const { fromCache, computeMs, ...rest } = result;
    await writeOutput(values.json, JSON.stringify({ model, ...rest }) + '\n');
    log(`wrote ${values.json}: ${result.layers.length} layers × ${result.numHeads} heads, ${result.words.count} words${fromCache ? ' (from the analysis cache)' : ''} in ${(computeMs / 1000).toFixed(1)} s`);
    return 0;
  },
  ffn: async ({ values, pool, log, progress, signal }) => {
    if (!values.json) throw new UsageError('ffn needs --json OUT');
    const options = ffnOptionsOf(values);
    const model = await modelOf(values);
    const result = await ffnGlobal(pool, { model, provider: parseProviderSetting(values.provider ?? 'auto'), ...options }, { signal, log: progress.note, onProgress: (p) => sectionProgress(progress, undefined, { section: 'ffn', progress: p }) });
    progress.stop();
    const { fromCache, computeMs, bases: _bases, ...rest } = result;
    await writeOutput(values.json, JSON.stringify({ model, ...rest }) + '\n');
    log(`wrote ${values.json}: ${result.layers.length} layers × ${result.options.components} components, ${result.words.count} words${fromCache ? ' (from the analysis cache)' : ''} in ${(computeMs / 1000).toFixed(1)} s`);
    return 0;
  },
  'heads-diff': async ({ values, pool, progress, signal }) => {
    const options = headsOptionsOf(values);
    const base = await modelOf(values, 'base');
    const tuned = await modelOf(values, 'tuned');
    const result = await headsDiff(pool, { base, tuned, provider: parseProviderSetting(values.provider ?? 'auto'), instructionVerbs: verbsOf(values), ...options }, { signal, log: progress.note, onProgress: (p) => sectionProgress(progress, p.role, { section: 'heads', progress: p.progress }) });
    progress.stop();
    if (values.json) await writeOutput(values.json, JSON.stringify(result) + '\n');
    if (!writesToStdout(values.json)) process.stdout.write(visibleControls(formatHeadsDiff(result), { newline: 'keep' }));
    return 0;
  },
  'ffn-diff': async ({ values, pool, progress, signal }) => {
    const options = ffnOptionsOf(values);
    const base = await modelOf(values, 'base');
    const tuned = await modelOf(values, 'tuned');
    const result = await ffnDiff(pool, { base, tuned, provider: parseProviderSetting(values.provider ?? 'auto'), ...options }, { signal, log: progress.note, onProgress: (p) => sectionProgress(progress, p.role, { section: 'ffn', progress: p.progress }) });
    progress.stop();
    if (values.json) await writeOutput(values.json, JSON.stringify(result) + '\n');
    if (!writesToStdout(values.json)) process.stdout.write(formatFfnDiff(result));
    return 0;
  },
  compare: async ({ values, pool, progress, signal }) => {
    const prompt = promptOf(values);
    const format = formatOf(values);
    const headsOptions = headsOptionsOf(values);
    const ffnOptions = ffnOptionsOf(values);
    const report = await compare(
      pool,
      {
        base: await modelOf(values, 'base'),
        tuned: await modelOf(values, 'tuned'),
        prompt,
        responseBase: values['response-base'],
        responseTuned: values['response-tuned'],
        formatBase: format,
        formatTuned: format,
        maxNewTokens: positiveInt(values['max-new-tokens'], '--max-new-tokens', DEFAULT_MAX_NEW_TOKENS),
        objective: objectiveOf(values),
        mode: modeOf(values),
        importance: importanceOf(values),
        instructionSpans: instructionSpansOf(values, prompt),
        heads: !values['no-heads'],
        ffn: !values['no-ffn'],
        headsOptions: { topK: headsOptions.topK, dims: headsOptions.dims, vectors: headsOptions.vectors, layers: headsOptions.layers },
        ffnOptions: { components: ffnOptions.components, layers: ffnOptions.layers },
        wordsFile: values.words,
        instructionVerbs: verbsOf(values),
      },
      {
        signal: signal,
        log: progress.note,
        onProgress: (role, p) => attributionProgress(progress, role)(p),
        onAnalysisProgress: (role, p) => sectionProgress(progress, role, p),
      },
    );
    progress.stop();
    // Render before writing anything, so a failure leaves no file behind.
    const html = values.html ? renderHtml(report) : undefined;
    if (values.json) await writeOutput(values.json, JSON.stringify(report) + '\n');
    if (values.html) await writeOutput(values.html, html!);
    if (!writesToStdout(values.json) && !writesToStdout(values.html)) process.stdout.write(renderTerminal(report, { color: values.color ?? supportsColor(process.stdout, process.env), width: process.stdout.columns || 100, verbs: verbsOf(values) }));
    return 0;
  },
  evaluate: async ({ values, pool, log, signal }) => {
    await evaluateCommand(
      pool,
      {
        base: await modelOf(values, 'base'), tuned: await modelOf(values, 'tuned'), prompts: values.prompts, out: values.out, shard: values.shard,
        restart: values.restart ?? false, onError: values['on-error'], heads: values.heads ?? false, ffn: values.ffn ?? false, format: formatOf(values),
        maxNewTokens: positiveInt(values['max-new-tokens'], '--max-new-tokens', DEFAULT_MAX_NEW_TOKENS), objective: objectiveOf(values),
        importance: importanceOf(values), lexicon: verbsOf(values), layers: layersOf(values), words: values.words,
      },
      { signal, log },
    );
    return 0;
  },
  'evaluate-report': async ({ values, positionals, log }) => {
    await evaluateReportCommand(positionals.slice(1), values.out, log);
    return 0;
  },
  score: async ({ values, log }) => {
    if (!values.input || !values.output) throw new UsageError('score needs --input FILE.jsonl[.gz] and --output OUT.jsonl');
    const summary = await scoreJsonl(values.input, values.output, importanceOf(values));
    log(`scored ${summary.scored} of ${summary.lines} lines into ${values.output}${summary.empty ? ` (${summary.empty} with an empty matrix)` : ''}`);
    return 0;
  },
};

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`instruction-lens: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  // In place on a terminal, unless stdout carries the JSON or the HTML (`-`): then a program reads us.
  const progress = createCliProgress(process.stderr, {
    interactive: interactiveStream(process.stderr) && !writesToStdout(values.json) && !writesToStdout(values.html),
  });
  const log = progress.log;
  const pool = new ModelPool({ provider: parseProviderSetting(values.provider ?? 'auto'), precision: parsePrecisionSetting(values.precision ?? 'auto'), log });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!run) throw new UsageError(`unknown command '${command}'`);
    return await run({ values, pool, log, progress, signal: controller.signal, positionals });
  } catch (e) {
    progress.stop();
    if (e instanceof UsageError) {
      process.stderr.write(`instruction-lens: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof LensError || e instanceof CancelledError) {
      // The CLI's way to give the response (the extension names none: its users have no flags).
      const hint = e instanceof LensError && e.reason === 'empty-response' ? ' (--response, or --response-base/--response-tuned with compare)' : '';
      process.stderr.write(`instruction-lens: ${visibleControls(e.message)}${hint}\n`);
      return e instanceof CancelledError ? 130 : 1;
    }
    const system = e as NodeJS.ErrnoException;
    if (typeof system?.code === 'string' && typeof system.syscall === 'string') {
      // A file operation that no reader above turned into a LensError: still one line naming the file.
      process.stderr.write(`instruction-lens: ${visibleControls(fileError(`Cannot ${system.syscall}`, system.path ?? '(unknown file)', e).message)}\n`);
      return 1;
    }
    process.stderr.write(`instruction-lens: internal error: ${(e as Error).stack ?? e}\n`);
    return 70;
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
    await pool.dispose();
  }
}
