import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeSyntheticCheckpoint } from '../model/synthetic.js';

/** The project root: where package.json sits, whether we run from src/ (tests) or dist/ (bundle). */
export function projectRoot(start = __dirname): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return start;
    dir = up;
  }
  return dir;
}

export interface DefaultModel {
  path: string;
  note: string;
}

const SYNTHETIC_VERSION = 'tiny-v1';

/**
 * The model used when none is given: the embedded demo pair when it exists; until then a small
 * synthetic checkpoint (random weights) that the project generates once into a cache folder.
 */
export async function defaultModel(which: 'base' | 'tuned' = 'base'): Promise<DefaultModel> {
  const demo = join(projectRoot(), 'models', 'demo', which);
  if (existsSync(join(demo, 'config.json'))) return { path: demo, note: `Using the embedded demo ${which} model (${demo}).` };
  const cacheRoot = process.env.INSTRUCTION_LENS_CACHE ?? join(homedir(), '.cache', 'instruction-lens');
  const dir = join(cacheRoot, 'synthetic', `${SYNTHETIC_VERSION}-${which}`);
  if (!existsSync(join(dir, 'config.json'))) {
    const temp = `${dir}.${process.pid}.tmp`;
    rmSync(temp, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    // Two seeds, so that "base" and "tuned" are different models even before the demo pair exists.
    await writeSyntheticCheckpoint(temp, { preset: 'tiny', seed: which === 'base' ? 1 : 2 });
    if (!existsSync(join(dir, 'config.json'))) renameSync(temp, dir);
    else rmSync(temp, { recursive: true, force: true });
  }
  return {
    path: dir,
    note: `No trained demo model is embedded yet: using a synthetic checkpoint with random weights (${dir}); its output is meaningless text.`,
  };
}
