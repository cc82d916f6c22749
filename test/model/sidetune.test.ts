/**
 * VPT's side-tuning baseline (transfer 'sidetune', KMnP/vpt MODEL.TRANSFER_TYPE 'side') against
 * KMnP/vpt's own ViT model (test/fixtures/generate_sidetune.py): logits within 1e-4 and one SGD
 * step within 1e-5 for every tensor of the trainable state (the side network, its projection,
 * alpha, the head; tensors over 4096 values at every k-th value, as the generator samples them).
 * Every input -- the tiny ViT backbone, torchvision-named AlexNet weights, the starting state, the
 * images -- comes from the generator's integer-hash formula (spec.json), written here.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { commandLineFlags, registerTrainCommand } from '../../lib/cli/train-command.js';
import { resolveCliConfig } from '../../lib/config/config-sources.js';
import { resolveTrainConfig } from '../../lib/config/train-config.js';
import { importVptConfig } from '../../lib/config/vpt-yacs.js';
import {
  type CreateModelOptions,
  createModel,
  createModelSharingBackbone,
  type HostTensor,
  readSafetensors,
  VptError,
  writeSafetensors,
} from '../../lib/index.js';
import { MultiTaskModel } from '../../lib/model/multi-task-model.js';
import { trainModelOptions } from '../../lib/train/train-model-options.js';
import { FIXTURES, maxAbsDiff, tempDir } from '../helpers/common.js';

const LOGITS_TOLERANCE = 1e-4;
const ONE_STEP_TOLERANCE = 1e-5;
const DIR = join(FIXTURES, 'sidetune');
const NUM_CLASSES = 5;
const SAMPLED = 4096;
const SAMPLES = 2048;
const ALEXNET = [0, 3, 6, 8, 10];
const shape = [4, 3, 64, 64] as const;

interface Spec {
  shape: number[];
  seed: number;
  scale: number;
  offset: number;
}

/** The generator's formula (generate_sidetune.py `values`), exactly in float32. */
function values(s: Spec): Float32Array {
  const n = s.shape.reduce((a, d) => a * d, 1);
  const out = new Float32Array(n);
  const seed = Math.imul(s.seed, 0x85ebca77) >>> 0;
  for (let i = 0; i < n; i++) {
    let x = (Math.imul(i, 0x9e3779b1) + seed) >>> 0;
    x = (x ^ (x >>> 15)) >>> 0;
    x = Math.imul(x, 0x2c1b3c6d) >>> 0;
    x = (x ^ (x >>> 12)) >>> 0;
    const u = ((x >>> 8) / 2 ** 24) * 2 - 1;
    out[i] = Math.fround(s.offset + s.scale * u);
  }
  return out;
}

let spec: Record<string, Spec>;
let g: Map<string, HostTensor>;
let images: Float32Array;
let labels: Int32Array;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let weights: string;
let alexnet: string;
let state: string;
let saved = 0;

const tensor = (name: string, as = name): HostTensor => ({
  name: as,
  shape: spec[name]!.shape,
  data: values(spec[name]!),
});

beforeAll(async () => {
  const { readFile, mkdir } = await import('node:fs/promises');
  spec = JSON.parse(await readFile(join(DIR, 'spec.json'), 'utf8')) as Record<string, Spec>;
  g = (await readSafetensors(join(DIR, 'golden.safetensors'))).tensors;
  images = values(spec.images!);
  labels = Int32Array.from(g.get('labels')!.data);
  tmp = await tempDir();
  // The backbone: a timm-format tiny ViT (width 16, 2 blocks, patch 16, 64 px).
  weights = join(tmp.dir, 'backbone');
  await mkdir(weights);
  const backbone = Object.keys(spec).filter(
    (n) => n !== 'images' && !n.startsWith('features.') && !n.startsWith('side_') && !n.startsWith('head.'),
  );
  await writeSafetensors(
    join(weights, 'model.safetensors'),
    backbone.map((n) => tensor(n)),
  );
  await writeFile(
    join(weights, 'config.json'),
    JSON.stringify({
      architecture: 'vit_tiny_patch16_224',
      num_classes: 10,
      global_pool: 'token',
      model_args: { embed_dim: 16, depth: 2, num_heads: 2, patch_size: 16, img_size: 64, mlp_ratio: 2.0 },
      pretrained_cfg: { input_size: [3, 64, 64], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], num_classes: 10 },
    }),
  );
  // torchvision's AlexNet state dict, classifier included (ignored).
  alexnet = join(tmp.dir, 'alexnet.safetensors');
  await writeSafetensors(alexnet, [
    ...ALEXNET.flatMap((i) => [tensor(`features.${i}.weight`), tensor(`features.${i}.bias`)]),
    { name: 'classifier.6.weight', shape: [3, 4], data: new Float32Array(12) },
  ]);
  // The starting state: the model's own metadata, the formula's tensors.
  const m = await model();
  try {
    const file = join(tmp.dir, 'own.safetensors');
    await m.saveTrainable(file);
    const { metadata, tensors } = await readSafetensors(file);
    state = join(tmp.dir, 'state.safetensors');
    await writeSafetensors(
      state,
      [...tensors.keys()].map((n) => tensor(n.replace(/^side\.features\./, 'features.'), n)),
      metadata,
    );
  } finally {
    m.dispose();
  }
});
afterAll(async () => {
  await tmp?.cleanup();
});

