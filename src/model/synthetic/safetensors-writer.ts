// Streaming safetensors writer (https://github.com/huggingface/safetensors, "Format").
//
//   8 bytes   little-endian u64 N, the header length
//   N bytes   JSON {"__metadata__": {...}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
//             padded with spaces so the data section starts 8-byte aligned
//   data      the tensors back to back, row-major, little-endian; offsets relative to its start
//
// Tensor values are produced chunk by chunk and written as they come, so a multi-gigabyte file
// never has to fit in memory.

import { endianness } from 'node:os';
import { open, rename, rm } from 'node:fs/promises';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2 };

export interface TensorLayout {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
}

export interface StreamedTensor extends TensorLayout {
  /** Fills `out` with the next `out.length` values of the tensor (row-major), as float32. */
  produce(out: Float32Array): void;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function tensorBytes(t: TensorLayout): number {
  return elementCount(t.shape) * DTYPE_BYTES[t.dtype];
}

/**
 * The header bytes (length prefix included) for tensors stored in the given order, and the size
 * of the data section that follows.
 */
export function encodeSafetensorsHeader(
  tensors: readonly TensorLayout[],
  metadata: Record<string, string> = { format: 'pt' },
): { header: Buffer; dataBytes: number } {
  const entries: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    if (t.name in entries) throw new Error(`duplicate tensor name ${t.name}`);
    const bytes = tensorBytes(t);
    entries[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(entries), 'utf8');
  // The spec allows trailing spaces; aligning the data lets readers map it as typed arrays.
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  if (padded > json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const header = Buffer.alloc(8 + json.length);
  header.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(header, 8);
  return { header, dataBytes: offset };
}

// ---------------------------------------------------------------------------------------------
// float32 → half-precision conversions, on raw float32 bit patterns, round-to-nearest-even.

/** IEEE 754 binary16 bits of a float32 given by its bits: overflow → ±inf, underflow → subnormal or ±0, NaN stays NaN (quiet). */
export function f32BitsToF16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return mant !== 0 ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: value / 2^-24 with the implicit bit restored, rounded to an integer.
    const shift = 126 - exp; // ≥ 14
    if (shift > 24) return sign; // below half the smallest subnormal
    const m = mant | 0x800000;
    let q = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (q & 1) !== 0)) q++; // may carry into the smallest normal: still correct
    return sign | q;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // a carry may reach 0x7c00 = inf, as it should
  return sign | h;
}

/** bfloat16 bits of a float32 given by its bits: the top half, rounded to nearest even; NaN stays NaN (quiet). */
export function f32BitsToBf16Bits(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** binary16 bits of `x` after rounding it to float32 (the precision synthetic weights are generated in). */
export function float32ToF16Bits(x: number): number {
  scratch[0] = x;
  return f32BitsToF16Bits(scratchBits[0]!);
}

/** bfloat16 bits of `x` after rounding it to float32. */
export function float32ToBf16Bits(x: number): number {
  scratch[0] = x;
  return f32BitsToBf16Bits(scratchBits[0]!);
}

// ---------------------------------------------------------------------------------------------

/** Default chunk: 1 Mi elements, 4 MB of float32: large writes, small footprint. */
const DEFAULT_CHUNK_ELEMENTS = 1 << 20;

/**
 * Writes `tensors` to `path` in the given order, through `path + '.tmp'` and a rename, so that
 * an interrupted run never leaves a truncated file under the final name.
 * Returns the size of the data section (what an index's total_size counts).
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: readonly StreamedTensor[],
  options: { chunkElements?: number; metadata?: Record<string, string> } = {},
): Promise<number> {
  // Typed arrays use the host's byte order; safetensors is little-endian, and every platform
  // Node ships for is too, so refusing the (theoretical) big-endian host is simpler than swapping.
  if (endianness() !== 'LE') throw new Error('writing safetensors needs a little-endian host');
  const chunk = Math.max(1, options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS);
  const { header, dataBytes } = encodeSafetensorsHeader(tensors, options.metadata);
  const tmp = path + '.tmp';
  const file = await open(tmp, 'w');
  try {
    let position = 0;
    const writeAll = async (bytes: Uint8Array): Promise<void> => {
      const at = position;
      position += bytes.length;
      for (let done = 0; done < bytes.length; ) {
        const { bytesWritten } = await file.write(bytes, done, bytes.length - done, at + done);
        done += bytesWritten;
      }
    };
    await writeAll(header);

    // Two buffers in turn: the next chunk is generated while the previous one is being written.
    const floats = [new Float32Array(chunk), new Float32Array(chunk)];
    const halves = [new Uint16Array(chunk), new Uint16Array(chunk)];
    let turn = 0;
    let pending: Promise<void> | undefined;
    for (const t of tensors) {
      for (let left = elementCount(t.shape); left > 0; ) {
        const n = Math.min(left, chunk);
        const values = floats[turn]!.subarray(0, n);
        t.produce(values);
        let bytes: Uint8Array;
        if (t.dtype === 'F32') {
          bytes = new Uint8Array(values.buffer, 0, n * 4);
        } else {
          const bits = new Uint32Array(values.buffer, 0, n);
          const out = halves[turn]!;
          const convert = t.dtype === 'F16' ? f32BitsToF16Bits : f32BitsToBf16Bits;
          for (let i = 0; i < n; i++) out[i] = convert(bits[i]!);
          bytes = new Uint8Array(out.buffer, 0, n * 2);
        }
        if (pending) await pending;
        pending = writeAll(bytes);
        turn ^= 1;
        left -= n;
      }
    }
    if (pending) await pending;
    if (position !== header.length + dataBytes) throw new Error(`internal: wrote ${position} bytes, expected ${header.length + dataBytes}`);
    await file.close();
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw error;
  }
  await rename(tmp, path);
  return dataBytes;
}
