/**
 * NumPy `.npz` archives (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 * a zip (read with yauzl) of `<key>.npy` members, each a magic string, a version, a
 * length-prefixed Python-literal header `{'descr': '<f4', 'fortran_order': False, 'shape': (768,)}`
 * and the raw array bytes. Every member is validated before any tensor is read; object
 * (pickled) arrays are refused without reading their payload, so no pickle is ever run.
 * Float arrays are read in any layout numpy writes: little- or big-endian (`<f4`, `>f4`), C or
 * Fortran order (`fortran_order: True`, what `np.savez` writes for a transposed array), 0-d to n-d,
 * `.npy` format 1.0, 2.0 and 3.0.
 * Arrays of other fixed-size dtypes (an optimizer's int32 step counter beside the parameters)
 * are listed apart, in `others`, and never read: whoever picks the arrays to load refuses one
 * of them only when it would be loaded (google-checkpoint.ts).
 *
 * Arrays of a stored (`np.savez`) archive are read in place. A compressed (`np.savez_compressed`)
 * archive is inflated, one bounded stream at a time, into a temporary file that `close()` removes.
 * So is an archive holding a big-endian or Fortran-order float array: each such array is read
 * whole into memory, byte-swapped and transposed to little-endian C order (numpy's values,
 * bit for bit), and written there; the native loader only ever reads little-endian C order.
 */
import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import yauzl, { type Entry, type ZipFile } from 'yauzl';

import type { NativeTensorEntry } from '../binding.js';
import { ErrorCode, VptError } from '../errors.js';

/** Largest `.npy` header accepted (numpy's own `max_header_size` default). */
export const MAX_NPY_HEADER_BYTES = 10_000;

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // "\x93NUMPY"
const STORED = 0;
const DEFLATED = 8;

/** numpy dtype descriptors vpt-native reads, as the native reader names them; `swap`: big-endian. */
const FLOAT_DESCRS: Record<string, { dtype: string; bytes: number; swap: boolean }> = {
  '<f2': { dtype: 'F16', bytes: 2, swap: false },
  '<f4': { dtype: 'F32', bytes: 4, swap: false },
  '<f8': { dtype: 'F64', bytes: 8, swap: false },
  '>f2': { dtype: 'F16', bytes: 2, swap: true },
  '>f4': { dtype: 'F32', bytes: 4, swap: true },
  '>f8': { dtype: 'F64', bytes: 8, swap: true },
};

/** Largest array converted (byte-swapped or transposed) in memory. */
export const MAX_CONVERTED_ARRAY_BYTES = 2 ** 31;

/** numpy's fixed-size dtypes other than the floats above (`<i4`, `|b1`, `>f4`, `<U8`, `<M8[s]`): kind and item size. */
const OTHER_DESCR = /^[<>|=]([biufcmMSUV])(\d+)(?:\[\w+\])?$/;

/** An array of a dtype vpt-native does not load: validated, listed, never read. */
export interface NpzOtherArray {
  /** Its key (the member name without `.npy`). */
  name: string;
  /** The numpy dtype descriptor, e.g. `<i4`. */
  descr: string;
  shape: number[];
}

/** An opened `.npz`: its float arrays as byte ranges of `dataPath`. */
export interface NpzArchive {
  path: string;
  /** The file the entries' offsets refer to: the archive, or a temporary file of inflated arrays. */
  dataPath: string;
  /** One entry per float array, named by its key (the member name without `.npy`). */
  entries: NativeTensorEntry[];
  /** The arrays of other dtypes, which are not read. */
  others: NpzOtherArray[];
  /** Removes the temporary file, when there is one. */
  close(): Promise<void>;
}

function bad(path: string, what: string): VptError {
  return new VptError(ErrorCode.Weights, `${path}: ${what}`);
}

