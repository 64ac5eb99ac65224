import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { LensError } from './errors.js';
import { readTextFileBounded } from './read-file.js';

/** The local Hugging Face hub cache, as huggingface_hub finds it. Nothing is ever downloaded. */
export function huggingFaceCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  return join(homedir(), '.cache', 'huggingface', 'hub');
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function looksLikeHubId(spec: string): boolean {
  return HUB_ID.test(spec) && !spec.startsWith('.') && !isAbsolute(spec);
}

/**
 * Turns what a user typed — a folder, or a hub id such as `lmsys/vicuna-7b-v1.5` — into a model
 * folder. A folder that exists wins; otherwise the id is looked up in the local cache
 * (`models--org--name/refs/main` → `snapshots/<revision>/`).
 */
export function resolveModelPath(spec: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!spec.trim()) throw new LensError('No model given: pass a model folder or a Hugging Face hub id.');
  const asPath = resolve(spec);
  if (existsSync(asPath)) {
    if (!statSync(asPath).isDirectory()) throw new LensError(`Model path is not a folder: ${asPath}`, asPath);
    return asPath;
  }
  if (!looksLikeHubId(spec)) throw new LensError(`Model folder not found: ${asPath}`, asPath);
  const cache = huggingFaceCacheDir(env);
  const repo = join(cache, `models--${spec.replace('/', '--')}`);
  const snapshots = join(repo, 'snapshots');
  if (!existsSync(snapshots)) {
    throw new LensError(
      `Model '${spec}' is neither a folder nor in the local Hugging Face cache (looked in ${repo}). ` +
        `Instruction Lens never downloads: fetch it first (e.g. \`huggingface-cli download ${spec}\`) or pass its folder.`,
      repo,
    );
  }
  const ref = join(repo, 'refs', 'main');
  if (existsSync(ref)) {
    const revision = readTextFileBounded(ref, 'the Hugging Face cache reference', 4096).trim();
    const snapshot = join(snapshots, revision);
    if (!/^[\w.-]+$/.test(revision) || !existsSync(snapshot)) {
      throw new LensError(`Hugging Face cache for '${spec}' is inconsistent: refs/main names ${JSON.stringify(revision)} but ${snapshot} does not exist`, ref);
    }
    return snapshot;
  }
  const revisions = readdirSync(snapshots).filter((name) => statSync(join(snapshots, name)).isDirectory());
  if (revisions.length === 1) return join(snapshots, revisions[0]!);
  throw new LensError(
    `Hugging Face cache for '${spec}' has no refs/main and ${revisions.length} snapshots; pass the snapshot folder you mean`,
    snapshots,
  );
}

/** Every model the local cache holds, for the model picker. */
export function listCachedModels(env: NodeJS.ProcessEnv = process.env): { id: string; path: string }[] {
  const cache = huggingFaceCacheDir(env);
  if (!existsSync(cache)) return [];
  const found: { id: string; path: string }[] = [];
  for (const name of readdirSync(cache).sort()) {
    if (!name.startsWith('models--')) continue;
    const id = name.slice('models--'.length).replace('--', '/');
    try {
      found.push({ id, path: resolveModelPath(id, env) });
    } catch {
      // A half-downloaded entry is not a model the user can pick.
    }
  }
  return found;
}
