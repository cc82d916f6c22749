/**
 * `readMatV5`: a minimal reader of MATLAB level-5 MAT-files (the `-v6` / `-v7` format; not the
 * HDF5-based `-v7.3`), for the annotation files of Oxford Flowers-102, Stanford Dogs and
 * Stanford Cars. It reads:
 *
 * - numeric arrays of every class (double, single, int8..uint64), stored in any MAT storage type;
 *   logical arrays as numbers; complex arrays' real part;
 * - char arrays (UTF-16 / UTF-8 / 8-bit storage) as their rows;
 * - cell arrays and struct arrays, nested;
 * - miCOMPRESSED (zlib) elements; little- and big-endian files.
 *
 * Sparse matrices, objects and function handles are refused. Any malformed input, truncated or
 * mutated, is a VptError (VPT_DATA) naming the file; sizes are checked against the bytes present
 * before anything is allocated, and decompression is bounded.
 *
 * No npm library was used: the one maintained-looking candidate (`mat-for-js`) is GPL-3.0 (this
 * package is MIT), has a single release and depends on pako 1.x.
 */
import { readFile } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';

import { ErrorCode, VptError } from '../errors.js';

/** A MATLAB array, in column-major order as MATLAB keeps it. */
export type MatArray =
  | { type: 'numeric'; class: string; dims: number[]; data: Float64Array }
  | { type: 'char'; dims: number[]; rows: string[] }
  | { type: 'cell'; dims: number[]; cells: MatArray[] }
  | { type: 'struct'; dims: number[]; fields: string[]; elements: Array<Record<string, MatArray>> };

/** Largest decompressed size of one miCOMPRESSED element. */
const MAX_INFLATED = 1 << 30;
/** Deepest nesting of cells and structs. */
const MAX_DEPTH = 32;

const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
  UTF16: 17,
  UTF32: 18,
} as const;

/** Bytes per value of each numeric storage type. */
const SIZE: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 2,
  5: 4,
  6: 4,
  7: 4,
  9: 8,
  12: 8,
  13: 8,
  16: 1,
  17: 2,
  18: 4,
};

const CLASS_NAMES: Record<number, string> = {
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
  14: 'int64',
  15: 'uint64',
};
const MX_CELL = 1;
const MX_STRUCT = 2;
const MX_CHAR = 4;

class MatFormatError extends Error {}

function fail(message: string): never {
  throw new MatFormatError(message);
}

interface Element {
  type: number;
  /** The element's data. */
  data: Uint8Array;
}

/** Reads data elements from a byte range. */
class Reader {
  #pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly little: boolean,
  ) {}

  get done(): boolean {
    return this.#pos >= this.bytes.length;
  }

  #view(): DataView {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  /** The next element; its end is rounded up to 8 bytes, except a compressed one's. */
  next(): Element {
    const view = this.#view();
    const at = this.#pos;
    if (at + 8 > this.bytes.length) fail(`truncated element tag at byte ${at}`);
    const first = view.getUint32(at, this.little);
    if (first >>> 16 !== 0) {
      // Small data element: type and size in one word, up to 4 bytes of data.
      const type = first & 0xffff;
      const size = first >>> 16;
      if (size > 4) fail(`small data element at byte ${at} claims ${size} bytes`);
      this.#pos = at + 8;
      return { type, data: this.bytes.subarray(at + 4, at + 4 + size) };
    }
    const type = first;
    const size = view.getUint32(at + 4, this.little);
    const start = at + 8;
    if (size > this.bytes.length - start)
      fail(`element at byte ${at} claims ${size} bytes, only ${this.bytes.length - start} left`);
    const end = start + size;
    this.#pos = type === MI.COMPRESSED ? end : Math.min(this.bytes.length, start + Math.ceil(size / 8) * 8);
    return { type, data: this.bytes.subarray(start, end) };
  }
}

function numbersOf(el: Element, little: boolean, what: string): Float64Array {
  const size = SIZE[el.type];
  if (size === undefined || el.type === MI.UTF8 || el.type === MI.UTF16 || el.type === MI.UTF32)
    fail(`${what}: type ${el.type} is not a numeric storage type`);
  if (el.data.length % size !== 0) fail(`${what}: ${el.data.length} bytes is not a multiple of ${size}`);
  const n = el.data.length / size;
  const view = new DataView(el.data.buffer, el.data.byteOffset, el.data.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    switch (el.type) {
      case MI.INT8:
        out[i] = view.getInt8(o);
        break;
      case MI.UINT8:
        out[i] = view.getUint8(o);
        break;
      case MI.INT16:
        out[i] = view.getInt16(o, little);
        break;
      case MI.UINT16:
        out[i] = view.getUint16(o, little);
        break;
      case MI.INT32:
        out[i] = view.getInt32(o, little);
        break;
      case MI.UINT32:
        out[i] = view.getUint32(o, little);
        break;
      case MI.SINGLE:
        out[i] = view.getFloat32(o, little);
        break;
      case MI.DOUBLE:
        out[i] = view.getFloat64(o, little);
        break;
      case MI.INT64:
        out[i] = Number(view.getBigInt64(o, little));
        break;
      default:
        out[i] = Number(view.getBigUint64(o, little));
    }
  }
  return out;
}

