/**
 * Single NumPy `.npy` float arrays: read (any layout numpy writes, as in npz.ts; float32 or
 * float64, returned as float32) and written (little-endian float32, C order, format 1.0). Object
 * (pickled) arrays are refused unread. VPT's CLS embeddings (`CLSEMB_PATH`) are such a file.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';

import { ErrorCode, VptError } from '../errors.js';
import { parseNpyHeader, toLittleEndianCOrder } from './npz.js';

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

/** Reads a float `.npy` file as float32; a clear VPT_WEIGHTS error naming the file otherwise. */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new VptError(ErrorCode.Weights, `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  const header = parseNpyHeader(bytes, path);
  if (!header) throw new VptError(ErrorCode.Weights, `${path} is cut short inside its .npy header`);
  if (header.dtype !== 'F32' && header.dtype !== 'F64')
    throw new VptError(ErrorCode.Weights, `${path} holds ${header.dtype} values; expected float32 or float64`);
  if (bytes.length < header.headerBytes + header.dataBytes) {
    throw new VptError(ErrorCode.Weights, `${path} is cut short: its header needs ${header.dataBytes} data bytes`);
  }
  const raw = toLittleEndianCOrder([bytes.subarray(header.headerBytes, header.headerBytes + header.dataBytes)], header);
  const n = header.shape.reduce((a, d) => a * d, 1);
  const buffer = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  let data: Float32Array;
  if (header.dtype === 'F32') data = new Float32Array(buffer, 0, n);
  else data = Float32Array.from(new Float64Array(buffer, 0, n));
  return { shape: header.shape, data };
}

/** Writes `data` as a little-endian float32 C-order `.npy` (format 1.0), atomically. */
export async function writeNpy(path: string, shape: number[], data: Float32Array): Promise<void> {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let text = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // The header (magic 6 + version 2 + length 2 + text + newline) pads to a multiple of 64.
  const pad = 64 - ((10 + text.length + 1) % 64);
  text += `${' '.repeat(pad % 64)}\n`;
  const head = Buffer.alloc(10 + text.length);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(text.length, 8);
  head.write(text, 10, 'latin1');
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, Buffer.concat([head, body]));
  await rename(tmp, path);
}