function model(options: Partial<CreateModelOptions> = {}) {
  return createModel({
    weights,
    numClasses: NUM_CLASSES,
    device: 'cpu',
    transfer: 'sidetune',
    sideWeights: alexnet,
    ...options,
  });
}

describe('sidetune matches KMnP/vpt', () => {
  it('logits and one SGD step of every state tensor', async () => {
    const m = await model({ trainable: state });
    try {
      const logits = await m.forward(images, shape);
      expect(maxAbsDiff(logits, g.get('logits')!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
      m.configureOptimizer({ optimizer: 'sgd', lr: 1, momentum: 0, weightDecay: 0 });
      await m.trainStep(images, shape, labels);
      const file = join(tmp.dir, `step-${saved++}.safetensors`);
      await m.saveTrainable(file);
      const { tensors } = await readSafetensors(file);
      expect([...tensors.keys()].sort()).toEqual(
        [...g.keys()]
          .filter((k) => k.startsWith('sgd1.'))
          .map((k) => k.slice(5))
          .sort(),
      );
      for (const [name, t] of tensors) {
        let data = t.data;
        if (data.length > SAMPLED) {
          const k = Math.ceil(data.length / SAMPLES);
          data = data.filter((_, i) => i % k === 0);
        }
        expect(maxAbsDiff(data, g.get(`sgd1.${name}`)!.data), name).toBeLessThanOrEqual(ONE_STEP_TOLERANCE);
      }
    } finally {
      m.dispose();
    }
  });
});

describe('the side network', () => {
  it('starts from the AlexNet file, alpha 0, and its state names the trainable set', async () => {
    const m = await model();
    try {
      const file = join(tmp.dir, `fresh-${saved++}.safetensors`);
      await m.saveTrainable(file);
      const { tensors, metadata } = await readSafetensors(file);
      expect([...tensors.keys()].sort()).toEqual(
        [
          ...ALEXNET.flatMap((i) => [`side.features.${i}.weight`, `side.features.${i}.bias`]),
          'side_projection.weight',
          'side_alpha',
          'head.weight',
          'head.bias',
        ].sort(),
      );
      for (const i of ALEXNET) {
        for (const part of ['weight', 'bias']) {
          const loaded = tensors.get(`side.features.${i}.${part}`)!.data;
          expect(maxAbsDiff(loaded, values(spec[`features.${i}.${part}`]!)), `features.${i}.${part}`).toBe(0);
        }
      }
      expect(Array.from(tensors.get('side_alpha')!.data)).toEqual([0]);
      const bound = 1 / Math.sqrt(9216);
      const projection = tensors.get('side_projection.weight')!;
      expect(projection.shape).toEqual([16, 9216]);
      expect(projection.data.every((v) => Math.abs(v) <= bound)).toBe(true);
      expect(JSON.parse(metadata.vpt!).transfer).toBe('sidetune');
    } finally {
      m.dispose();
    }
  });

  it('a missing or mis-shaped AlexNet tensor is refused, naming file and tensor', async () => {
    const bad = join(tmp.dir, 'bad-alexnet.safetensors');
    await writeSafetensors(bad, [
      ...ALEXNET.filter((i) => i !== 6).flatMap((i) => [tensor(`features.${i}.weight`), tensor(`features.${i}.bias`)]),
      { name: 'features.6.bias', shape: [383], data: new Float32Array(383) },
    ]);
    const error = await model({ sideWeights: bad }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VptError);
    expect((error as VptError).code).toBe('VPT_WEIGHTS');
    expect((error as VptError).message).toContain(bad);
    expect((error as VptError).message).toContain('features.6.weight');
    expect((error as VptError).message).toMatch(/features\.6\.bias \[383\]/);
  });

  it('states of another transfer are refused, and a sidetune state by another transfer', async () => {
    await expect(model({ transfer: 'linear', sideWeights: undefined, trainable: state })).rejects.toThrow(/sidetune/);
    const other = await createModel({ weights, numClasses: NUM_CLASSES, device: 'cpu', transfer: 'linear' });
    try {
      const file = join(tmp.dir, `linear-${saved++}.safetensors`);
      await other.saveTrainable(file);
      await expect(model({ trainable: file })).rejects.toThrow(/linear/);
    } finally {
      other.dispose();
    }
  });

  it('a trainable state alone brings the whole side network (no AlexNet file needed)', async () => {
    const m = await model({ sideWeights: undefined, trainable: state });
    try {
      const logits = await m.forward(images, shape);
      expect(maxAbsDiff(logits, g.get('logits')!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
    } finally {
      m.dispose();
    }
  });
});

describe('refusals', () => {
  const refused = async (options: Partial<CreateModelOptions>, pattern: RegExp) => {
    const error = await model(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VptError);
    expect((error as VptError).message).toMatch(pattern);
  };
  it('without AlexNet weights or state', () => refused({ sideWeights: undefined }, /sideWeights.*AlexNet/));
  it('with prompts', () => refused({ prompt: { tokens: 2 } }, /prompt.*trains no prompts/));
  it('with skipDiscardedPromptRows', () => refused({ skipDiscardedPromptRows: true }, /no prompt rows/));
  it('images under 63 px', () => refused({ imageSize: 48 }, /at least 63/));
  it('sideWeights with another transfer', () => refused({ transfer: 'linear' }, /sideWeights.*sidetune/));
  it('sharing a backbone', async () => {
    const source = await createModel({ weights, numClasses: NUM_CLASSES, device: 'cpu', transfer: 'linear' });
    try {
      await expect(
        createModelSharingBackbone(
          { weights, numClasses: NUM_CLASSES, device: 'cpu', transfer: 'sidetune', sideWeights: alexnet },
          source,
        ),
      ).rejects.toThrow(/sidetune.*shared backbone/);
    } finally {
      source.dispose();
    }
  });
  it('a Swin backbone, by name', async () => {
    const error = await model({ weights: join(FIXTURES, 'swin', 'backbone') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VptError);
    expect((error as VptError).message).toMatch(/"sidetune" is implemented for the ViT only/);
  });
  it('multi-task serving, by name', async () => {
    const multi = await MultiTaskModel.create({ weights, device: 'cpu' });
    try {
      await expect(multi.addTask('s', state)).rejects.toThrow(/"sidetune" state: it runs an AlexNet side network/);
    } finally {
      multi.dispose();
    }
  });
  it('a frozen-stem cache: the model has none', async () => {
    const m = await model({ trainable: state });
    try {
      await expect(m.stemFeatures({ pixels: images, shape: [...shape] })).rejects.toThrow(
        /stemFeatures needs prompt-free blocks/,
      );
    } finally {
      m.dispose();
    }
  });
});

describe('the CLI', () => {
  it('--transfer sidetune --side-weights reach createModel', async () => {
    const program = new Command().exitOverride();
    registerTrainCommand(program);
    let flags: Record<string, unknown> = {};
    program.commands
      .find((c) => c.name() === 'train')!
      .action((_parsed: unknown, cmd: Command) => {
        flags = commandLineFlags(cmd);
      });
    const args = ['--transfer', 'sidetune', '--side-weights', 'alexnet.safetensors'];
    await program.parseAsync(['train', '--data', 'd', '--weights', 'w', '--out', 'o', ...args], { from: 'user' });
    const config = resolveTrainConfig((await resolveCliConfig(flags)).config);
    const dataset = { numClasses: 3 } as Parameters<typeof trainModelOptions>[1];
    expect(trainModelOptions(config, dataset, { device: 'cpu', precision: 'fp32', seed: 0 })).toMatchObject({
      transfer: 'sidetune',
      sideWeights: 'alexnet.safetensors',
      prompt: null,
    });
  });
});

describe('--vpt-config', () => {
  it("maps KMnP's MODEL.TRANSFER_TYPE side onto sidetune", async () => {
    const file = join(tmp.dir, 'side.yaml');
    await writeFile(file, 'MODEL:\n  TRANSFER_TYPE: side\n');
    const imported = await importVptConfig(file);
    expect(imported.unsupported).toEqual([]);
    expect(imported.config.transfer).toBe('sidetune');
  });
});
