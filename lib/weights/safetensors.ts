/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length, a JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`,
 * then the tensor bytes. Headers are validated completely before any tensor is read: offsets
 * must tile the data section exactly, so no byte range is trusted blindly.
 */
import { open, stat } from 'node:fs/promises';

import { ErrorCode, VptError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/** Largest header accepted; real headers are a few hundred kilobytes. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** Dtypes vpt-native can load as weights (converted to float32). */
export const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the tensor in the file. */
  offset: number;
  nbytes: number;
}

export interface SafetensorsHeader {
  path: string;
  metadata: Record<string, string>;
  entries: SafetensorsEntry[];
}

function bad(path: string, what: string): VptError {
  return new VptError(ErrorCode.Weights, `${path}: ${what}`);
}

/**
 * Parses and validates a header from the file's first bytes.
 * @param head the first `8 + headerLength` bytes (or more) of the file
 * @param fileSize total file size in bytes
 */
export function parseSafetensorsHeader(path: string, head: Uint8Array, fileSize: number): SafetensorsHeader {
  if (fileSize < 8 || head.length < 8)
    throw bad(path, 'not a safetensors file (shorter than its 8-byte header length)');
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw bad(
      path,
      `header length ${headerLength} is above the ${MAX_HEADER_BYTES}-byte limit (corrupt or not safetensors)`,
    );
  }
  const n = Number(headerLength);
  if (8 + n > fileSize)
    throw bad(path, `header length ${n} runs past the end of the ${fileSize}-byte file (truncated?)`);
  if (head.length < 8 + n) throw bad(path, 'header bytes missing');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(8, 8 + n)));
  } catch (error) {
    throw bad(path, `header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw bad(path, 'header is not a JSON object');

  const dataStart = 8 + n;
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw bad(path, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw bad(path, `__metadata__ key "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (info === null || typeof info !== 'object') throw bad(path, `tensor "${name}" has no dtype/shape/data_offsets`);
    if (typeof info.dtype !== 'string' || !(info.dtype in DTYPE_BYTES)) {
      throw bad(path, `tensor "${name}" has unknown dtype ${JSON.stringify(info.dtype)}`);
    }
    if (!Array.isArray(info.shape) || !info.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(path, `tensor "${name}" has an invalid shape ${JSON.stringify(info.shape)}`);
    }
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw bad(path, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataSize) {
      throw bad(
        path,
        `tensor "${name}" data_offsets [${begin}, ${end}] are out of bounds (data section is ${dataSize} bytes)`,
      );
    }
    const shape = info.shape as number[];
    const expected = shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[info.dtype]!;
    if (expected !== end - begin) {
      throw bad(
        path,
        `tensor "${name}" shape [${shape.join(', ')}] ${info.dtype} needs ${expected} bytes, data_offsets give ${end - begin}`,
      );
    }
    entries.push({ name, dtype: info.dtype, shape, offset: dataStart + begin, nbytes: end - begin });
  }
  // The tensors must tile the data section: no overlap, no gap, nothing trailing.
  const sorted = [...entries].sort((a, b) => a.offset - b.offset || a.nbytes - b.nbytes);
  let cursor = dataStart;
  for (const e of sorted) {
    if (e.offset !== cursor) {
      throw bad(
        path,
        e.offset < cursor
          ? `tensor "${e.name}" overlaps another tensor`
          : `gap of ${e.offset - cursor} bytes before tensor "${e.name}"`,
      );
    }
    cursor += e.nbytes;
  }
  if (cursor !== fileSize)
    throw bad(path, `${fileSize - cursor} bytes after the last tensor are not covered by the header`);
  return { path, metadata, entries };
}

/** Reads and validates the header of a safetensors file. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await openForReading(path);
  try {
    const { size } = await handle.stat();
    const lengthBytes = new Uint8Array(8);
    await handle.read(lengthBytes, 0, Math.min(8, size), 0);
    if (size < 8) return parseSafetensorsHeader(path, lengthBytes.subarray(0, size), size);
    const n = new DataView(lengthBytes.buffer).getBigUint64(0, true);
    if (n > BigInt(MAX_HEADER_BYTES) || 8n + n > BigInt(size)) return parseSafetensorsHeader(path, lengthBytes, size);
    const head = new Uint8Array(8 + Number(n));
    await handle.read(head, 0, head.length, 0);
    return parseSafetensorsHeader(path, head, size);
  } finally {
    await handle.close();
  }
}

/** A float32 tensor in host memory. */
export interface HostTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Reads a whole (small) safetensors file, converting float tensors to float32. */
export async function readSafetensors(
  path: string,
): Promise<{ metadata: Record<string, string>; tensors: Map<string, HostTensor> }> {
  const header = await readSafetensorsHeader(path);
  const handle = await openForReading(path);
  const tensors = new Map<string, HostTensor>();
  try {
    for (const e of header.entries) {
      if (!FLOAT_DTYPES.has(e.dtype))
        throw bad(path, `tensor "${e.name}" has dtype ${e.dtype}; only F32, F16, BF16 and F64 are supported`);
      const bytes = new Uint8Array(e.nbytes);
      const { bytesRead } = await handle.read(bytes, 0, e.nbytes, e.offset);
      if (bytesRead !== e.nbytes) throw bad(path, `tensor "${e.name}" is cut short (file truncated?)`);
      tensors.set(e.name, { name: e.name, shape: e.shape, data: toFloat32(e.dtype, bytes) });
    }
  } finally {
    await handle.close();
  }
  return { metadata: header.metadata, tensors };
}

/** Writes float32 tensors (sorted by name) and string metadata atomically. */
export async function writeSafetensors(
  path: string,
  tensors: HostTensor[],
  metadata: Record<string, string> = {},
): Promise<void> {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of sorted) {
    const numel = t.shape.reduce((a, d) => a * d, 1);
    if (numel !== t.data.length) {
      throw new VptError(
        ErrorCode.Shape,
        `tensor "${t.name}" has ${t.data.length} values but shape [${t.shape.join(', ')}]`,
      );
    }
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // align the data section to 8 bytes
  const jsonBytes = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(jsonBytes.length));
  const chunks: Uint8Array[] = [length, jsonBytes];
  for (const t of sorted) chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  await writeFileAtomic(path, chunks);
}

async function openForReading(path: string) {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error('not a regular file');
    return await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new VptError(ErrorCode.Io, `cannot read ${path}: ${why}`, { cause: error });
  }
}

function toFloat32(dtype: string, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / DTYPE_BYTES[dtype]!);
  for (let i = 0; i < out.length; i++) {
    if (dtype === 'F32') out[i] = view.getFloat32(i * 4, true);
    else if (dtype === 'F64') out[i] = view.getFloat64(i * 8, true);
    else if (dtype === 'BF16') out[i] = bf16ToFloat(view.getUint16(i * 2, true));
    else out[i] = f16ToFloat(view.getUint16(i * 2, true));
  }
  return out;
}

const bf16Scratch = new DataView(new ArrayBuffer(4));
function bf16ToFloat(bits: number): number {
  bf16Scratch.setUint32(0, bits << 16);
  return bf16Scratch.getFloat32(0);
}

function f16ToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
