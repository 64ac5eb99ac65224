// npm run eval-demo [-- --base DIR --tuned DIR --json OUT --verbose --expected --card]
// --expected attributes the expected response for both models instead of each model's own;
// --card writes the table into models/demo/README.md (between its eval-demo markers).
// Measures the demo pair on held-out prompts (src/train/evaluate-demo.ts) and prints the figures.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/model/write-file.js';
import { projectRoot } from '../src/model/default-model.js';
import { evaluateDemo, formatEvaluation, withCardTable } from '../src/train/evaluate-demo.js';


async function main(): Promise<void> {
  const { values } = parseArgs({ options: { base: { type: 'string' }, tuned: { type: 'string' }, json: { type: 'string' }, verbose: { type: 'boolean' }, expected: { type: 'boolean' }, card: { type: 'boolean' } } });
  if (values.card && (values.base || values.tuned || values.expected)) throw new Error('--card describes models/demo as measured by default: it takes no --base, --tuned or --expected');
  const root = join(projectRoot(__dirname), 'models', 'demo');
  const evaluation = await evaluateDemo({
    base: values.base ?? join(root, 'base'),
    tuned: values.tuned ?? join(root, 'tuned'),
    response: values.expected ? 'expected' : 'own',
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
  if (values.json) writeFileAtomic(values.json, JSON.stringify(evaluation, null, 2) + '\n');
  if (values.card) {
    const card = join(root, 'README.md');
    writeFileAtomic(card, withCardTable(readFileSync(card, 'utf8'), evaluation));
    console.error(`table written to ${card}`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
