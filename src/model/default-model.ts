import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LensError } from './errors.js';

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

/**
 * The model used when none is given: the embedded demo pair (models/demo/base, models/demo/tuned),
 * which ships with the repository and the VSIX. The CLI and the engine both resolve '' through here.
 */
export async function defaultModel(which: 'base' | 'tuned' = 'base'): Promise<DefaultModel> {
  const demo = join(projectRoot(), 'models', 'demo', which);
  if (!existsSync(join(demo, 'config.json'))) {
    throw new LensError(`The embedded demo ${which} model is missing (${demo}/config.json): give a model, or restore models/demo (npm run train-demo)`, demo);
  }
  return { path: demo, note: `Using the embedded demo ${which} model (${demo}).` };
}
