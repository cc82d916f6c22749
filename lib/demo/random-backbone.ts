/**
 * A randomly initialised timm ViT written in timm's Hugging Face layout (model.safetensors +
 * config.json), so the demo needs no download. Init follows timm: trunc-normal(0.02) weights,
 * zero biases, unit LayerNorms, seeded.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { writeFileAtomic } from '../util/atomic-write.js';
import { type HostTensor, writeSafetensors } from '../weights/safetensors.js';

export interface RandomBackboneOptions {
  embedDim: number;
  depth: number;
  numHeads: number;
  patchSize: number;
  imgSize: number;
  seed: number;
}

/** The demo's tiny ViT: vit_tiny's family, shrunk to run a minute-long CPU demo. */
export const DEMO_BACKBONE: RandomBackboneOptions = {
  embedDim: 96,
  depth: 4,
  numHeads: 3,
  patchSize: 8,
  imgSize: 32,
  seed: 0,
};

/** Seeded standard normals (xorshift32 + Box-Muller). */
function normals(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 0x9e3779b9;
  const uniform = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 2 ** 32;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const t = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** Writes `dir/model.safetensors` + `dir/config.json`; returns `dir`. */
export async function writeRandomBackbone(dir: string, o: RandomBackboneOptions = DEMO_BACKBONE): Promise<string> {
  await mkdir(dir, { recursive: true });
  const D = o.embedDim,
    H = 4 * D,
    P = (o.imgSize / o.patchSize) ** 2;
  let seed = o.seed * 7919 + 1;
  const tensors: HostTensor[] = [];
  const normal = (name: string, shape: number[], std: number) => {
    const data = normals(
      shape.reduce((a, b) => a * b, 1),
      seed++,
    ).map((x) => Math.max(-2, Math.min(2, x)) * std);
    tensors.push({ name, shape, data });
  };
  const fill = (name: string, shape: number[], value: number) =>
    tensors.push({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value) });
  normal('patch_embed.proj.weight', [D, 3, o.patchSize, o.patchSize], 0.02);
  fill('patch_embed.proj.bias', [D], 0);
  normal('cls_token', [1, 1, D], 1e-6);
  normal('pos_embed', [1, P + 1, D], 0.02);
  for (let i = 0; i < o.depth; i++) {
    const b = `blocks.${i}.`;
    fill(`${b}norm1.weight`, [D], 1);
    fill(`${b}norm1.bias`, [D], 0);
    normal(`${b}attn.qkv.weight`, [3 * D, D], 0.02);
    fill(`${b}attn.qkv.bias`, [3 * D], 0);
    normal(`${b}attn.proj.weight`, [D, D], 0.02);
    fill(`${b}attn.proj.bias`, [D], 0);
    fill(`${b}norm2.weight`, [D], 1);
    fill(`${b}norm2.bias`, [D], 0);
    normal(`${b}mlp.fc1.weight`, [H, D], 0.02);
    fill(`${b}mlp.fc1.bias`, [H], 0);
    normal(`${b}mlp.fc2.weight`, [D, H], 0.02);
    fill(`${b}mlp.fc2.bias`, [D], 0);
  }
  fill('norm.weight', [D], 1);
  fill('norm.bias', [D], 0);
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  const config = {
    architecture: 'vit_tiny_patch16_224',
    num_classes: 0,
    model_args: { embed_dim: D, depth: o.depth, num_heads: o.numHeads, patch_size: o.patchSize, img_size: o.imgSize },
    pretrained_cfg: {
      tag: 'random_init',
      input_size: [3, o.imgSize, o.imgSize],
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
    },
  };
  await writeFileAtomic(join(dir, 'config.json'), [Buffer.from(`${JSON.stringify(config, null, 2)}\n`)]);
  return dir;
}