function textOf(el: Element, little: boolean, what: string): number[] {
  switch (el.type) {
    case MI.UTF8:
      return [...new TextDecoder('utf-8', { fatal: false }).decode(el.data)].map((c) => c.codePointAt(0)!);
    case MI.UTF16:
    case MI.UINT16:
    case MI.INT8:
    case MI.UINT8:
    case MI.UTF32:
    case MI.UINT32:
    case MI.INT16:
    case MI.INT32:
    case MI.DOUBLE:
      return [
        ...numbersOf(
          { type: el.type === MI.UTF16 ? MI.UINT16 : el.type === MI.UTF32 ? MI.UINT32 : el.type, data: el.data },
          little,
          what,
        ),
      ];
    default:
      fail(`${what}: type ${el.type} cannot hold characters`);
  }
}

function product(dims: number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** The characters (column-major codes) of an r x c char array, as its r rows. */
function charRows(codes: number[], dims: number[]): string[] {
  const rows = dims.length === 0 ? 0 : dims[0]!;
  const cols = rows === 0 ? 0 : codes.length / rows;
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    let s = '';
    for (let c = 0; c < cols; c++) {
      const code = codes[c * rows + r]!;
      s += code >= 0 && code <= 0x10ffff && Number.isInteger(code) ? String.fromCodePoint(code) : '\ufffd';
    }
    out.push(s);
  }
  return out;
}

function decodeName(bytes: Uint8Array): string {
  return new TextDecoder('latin1').decode(bytes);
}

/** Parses the contents of an miMATRIX element; returns its name and value. */
function parseMatrix(
  data: Uint8Array,
  little: boolean,
  depth: number,
  what: string,
): { name: string; value: MatArray } {
  if (depth > MAX_DEPTH) fail(`${what}: nested deeper than ${MAX_DEPTH}`);
  if (data.length === 0)
    return { name: '', value: { type: 'numeric', class: 'double', dims: [0, 0], data: new Float64Array(0) } };
  const r = new Reader(data, little);
  const flagsEl = r.next();
  if (flagsEl.type !== MI.UINT32 || flagsEl.data.length < 8) fail(`${what}: bad array flags`);
  const flags = numbersOf({ type: MI.UINT32, data: flagsEl.data.subarray(0, 8) }, little, what);
  const cls = flags[0]! & 0xff;
  const complex = (flags[0]! & 0x800) !== 0;
  const dimsEl = r.next();
  if (dimsEl.type !== MI.INT32) fail(`${what}: bad dimensions element (type ${dimsEl.type})`);
  const dims = [...numbersOf(dimsEl, little, what)];
  if (dims.length < 2 || dims.some((d) => d < 0)) fail(`${what}: bad dimensions [${dims.join(', ')}]`);
  const nameEl = r.next();
  if (nameEl.type !== MI.INT8 && nameEl.type !== MI.UINT8) fail(`${what}: bad name element (type ${nameEl.type})`);
  const name = decodeName(nameEl.data);
  const label = name ? `${what} ${JSON.stringify(name)}` : what;
  const count = product(dims);

  if (CLASS_NAMES[cls] !== undefined) {
    const real = r.next();
    const values = numbersOf(real, little, label);
    if (values.length !== count) fail(`${label}: ${values.length} values for dimensions [${dims.join('x')}]`);
    if (complex) r.next();
    return { name, value: { type: 'numeric', class: CLASS_NAMES[cls]!, dims, data: values } };
  }
  if (cls === MX_CHAR) {
    const codes = count === 0 && r.done ? [] : textOf(r.next(), little, label);
    if (codes.length !== count) fail(`${label}: ${codes.length} characters for dimensions [${dims.join('x')}]`);
    return { name, value: { type: 'char', dims, rows: charRows(codes, dims) } };
  }
  if (cls === MX_CELL) {
    // Each cell is at least an 8-byte tag: a count beyond the bytes left is malformed.
    if (count > data.length / 8) fail(`${label}: ${count} cells cannot fit in ${data.length} bytes`);
    const cells: MatArray[] = [];
    for (let i = 0; i < count; i++) {
      const el = r.next();
      if (el.type !== MI.MATRIX) fail(`${label}: cell ${i + 1} is not a matrix (type ${el.type})`);
      cells.push(parseMatrix(el.data, little, depth + 1, `${label}{${i + 1}}`).value);
    }
    return { name, value: { type: 'cell', dims, cells } };
  }
  if (cls === MX_STRUCT) {
    const lenEl = r.next();
    const len = numbersOf(lenEl, little, label)[0];
    if (len === undefined || !Number.isInteger(len) || len <= 0 || len > 64)
      fail(`${label}: bad field name length ${len}`);
    const namesEl = r.next();
    if (namesEl.data.length % len !== 0) fail(`${label}: field names are not a multiple of ${len} bytes`);
    const fields: string[] = [];
    for (let i = 0; i < namesEl.data.length; i += len) {
      const raw = namesEl.data.subarray(i, i + len);
      const end = raw.indexOf(0);
      fields.push(decodeName(end < 0 ? raw : raw.subarray(0, end)));
    }
    if (count * fields.length > data.length / 8)
      fail(`${label}: ${count} x ${fields.length} fields cannot fit in ${data.length} bytes`);
    const elements: Array<Record<string, MatArray>> = [];
    for (let i = 0; i < count; i++) {
      const element: Record<string, MatArray> = Object.create(null);
      for (const field of fields) {
        const el = r.next();
        if (el.type !== MI.MATRIX) fail(`${label}(${i + 1}).${field} is not a matrix (type ${el.type})`);
        element[field] = parseMatrix(el.data, little, depth + 1, `${label}(${i + 1}).${field}`).value;
      }
      elements.push(element);
    }
    return { name, value: { type: 'struct', dims, fields, elements } };
  }
  fail(`${label}: MATLAB class ${cls} (sparse, object or function) is not supported`);
}

