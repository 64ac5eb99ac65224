// npm run eval-demo [-- --base DIR --tuned DIR --json OUT]
// Measures the demo pair on held-out prompts (src/train/evaluate-demo.ts) and prints the figures.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../src/cli/default-model.js';
import { evaluateDemo, formatEvaluation } from '../src/train/evaluate-demo.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { base: { type: 'string' }, tuned: { type: 'string' }, json: { type: 'string' }, verbose: { type: 'boolean' } } });
  const root = join(projectRoot(__dirname), 'models', 'demo');
  const evaluation = await evaluateDemo({
    base: values.base ?? join(root, 'base'),
    tuned: values.tuned ?? join(root, 'tuned'),
    onProgress: (done, total) => process.stderr.write(`\r${done}/${total} prompts`),
  });
  process.stderr.write('\n');
  if (values.verbose) {
    for (const r of evaluation.results) {
      console.log(`${JSON.stringify(r.prompt)} → expected ${JSON.stringify(r.expected)}`);
      for (const m of ['base', 'tuned'] as const) {
        const o = r[m];
        console.log(`  ${m.padEnd(5)} ${o.correct ? '✓' : '✗'} ${JSON.stringify(o.response)} score ${o.instructionScore.toFixed(3)} verb rank ${o.verbRank} density ${o.density.map((d) => d.toFixed(2)).join(' ')}`);
      }
    }
  }
  console.log(formatEvaluation(evaluation));
  if (values.json) writeFileSync(values.json, JSON.stringify(evaluation, null, 2) + '\n');
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
