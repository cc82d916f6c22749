import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll } from 'vitest';

import { type ConvertCubOptions, convertCub } from '../../lib/data/convert-cub.js';
import { type SynthOptions, synthesizeCub } from '../../lib/data/synth.js';
import { type RandomBackboneOptions, writeRandomBackbone } from '../../lib/demo/random-backbone.js';
import { createModel, type HostTensor, readSafetensors, writeSafetensors } from '../../lib/index.js';
import { writeJpeg } from './data.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const TINY_VIT = join(FIXTURES, 'tiny_vit');
export const TINY_NUM_CLASSES = 7;

/** Largest absolute elementwise difference. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export async function golden(): Promise<Map<string, HostTensor>> {
  return (await readSafetensors(join(FIXTURES, 'golden.safetensors'))).tensors;
}

/** A fresh temporary directory and its cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'vpt-native-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A synthetic CUB-layout dataset in `dir`/CUB_200_2011, converted as real CUB is, and a random
 * tiny timm backbone in `dir`/backbone: what the end-to-end training tests train on.
 */
export async function syntheticTask(
  dir: string,
  synth: SynthOptions,
  backbone: RandomBackboneOptions,
  convert: ConvertCubOptions = {},
): Promise<{ data: string; weights: string }> {
  const data = join(dir, 'CUB_200_2011');
  await synthesizeCub(data, synth);
  await convertCub(data, convert);
  return { data, weights: await writeRandomBackbone(join(dir, 'backbone'), backbone) };
}

/** A syntheticTask and the temporary directory holding it (`dir`, where the tests' runs go too). */
export interface SyntheticTask {
  readonly dir: string;
  readonly data: string;
  readonly weights: string;
}

/**
 * A syntheticTask in a fresh temporary directory, made before the tests of the calling file (or
 * describe block) and removed after them. Its fields are filled in then: read them inside tests
 * and hooks, not at the top level.
 */
export function useSyntheticTask(
  synth: SynthOptions,
  backbone: RandomBackboneOptions,
  convert: ConvertCubOptions = {},
): SyntheticTask {
  const task = { dir: '', data: '', weights: '' };
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    task.dir = tmp.dir;
    Object.assign(task, await syntheticTask(tmp.dir, synth, backbone, convert));
  });
  afterAll(async () => {
    await cleanup?.();
  });
  return task;
}

/** A real timm architecture (so the name alone describes it), at a small image size: archOnlyTask's backbone. */
export const ARCH_ONLY = 'vit_tiny_patch16_32';

/**
 * For predict / eval without a config.json: in `dir`, random `ARCH_ONLY` weights with no
 * config.json beside them (backbone/model.safetensors), a 40 x 36 JPEG (bird.jpg) and a
 * converted 3-class synthetic dataset (data/).
 */
export async function archOnlyTask(dir: string): Promise<{ weights: string; image: string; data: string }> {
  await mkdir(join(dir, 'backbone'));
  const weights = join(dir, 'backbone', 'model.safetensors');
  await writeRandomVit(weights, { embedDim: 192, depth: 12, patchSize: 16, imgSize: 32 });
  const image = join(dir, 'bird.jpg');
  await writeJpeg(image, 40, 36);
  const data = join(dir, 'data');
  await synthesizeCub(data, { classes: 3, imagesPerClass: 4, imageSize: 32, seed: 2 });
  await convertCub(data);
  return { weights, image, data };
}

/** A 3-class trainable-state file for archOnlyTask's weights (2 shallow prompts), written to `path`. */
export async function archOnlyCheckpoint(
  weights: string,
  path: string,
  o: { seed: number; classNames?: string[] },
): Promise<string> {
  const model = await createModel({
    weights,
    arch: ARCH_ONLY,
    numClasses: 3,
    prompt: { tokens: 2 },
    device: 'cpu',
    seed: o.seed,
    ...(o.classNames ? { classNames: o.classNames } : {}),
  });
  await model.saveTrainable(path);
  model.dispose();
  return path;
}

/** A deterministic pseudo-random Float32Array in [-scale, scale). */
export function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

/** Writes random timm-layout ViT weights (no config.json) for tests that need a bigger model. */
export async function writeRandomVit(
  path: string,
  a: { embedDim: number; depth: number; patchSize: number; imgSize: number },
): Promise<void> {
  const D = a.embedDim;
  const P = (a.imgSize / a.patchSize) ** 2;
  const tensors: HostTensor[] = [];
  let seed = 1;
  const add = (name: string, shape: number[], scale = 0.02) =>
    tensors.push({
      name,
      shape,
      data: randomFloats(
        shape.reduce((x, y) => x * y, 1),
        seed++,
        scale,
      ),
    });
  add('patch_embed.proj.weight', [D, 3, a.patchSize, a.patchSize]);
  add('patch_embed.proj.bias', [D]);
  add('cls_token', [1, 1, D]);
  add('pos_embed', [1, P + 1, D]);
  for (let i = 0; i < a.depth; i++) {
    const p = `blocks.${i}.`;
    add(`${p}norm1.weight`, [D], 1);
    add(`${p}norm1.bias`, [D]);
    add(`${p}attn.qkv.weight`, [3 * D, D]);
    add(`${p}attn.qkv.bias`, [3 * D]);
    add(`${p}attn.proj.weight`, [D, D]);
    add(`${p}attn.proj.bias`, [D]);
    add(`${p}norm2.weight`, [D], 1);
    add(`${p}norm2.bias`, [D]);
    add(`${p}mlp.fc1.weight`, [4 * D, D]);
    add(`${p}mlp.fc1.bias`, [4 * D]);
    add(`${p}mlp.fc2.weight`, [D, 4 * D]);
    add(`${p}mlp.fc2.bias`, [D]);
  }
  add('norm.weight', [D], 1);
  add('norm.bias', [D]);
  await writeSafetensors(path, tensors);
}

/** The image batch and labels of the training fixtures (test/fixtures/generate_training.py). */
export async function trainingBatch(): Promise<{
  images: Float32Array;
  labels: Int32Array;
  shape: readonly [number, number, number, number];
}> {
  const g = (await readSafetensors(join(FIXTURES, 'golden_training.safetensors'))).tensors;
  return { images: g.get('images')!.data, labels: Int32Array.from(g.get('labels')!.data), shape: [4, 3, 32, 32] };
}
