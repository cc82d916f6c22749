/**
 * VPT's pixel-space prompt locations (prepend-pixel, -gaussian, -imgnettransform, pad, below)
 * against KMnP/vpt's own prompted ViT (test/fixtures/generate_pixel_locations.py): logits within
 * 1e-4 and one SGD step within 1e-5 on the fused, unfused and checkpointed block paths; their
 * trainable tensors' init; combinations VPT does not define refused with the option named.
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandLineFlags, registerTrainCommand } from '../../lib/cli/train-command.js';
import { resolveCliConfig } from '../../lib/config/config-sources.js';
import { resolveTrainConfig } from '../../lib/config/train-config.js';
import type { Dataset } from '../../lib/data/dataset.js';
import { type CreateModelOptions, createModel, type HostTensor, readSafetensors, VptError } from '../../lib/index.js';
import { MultiTaskModel } from '../../lib/model/multi-task-model.js';
import { trainModelOptions } from '../../lib/train/train-model-options.js';
import { FIXTURES, maxAbsDiff, tempDir } from '../helpers/common.js';
import { loadGolden } from '../helpers/golden.js';

const LOGITS_TOLERANCE = 1e-4;
const ONE_STEP_TOLERANCE = 1e-5;
const DIR = join(FIXTURES, 'pixel_locations');
const WEIGHTS = join(FIXTURES, 'deep_variants', 'backbone', 'ViT-tiny.npz');
const NUM_CLASSES = 5;
const D = 32;
const PATCH = 8;
const S = 32;
const shape = [2, 3, S, S] as const;
/** VPT's uniform bound sqrt(6 / (3 p^2 + D)). */
const BOUND = Math.sqrt(6 / (3 * PATCH * PATCH + D));

/** case -> prompt options (as in the generator's CASES). */
const CASES: Record<string, { tokens: number; location: string }> = {
  pixel: { tokens: 3, location: 'prepend-pixel' },
  pixel_gaussian: { tokens: 3, location: 'prepend-pixel-gaussian' },
  pixel_imgnet: { tokens: 3, location: 'prepend-pixel-imgnettransform' },
  pad4: { tokens: 4, location: 'pad' },
  pad2: { tokens: 2, location: 'pad' },
  below: { tokens: 2, location: 'below' },
};

const PATHS: Array<{ name: string; opts: Partial<CreateModelOptions> }> = [
  { name: 'fused, skipDiscardedPromptRows', opts: { fusedLayerNorm: true, skipDiscardedPromptRows: true } },
  { name: 'unfused, every row', opts: { fusedLayerNorm: false, skipDiscardedPromptRows: false } },
  { name: 'checkpointed', opts: { checkpointBlocks: true } },
];

let g: Map<string, HostTensor>;
let images: Float32Array;
let labels: Int32Array;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let saved = 0;

