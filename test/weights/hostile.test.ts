/**
 * Broken and hostile weight files are refused with a coded error that names the tensor, key or
 * limit at fault, through the public createModel: never a crash, never a generic message.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel } from '../../lib/index.js';
import { readNpz } from '../../lib/weights/npz.js';
import { tempDir } from '../helpers/common.js';
import { f32, npy, VARIANTS, writeNpz, zip } from '../helpers/weights.js';

const base = { numClasses: 5, device: 'cpu', prompt: null } as const;

let tmp: Awaited<ReturnType<typeof tempDir>>;
let count = 0;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

/** A fresh folder holding `name` (written by `write`) and the base variant's config.json. */
async function weightsFile(name: string, write: (path: string) => Promise<void>): Promise<string> {
  const dir = join(tmp.dir, `case${count++}`);
  await mkdir(dir);
  await copyFile(join(VARIANTS, 'base', 'config.json'), join(dir, 'config.json'));
  const path = join(dir, name);
  await write(path);
  return path;
}

const rejects = (path: string, code: string, message: RegExp) =>
  expect(createModel({ ...base, weights: path })).rejects.toMatchObject({
    code,
    message: expect.stringMatching(message),
  });

describe('hostile .safetensors', () => {
  let bytes: Buffer;
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  let dataStart: number;
  beforeAll(async () => {
    bytes = await readFile(join(VARIANTS, 'base', 'model.safetensors'));
    const n = Number(bytes.readBigUInt64LE(0));
    header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    dataStart = 8 + n;
  });

  /** The base weights with the header edited (and the length field set, when given). */
  const edited = (edit: (h: typeof header) => void, opts: { length?: bigint; data?: Buffer } = {}) =>
    weightsFile('model.safetensors', async (path) => {
      const h = structuredClone(header);
      edit(h);
      const json = Buffer.from(JSON.stringify(h));
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(opts.length ?? BigInt(json.length));
      await writeFile(path, Buffer.concat([length, json, opts.data ?? bytes.subarray(dataStart)]));
    });

  it('a truncated file names the tensor cut short', async () => {
    const path = await weightsFile('model.safetensors', (p) => writeFile(p, bytes.subarray(0, bytes.length - 100)));
    await rejects(path, 'VPT_WEIGHTS', /tensor "[\w.]+" data_offsets \[\d+, \d+\] are out of bounds/);
  });

  it('a header length past the end of the file, or above 100 MB', async () => {
    await rejects(
      await edited(() => undefined, { length: BigInt(bytes.length) }),
      'VPT_WEIGHTS',
      /header length \d+ runs past the end of the \d+-byte file/,
    );
    await rejects(
      await edited(() => undefined, { length: 2n ** 62n }),
      'VPT_WEIGHTS',
      /header length 4611686018427387904 is above the 104857600-byte limit/,
    );
  });

  it('a header that is not JSON', async () => {
    const path = await weightsFile('model.safetensors', async (p) => {
      const copy = Buffer.from(bytes);
      copy.write('{{{{', 8);
      await writeFile(p, copy);
    });
    await rejects(path, 'VPT_WEIGHTS', /header is not valid UTF-8 JSON/);
  });

  it('offsets out of bounds, overlapping, or not covering the data', async () => {
    await rejects(
      await edited((h) => {
        h['norm.bias']!.data_offsets[1] += 1e9;
      }),
      'VPT_WEIGHTS',
      /tensor "norm\.bias" data_offsets .* are out of bounds/,
    );
    // norm.bias grown over norm.weight, which follows it.
    const grown = (h: typeof header) => {
      h['norm.bias']!.shape = [64];
      h['norm.bias']!.data_offsets[1] = h['norm.weight']!.data_offsets[1];
    };
    await rejects(await edited(grown), 'VPT_WEIGHTS', /tensor "norm\.weight" overlaps another tensor/);
    await rejects(
      await edited(() => undefined, { data: Buffer.concat([bytes.subarray(dataStart), Buffer.alloc(16)]) }),
      'VPT_WEIGHTS',
      /16 bytes after the last tensor are not covered/,
    );
  });

  it('an unknown dtype, a non-float dtype, a shape that does not match the byte count', async () => {
    await rejects(
      await edited((h) => {
        h.cls_token!.dtype = 'F12';
      }),
      'VPT_WEIGHTS',
      /tensor "cls_token" has unknown dtype "F12"/,
    );
    await rejects(
      await edited((h) => {
        h.cls_token!.dtype = 'I32';
      }),
      'VPT_WEIGHTS',
      /non-float dtypes: cls_token \(I32\)/,
    );
    await rejects(
      await edited((h) => {
        h.cls_token!.shape = [1, 2, 32];
      }),
      'VPT_WEIGHTS',
      /tensor "cls_token" shape \[1, 2, 32\] F32 needs 256 bytes, data_offsets give 128/,
    );
  });

  it('a position embedding that is no square grid is named', async () => {
    // 17 rows (class + 4 x 4) read as 17 patches once the config claims no_embed_class.
    const path = await edited(() => undefined);
    const config = JSON.parse(await readFile(join(VARIANTS, 'base', 'config.json'), 'utf8'));
    config.model_args.no_embed_class = true;
    await writeFile(join(path, '..', 'config.json'), JSON.stringify(config));
    await rejects(path, 'VPT_ARCH', /position embedding has 17 rows, not 0 prefix-token rows and a square grid/);
  });

  it('register tokens the config does not declare', async () => {
    const path = await edited(() => undefined);
    const config = JSON.parse(await readFile(join(VARIANTS, 'base', 'config.json'), 'utf8'));
    config.model_args.reg_tokens = 3;
    await writeFile(join(path, '..', 'config.json'), JSON.stringify(config));
    await rejects(path, 'VPT_ARCH', /the weights have reg_tokens=0 but the architecture has reg_tokens=3/);
  });
});

