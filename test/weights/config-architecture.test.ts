/** timm's `model_args`: every one vpt-native computes is honoured, the rest are refused by name. */
import { describe, expect, it } from 'vitest';

import { resolveArchitecture } from '../../lib/weights/architecture.js';

const resolve = (model_args: Record<string, unknown>, global_pool?: string) =>
  resolveArchitecture({
    config: { architecture: 'vit_base_patch16_224', model_args, ...(global_pool ? { global_pool } : {}) },
    configPath: 'config.json',
  });
const refused = (model_args: Record<string, unknown>, message: RegExp) =>
  expect(() => resolve(model_args)).toThrow(
    expect.objectContaining({ code: 'VPT_ARCH', message: expect.stringMatching(message) }),
  );

describe('timm model_args', () => {
  it('pooling: global_pool and fc_norm as timm resolves them (fc_norm=None means "with avg")', () => {
    expect(resolve({ global_pool: 'avg' })).toMatchObject({ globalPool: 'avg', fcNorm: true });
    expect(resolve({ global_pool: 'avg', fc_norm: null })).toMatchObject({ globalPool: 'avg', fcNorm: true });
    expect(resolve({ global_pool: 'avg', fc_norm: false })).toMatchObject({ globalPool: 'avg', fcNorm: false });
    expect(resolve({ fc_norm: true })).toMatchObject({ globalPool: 'token', fcNorm: true });
    expect(resolve({}, 'avg')).toMatchObject({ globalPool: 'avg', fcNorm: true });
    expect(resolve({ global_pool: 'map' })).toMatchObject({ globalPool: 'map', fcNorm: false });
    refused({ global_pool: 'max' }, /model_args\.global_pool "max" is not supported \(token, avg, map\)/);
    refused({ global_pool: 'avgmax' }, /model_args\.global_pool "avgmax"/);
  });

  it('init_values turns LayerScale on when truthy, as timm does', () => {
    expect(resolve({ init_values: 1e-5 }).layerScale).toBe(true);
    expect(resolve({ init_values: null }).layerScale).toBe(false);
    expect(resolve({ init_values: 0 }).layerScale).toBe(false);
    refused({ init_values: '1e-5' }, /model_args\.init_values must be a number or null/);
  });

  it('qkv_bias, class_token, reg_tokens, no_embed_class, mlp_ratio', () => {
    expect(
      resolve({
        qkv_bias: false,
        class_token: false,
        global_pool: 'avg',
        reg_tokens: 4,
        no_embed_class: true,
        mlp_ratio: 2.5,
      }),
    ).toMatchObject({
      qkvBias: false,
      classToken: false,
      globalPool: 'avg',
      regTokens: 4,
      noEmbedClass: true,
      mlpRatio: 2.5,
    });
    refused({ class_token: false }, /class_token=false needs global_pool "avg"/);
    refused({ reg_tokens: -1 }, /model_args\.reg_tokens must be an integer >= 0/);
    refused({ mlp_ratio: 0 }, /model_args\.mlp_ratio must be a positive number/);
    refused({ qkv_bias: 'yes' }, /model_args\.qkv_bias must be true or false/);
  });

  it("arguments that leave the model unchanged are accepted at any value or at timm's default only", () => {
    expect(() =>
      resolve({
        drop_rate: 0.1,
        weight_init: 'jax',
        fix_init: true,
        qk_norm: false,
        proj_bias: true,
        pre_norm: false,
        final_norm: true,
        pos_embed: 'learn',
        dynamic_img_size: false,
        drop_path_rate: 0,
        attn_drop_rate: 0,
        pool_include_prefix: false,
      }),
    ).not.toThrow();
    refused(
      { qk_norm: true },
      /model_args\.qk_norm=true is not supported by vpt-native \(only false: no q\/k LayerNorm/,
    );
    expect(resolve({ pre_norm: true, act_layer: 'quick_gelu' })).toMatchObject({ preNorm: true, act: 'quick_gelu' });
    refused({ pre_norm: 1 }, /model_args\.pre_norm must be true or false/);
    refused({ act_layer: 'silu' }, /model_args\.act_layer "silu" is not supported \(gelu, quick_gelu, gelu_tanh\)/);
    refused(
      { drop_path_rate: 0.1 },
      /model_args\.drop_path_rate=0\.1 is not supported by vpt-native \(only 0: vpt-native does not apply training-time dropout/,
    );
    refused({ dynamic_img_size: true }, /model_args\.dynamic_img_size=true .*use the imageSize option/);
    refused(
      { embed_norm_layer: 'rmsnorm' },
      /model_args\.embed_norm_layer is not supported by vpt-native \(supported: .*init_values/,
    );
  });
});
