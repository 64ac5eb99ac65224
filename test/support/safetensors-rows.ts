import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Copies rows of a 2-D F32 tensor inside a .safetensors file, in place: for each [from, to],
 * row `to` becomes a copy of row `from`. Makes exact ties (identical words) for tie-breaking tests.
 */
export function copyTensorRows(file: string, tensor: string, copies: readonly [number, number][]): void {
  const bytes = readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const entry = header[tensor];
  if (!entry) throw new Error(`${file} has no tensor ${tensor}`);
  if (entry.dtype !== 'F32' || entry.shape.length !== 2) throw new Error(`${tensor}: copyTensorRows handles 2-D F32 tensors only`);
  const rowBytes = entry.shape[1]! * 4;
  const start = 8 + length + entry.data_offsets[0];
  for (const [from, to] of copies) bytes.copy(bytes, start + to * rowBytes, start + from * rowBytes, start + (from + 1) * rowBytes);
  writeFileSync(file, bytes);
}

/** Overwrites a whole F32 tensor's data inside a .safetensors file, in place (same shape). */
export function writeTensorData(file: string, tensor: string, data: Float32Array): void {
  const bytes = readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const entry = header[tensor];
  if (!entry) throw new Error(`${file} has no tensor ${tensor}`);
  if (entry.dtype !== 'F32' || entry.data_offsets[1] - entry.data_offsets[0] !== data.byteLength) throw new Error(`${tensor}: writeTensorData needs an F32 tensor of ${data.length} values`);
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(bytes, 8 + length + entry.data_offsets[0]);
  writeFileSync(file, bytes);
}
