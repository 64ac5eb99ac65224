import { readFileSync, writeFileSync } from 'node:fs';

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;

/** Rewrites a .safetensors header in place (data section unchanged), to make corrupt files for error tests. */
export function editSafetensorsHeader(file: string, edit: (header: Header) => void): void {
  const bytes = readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Header;
  edit(header);
  const text = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(text.length));
  writeFileSync(file, Buffer.concat([prefix, text, bytes.subarray(8 + length)]));
}

/** Replaces the 8-byte header length, leaving the rest as it was. */
export function setHeaderLength(file: string, length: bigint): void {
  const bytes = readFileSync(file);
  bytes.writeBigUInt64LE(length, 0);
  writeFileSync(file, bytes);
}
