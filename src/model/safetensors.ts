import { closeSync } from 'node:fs';
import { LensError } from './errors.js';
import { fileError, openRegularFile, readExactly } from './read-file.js';

export { readExactly } from './read-file.js';

/** The dtypes a checkpoint's weights may have. Other safetensors dtypes are named and refused. */
export type WeightDtype = 'F32' | 'F16' | 'BF16';

const BYTES_PER_ELEMENT: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
  U16: 2, U32: 4, U64: 8, F8_E4M3: 1, F8_E5M2: 1,
};
const SUPPORTED: ReadonlySet<string> = new Set<WeightDtype>(['F32', 'F16', 'BF16']);

/** A header larger than this is refused: real headers are kilobytes, and this bounds what a corrupt length can make us allocate. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/**
 * Where one tensor's bytes lie. Weights are never read into JavaScript: the ONNX graph points at
 * `file` from `offset` for `length` bytes (external data), and onnxruntime memory-maps them.
 */
export interface TensorDescriptor {
  name: string;
  /** Absolute, symlink-free path of the .safetensors file. */
  file: string;
  dtype: WeightDtype;
  shape: number[];
  /** Absolute byte offset in `file`. */
  offset: number;
  length: number;
}

export function dtypeBytes(dtype: WeightDtype): number {
  return BYTES_PER_ELEMENT[dtype]!;
}

/**
 * Parses a .safetensors header and validates every tensor entry against the file: dtype known
 * and supported, byte length equal to dtype size × element count, offsets inside the data section
 * and not overlapping. `file` should already be a real path (no symlinks).
 */
export function readSafetensorsHeader(file: string): TensorDescriptor[] {
  const { fd, size: fileSize } = openRegularFile(file, 'the weight file');
  try {
    if (fileSize < 8) throw new LensError(`${file}: not a safetensors file (only ${fileSize} bytes, the header length alone takes 8)`, file);
    const headerLength = readExactly(fd, 8, 0).readBigUInt64LE(0);
    if (headerLength > BigInt(MAX_HEADER_BYTES)) {
      throw new LensError(`${file}: safetensors header claims ${headerLength} bytes, over the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`, file);
    }
    const headerBytes = Number(headerLength);
    if (8 + headerBytes > fileSize) {
      throw new LensError(`${file}: safetensors header claims ${headerBytes} bytes but the file ends after ${fileSize - 8} (truncated)`, file);
    }
    const headerText = readExactly(fd, headerBytes, 8).toString('utf8');
    let header: unknown;
    try {
      header = JSON.parse(headerText);
    } catch (e) {
      throw new LensError(`${file}: safetensors header is not valid JSON (${(e as Error).message})`, file);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) {
      throw new LensError(`${file}: safetensors header is not a JSON object`, file);
    }
    // JSON.parse keeps the last of two equal keys: a tensor named twice would silently lose one entry.
    const duplicate = firstDuplicateKey(headerText);
    if (duplicate !== null) throw new LensError(`${file}: tensor '${duplicate}' appears twice in the safetensors header`, file);
    const dataStart = 8 + headerBytes;
    const dataLength = fileSize - dataStart;
    const tensors: TensorDescriptor[] = [];
    for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') continue;
      tensors.push(validateEntry(file, name, entry, dataStart, dataLength));
    }
    const byOffset = [...tensors].sort((a, b) => a.offset - b.offset || a.length - b.length);
    for (let i = 1; i < byOffset.length; i++) {
      const prev = byOffset[i - 1]!, cur = byOffset[i]!;
      if (cur.offset < prev.offset + prev.length && cur.length > 0 && prev.length > 0) {
        throw new LensError(`${file}: tensors '${prev.name}' and '${cur.name}' overlap in the data section`, file);
      }
    }
    return tensors;
  } catch (e) {
    throw fileError('Cannot read the weight file', file, e);
  } finally {
    closeSync(fd);
  }
}

/** The first key that occurs twice at the top level of a JSON object text (already known to parse), or null. */
export function firstDuplicateKey(json: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (json.charCodeAt(j) !== 0x22) j += json.charCodeAt(j) === 0x5c ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (k < json.length && (json[k] === ' ' || json[k] === '\t' || json[k] === '\n' || json[k] === '\r')) k++;
        if (json[k] === ':') {
          const key = JSON.parse(json.slice(i, j + 1)) as string;
          if (seen.has(key)) return key;
          seen.add(key);
        }
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return null;
}

function validateEntry(file: string, name: string, entry: unknown, dataStart: number, dataLength: number): TensorDescriptor {
  const where = `${file}: tensor '${name}'`;
  if (entry === null || typeof entry !== 'object') throw new LensError(`${where}: entry is not an object`, file);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in BYTES_PER_ELEMENT)) {
    throw new LensError(`${where}: unknown dtype ${JSON.stringify(dtype)}`, file);
  }
  if (!SUPPORTED.has(dtype)) {
    throw new LensError(`${where}: dtype ${dtype} is not supported (weights must be F32, F16 or BF16)`, file);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new LensError(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`, file);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new LensError(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`, file);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new LensError(`${where}: data_offsets [${begin}, ${end}] end before they begin`, file);
  if (end > dataLength) {
    throw new LensError(`${where}: data_offsets [${begin}, ${end}] lie outside the data section (${dataLength} bytes)`, file);
  }
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = elements * BYTES_PER_ELEMENT[dtype]!;
  if (end - begin !== expected) {
    throw new LensError(`${where}: holds ${end - begin} bytes but ${dtype} × [${(shape as number[]).join(', ')}] needs ${expected}`, file);
  }
  return { name, file, dtype: dtype as WeightDtype, shape: shape as number[], offset: dataStart + begin, length: end - begin };
}
