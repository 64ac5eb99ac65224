import { readFileSync, existsSync, statSync } from 'node:fs';
import { LensError } from './errors.js';

/** Reads and parses a JSON file, turning every failure into a message that names the file. */
export function readJsonFile(path: string, what: string): unknown {
  if (!existsSync(path)) throw new LensError(`${what} not found: ${path}`, path);
  if (!statSync(path).isFile()) throw new LensError(`${what} is not a file: ${path}`, path);
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LensError(`${path}: invalid JSON (${(e as Error).message})`, path);
  }
}

export function readJsonObject(path: string, what: string): Record<string, unknown> {
  const value = readJsonFile(path, what);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new LensError(`${path}: expected a JSON object at the top level`, path);
  }
  return value as Record<string, unknown>;
}
