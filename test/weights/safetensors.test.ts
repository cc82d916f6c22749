/** The safetensors reader validates headers completely before trusting any byte range. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../lib/index.js';
import { parseSafetensorsHeader } from '../../lib/weights/safetensors.js';
import { tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

function file(header: unknown, dataBytes: number, headerLength?: number): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + dataBytes);
  out.writeBigUInt64LE(BigInt(headerLength ?? json.length));
  json.copy(out, 8);
  return out;
}

const parse = (bytes: Uint8Array) => () => parseSafetensorsHeader('x.safetensors', bytes, bytes.length);

describe('safetensors', () => {
  it('round-trips tensors and metadata, sorted and 8-byte aligned', async () => {
    const path = join(tmp.dir, 'a.safetensors');
    await writeSafetensors(
      path,
      [
        { name: 'z', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
        { name: 'a', shape: [3], data: Float32Array.from([-1, 0.5, 7]) },
      ],
      { note: 'hi' },
    );
    const header = await readSafetensorsHeader(path);
    expect(header.entries.map((e) => e.name)).toEqual(['a', 'z']);
    expect(header.entries[0]!.offset % 8).toBe(0);
    const { tensors, metadata } = await readSafetensors(path);
    expect(metadata).toEqual({ note: 'hi' });
    expect(Array.from(tensors.get('z')!.data)).toEqual([1, 2, 3, 4]);
    expect(tensors.get('a')!.shape).toEqual([3]);
  });

  it('converts F16 and BF16 to float32', async () => {
    const f16 = Buffer.alloc(6);
    for (const [i, v] of [0x3c00, 0xc000, 0x3555].entries()) f16.writeUInt16LE(v, i * 2); // 1, -2, ~0.33325
    const bf16 = Buffer.alloc(4);
    for (const [i, v] of [0x3f80, 0x4049].entries()) bf16.writeUInt16LE(v, i * 2); // 1, ~3.140625
    const header = {
      h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] },
    };
    const bytes = file(header, 10);
    const json = Buffer.from(JSON.stringify(header)).length;
    Buffer.from(f16).copy(bytes as Buffer, 8 + json);
    Buffer.from(bf16).copy(bytes as Buffer, 8 + json + 6);
    const path = join(tmp.dir, 'half.safetensors');
    await writeFile(path, bytes);
    const { tensors } = await readSafetensors(path);
    expect(Array.from(tensors.get('h')!.data)).toEqual([1, -2, expect.closeTo(0.33325, 4)]);
    expect(Array.from(tensors.get('b')!.data)).toEqual([1, 3.140625]);
  });

  it('rejects hostile headers with the problem named', () => {
    const ok = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    expect(parse(new Uint8Array(4))).toThrow(/shorter than its 8-byte header length/);
    expect(parse(file(ok, 8, 10_000))).toThrow(/runs past the end/);
    expect(parse(file(ok, 8, 200 * 1024 * 1024))).toThrow(/above the .* limit/);
    const notJson = file(ok, 8);
    notJson[9] = 0x7b;
    notJson[10] = 0x7b;
    expect(parse(notJson)).toThrow(/not valid UTF-8 JSON/);
    expect(parse(file([1, 2], 0))).toThrow(/not a JSON object/);
    expect(parse(file({ t: { dtype: 'F99', shape: [2], data_offsets: [0, 8] } }, 8))).toThrow(
      /tensor "t" has unknown dtype "F99"/,
    );
    expect(parse(file({ t: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8))).toThrow(
      /tensor "t" has an invalid shape/,
    );
    expect(parse(file({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 80] } }, 8))).toThrow(
      /tensor "t" data_offsets \[0, 80\] are out of bounds/,
    );
    expect(parse(file({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8))).toThrow(
      /tensor "t" shape \[3\] F32 needs 12 bytes/,
    );
    expect(
      parse(
        file(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
          },
          8,
        ),
      ),
    ).toThrow(/overlaps/);
    expect(parse(file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8))).toThrow(
      /gap of 4 bytes before tensor "a"/,
    );
    expect(parse(file(ok, 12))).toThrow(/4 bytes after the last tensor/);
    expect(parse(file({ __metadata__: { k: 1 }, ...ok }, 8))).toThrow(/__metadata__ key "k" is not a string/);
  });

  it('a truncated file is refused before any tensor is read', async () => {
    const path = join(tmp.dir, 'b.safetensors');
    await writeSafetensors(path, [{ name: 'w', shape: [16], data: new Float32Array(16) }]);
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 5));
    await expect(readSafetensorsHeader(path)).rejects.toMatchObject({
      code: 'VPT_WEIGHTS',
      message: expect.stringContaining('"w"'),
    });
  });
});