/**
 * Parses a level-5 MAT-file's bytes into its variables.
 * @param file named in errors
 * @throws VptError (VPT_DATA) naming `file` for anything malformed or unsupported
 */
export function parseMatV5(bytes: Uint8Array, file: string): Map<string, MatArray> {
  try {
    if (bytes.length < 128) fail(`${bytes.length} bytes is too short for a MAT-file header (128)`);
    const head = new TextDecoder('latin1').decode(bytes.subarray(0, 116));
    if (head.startsWith('MATLAB 7.3')) fail('a MATLAB 7.3 (HDF5) file; save it with -v7 or -v6');
    const endian = String.fromCharCode(bytes[126]!, bytes[127]!);
    if (endian !== 'IM' && endian !== 'MI') fail('not a MATLAB level-5 MAT-file (no endian indicator)');
    const little = endian === 'IM';
    const vars = new Map<string, MatArray>();
    const top = new Reader(bytes.subarray(128), little);
    while (!top.done) {
      let el = top.next();
      if (el.type === MI.COMPRESSED) {
        let inflated: Uint8Array;
        try {
          inflated = inflateSync(el.data, { maxOutputLength: MAX_INFLATED });
        } catch (error) {
          fail(`a compressed element does not inflate: ${(error as Error).message}`);
        }
        el = new Reader(inflated, little).next();
      }
      if (el.type !== MI.MATRIX) continue; // MATLAB skips what it does not know; so does this reader.
      const { name, value } = parseMatrix(el.data, little, 0, 'variable');
      if (name) vars.set(name, value);
    }
    return vars;
  } catch (error) {
    if (error instanceof MatFormatError)
      throw new VptError(ErrorCode.Data, `${file}: malformed MAT-file: ${error.message}`, { cause: error });
    if (error instanceof RangeError || error instanceof TypeError)
      throw new VptError(ErrorCode.Data, `${file}: malformed MAT-file: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * Reads a level-5 MAT-file's variables.
 * @throws VptError: VPT_DATA when missing or malformed (naming the file), VPT_IO when unreadable
 * @example
 * ```ts
 * const labels = matNumbers(await readMatV5('imagelabels.mat'), 'labels', 'imagelabels.mat');
 * ```
 */
export async function readMatV5(path: string): Promise<Map<string, MatArray>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new VptError(
      missing ? ErrorCode.Data : ErrorCode.Io,
      missing ? `${path} is missing` : `cannot read ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return parseMatV5(bytes, path);
}

/** A variable that must exist and be of `type`. */
export function matVariable<T extends MatArray['type']>(
  vars: Map<string, MatArray>,
  name: string,
  type: T,
  file: string,
): Extract<MatArray, { type: T }> {
  const v = vars.get(name);
  if (!v)
    throw new VptError(
      ErrorCode.Data,
      `${file}: no variable "${name}" (found: ${[...vars.keys()].join(', ') || 'none'})`,
    );
  if (v.type !== type)
    throw new VptError(ErrorCode.Data, `${file}: variable "${name}" is a ${v.type} array, expected ${type}`);
  return v as Extract<MatArray, { type: T }>;
}

/** The single string held by a char array (or a 1x1 cell holding one), or null. */
export function matString(v: MatArray | undefined): string | null {
  if (!v) return null;
  if (v.type === 'char') return v.rows.length === 1 ? v.rows[0]! : v.rows.length === 0 ? '' : null;
  if (v.type === 'cell' && v.cells.length === 1) return matString(v.cells[0]);
  return null;
}

/** The single number held by a numeric array, or null. */
export function matScalar(v: MatArray | undefined): number | null {
  return v?.type === 'numeric' && v.data.length === 1 ? v.data[0]! : null;
}
