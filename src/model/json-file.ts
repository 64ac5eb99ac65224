import { existsSync } from 'node:fs';
import { LensError } from './errors.js';
import { MAX_CONFIG_JSON_BYTES, readTextFileBounded } from './read-file.js';

/** Reads and parses a JSON file, turning every failure into a message that names the file. */
export function readJsonFile(path: string, what: string, maxBytes = MAX_CONFIG_JSON_BYTES): unknown {
  if (!existsSync(path)) throw new LensError(`${what} not found: ${path}`, path);
  const text = readTextFileBounded(path, what, maxBytes);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LensError(`${path}: invalid JSON (${(e as Error).message})`, path);
  }
}

export function readJsonObject(path: string, what: string, maxBytes = MAX_CONFIG_JSON_BYTES): Record<string, unknown> {
  const value = readJsonFile(path, what, maxBytes);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new LensError(`${path}: expected a JSON object at the top level`, path);
  }
  return value as Record<string, unknown>;
}
