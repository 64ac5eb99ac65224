// Plain safetensors reader for the float64 reference (test code).
//
// Independent of src/ on purpose: this is part of the oracle that our onnxruntime graphs are
// checked against, so it must not share code (or bugs) with the engine.
//
// Format (https://github.com/huggingface/safetensors):
//   bytes 0..8      little-endian u64 N = length of the JSON header
//   bytes 8..8+N    JSON: { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }
//   bytes 8+N..     tensor data; data_offsets are relative to the start of this region,
//                   little-endian, row-major ("C" order).
// Every tensor is decoded to Float64Array. Supported dtypes: F64, F32, F16, BF16.

import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Tensor64 {
  shape: number[];
  data: Float64Array;
  /** dtype in the file, e.g. 'F32', 'BF16'. */
  dtype: string;
}

const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

/** IEEE 754 binary16 bit pattern -> number (exact): subnormals, ±0, ±inf, NaN. */
export function f16BitsToNumber(bits: number): number {
  const sign = (bits & 0x8000) !== 0 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) {
    // zero or subnormal: (-1)^s * 2^-14 * (m / 1024)
    return sign * mantissa * Math.pow(2, -24);
  }
  if (exponent === 0x1f) {
    return mantissa === 0 ? sign * Infinity : NaN;
  }
  // normal: (-1)^s * 2^(e-15) * (1 + m/1024)
  return sign * Math.pow(2, exponent - 15) * (1 + mantissa / 1024);
}

/** bfloat16 bit pattern -> number (exact): the upper 16 bits of a float32. */
export function bf16BitsToNumber(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, (bits & 0xffff) << 16 >>> 0, false);
  return view.getFloat32(0, false);
}

/** Decode `count` little-endian values of `dtype` starting at byte `offset` of `buf`. */
export function decodeToFloat64(buf: Uint8Array, offset: number, count: number, dtype: string): Float64Array {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Float64Array(count);
  switch (dtype) {
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, true);
      break;
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = f16BitsToNumber(view.getUint16(offset + 2 * i, true));
      break;
    case 'BF16':
      for (let i = 0; i < count; i++) out[i] = bf16BitsToNumber(view.getUint16(offset + 2 * i, true));
      break;
    default:
      throw new Error(`safetensors64: unsupported dtype ${dtype}`);
  }
  return out;
}

/** Parse one .safetensors file into Float64 tensors (all of them). */
export function readSafetensors64(path: string): { tensors: Map<string, Tensor64>; metadata?: Record<string, string> } {
  const buf = readFileSync(path);
  if (buf.byteLength < 8) throw new Error(`safetensors64: ${path}: file shorter than 8 bytes`);
  const headerLen = buf.readBigUInt64LE(0);
  if (headerLen > BigInt(buf.byteLength - 8)) throw new Error(`safetensors64: ${path}: header length ${headerLen} exceeds file`);
  const n = Number(headerLen);
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const dataStart = 8 + n;
  const dataLen = buf.byteLength - dataStart;
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const tensors = new Map<string, Tensor64>();
  let metadata: Record<string, string> | undefined;
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const size = DTYPE_BYTES[e.dtype];
    if (size === undefined) throw new Error(`safetensors64: ${path}: tensor ${name}: unsupported dtype ${e.dtype}`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = e.data_offsets;
    if (!(begin >= 0 && end >= begin && end <= dataLen)) {
      throw new Error(`safetensors64: ${path}: tensor ${name}: data_offsets [${begin}, ${end}] outside data (${dataLen} bytes)`);
    }
    if (end - begin !== count * size) {
      throw new Error(`safetensors64: ${path}: tensor ${name}: ${end - begin} bytes for shape [${e.shape}] ${e.dtype}`);
    }
    tensors.set(name, { shape: [...e.shape], dtype: e.dtype, data: decodeToFloat64(bytes, dataStart + begin, count, e.dtype) });
  }
  return { tensors, metadata };
}

/**
 * All tensors of a checkpoint folder: `model.safetensors`, or the shards named by
 * `model.safetensors.index.json`'s weight_map (each shard read once; only the tensors the
 * weight_map assigns to a shard are taken from it).
 */
export function readCheckpointTensors64(dir: string): Map<string, Tensor64> {
  const indexPath = join(dir, 'model.safetensors.index.json');
  const singlePath = join(dir, 'model.safetensors');
  if (existsSync(indexPath)) {
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map: Record<string, string> };
    if (!index.weight_map) throw new Error(`safetensors64: ${indexPath} has no weight_map`);
    const byFile = new Map<string, string[]>();
    for (const [name, file] of Object.entries(index.weight_map)) {
      const list = byFile.get(file) ?? [];
      list.push(name);
      byFile.set(file, list);
    }
    const out = new Map<string, Tensor64>();
    for (const [file, names] of byFile) {
      const { tensors } = readSafetensors64(join(dir, file));
      for (const name of names) {
        const t = tensors.get(name);
        if (!t) throw new Error(`safetensors64: weight_map puts ${name} in ${file}, which does not contain it`);
        out.set(name, t);
      }
    }
    return out;
  }
  if (existsSync(singlePath)) return readSafetensors64(singlePath).tensors;
  throw new Error(`safetensors64: ${dir} has neither model.safetensors nor model.safetensors.index.json`);
}
