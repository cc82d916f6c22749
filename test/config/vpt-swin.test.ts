/**
 * `--vpt-config` MODEL.TYPE swin: honored with one of VPT's Swin DATA.FEATURE names, which sets
 * `arch` to the timm Swin of the same weights; listed as not honored otherwise.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { importVptConfig } from '../../lib/config/vpt-yacs.js';
import { resolveSwinArchitecture } from '../../lib/weights/swin-archs.js';
import { tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

async function load(type: string, feature: string) {
  const file = join(tmp.dir, `${type}-${feature}.yaml`);
  await writeFile(file, ['MODEL:', `  TYPE: "${type}"`, 'DATA:', `  FEATURE: "${feature}"`].join('\n'));
  return importVptConfig(file);
}

describe('--vpt-config MODEL.TYPE swin', () => {
  it("VPT's Swin features set arch to timm's name for the same weights, both keys honored", async () => {
    for (const [feature, arch, size, width] of [
      ['swint_imagenet', 'swin_tiny_patch4_window7_224.ms_in1k', 224, 96],
      ['swins_imagenet', 'swin_small_patch4_window7_224.ms_in1k', 224, 96],
      ['swinb_imagenet_224', 'swin_base_patch4_window7_224.ms_in1k', 224, 128],
      ['swinb_imagenet_384', 'swin_base_patch4_window12_384.ms_in1k', 384, 128],
      ['swinb_imagenet22k_224', 'swin_base_patch4_window7_224.ms_in22k', 224, 128],
      ['swinb_imagenet22k_384', 'swin_base_patch4_window12_384.ms_in22k', 384, 128],
      ['swinl_imagenet22k_224', 'swin_large_patch4_window7_224.ms_in22k', 224, 192],
    ] as const) {
      const r = await load('swin', feature);
      expect(r.config.arch, feature).toBe(arch);
      expect(r.unsupported, feature).toEqual([]);
      const a = resolveSwinArchitecture({ arch });
      expect([a.imgSize, a.embedDim], feature).toEqual([size, width]);
    }
  });

  it('the MoBY Swin-T, a ViT feature with swin, and swin features with another type are not honored', async () => {
    const moby = await load('swin', 'swint_imagenet_ssl');
    expect(moby.config.arch).toBeUndefined();
    expect(moby.unsupported.sort()).toEqual(['DATA.FEATURE', 'MODEL.TYPE']);
    const vitFeature = await load('swin', 'sup_vitb16_imagenet21k');
    expect(vitFeature.config.arch).toBeUndefined();
    expect(vitFeature.unsupported).toEqual(['MODEL.TYPE']);
    const vitType = await load('vit', 'swinb_imagenet22k_224');
    expect(vitType.config.arch).toBeUndefined();
    expect(vitType.unsupported).toEqual(['DATA.FEATURE']);
  });
});
