// Reading a checkpoint's weights into float32 arrays, and writing trained weights as a Hugging
// Face checkpoint folder (config.json, model.safetensors, tokenizer files, generation_config.json).

import { closeSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Checkpoint } from '../model/checkpoint.js';
import { writeSafetensorsFile, type SafetensorsDtype } from '../model/synthetic/safetensors-writer.js';
import type { Weights } from './session.js';

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Every weight of a checkpoint as float32 (F16/BF16 widened exactly). */
export function readWeights(checkpoint: Checkpoint): Weights {
  const out: Weights = new Map();
  for (const [name, t] of checkpoint.tensors) {
    const fd = openSync(t.file, 'r');
    const bytes = Buffer.alloc(t.length);
    try {
      for (let done = 0; done < t.length; ) {
        const n = readSync(fd, bytes, done, t.length - done, t.offset + done);
        if (n === 0) throw new Error(`${t.file}: truncated reading '${name}'`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    if (t.dtype === 'F32') data.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
    else {
      const half = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
      if (t.dtype === 'F16') for (let i = 0; i < count; i++) data[i] = halfToFloat(half[i]!);
      else {
        const widened = new Uint32Array(data.buffer);
        for (let i = 0; i < count; i++) widened[i] = half[i]! << 16;
      }
    }
    out.set(name, { shape: [...t.shape], data });
  }
  return out;
}

export function cloneWeights(weights: Weights): Weights {
  return new Map([...weights].map(([n, w]) => [n, { shape: [...w.shape], data: w.data.slice() }]));
}

export interface CheckpointFiles {
  config: Record<string, unknown>;
  tokenizer: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  generationConfig: Record<string, unknown>;
  /** Extra files to write verbatim (name → text). */
  extra?: Record<string, string>;
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/**
 * Writes a complete checkpoint folder: into a temporary sibling first, then renamed over `dir`, so
 * that `dir` is never half-written. Tensors are written in `order` (the checkpoint's name order).
 */
export async function writeCheckpointFolder(dir: string, weights: Weights, order: readonly string[], files: CheckpointFiles, dtype: SafetensorsDtype = 'F32'): Promise<void> {
  const temp = `${dir}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  writeFileSync(join(temp, 'tokenizer.json'), json(files.tokenizer));
  writeFileSync(join(temp, 'tokenizer_config.json'), json(files.tokenizerConfig));
  writeFileSync(join(temp, 'generation_config.json'), json(files.generationConfig));
  for (const [name, text] of Object.entries(files.extra ?? {})) writeFileSync(join(temp, name), text);
  await writeSafetensorsFile(
    join(temp, 'model.safetensors'),
    order.map((name) => {
      const w = weights.get(name);
      if (!w) throw new Error(`missing weight '${name}'`);
      let at = 0;
      return {
        name,
        dtype,
        shape: w.shape,
        produce: (out: Float32Array) => {
          out.set(w.data.subarray(at, at + out.length));
          at += out.length;
        },
      };
    }),
    { metadata: { format: 'pt' } },
  );
  writeFileSync(join(temp, 'config.json'), json(files.config));
  rmSync(dir, { recursive: true, force: true });
  renameSync(temp, dir);
}
