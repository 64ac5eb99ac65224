import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { LensError } from '../model/errors.js';

/**
 * How much memory the engine may use, and where that figure comes from. A model that cannot fit
 * is refused before its session opens: the alternative is the kernel's out-of-memory killer minutes
 * later, with no message at all.
 */
export interface MemoryBudget {
  bytes: number;
  /** Where the figure comes from, for the message. */
  source: string;
}

/** The environment variable that sets the budget explicitly (bytes, or a number with K/M/G/T). */
export const MEMORY_LIMIT_VARIABLE = 'INSTRUCTION_LENS_MAX_MEMORY';

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export function parseByteSize(text: string, what: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  const bytes = match ? Number(match[1]) * UNITS[match[2]!.toUpperCase()]! : NaN;
  if (!Number.isFinite(bytes) || bytes <= 0) throw new LensError(`${what}: expected a size such as 8G, 512M or 1073741824, got '${text}'`);
  return Math.floor(bytes);
}

/** MemAvailable (free memory plus caches the kernel can drop), which os.freemem() is not everywhere. */
function memAvailable(): number | null {
  try {
    const match = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * The memory this process may still take: the explicit limit when set; otherwise the smaller of the
 * machine's available memory and what a container's limit leaves (process.constrainedMemory()).
 */
export function memoryBudget(env: NodeJS.ProcessEnv = process.env): MemoryBudget {
  const explicit = env[MEMORY_LIMIT_VARIABLE];
  if (explicit !== undefined && explicit !== '') return { bytes: parseByteSize(explicit, MEMORY_LIMIT_VARIABLE), source: MEMORY_LIMIT_VARIABLE };
  const available = memAvailable();
  let budget: MemoryBudget = available !== null ? { bytes: available, source: 'available memory' } : { bytes: freemem(), source: 'free memory' };
  const constrained = process.constrainedMemory?.() ?? 0;
  // Node reports "no limit" as a huge number (or 0): only a real container limit counts.
  if (constrained > 0 && constrained < 2 ** 50) {
    const left = constrained - process.memoryUsage().rss;
    if (left < budget.bytes) budget = { bytes: Math.max(0, left), source: 'the container memory limit' };
  }
  return budget;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  return `${bytes} bytes`;
}

/**
 * Refuses `model` when `needed` bytes exceed the budget, naming the model, both figures and what
 * to do about it.
 */
export function assertFits(model: string, needed: number, detail: string, env: NodeJS.ProcessEnv = process.env): void {
  const budget = memoryBudget(env);
  if (needed <= budget.bytes) return;
  throw new LensError(
    `Not enough memory for ${model}: it needs about ${formatBytes(needed)} (${detail}), but ${formatBytes(budget.bytes)} are available (${budget.source}). ` +
      `Close other programs, run it on a GPU (--provider cuda or webgpu), or choose a smaller model.`,
  );
}