beforeAll(async () => {
  ({ g, images, labels } = await loadGolden(DIR));
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

function model(c: string, extra: Partial<CreateModelOptions> = {}) {
  return createModel({
    weights: WEIGHTS,
    numClasses: NUM_CLASSES,
    device: 'cpu',
    prompt: CASES[c] as CreateModelOptions['prompt'],
    trainable: join(DIR, `${c}.safetensors`),
    ...extra,
  });
}

async function trainableOf(m: Awaited<ReturnType<typeof createModel>>): Promise<Map<string, HostTensor>> {
  const file = join(tmp.dir, `state-${saved++}.safetensors`);
  await m.saveTrainable(file);
  return (await readSafetensors(file)).tensors;
}

describe('pixel-space prompt locations match KMnP/vpt', () => {
  for (const c of Object.keys(CASES)) {
    for (const path of PATHS) {
      it(`${c}: logits and one SGD step (${path.name})`, async () => {
        const m = await model(c, path.opts);
        try {
          const logits = await m.forward(images, shape);
          expect(maxAbsDiff(logits, g.get(`${c}.logits`)!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
          m.configureOptimizer({ optimizer: 'sgd', lr: 1, momentum: 0 });
          await m.trainStep(images, shape, labels);
          const tensors = await trainableOf(m);
          expect([...tensors.keys()].sort()).toEqual(
            [...g.keys()]
              .filter((k) => k.startsWith(`sgd1.${c}.`))
              .map((k) => k.slice(`sgd1.${c}.`.length))
              .sort(),
          );
          for (const [name, t] of tensors) {
            const expected = g.get(`sgd1.${c}.${name}`)!.data;
            expect(maxAbsDiff(t.data, expected), name).toBeLessThanOrEqual(ONE_STEP_TOLERANCE);
          }
        } finally {
          m.dispose();
        }
      });
    }
  }

  it('the pixel prompts take no prompt dropout (as in KMnP/vpt): training-mode steps equal eval-mode logits', async () => {
    const m = await model('pixel', { prompt: { ...CASES.pixel!, dropout: 0.5 } as CreateModelOptions['prompt'] });
    try {
      const logits = await m.forward(images, shape);
      expect(maxAbsDiff(logits, g.get('pixel.logits')!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
      m.configureOptimizer({ optimizer: 'sgd', lr: 1, momentum: 0 });
      await m.trainStep(images, shape, labels);
      const tensors = await trainableOf(m);
      const expected = g.get('sgd1.pixel.prompt_embeddings')!.data;
      expect(maxAbsDiff(tensors.get('prompt_embeddings')!.data, expected)).toBeLessThanOrEqual(ONE_STEP_TOLERANCE);
    } finally {
      m.dispose();
    }
  });
});

describe('pixel-space prompt locations: bf16 and the train command', () => {
  it('run under bf16 autocast and with a bfloat16 backbone (logits within bf16 rounding of fp32)', async () => {
    for (const c of ['pixel_imgnet', 'pad4', 'below']) {
      for (const extra of [{ precision: 'bf16' }, { backboneDtype: 'bfloat16' }] as const) {
        const m = await model(c, extra);
        try {
          const logits = await m.forward(images, shape);
          expect(maxAbsDiff(logits, g.get(`${c}.logits`)!.data), `${c} ${JSON.stringify(extra)}`).toBeLessThan(0.1);
        } finally {
          m.dispose();
        }
      }
    }
  });

  it('--prompt-location reaches createModel through train()', async () => {
    const program = new Command().exitOverride();
    registerTrainCommand(program);
    let flags: Record<string, unknown> = {};
    program.commands
      .find((c) => c.name() === 'train')!
      .action((_parsed: unknown, cmd: Command) => {
        flags = commandLineFlags(cmd);
      });
    const args = ['train', '--data', 'd', '--weights', 'w', '--out', 'o', '--prompt-location', 'below'];
    await program.parseAsync([...args, '--prompt-tokens', '2'], { from: 'user' });
    const config = resolveTrainConfig((await resolveCliConfig(flags)).config);
    const options = trainModelOptions(config, { numClasses: 3 } as Dataset, {
      device: 'cpu',
      precision: 'fp32',
      seed: 0,
    });
    expect(options.prompt).toMatchObject({ tokens: 2, location: 'below' });
  });
});

describe('pixel-space prompt locations: trainable tensors and their init', () => {
  function stats(a: Float32Array) {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    let sq = 0;
    for (const v of a) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
      sq += v * v;
    }
    const mean = sum / a.length;
    return { min, max, mean, std: Math.sqrt(sq / a.length - mean * mean) };
  }
  async function fresh(location: string, tokens: number) {
    const m = await createModel({
      weights: WEIGHTS,
      numClasses: NUM_CLASSES,
      device: 'cpu',
      seed: 3,
      prompt: { tokens, location } as CreateModelOptions['prompt'],
    });
    try {
      return { tensors: await trainableOf(m), info: m.info() };
    } finally {
      m.dispose();
    }
  }

  it('prepend-pixel: (1, 3, p, p N) pixels, uniform within VPT bound; -gaussian N(0, 1); -imgnettransform uniform(0, 1)', async () => {
    const uniform = (await fresh('prepend-pixel', 3)).tensors.get('prompt_embeddings')!;
    expect(uniform.shape).toEqual([1, 3, PATCH, PATCH * 3]);
    const u = stats(uniform.data);
    expect(u.min).toBeGreaterThanOrEqual(-BOUND);
    expect(u.max).toBeLessThanOrEqual(BOUND);
    expect(u.max - u.min).toBeGreaterThan(1.8 * BOUND);
    const gaussian = stats((await fresh('prepend-pixel-gaussian', 3)).tensors.get('prompt_embeddings')!.data);
    expect(Math.abs(gaussian.mean)).toBeLessThan(0.15);
    expect(gaussian.std).toBeGreaterThan(0.85);
    expect(gaussian.std).toBeLessThan(1.15);
    const pixels = stats((await fresh('prepend-pixel-imgnettransform', 3)).tensors.get('prompt_embeddings')!.data);
    expect(pixels.min).toBeGreaterThanOrEqual(0);
    expect(pixels.max).toBeLessThanOrEqual(1);
    expect(pixels.max - pixels.min).toBeGreaterThan(0.9);
  });

  it('pad: a (1, 3, 2N, S + 2N) and a (1, 3, S, 2N) border, uniform(0, 1); no stem to cache', async () => {
    const { tensors, info } = await fresh('pad', 4);
    expect(tensors.get('prompt_embeddings_tb')!.shape).toEqual([1, 3, 8, S + 8]);
    expect(tensors.get('prompt_embeddings_lr')!.shape).toEqual([1, 3, S, 8]);
    for (const name of ['prompt_embeddings_tb', 'prompt_embeddings_lr']) {
      const s = stats(tensors.get(name)!.data);
      expect(s.min).toBeGreaterThanOrEqual(0);
      expect(s.max).toBeLessThanOrEqual(1);
      expect(s.max - s.min).toBeGreaterThan(0.9);
    }
    expect(info.stemBlocks).toBe(0);
    expect(info.trainableParams).toBe(3 * 8 * (S + 8) + 3 * S * 8 + D * NUM_CLASSES + NUM_CLASSES);
  });

  it("below: N prompt channels and a trained (3 + N)-channel patch embedding, its first 3 channels and bias the backbone's", async () => {
    const { tensors, info } = await fresh('below', 2);
    const prompt = tensors.get('prompt_embeddings')!;
    expect(prompt.shape).toEqual([1, 2, S, S]);
    const p = stats(prompt.data);
    expect(p.min).toBeGreaterThanOrEqual(-BOUND);
    expect(p.max).toBeLessThanOrEqual(BOUND);
    const weight = tensors.get('patch_embeddings.weight')!;
    expect(weight.shape).toEqual([D, 5, PATCH, PATCH]);
    // Split each output channel's (5, p, p) kernel into the backbone's 3 and the prompt's 2 channels.
    const per = PATCH * PATCH;
    const first = new Float32Array(D * 3 * per);
    const rest = new Float32Array(D * 2 * per);
    for (let o = 0; o < D; o++) {
      first.set(weight.data.subarray(o * 5 * per, (o * 5 + 3) * per), o * 3 * per);
      rest.set(weight.data.subarray((o * 5 + 3) * per, (o + 1) * 5 * per), o * 2 * per);
    }
    expect(maxAbsDiff(first, g.get('init.below.patch_embeddings.weight3')!.data)).toBe(0);
    expect(
      maxAbsDiff(tensors.get('patch_embeddings.bias')!.data, g.get('init.below.patch_embeddings.bias')!.data),
    ).toBe(0);
    const r = stats(rest);
    expect(r.min).toBeGreaterThanOrEqual(-BOUND);
    expect(r.max).toBeLessThanOrEqual(BOUND);
    expect(r.max - r.min).toBeGreaterThan(1.8 * BOUND);
    expect(info.stemBlocks).toBe(0);
  });

  it('pad takes images of imageSize (the border grows them), and names that size when they are not', async () => {
    const m = await model('pad4');
    try {
      const error = await m.forward(new Float32Array(2 * 3 * 40 * 40), [2, 3, 40, 40]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VptError);
      expect((error as Error).message).toMatch(/\[n, 3, 32, 32\]/);
    } finally {
      m.dispose();
    }
  });
});

describe('pixel-space prompt locations: what VPT does not define is refused', () => {
  const base = { weights: WEIGHTS, numClasses: NUM_CLASSES, device: 'cpu' } as const;
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['deep prepend-pixel', { tokens: 3, location: 'prepend-pixel', deep: true }, /prompt\.location.*shallow/],
    ['pad with a projection', { tokens: 3, location: 'pad', project: 16 }, /prompt\.location.*project/],
    ['below with img_pool', { tokens: 3, location: 'below', pool: 'img_pool' }, /prompt\.location.*pool/],
    [
      'a CLS init',
      { tokens: 3, location: 'prepend-pixel', init: 'final-cls', clsEmbeddings: 'x.npy' },
      /prompt\.location.*init/,
    ],
    ['an unknown location', { tokens: 3, location: 'above' }, /prompt\.location/],
  ];
  for (const [name, prompt, message] of cases) {
    it(`refuses ${name}`, async () => {
      const error = await createModel({ ...base, prompt } as CreateModelOptions).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VptError);
      expect((error as VptError).code).toBe('VPT_OPTION');
      expect((error as Error).message).toMatch(message);
    });
  }

  it('refuses below with full fine-tuning', async () => {
    const error = await createModel({
      ...base,
      transfer: 'full',
      prompt: { tokens: 2, location: 'below' },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VptError);
    expect((error as Error).message).toMatch(/prompt\.location.*transfer "full"/);
  });

  it('a trainable state of another location or width is refused, naming the field', async () => {
    const other = await createModel({
      ...base,
      prompt: { tokens: 4, location: 'below' },
      trainable: join(DIR, 'pad4.safetensors'),
    }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(VptError);
    expect((other as Error).message).toMatch(/prompt\.location="pad".*prompt\.location="below"/);
    const width = await createModel({
      ...base,
      prompt: { tokens: 4, location: 'pad' },
      trainable: join(DIR, 'pad2.safetensors'),
    }).catch((e: unknown) => e);
    expect(width).toBeInstanceOf(VptError);
    expect((width as Error).message).toMatch(/prompt\.tokens=2.*prompt\.tokens=4/);
  });

  it('the multi-task forward refuses a task with a pixel-space location by name', async () => {
    const multi = await MultiTaskModel.create({ weights: WEIGHTS, device: 'cpu' });
    try {
      for (const [c, location] of [
        ['pad4', 'pad'],
        ['below', 'below'],
        ['pixel', 'prepend-pixel'],
      ] as const) {
        await expect(multi.addTask(c, join(DIR, `${c}.safetensors`))).rejects.toThrow(
          new RegExp(`prompt\\.location="${location}"`),
        );
      }
    } finally {
      multi.dispose();
    }
  });
});
