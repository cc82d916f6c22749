/** `vpt-native info --archs`: the supported timm names, one a line, and the others' reasons in JSON. */
import { describe, expect, it } from 'vitest';

import { archsListing } from '../../lib/cli/archs-listing.js';

describe('info --archs', () => {
  it('lists the supported names with family, patch, size and pooling', () => {
    const text = archsListing(false);
    expect(text).toMatch(/^vit_small_patch14_dinov2 +DINOv2 +patch 14 +518 px +D +384 +depth 12 +pool token$/m);
    expect(text).toMatch(/^vit_base_patch16_siglip_224 +SigLIP +patch 16 +224 px .*pool map$/m);
    expect(text).toMatch(/^eva02_base_patch14_224 +EVA-02 +patch 14 +224 px .*pool avg$/m);
    expect(text).not.toMatch(/^eva02_base_patch16_clip_224 /m);
    expect(text).toMatch(
      /^swin_base_patch4_window7_224 +Swin +patch {2}4 +224 px +window {2}7 +C 128 +depths 2-2-18-2 +pool avg +tags .*ms_in22k/m,
    );
    expect(text).toMatch(
      /\d+ timm 1\.0\.29 ViT names and 6 Swin V1 names \(VPT's prompted Swin\); \d+ more are registered but not built/,
    );
  });

  it('--json: every name, the unsupported ones with the reason', () => {
    const j = JSON.parse(archsListing(true)) as {
      supported: Array<{ name: string; prefixTokens: number }>;
      unsupported: Array<{ name: string; reason: string }>;
    };
    expect(j.supported.find((a) => a.name === 'vit_base_patch14_reg4_dinov2')?.prefixTokens).toBe(5);
    expect(j.supported.find((a) => a.name === 'deit_base_distilled_patch16_224')?.prefixTokens).toBe(2);
    expect(j.unsupported.find((a) => a.name === 'eva02_base_patch16_clip_224')?.reason).toMatch(/scale_attn_inner/);
    expect((j as unknown as { swin: Array<{ name: string }> }).swin.map((a) => a.name)).toContain(
      'swin_large_patch4_window12_384',
    );
  });
});