describe('hostile .npz', () => {
  let arrays: Array<{ name: string; shape: number[]; data: Float32Array }>;
  beforeAll(async () => {
    const npz = await readNpz(join(VARIANTS, 'google', 'vit_jax.npz'));
    const bytes = await readFile(npz.dataPath);
    arrays = npz.entries.map((e) => ({
      name: e.name,
      shape: e.shape,
      data: new Float32Array(bytes.buffer.slice(bytes.byteOffset + e.offset, bytes.byteOffset + e.offset + e.nbytes)),
    }));
    await npz.close();
  });
  const OUT = 'Transformer/encoderblock_0/MultiHeadDotProductAttention_1/out/kernel';

  /** The fixture's arrays, edited, as an npz (plus raw extra members). */
  const npzWith = (edit: (a: typeof arrays) => typeof arrays, extra: Array<{ name: string; data: Uint8Array }> = []) =>
    weightsFile('model.npz', (path) =>
      writeFile(
        path,
        zip([
          ...edit(arrays.map((a) => ({ ...a }))).map((a) => ({
            name: `${a.name}.npy`,
            data: npy(a.shape, f32(a.data)),
          })),
          ...extra,
        ]),
      ),
    );
  const member = (name: string, data: Uint8Array) => [{ name, data }];

  it('not a zip, or a truncated one', async () => {
    await rejects(
      await weightsFile('model.npz', (p) => writeFile(p, 'definitely not a zip file')),
      'VPT_WEIGHTS',
      /not a readable \.npz \(zip\) archive, truncated or corrupt/,
    );
    const full = await readFile(join(VARIANTS, 'google', 'vit_jax.npz'));
    await rejects(
      await weightsFile('model.npz', (p) => writeFile(p, full.subarray(0, full.length >> 1))),
      'VPT_WEIGHTS',
      /not a readable \.npz \(zip\) archive, truncated or corrupt/,
    );
  });

  it('an array whose data is shorter than its shape says', async () => {
    const short = npy([32, 2, 16], new Uint8Array(100));
    await rejects(
      await npzWith((a) => a.filter((x) => x.name !== OUT), member(`${OUT}.npy`, short)),
      'VPT_WEIGHTS',
      new RegExp(`array "${OUT}" shape \\[32, 2, 16\\] F32 needs 4096 bytes, the member holds 100`),
    );
  });

  it('missing, mis-shaped and unexpected keys are named in Google terms, in one error', async () => {
    const path = await npzWith((a) => [
      ...a
        .filter((x) => x.name !== 'Transformer/encoderblock_1/MlpBlock_3/Dense_1/bias')
        .map((x) => (x.name === OUT ? { ...x, shape: [32, 2, 16] } : x)),
      { name: 'MAPHead_0/probe', shape: [1, 1, 32], data: new Float32Array(32) },
    ]);
    const error = await createModel({ ...base, weights: path }).catch((e: unknown) => e as Error & { code: string });
    expect(error.code).toBe('VPT_WEIGHTS');
    expect(error.message).toContain('the Google (vision_transformer layout) weights do not fit the model');
    expect(error.message).toContain('missing (1): Transformer/encoderblock_1/MlpBlock_3/Dense_1/bias');
    expect(error.message).toContain(`wrong shape (1): ${OUT} [32, 2, 16] (model needs [2, 16, 32])`);
    expect(error.message).toContain('unexpected (1): MAPHead_0/probe');
  });

  it('timm-only tensors a Google checkpoint cannot have are named', async () => {
    const path = await npzWith((a) => a);
    const config = JSON.parse(await readFile(join(path, '..', 'config.json'), 'utf8'));
    config.model_args.init_values = 1e-5;
    await writeFile(join(path, '..', 'config.json'), JSON.stringify(config));
    await rejects(path, 'VPT_WEIGHTS', /missing \(4\): blocks\.0\.ls1\.gamma \(timm-only, no Google equivalent\)/);
  });

  it('pickled (object) arrays are refused from their header, never unpickled', async () => {
    // An object array's payload is a pickle stream; this one would run `os.system` if loaded.
    const pickle = Buffer.from("cos\nsystem\n(S'echo pwned'\ntR.", 'latin1');
    const path = await npzWith((a) => a, member('evil.npy', npy([1], pickle, { descr: '|O' })));
    await rejects(
      path,
      'VPT_WEIGHTS',
      /array "evil" is an object array, stored as a pickle; vpt-native never unpickles/,
    );
  });

  it('dtypes, byte orders, layouts and headers it cannot read are named', async () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [npy([2], new Uint8Array(16), { descr: '<i8' }), /array "x" has dtype '<i8'; only float16\/32\/64/],
      [npy([2], new Uint8Array(16), { descr: '>c8' }), /array "x" has dtype '>c8'/],
      [
        npy([2], new Uint8Array(8), { header: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }" }),
        /array "x" is a structured array/,
      ],
      [
        npy([2, 2], new Uint8Array(16), { header: "{'descr': '<f4', 'fortran_order': 1, 'shape': (2, 2), }" }),
        /array "x" has a non-boolean fortran_order/,
      ],
      [
        npy([2], new Uint8Array(8), { header: "{'descr': '<f4', 'shape': (2,), }" }),
        /array "x" has \.npy header keys \{descr,shape\}/,
      ],
      [
        npy([2], new Uint8Array(8), { header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), " }),
        /array "x" has a malformed \.npy header/,
      ],
      [
        npy([2], new Uint8Array(8), {
          header: `{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'pad': '${'x'.repeat(20_000)}'}`,
          version: 2,
        }),
        /array "x" has a \d+-byte \.npy header, above the 10000-byte limit/,
      ],
      [npy([-2], new Uint8Array(8)), /array "x" has an invalid shape \[-2\]/],
      [Buffer.from('PK not numpy at all'), /array "x" is not a \.npy array \(bad magic\)/],
    ];
    for (const [data, message] of cases)
      await rejects(await npzWith((a) => a, member('x.npy', data)), 'VPT_WEIGHTS', message);
  });

  it('zip members that are not arrays, twice the same key, an empty archive', async () => {
    await rejects(
      await npzWith((a) => a, member('notes.txt', Buffer.from('hi'))),
      'VPT_WEIGHTS',
      /member "notes\.txt" is not a \.npy array/,
    );
    await rejects(
      await npzWith((a) => a, member('cls.npy', npy([1, 1, 32], new Uint8Array(128)))),
      'VPT_WEIGHTS',
      /array "cls" appears twice/,
    );
    await rejects(
      await weightsFile('model.npz', (p) => writeFile(p, zip([]))),
      'VPT_WEIGHTS',
      /the \.npz archive holds no arrays/,
    );
  });

  it('an npz that is no Google ViT, and a scanned big_vision layout', async () => {
    await rejects(
      await npzWith((a) => a.filter((x) => x.name !== 'embedding/kernel')),
      'VPT_WEIGHTS',
      /has no "embedding\/kernel" array .*not a Google ViT checkpoint/,
    );
    const scanned = await npzWith((a) => [
      ...a,
      { name: 'Transformer/encoderblock/LayerNorm_0/scale', shape: [2, 32], data: new Float32Array(64) },
    ]);
    await rejects(
      scanned,
      'VPT_WEIGHTS',
      /stacks its encoder blocks \(Transformer\/encoderblock\/\.\.\., a scanned big_vision layout\)/,
    );
  });

  it('optimizer state beside opt/target/ is ignored, as are head/ and pre_logits/', async () => {
    const path = await weightsFile('model.npz', (p) =>
      writeNpz(p, [
        ...arrays.map((a) => ({ ...a, name: `opt/target/${a.name}` })),
        { name: 'opt/state/step', shape: [1], data: new Float32Array(1) },
      ]),
    );
    const model = await createModel({ ...base, weights: path });
    expect(model.info().arch).toBe('vit_tiny_patch16_224');
    model.dispose();
  });
});
