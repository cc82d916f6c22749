/**
 * timm's registered ViT names (lib/weights/timm-archs.ts, generated from timm by
 * scripts/generate_timm_archs.py) resolve without hand-written model_args: the config.json files
 * timm's hub writer produces for full-size models (test/fixtures/timm_families/hub_configs, from
 * generate_timm_families.py) resolve, and the architecture fits timm's own state_dict shapes
 * for them (shapes only; the models were built on the meta device).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { NativeTensorEntry } from '../../lib/binding.js';
import {
  checkArchitectureAgainstWeights,
  listArchitectures,
  nearestArch,
  parseArch,
  resolveArchitecture,
  supportedArchNames,
  type TimmConfig,
  timmCheckpointShape,
  type VitArchitecture,
} from '../../lib/weights/architecture.js';
import { FIXTURES } from '../helpers/common.js';

const HUB = join(FIXTURES, 'timm_families', 'hub_configs');
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const CLIP = { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] };

/** Hub config -> what it must resolve to. */
const HUB_CONFIGS: Record<string, Partial<VitArchitecture>> = {
  'vit_small_patch14_dinov2.lvd142m': {
    family: 'DINOv2',
    patchSize: 14,
    imgSize: 518,
    embedDim: 384,
    numHeads: 6,
    layerScale: true,
    regTokens: 0,
    ...IMAGENET,
  } as Partial<VitArchitecture>,
  'vit_small_patch14_reg4_dinov2.lvd142m': { patchSize: 14, regTokens: 4, noEmbedClass: true, layerScale: true },
  vit_base_patch16_reg4_gap_256: {
    imgSize: 256,
    classToken: false,
    regTokens: 4,
    noEmbedClass: true,
    globalPool: 'avg',
    fcNorm: true,
  },
  'vit_medium_patch16_gap_256.sw_in12k_ft_in1k': {
    embedDim: 512,
    numHeads: 8,
    classToken: false,
    qkvBias: false,
    layerScale: true,
    globalPool: 'avg',
    fcNorm: false,
  },
  'vit_base_patch16_224_miil.in21k_ft_in1k': { qkvBias: false, mean: [0, 0, 0], std: [1, 1, 1] },
  'vit_base_patch16_224.mae': { tag: 'mae', ...IMAGENET } as Partial<VitArchitecture>,
  'vit_base_patch16_clip_224.openai': {
    family: 'CLIP',
    preNorm: true,
    normEps: 1e-5,
    act: 'gelu',
    ...CLIP,
  } as Partial<VitArchitecture>,
  'vit_base_patch16_clip_quickgelu_224.openai': { preNorm: true, normEps: 1e-5, act: 'quick_gelu' },
  'vit_base_patch16_siglip_224.webli': { family: 'SigLIP', classToken: false, globalPool: 'map', fcNorm: false },
  'deit3_base_patch16_224.fb_in1k': {
    family: 'DeiT-III',
    noEmbedClass: true,
    layerScale: true,
    ...IMAGENET,
  } as Partial<VitArchitecture>,
  'deit_base_patch16_224.fb_in1k': { family: 'DeiT', noEmbedClass: false, layerScale: false, ...IMAGENET },
  'deit_base_distilled_patch16_224.fb_in1k': { family: 'DeiT', distToken: true, classToken: true, ...IMAGENET },
  'eva02_base_patch14_224.mim_in22k': {
    family: 'EVA-02',
    eva: true,
    rope: true,
    ropeRefGrid: 16,
    swiglu: true,
    mlpNorm: true,
    globalPool: 'avg',
    fcNorm: true,
    patchSize: 14,
    mlpRatio: (4 * 2) / 3,
    ...CLIP,
  } as Partial<VitArchitecture>,
};

describe("timm's registered names", () => {
  for (const [name, want] of Object.entries(HUB_CONFIGS)) {
    it(`${name}: its hub config.json resolves and fits timm's state_dict shapes`, async () => {
      const configPath = join(HUB, `${name}.json`);
      const config = JSON.parse(await readFile(configPath, 'utf8')) as TimmConfig;
      expect(config.model_args, 'a hub config has no model_args').toBeUndefined();
      const a = resolveArchitecture({ config, configPath });
      expect(a).toMatchObject(want);
      const shapes = JSON.parse(await readFile(join(HUB, `${name}.shapes.json`), 'utf8')) as Record<string, number[]>;
      const entries = Object.entries(shapes).map(([n, shape]) => ({ name: n, shape }) as NativeTensorEntry);
      expect(() => checkArchitectureAgainstWeights(a, timmCheckpointShape(entries), 'model.safetensors')).not.toThrow();
      expect(shapes['norm_pre.weight'] !== undefined, 'norm_pre').toBe(a.preNorm);
      expect(shapes['attn_pool.latent'] !== undefined, 'attn_pool').toBe(a.globalPool === 'map');
      expect(shapes['fc_norm.weight'] !== undefined, 'fc_norm').toBe(a.fcNorm);
    });
  }

  it('a bare name resolves as well; a tag picks its own mean / std', () => {
    expect(parseArch('vit_base_patch16_224')).toMatchObject({ mean: [0.5, 0.5, 0.5] });
    expect(parseArch('vit_base_patch16_224.mae')).toMatchObject(IMAGENET);
    expect(parseArch('vit_large_patch14_reg4_dinov2')).toMatchObject({ embedDim: 1024, depth: 24, regTokens: 4 });
  });

  it('an unknown name names the nearest supported one; an unsupported timm model says why', () => {
    expect(nearestArch('vit_small_patch14_dinov3')).toBe('vit_small_patch14_dinov2');
    expect(() => parseArch('vit_small_patch14_dinov3')).toThrow(
      expect.objectContaining({
        code: 'VPT_ARCH',
        message: expect.stringMatching(/unknown architecture .*nearest supported: vit_small_patch14_dinov2/),
      }),
    );
    expect(() => parseArch('eva02_base_patch16_clip_224')).toThrow(
      /architecture "eva02_base_patch16_clip_224" is not supported: .*scale_attn_inner=true .*nearest supported/,
    );
    expect(() => parseArch('vit_giant_patch14_dinov2')).toThrow(/uses mlp_layer=GluMlp/);
  });

  it('lists every registered name; the families of the issue are supported', () => {
    const all = listArchitectures();
    const supported = supportedArchNames();
    expect(all.filter((a) => a.supported).map((a) => a.name)).toEqual(supported);
    for (const n of [
      'vit_small_patch14_dinov2',
      'vit_base_patch14_reg4_dinov2',
      'vit_large_patch14_dinov2',
      'vit_base_patch16_clip_224',
      'vit_base_patch16_clip_quickgelu_224',
      'vit_base_patch16_siglip_224',
      'deit_base_patch16_224',
      'deit3_base_patch16_224',
      'deit_base_distilled_patch16_224',
      'eva02_base_patch14_224',
      'eva02_tiny_patch14_224',
      'vit_base_patch16_224',
    ])
      expect(supported, n).toContain(n);
    for (const a of all.filter((x) => !x.supported)) expect(a.reason, a.name).toMatch(/\S/);
  });
});