/** The parsed header of one `.npy` member. */
export interface NpyHeader {
  /** `F16`, `F32` or `F64` for the float arrays vpt-native reads; else the numpy descriptor. */
  dtype: string;
  /** Whether the array is one vpt-native reads (a float). */
  float: boolean;
  shape: number[];
  /** Bytes per element. */
  itemBytes: number;
  /** Big-endian: each element's bytes are reversed on read. */
  swap: boolean;
  /** Fortran order with more than one dimension above 1: transposed to C order on read. */
  transpose: boolean;
  /** Bytes before the array data: magic, version, length, header text. */
  headerBytes: number;
  /** Bytes of array data the shape and dtype need. */
  dataBytes: number;
}

/**
 * Parses the `.npy` header at the start of `bytes` (which may hold more than the header).
 * Returns `undefined` when `bytes` is too short to hold the whole header yet.
 */
export function parseNpyHeader(bytes: Uint8Array, where: string): NpyHeader | undefined {
  if (bytes.length < 10) return undefined;
  if (!NPY_MAGIC.equals(bytes.subarray(0, 6)))
    throw new VptError(ErrorCode.Weights, `${where} is not a .npy array (bad magic)`);
  const major = bytes[6]!;
  if (major < 1 || major > 3)
    throw new VptError(ErrorCode.Weights, `${where} has unsupported .npy version ${major}.${bytes[7]}`);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const textLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (textLength > MAX_NPY_HEADER_BYTES) {
    throw new VptError(
      ErrorCode.Weights,
      `${where} has a ${textLength}-byte .npy header, above the ${MAX_NPY_HEADER_BYTES}-byte limit`,
    );
  }
  const headerBytes = 8 + lengthBytes + textLength;
  if (bytes.length < headerBytes) return undefined;
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(
      bytes.subarray(8 + lengthBytes, headerBytes),
    );
  } catch {
    throw new VptError(ErrorCode.Weights, `${where} has a .npy header that is not valid text`);
  }
  const fields = parseHeaderDict(text, where);
  const keys = Object.keys(fields).sort().join(',');
  if (keys !== 'descr,fortran_order,shape') {
    throw new VptError(
      ErrorCode.Weights,
      `${where} has .npy header keys {${keys}}; expected descr, fortran_order and shape`,
    );
  }
  const { descr, fortran_order: fortranOrder, shape } = fields;
  if (typeof descr !== 'string')
    throw new VptError(ErrorCode.Weights, `${where} is a structured array; only float arrays are supported`);
  if (descr.includes('O')) {
    throw new VptError(
      ErrorCode.Weights,
      `${where} is an object array, stored as a pickle; vpt-native never unpickles (only float arrays are supported)`,
    );
  }
  const other = OTHER_DESCR.exec(descr);
  const type =
    FLOAT_DESCRS[descr] ?? (other ? { dtype: descr, bytes: Number(other[2]) * (other[1] === 'U' ? 4 : 1) } : undefined);
  if (!type)
    throw new VptError(ErrorCode.Weights, `${where} has dtype '${descr}'; only float16/32/64 arrays are supported`);
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new VptError(ErrorCode.Weights, `${where} has an invalid shape ${JSON.stringify(shape)}`);
  }
  if (typeof fortranOrder !== 'boolean')
    throw new VptError(ErrorCode.Weights, `${where} has a non-boolean fortran_order`);
  const dims = shape as number[];
  const dataBytes = dims.reduce((n, d) => n * BigInt(d), BigInt(type.bytes));
  if (dataBytes > BigInt(Number.MAX_SAFE_INTEGER))
    throw new VptError(ErrorCode.Weights, `${where} has a shape too large to address`);
  const float = FLOAT_DESCRS[descr];
  // With at most one dimension above 1, Fortran and C order are the same bytes.
  const transpose = float !== undefined && fortranOrder && dims.filter((d) => d > 1).length > 1;
  const swap = float?.swap === true && type.bytes > 1;
  if ((transpose || swap) && dataBytes > BigInt(MAX_CONVERTED_ARRAY_BYTES)) {
    throw new VptError(
      ErrorCode.Weights,
      `${where} is ${transpose ? 'in Fortran order' : 'big-endian'} and above ${MAX_CONVERTED_ARRAY_BYTES} bytes, too large to convert in memory; save it little-endian, C-contiguous`,
    );
  }
  return {
    dtype: type.dtype,
    float: float !== undefined,
    shape: dims,
    itemBytes: type.bytes,
    swap,
    transpose,
    headerBytes,
    dataBytes: Number(dataBytes),
  };
}

