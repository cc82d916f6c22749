import { describe, expect, it } from 'vitest';

import { parseArch } from '../../lib/index.js';
import { resolveArchitecture } from '../../lib/weights/architecture.js';

describe('architecture', () => {
  it('parses timm ViT names with and without a tag', () => {
    expect(parseArch('vit_base_patch16_224.augreg_in21k')).toMatchObject({
      arch: 'vit_base_patch16_224',
      tag: 'augreg_in21k',
      embedDim: 768,
      depth: 12,
      numHeads: 12,
      patchSize: 16,
      imgSize: 224,
    });
    expect(parseArch('vit_large_patch32_384')).toMatchObject({
      embedDim: 1024,
      depth: 24,
      numHeads: 16,
      patchSize: 32,
      imgSize: 384,
    });
    expect(parseArch('vit_tiny_patch16_224')).toMatchObject({ embedDim: 192, depth: 12, numHeads: 3 });
    expect(parseArch('vit_small_patch16_224')).toMatchObject({ embedDim: 384, numHeads: 6, mean: [0.5, 0.5, 0.5] });
    expect(parseArch('vit_giant_patch14_224')).toMatchObject({ embedDim: 1408, depth: 40, mlpRatio: 48 / 11 });
    expect(() => parseArch('vit_bsae_patch16_224')).toThrow(
      /unknown architecture .*nearest supported: vit_base_patch16_224/,
    );
  });

  it('applies config.json model_args and pretrained_cfg', () => {
    const a = resolveArchitecture({
      config: {
        architecture: 'vit_base_patch16_224',
        model_args: { embed_dim: 64, depth: 3, num_heads: 4, patch_size: 8, img_size: 32, global_pool: 'avg' },
        pretrained_cfg: { tag: 'x', mean: [0.1, 0.2, 0.3], std: [1, 2, 3] },
      },
    });
    expect(a).toMatchObject({
      embedDim: 64,
      depth: 3,
      numHeads: 4,
      patchSize: 8,
      imgSize: 32,
      globalPool: 'avg',
      fcNorm: true,
      tag: 'x',
      mean: [0.1, 0.2, 0.3],
      std: [1, 2, 3],
    });
    expect(() =>
      resolveArchitecture({
        config: { architecture: 'vit_base_patch16_224', model_args: { embed_dim: 100, num_heads: 12 } },
      }),
    ).toThrow(/not divisible/);
  });

  it("takes timm's (n, n) tuples for img_size and patch_size; names a top-level key as such", () => {
    const arch = (model_args: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      resolveArchitecture({
        config: { architecture: 'vit_base_patch16_224', model_args, ...extra },
        configPath: 'x/config.json',
      });
    expect(arch({ img_size: [384, 384], patch_size: [16, 16] })).toMatchObject({ imgSize: 384, patchSize: 16 });
    expect(() => arch({ img_size: [384, 256] })).toThrow(
      /x\/config\.json: model_args\.img_size \[384,256\] is not square/,
    );
    expect(() => arch({ depth: 0 })).toThrow(/model_args\.depth must be an integer >= 1, got 0/);
    expect(() => arch({}, { global_pool: '' })).toThrow(/x\/config\.json: global_pool "" is not supported/);
  });
});
