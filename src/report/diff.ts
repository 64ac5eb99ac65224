/**
 * The two-model results of `heads-diff` and `ffn-diff` as text for the terminal (the CLI prints
 * them; `--json` writes the results themselves).
 */
import type { FfnDiffResult, HeadsDiffResult } from '../engine/operations.js';

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '   –  ' : `${(v * 100).toFixed(1).padStart(5)}%`);

/** The paper's Table 3 as text (`heads-diff`). */
export function formatHeadsDiff(result: HeadsDiffResult): string {
  const { verbs } = result;
  const header = `${'verbs'.padEnd(22)}${verbs.groups.map((g) => `layers ${g.layers[0] + 1}–${g.layers[1]}`.padStart(16)).join('')}`;
  const row = (label: string, cells: (number | null)[]) => `${label.padEnd(22)}${cells.map((c) => pct(c).padStart(16)).join('')}`;
  const lines = [
    'Share of heads where the tuned model has more word pairs with the verb than the base model (ties ignored):',
    '',
    header,
    row('instruction (mean)', verbs.instruction.mean),
    row('instruction (pooled)', verbs.instruction.pooled),
    row('general (mean)', verbs.general.mean),
    row('general (pooled)', verbs.general.pooled),
    '',
  ];
  for (const [name, table] of [['instruction verbs', verbs.instruction], ['general verbs', verbs.general]] as const) {
    if (!table.verbs.length) continue;
    lines.push(`${name}:`);
    for (const r of table.verbs) lines.push(row(`  ${r.verb}`, r.share));
    lines.push('');
  }
  return lines.join('\n');
}

/** The FFN rotation per layer as text (`ffn-diff`). */
export function formatFfnDiff(result: FfnDiffResult): string {
  const lines = [`Rotation of the top-${result.rotation[0]?.k ?? 0} FFN components, base → tuned:`, '', `${'layer'.padStart(5)}  ${'mean cos'.padStart(9)}  ${'mean angle'.padStart(10)}  ${'best match'.padStart(10)}`];
  for (const r of result.rotation) {
    lines.push(`${String(r.layer).padStart(5)}  ${r.meanCosine.toFixed(4).padStart(9)}  ${`${r.meanAngleDegrees.toFixed(1)}°`.padStart(10)}  ${r.meanBestMatch.toFixed(4).padStart(10)}`);
  }
  return lines.join('\n') + '\n';
}