type HeaderValue = string | number | boolean | null | HeaderValue[];

/** Parses the Python dict literal of a `.npy` header: strings, ints, booleans, None, tuples and lists. */
function parseHeaderDict(text: string, where: string): Record<string, HeaderValue> {
  let i = 0;
  const fail = (): never => {
    throw new VptError(ErrorCode.Weights, `${where} has a malformed .npy header ${JSON.stringify(text.slice(0, 120))}`);
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (c: string) => {
    space();
    if (text[i] !== c) fail();
    i++;
  };
  const value = (depth: number): HeaderValue => {
    space();
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail();
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    if (c === '(' || c === '[') {
      if (depth >= 4) fail();
      const close = c === '(' ? ')' : ']';
      i++;
      const items: HeaderValue[] = [];
      for (;;) {
        space();
        if (text[i] === close) {
          i++;
          return items;
        }
        items.push(value(depth + 1));
        space();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail();
      }
    }
    for (const [word, v] of [
      ['True', true],
      ['False', false],
      ['None', null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /^-?\d{1,16}L?/.exec(text.slice(i, i + 18));
    if (!m) return fail();
    i += m[0].length;
    return Number.parseInt(m[0], 10);
  };
  const out = new Map<string, HeaderValue>();
  expect('{');
  for (;;) {
    space();
    if (text[i] === '}') {
      i++;
      break;
    }
    const key = value(1);
    if (typeof key !== 'string' || out.has(key)) return fail();
    expect(':');
    out.set(key, value(1));
    space();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail();
  }
  space();
  if (i !== text.length) fail();
  return Object.fromEntries(out);
}

/** One `.npy` member found in the zip's central directory. */
interface Member {
  key: string;
  entry: Entry;
}

/**
 * Opens an `.npz` archive and validates every member (zip structure, `.npy` header, dtype,
 * shape against size) before returning; every failure is a VPT_WEIGHTS error naming the key.
 * Float arrays become `entries`; arrays of other fixed-size dtypes are listed in `others`.
 * @example
 * ```ts
 * const npz = await readNpz('ViT-B_16.npz');
 * try { console.log(npz.entries.map((e) => e.name)); } finally { await npz.close(); }
 * ```
 */
export async function readNpz(path: string): Promise<NpzArchive> {
  let zip: ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false, validateEntrySizes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      throw new VptError(ErrorCode.Io, `cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
    throw bad(path, `not a readable .npz (zip) archive, truncated or corrupt (${(error as Error).message})`);
  }
  try {
    const members = await listMembers(zip, path);
    // A stored archive is read in place unless an array in it must be converted to little-endian C order.
    const inPlace = members.every((m) => m.entry.compressionMethod === STORED)
      ? await storedMembers(zip, members, path)
      : undefined;
    return inPlace ?? (await inflateMembers(zip, members, path));
  } finally {
    zip.close();
  }
}

async function listMembers(zip: ZipFile, path: string): Promise<Member[]> {
  const members: Member[] = [];
  const keys = new Set<string>();
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      if (!name.endsWith('.npy')) throw bad(path, `member "${name}" is not a .npy array`);
      const key = name.slice(0, -'.npy'.length);
      if (keys.has(key)) throw bad(path, `array "${key}" appears twice`);
      keys.add(key);
      if (entry.isEncrypted()) throw bad(path, `array "${key}" is encrypted`);
      if (entry.compressionMethod !== STORED && entry.compressionMethod !== DEFLATED) {
        throw bad(
          path,
          `array "${key}" uses zip compression method ${entry.compressionMethod} (only stored and deflated are read)`,
        );
      }
      if (entry.compressionMethod === STORED && entry.compressedSize !== entry.uncompressedSize) {
        throw bad(
          path,
          `array "${key}" is stored with ${entry.compressedSize} bytes but claims ${entry.uncompressedSize}`,
        );
      }
      members.push({ key, entry });
    }
  } catch (error) {
    if (error instanceof VptError) throw error;
    throw bad(path, `corrupt .npz (zip) archive (${(error as Error).message})`);
  }
  if (members.length === 0) throw bad(path, 'the .npz archive holds no arrays');
  return members;
}

/** The `.npy` header at the start of `bytes`, checked against the member's size; undefined while incomplete. */
function memberHeader(bytes: Uint8Array, m: Member, path: string): NpyHeader | undefined {
  const where = `${path}: array "${m.key}"`;
  const header = parseNpyHeader(bytes, where);
  const size = m.entry.uncompressedSize;
  if (header && header.headerBytes + header.dataBytes !== size) {
    throw new VptError(
      ErrorCode.Weights,
      `${where} shape [${header.shape.join(', ')}] ${header.dtype} needs ${header.dataBytes} bytes, the member holds ${size - header.headerBytes}`,
    );
  }
  return header;
}

function cutShort(m: Member, path: string): never {
  throw bad(path, `array "${m.key}" is cut short inside its .npy header`);
}

/** The archive with its arrays in place; undefined when an array needs converting (big-endian, Fortran order). */
async function storedMembers(zip: ZipFile, members: Member[], path: string): Promise<NpzArchive | undefined> {
  const handle = await open(path, 'r');
  const entries: NativeTensorEntry[] = [];
  const others: NpzOtherArray[] = [];
  try {
    for (const m of members) {
      let start: number;
      try {
        ({ fileDataStart: start } = await zip.readLocalFileHeaderPromise(m.entry, { minimal: true }));
      } catch (error) {
        throw bad(path, `array "${m.key}": corrupt zip entry (${(error as Error).message})`);
      }
      const head = new Uint8Array(Math.min(m.entry.uncompressedSize, 12 + MAX_NPY_HEADER_BYTES));
      const { bytesRead } = await handle.read(head, 0, head.length, start);
      const header = memberHeader(head.subarray(0, bytesRead), m, path) ?? cutShort(m, path);
      if (header.swap || header.transpose) return undefined;
      if (header.float)
        entries.push({
          name: m.key,
          dtype: header.dtype,
          shape: header.shape,
          offset: start + header.headerBytes,
          nbytes: header.dataBytes,
        });
      else others.push({ name: m.key, descr: header.dtype, shape: header.shape });
    }
  } finally {
    await handle.close();
  }
  return { path, dataPath: path, entries, others, close: async () => undefined };
}

async function inflateMembers(zip: ZipFile, members: Member[], path: string): Promise<NpzArchive> {
  const dir = await mkdtemp(join(tmpdir(), 'vpt-npz-'));
  const dataPath = join(dir, 'arrays.bin');
  const close = () => rm(dir, { recursive: true, force: true });
  const out = await open(dataPath, 'w');
  const entries: NativeTensorEntry[] = [];
  const others: NpzOtherArray[] = [];
  try {
    let offset = 0;
    for (const m of members) {
      const array = await inflateMember(zip, m, path, out, offset);
      if ('descr' in array) {
        others.push(array);
      } else {
        entries.push(array);
        offset += array.nbytes;
      }
    }
  } catch (error) {
    await out.close();
    await close();
    throw error;
  }
  await out.close();
  return { path, dataPath, entries, others, close };
}

/**
 * Streams one member into `out` at `offset`: its header is parsed from the first bytes, its data
 * written after. A non-float array is inflated (so its size is checked) but not written. A
 * big-endian or Fortran-order array is gathered (never more bytes than its member's size, which
 * its shape matches), converted to little-endian C order and written whole.
 */
async function inflateMember(
  zip: ZipFile,
  m: Member,
  path: string,
  out: FileHandle,
  offset: number,
): Promise<NativeTensorEntry | NpzOtherArray> {
  let header: NpyHeader | undefined;
  let pending = Buffer.alloc(0);
  let written = 0;
  const held: Buffer[] = [];
  try {
    const stream = await zip.openReadStreamPromise(m.entry);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let data = chunk;
      if (!header) {
        pending = Buffer.concat([pending, chunk]);
        header = memberHeader(pending, m, path);
        if (!header) continue;
        data = pending.subarray(header.headerBytes);
      }
      if (header.swap || header.transpose) {
        if (written + data.length <= header.dataBytes) held.push(Buffer.from(data));
      } else if (header.float) await out.write(data, 0, data.length, offset + written);
      written += data.length;
    }
  } catch (error) {
    if (error instanceof VptError) throw error;
    throw bad(path, `array "${m.key}" cannot be inflated (${(error as Error).message})`);
  }
  header ??= cutShort(m, path);
  if (written !== header.dataBytes)
    throw bad(path, `array "${m.key}" inflates to ${written} data bytes, its shape needs ${header.dataBytes}`);
  if (!header.float) return { name: m.key, descr: header.dtype, shape: header.shape };
  if (header.swap || header.transpose) {
    const data = toLittleEndianCOrder(held, header);
    await out.write(data, 0, data.length, offset);
  }
  return { name: m.key, dtype: header.dtype, shape: header.shape, offset, nbytes: header.dataBytes };
}

/**
 * The array of `chunks` (its data bytes, in the order and byte order its header gives) as
 * little-endian C-order bytes: elements byte-swapped when big-endian, transposed from Fortran
 * (first index fastest) order. Exact: bytes are moved, never computed.
 */
export function toLittleEndianCOrder(
  chunks: Uint8Array[],
  header: { shape: number[]; itemBytes: number; swap: boolean; transpose: boolean },
): Uint8Array {
  // A fresh buffer, so that its 2-, 4- and 8-byte views are aligned.
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const src = Buffer.from(new ArrayBuffer(total));
  let at = 0;
  for (const c of chunks) {
    src.set(c, at);
    at += c.length;
  }
  if (header.swap) {
    if (header.itemBytes === 2) src.swap16();
    else if (header.itemBytes === 4) src.swap32();
    else if (header.itemBytes === 8) src.swap64();
  }
  if (!header.transpose) return src;
  // Moves elements as words: one u16 / u32, or two u32 for an 8-byte float.
  const wordBytes = Math.min(header.itemBytes, 4);
  const per = header.itemBytes / wordBytes;
  const View = wordBytes === 2 ? Uint16Array : wordBytes === 4 ? Uint32Array : Uint8Array;
  const from = new View(src.buffer, 0, total / wordBytes);
  const to = new View(total / wordBytes);
  const dims = header.shape;
  const n = dims.length;
  const numel = dims.reduce((a, d) => a * d, 1);
  if (numel === 0) return new Uint8Array(0);
  // Fortran strides, in words: the first index moves fastest.
  const stride: number[] = [];
  for (let k = 0, s = per; k < n; k++) {
    stride.push(s);
    s *= dims[k]!;
  }
  const index = new Array<number>(n).fill(0);
  const last = n - 1;
  const innerLength = dims[last]!;
  const innerStride = stride[last]!;
  let source = 0;
  for (let o = 0; o < numel * per; ) {
    // The last (C-fastest) dimension: contiguous in the output, strided in the source.
    for (let j = 0, s = source; j < innerLength; j++, s += innerStride) {
      for (let w = 0; w < per; w++) to[o++] = from[s + w]!;
    }
    // Carry into the dimensions before it.
    for (let k = last - 1; k >= 0; k--) {
      index[k]!++;
      source += stride[k]!;
      if (index[k]! < dims[k]!) break;
      source -= stride[k]! * dims[k]!;
      index[k] = 0;
    }
  }
  return new Uint8Array(to.buffer);
}
