// Test-only safetensors writer, used to build tiny checkpoints inside tests.
// Independent of src/. Values given as numbers are encoded EXACTLY or the writer throws
// (F16/BF16 encoders refuse values they cannot represent, so a test never silently rounds).
// `bits` (Uint16Array) writes raw F16/BF16 bit patterns, for decoder tests.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WriteTensor {
  name: string;
  dtype: 'F64' | 'F32' | 'F16' | 'BF16';
  shape: number[];
  /** Values in row-major order; encoded exactly (throws if not representable). */
  data?: ArrayLike<number>;
  /** Raw bit patterns for F16/BF16. */
  bits?: Uint16Array;
}

/** Exact float -> IEEE binary16 bits; throws when `v` is not representable. */
export function numberToF16BitsExact(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === 0) return sign;
  if (a === Infinity) return sign | 0x7c00;
  let e = Math.floor(Math.log2(a));
  // guard against log2 rounding
  if (Math.pow(2, e) > a) e -= 1;
  if (Math.pow(2, e + 1) <= a) e += 1;
  if (e < -14) {
    const m = a / Math.pow(2, -24);
    if (!Number.isInteger(m) || m >= 1024) throw new Error(`F16 cannot represent ${v} exactly`);
    return sign | m;
  }
  if (e > 15) throw new Error(`F16 cannot represent ${v} (overflow)`);
  const m = (a / Math.pow(2, e) - 1) * 1024;
  if (!Number.isInteger(m)) throw new Error(`F16 cannot represent ${v} exactly`);
  return sign | ((e + 15) << 10) | m;
}

/** Exact float -> bfloat16 bits (upper half of the float32); throws when not representable. */
export function numberToBF16BitsExact(v: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, v, false);
  if (!Number.isNaN(v) && view.getFloat32(0, false) !== v) throw new Error(`F32 (hence BF16) cannot represent ${v} exactly`);
  const u = view.getUint32(0, false);
  if (!Number.isNaN(v) && (u & 0xffff) !== 0) throw new Error(`BF16 cannot represent ${v} exactly`);
  return u >>> 16;
}

function encode(t: WriteTensor): Buffer {
  const count = t.shape.reduce((a, b) => a * b, 1);
  const src = t.bits ?? t.data;
  if (!src || src.length !== count) throw new Error(`writer: ${t.name}: ${src?.length} values for shape [${t.shape}]`);
  if (t.bits && !(t.dtype === 'F16' || t.dtype === 'BF16')) throw new Error(`writer: bits only for F16/BF16`);
  const size = { F64: 8, F32: 4, F16: 2, BF16: 2 }[t.dtype];
  const out = Buffer.alloc(count * size);
  for (let i = 0; i < count; i++) {
    if (t.bits) {
      out.writeUInt16LE(t.bits[i], 2 * i);
      continue;
    }
    const v = t.data![i];
    switch (t.dtype) {
      case 'F64':
        out.writeDoubleLE(v, 8 * i);
        break;
      case 'F32':
        out.writeFloatLE(v, 4 * i);
        if (!Number.isNaN(v) && out.readFloatLE(4 * i) !== v) throw new Error(`writer: ${t.name}[${i}] = ${v} is not exact in F32`);
        break;
      case 'F16':
        out.writeUInt16LE(numberToF16BitsExact(v), 2 * i);
        break;
      case 'BF16':
        out.writeUInt16LE(numberToBF16BitsExact(v), 2 * i);
        break;
    }
  }
  return out;
}

/**
 * Write a .safetensors file. `pad`: pad the JSON header with spaces to a multiple of 8 bytes
 * (what the official writer does); `pad: false` leaves the data unaligned on purpose.
 */
export function writeSafetensors(path: string, tensors: WriteTensor[], opts: { metadata?: Record<string, string>; pad?: boolean } = {}): void {
  const header: Record<string, unknown> = {};
  if (opts.metadata) header.__metadata__ = opts.metadata;
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const t of tensors) {
    const blob = encode(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + blob.byteLength] };
    blobs.push(blob);
    offset += blob.byteLength;
  }
  let json = JSON.stringify(header);
  if (opts.pad !== false) while (Buffer.byteLength(json) % 8 !== 0) json += ' ';
  const jsonBuf = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(jsonBuf.byteLength));
  writeFileSync(path, Buffer.concat([len, jsonBuf, ...blobs]));
}

/**
 * Write a checkpoint folder: config.json plus either model.safetensors, or `shards` files
 * (round-robin assignment of tensors) with model.safetensors.index.json.
 */
export function writeCheckpoint(dir: string, config: Record<string, unknown>, tensors: WriteTensor[], opts: { shards?: number } = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const shards = opts.shards ?? 0;
  if (shards <= 1) {
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    return;
  }
  const names = Array.from({ length: shards }, (_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`);
  const groups: WriteTensor[][] = names.map(() => []);
  const weightMap: Record<string, string> = {};
  tensors.forEach((t, i) => {
    groups[i % shards].push(t);
    weightMap[t.name] = names[i % shards];
  });
  names.forEach((n, i) => writeSafetensors(join(dir, n), groups[i]));
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
}
