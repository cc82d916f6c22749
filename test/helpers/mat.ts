/**
 * A tiny MATLAB level-5 MAT-file writer for the tests: double / uint8 / uint16 arrays, char
 * arrays, cell and struct arrays, optionally each variable zlib-compressed (miCOMPRESSED, as
 * MATLAB's -v7 writes), optionally big-endian. Names of up to 4 bytes use the small element form.
 */
import { deflateSync } from 'node:zlib';

export type MatIn =
  | number
  | number[]
  | string
  | string[]
  | { numeric: number[]; dims?: number[]; class?: 'double' | 'uint8' | 'uint16'; store?: 'double' | 'uint8' | 'uint16' }
  | { cell: MatIn[]; dims?: number[] }
  | { struct: Array<Record<string, MatIn>>; fields?: string[]; dims?: number[] };

const MI = { INT8: 1, UINT8: 2, UINT16: 4, INT32: 5, UINT32: 6, DOUBLE: 9, MATRIX: 14, COMPRESSED: 15 };
const CLASS = { cell: 1, struct: 2, char: 4, double: 6, uint8: 9, uint16: 11 } as const;

export interface MatWriteOptions {
  compress?: boolean;
  bigEndian?: boolean;
}

export function writeMat(vars: Record<string, MatIn>, o: MatWriteOptions = {}): Buffer {
  const little = !o.bigEndian;
  const u32 = (values: number[]) => {
    const b = Buffer.alloc(values.length * 4);
    values.forEach((v, i) => {
      if (little) b.writeUInt32LE(v >>> 0, i * 4);
      else b.writeUInt32BE(v >>> 0, i * 4);
    });
    return b;
  };
  const typed = (type: number, values: number[]): Buffer => {
    const size = type === MI.DOUBLE ? 8 : type === MI.UINT16 ? 2 : type === MI.INT32 || type === MI.UINT32 ? 4 : 1;
    const b = Buffer.alloc(values.length * size);
    values.forEach((v, i) => {
      const at = i * size;
      if (type === MI.DOUBLE) little ? b.writeDoubleLE(v, at) : b.writeDoubleBE(v, at);
      else if (type === MI.UINT16) little ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at);
      else if (type === MI.INT32) little ? b.writeInt32LE(v, at) : b.writeInt32BE(v, at);
      else if (type === MI.UINT32) little ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at);
      else if (type === MI.INT8) b.writeInt8(v, at);
      else b.writeUInt8(v, at);
    });
    return b;
  };
  const element = (type: number, data: Buffer): Buffer => {
    if (data.length <= 4 && data.length > 0 && type !== MI.MATRIX && type !== MI.COMPRESSED) {
      const tag = u32([(data.length << 16) | type]);
      return Buffer.concat([tag, data, Buffer.alloc(4 - data.length)]);
    }
    const pad = (8 - (data.length % 8)) % 8;
    return Buffer.concat([u32([type, data.length]), data, Buffer.alloc(type === MI.COMPRESSED ? 0 : pad)]);
  };
  const header = (cls: number, dims: number[], name: string) =>
    Buffer.concat([
      element(MI.UINT32, u32([cls, 0])),
      element(MI.INT32, typed(MI.INT32, dims)),
      name.length === 0 ? u32([MI.INT8, 0]) : element(MI.INT8, Buffer.from(name, 'latin1')),
    ]);
  const charCodes = (rows: string[]): { dims: number[]; codes: number[] } => {
    const cols = rows.length === 0 ? 0 : rows[0]!.length;
    const codes: number[] = [];
    for (let c = 0; c < cols; c++) for (const r of rows) codes.push(r.charCodeAt(c));
    return { dims: [rows.length, cols], codes };
  };
  const matrix = (name: string, v: MatIn): Buffer => {
    let body: Buffer;
    if (typeof v === 'number' || Array.isArray(v)) {
      if (Array.isArray(v) && v.length > 0 && typeof v[0] === 'string') {
        const { dims, codes } = charCodes(v as string[]);
        body = Buffer.concat([header(CLASS.char, dims, name), element(MI.UINT16, typed(MI.UINT16, codes))]);
      } else {
        const values = typeof v === 'number' ? [v] : (v as number[]);
        body = Buffer.concat([
          header(CLASS.double, [1, values.length], name),
          element(MI.DOUBLE, typed(MI.DOUBLE, values)),
        ]);
      }
    } else if (typeof v === 'string') {
      const { dims, codes } = charCodes([v]);
      body = Buffer.concat([header(CLASS.char, dims, name), element(MI.UINT16, typed(MI.UINT16, codes))]);
    } else if ('numeric' in v) {
      const cls = v.class ?? 'double';
      const store = v.store ?? cls;
      const type = store === 'double' ? MI.DOUBLE : store === 'uint16' ? MI.UINT16 : MI.UINT8;
      body = Buffer.concat([
        header(CLASS[cls], v.dims ?? [1, v.numeric.length], name),
        element(type, typed(type, v.numeric)),
      ]);
    } else if ('cell' in v) {
      body = Buffer.concat([
        header(CLASS.cell, v.dims ?? [v.cell.length, 1], name),
        ...v.cell.map((c) => matrix('', c)),
      ]);
    } else {
      const fields = v.fields ?? Object.keys(v.struct[0] ?? {});
      const len = Math.max(...fields.map((f) => f.length)) + 1;
      const names = Buffer.alloc(len * fields.length);
      fields.forEach((f, i) => {
        names.write(f, i * len, 'latin1');
      });
      body = Buffer.concat([
        header(CLASS.struct, v.dims ?? [1, v.struct.length], name),
        element(MI.INT32, typed(MI.INT32, [len])),
        element(MI.INT8, names),
        ...v.struct.flatMap((el) => fields.map((f) => matrix('', el[f]!))),
      ]);
    }
    return element(MI.MATRIX, body);
  };
  const head = Buffer.alloc(128, 0x20);
  head.write('MATLAB 5.0 MAT-file, Platform: GLNXA64, Created by: vpt-native tests', 0, 'latin1');
  head.fill(0, 116, 124);
  if (little) head.writeUInt16LE(0x0100, 124);
  else head.writeUInt16BE(0x0100, 124);
  head.write(little ? 'IM' : 'MI', 126, 'latin1');
  const parts = Object.entries(vars).map(([name, v]) => {
    const m = matrix(name, v);
    return o.compress ? element(MI.COMPRESSED, deflateSync(m)) : m;
  });
  return Buffer.concat([head, ...parts]);
}
