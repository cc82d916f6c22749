/**
 * MoCo v3 checkpoint names (lib/weights/moco-v3-layout.ts): the linear-probe and pretraining
 * layouts are detected and mapped to timm's names, the parts only pretraining uses are left
 * out by name, and what vpt-native does not load is refused with the file and tensor named.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { NativeTensorEntry } from '../../lib/binding.js';
import { VptError } from '../../lib/errors.js';
import { openCheckpoint } from '../../lib/weights/checkpoint.js';
import { MOCO_V3_VIT_B, mocoV3Layout } from '../../lib/weights/moco-v3-layout.js';
import { writeSafetensors } from '../../lib/weights/safetensors.js';
import { tempDir } from '../helpers/common.js';

const entry = (name: string, shape: number[] = [4]): NativeTensorEntry => ({
  name,
  dtype: 'F32',
  shape,
  offset: 0,
  nbytes: 4 * shape.reduce((a, b) => a * b, 1),
});
const BACKBONE = [
  'patch_embed.proj.weight',
  'patch_embed.proj.bias',
  'cls_token',
  'pos_embed',
  'blocks.0.attn.qkv.weight',
  'norm.weight',
];

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('mocoV3Layout', () => {
  it('maps the linear-probe checkpoint (module.*) to timm names and drops its classifier', () => {
    const names = [...BACKBONE.map((n) => `module.${n}`), 'module.head.weight', 'module.head.bias'];
    const layout = mocoV3Layout(
      names.map((n) => entry(n)),
      'linear.safetensors',
    );
    expect(layout?.kind).toBe('linear');
    expect(layout?.entries.map((e) => e.name)).toEqual(BACKBONE);
    expect(layout?.ignored).toEqual(['module.head.weight', 'module.head.bias']);
    expect(layout?.sincosPosEmbed).toBe(false);
  });

  it('maps the pretraining checkpoint (module.base_encoder.*), leaving projection, momentum encoder and predictor out', () => {
    const names = [
      ...BACKBONE.filter((n) => n !== 'pos_embed').map((n) => `module.base_encoder.${n}`),
      'module.base_encoder.head.0.weight',
      'module.base_encoder.head.1.num_batches_tracked',
      ...BACKBONE.map((n) => `module.momentum_encoder.${n}`),
      'module.predictor.0.weight',
    ];
    // BatchNorm's num_batches_tracked is int64: left out with the projection, never read.
    const layout = mocoV3Layout(
      names.map((n) => (n.endsWith('num_batches_tracked') ? { ...entry(n, []), dtype: 'I64', nbytes: 8 } : entry(n))),
      'vit-b-300ep.safetensors',
    );
    expect(layout?.kind).toBe('pretrain');
    expect(layout?.entries.map((e) => e.name)).toEqual(BACKBONE.filter((n) => n !== 'pos_embed'));
    expect(layout?.ignored).toHaveLength(2 + BACKBONE.length + 1);
    expect(layout?.sincosPosEmbed).toBe(true);
    // The same without DataParallel's module. prefix.
    const bare = mocoV3Layout(
      names.map((n) => entry(n.replace(/^module\./, ''))),
      'bare.safetensors',
    );
    expect(bare?.entries.map((e) => e.name)).toEqual(BACKBONE.filter((n) => n !== 'pos_embed'));
  });

  it('passes timm names through (null)', () => {
    expect(
      mocoV3Layout(
        BACKBONE.map((n) => entry(n)),
        'timm.safetensors',
      ),
    ).toBeNull();
  });

  it('refuses a momentum encoder alone, a conv-stem ViT and tensors outside the encoder, naming the file', () => {
    const cases: Array<[string[], RegExp]> = [
      [
        BACKBONE.map((n) => `module.momentum_encoder.${n}`),
        /m\.safetensors holds MoCo v3's momentum encoder.*base encoder/,
      ],
      [['module.patch_embed.proj.0.weight', 'module.cls_token'], /m\.safetensors is MoCo v3's conv-stem ViT/],
      [
        [...BACKBONE.map((n) => `module.${n}`), 'queue'],
        /m\.safetensors looks like a MoCo v3 linear-probe checkpoint.*queue/,
      ],
    ];
    for (const [names, message] of cases) {
      let err: unknown;
      try {
        mocoV3Layout(
          names.map((n) => entry(n)),
          'm.safetensors',
        );
      } catch (e) {
        err = e;
      }
      expect(err, names[0]).toBeInstanceOf(VptError);
      expect((err as VptError).code).toBe('VPT_WEIGHTS');
      expect((err as VptError).message).toMatch(message);
    }
  });

  it('openCheckpoint: a MoCo v3 ViT-B/16 without config.json is vit_base_patch16_224', async () => {
    const file = join(tmp.dir, 'mocov3_linear-vit-b-300ep.safetensors');
    const t = (name: string, shape: number[]) => ({
      name,
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
    });
    await writeSafetensors(file, [
      t('module.patch_embed.proj.weight', [768, 3, 16, 16]),
      t('module.blocks.11.norm1.weight', [768]),
      t('module.head.weight', [2, 768]),
    ]);
    const c = await openCheckpoint(file);
    try {
      expect(c.inferredArch).toBe(MOCO_V3_VIT_B);
      expect(c.mocoV3?.kind).toBe('linear');
      expect(c.entries.map((e) => e.name).sort()).toEqual(['blocks.11.norm1.weight', 'patch_embed.proj.weight']);
    } finally {
      await c.close();
    }
  });

  it('openCheckpoint: a pretraining export with int64 BatchNorm counters loads its base encoder', async () => {
    // Written by hand: an I64 tensor, as safetensors.torch.save_file writes num_batches_tracked.
    const tensors: Array<[string, string, number[]]> = [
      ['module.base_encoder.patch_embed.proj.weight', 'F32', [8, 3, 4, 4]],
      ['module.base_encoder.head.1.num_batches_tracked', 'I64', []],
      ['module.momentum_encoder.patch_embed.proj.weight', 'F32', [8, 3, 4, 4]],
    ];
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const [name, dtype, shape] of tensors) {
      const nbytes = (dtype === 'I64' ? 8 : 4) * shape.reduce((a, b) => a * b, 1);
      header[name] = { dtype, shape, data_offsets: [offset, offset + nbytes] };
      offset += nbytes;
    }
    const json = Buffer.from(JSON.stringify(header));
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(json.length));
    const file = join(tmp.dir, 'vit-b-300ep.safetensors');
    await writeFile(file, Buffer.concat([size, json, Buffer.alloc(offset)]));
    const c = await openCheckpoint(file);
    try {
      expect(c.mocoV3?.kind).toBe('pretrain');
      expect(c.entries.map((e) => e.name)).toEqual(['patch_embed.proj.weight']);
      expect(c.mocoV3?.ignored.sort()).toEqual([
        'module.base_encoder.head.1.num_batches_tracked',
        'module.momentum_encoder.patch_embed.proj.weight',
      ]);
    } finally {
      await c.close();
    }
  });
});
