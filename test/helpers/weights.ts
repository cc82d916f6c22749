/** Test-side writers for `.npy` members and `.npz` (zip) archives, hostile ones included. */
import { writeFile } from 'node:fs/promises';
import { crc32, deflateRawSync } from 'node:zlib';

import { createModel, type ModelInfo } from '../../lib/index.js';
import { FIXTURES } from './common.js';

export const VARIANTS = `${FIXTURES}/variants`;

/** Classes of the variants' task head (`vpt_deep.safetensors`). */
export const VARIANT_CLASSES = 5;

/**
 * `weights` built at `size` px and run on `images` (n x 3 x size x size): pooled features, or
 * with `deep` the logits of VPT-deep with the variants' `vpt_deep.safetensors`; and the model's info.
 */
export async function variantOutput(
  weights: string,
  size: number,
  deep: boolean,
  images: Float32Array,
): Promise<{ out: Float32Array; info: ModelInfo }> {
  const model = await createModel({
    weights,
    numClasses: VARIANT_CLASSES,
    device: 'cpu',
    imageSize: size,
    ...(deep ? { prompt: { tokens: 3, deep: true }, trainable: `${VARIANTS}/vpt_deep.safetensors` } : { prompt: null }),
  });
  try {
    const shape = [images.length / (3 * size * size), 3, size, size] as const;
    const out = deep ? await model.forward(images, shape) : await model.features(images, shape);
    return { out, info: model.info() };
  } finally {
    model.dispose();
  }
}

/** A `.npy` file: header dict text (numpy's layout unless `header` overrides it) and data. */
export function npy(
  shape: number[],
  data: Uint8Array,
  opts: { descr?: string; header?: string; version?: 1 | 2 } = {},
): Uint8Array {
  const descr = opts.descr ?? '<f4';
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let text = opts.header ?? `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
  const version = opts.version ?? 1;
  const fixed = version === 1 ? 10 : 12;
  text += `${' '.repeat((64 - ((fixed + text.length + 1) % 64)) % 64)}\n`;
  const head = Buffer.alloc(fixed);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(text.length, 8);
  else head.writeUInt32LE(text.length, 8);
  return Buffer.concat([head, Buffer.from(text, 'latin1'), data]);
}

/** Float32 little-endian bytes. */
export function f32(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** A zip archive of `members` (stored, or deflated with `compress`), as numpy's savez writes one. */
export function zip(members: Array<{ name: string; data: Uint8Array }>, opts: { compress?: boolean } = {}): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name, 'utf8');
    const body = opts.compress ? deflateRawSync(m.data) : Buffer.from(m.data);
    const crc = crc32(m.data);
    const method = opts.compress ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(m.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(m.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Writes an `.npz` of float32 arrays. */
export async function writeNpz(
  path: string,
  arrays: Array<{ name: string; shape: number[]; data: Float32Array }>,
  opts: { compress?: boolean } = {},
): Promise<void> {
  await writeFile(
    path,
    zip(
      arrays.map((a) => ({ name: `${a.name}.npy`, data: npy(a.shape, f32(a.data)) })),
      opts,
    ),
  );
}
