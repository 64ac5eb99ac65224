// npm run train-demo [-- --out DIR] [--phase base|tuned] [--threads N] [--max-steps-base N] [--max-steps-tuned N]
// Trains the embedded demo pair (models/demo/base, models/demo/tuned) from its seed; see
// models/demo/README.md and src/train/demo.ts.
import { parseArgs } from 'node:util';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { trainDemo } from '../src/train/demo.js';
import { projectRoot } from '../src/model/default-model.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      phase: { type: 'string' },
      threads: { type: 'string' },
      'max-steps-base': { type: 'string' },
      'max-steps-tuned': { type: 'string' },
    },
  });
  const out = values.out ?? join(projectRoot(__dirname), 'models', 'demo');
  const phases = values.phase ? [values.phase as 'base' | 'tuned'] : undefined;
  if (phases && !['base', 'tuned'].includes(phases[0]!)) throw new Error(`--phase must be base or tuned, got ${values.phase}`);
  // Ctrl-C: the staging folder of a full run goes with the process; the committed models stay.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      rmSync(join(out, `.staging-${process.pid}`), { recursive: true, force: true });
      process.exit(130);
    });
  }
  const started = performance.now();
  const result = await trainDemo({
    out,
    phases,
    threads: values.threads ? Number(values.threads) : undefined,
    maxSteps: {
      base: values['max-steps-base'] ? Number(values['max-steps-base']) : undefined,
      tuned: values['max-steps-tuned'] ? Number(values['max-steps-tuned']) : undefined,
    },
    log: (line) => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}`),
  });
  console.log(JSON.stringify({ ...result, totalSeconds: Math.round((performance.now() - started) / 1000) }));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
