/**
 * VPT's self-supervised backbones (`selfSupervised`, MODEL.TYPE ssl-vit) against their
 * references (test/fixtures/generate_ssl_backbones.py): the unprompted features against timm
 * 1.0.29 (MAE: average pooling + fc_norm, the pretraining checkpoint's `norm` unused; MoCo v3:
 * class token), and the prompted logits and one SGD step against KMnP/vpt's vit_mae.py /
 * vit_moco.py (logits within 1e-4, the step within 1e-5). MoCo v3 checkpoints load from the
 * linear-probe names, the pretraining names and without their position embedding.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  type CreateModelOptions,
  createModel,
  type HostTensor,
  MultiTaskModel,
  readSafetensors,
  VptError,
} from '../../lib/index.js';
import { loadTrainedModel } from '../../lib/train/trained-model.js';
import { writeSafetensors } from '../../lib/weights/safetensors.js';
import { FIXTURES, maxAbsDiff, tempDir } from '../helpers/common.js';
import { loadGolden } from '../helpers/golden.js';
import { writeNpz } from '../helpers/weights.js';

const LOGITS_TOLERANCE = 1e-4;
const ONE_STEP_TOLERANCE = 1e-5;
const DIR = join(FIXTURES, 'ssl_backbones');
const MAE = join(DIR, 'mae');
const MOCO = join(DIR, 'mocov3', 'linear.safetensors');
const NUM_CLASSES = 5;
const TOKENS = 3;
const shape = [4, 3, 32, 32] as const;

/** case -> backbone and prompt options (as in the generator's CASES). */
const CASES: Record<string, { ssl: 'mae' | 'moco-v3'; prompt: Record<string, unknown> }> = {
  mae_shallow: { ssl: 'mae', prompt: {} },
  mae_deep: { ssl: 'mae', prompt: { deep: true } },
  mae_img_pool: { ssl: 'mae', prompt: { deep: true, pool: 'img_pool' } },
  mae_prompt_pool: { ssl: 'mae', prompt: { pool: 'prompt_pool' } },
  mocov3_shallow: { ssl: 'moco-v3', prompt: {} },
  mocov3_deep: { ssl: 'moco-v3', prompt: { deep: true } },
};

/** Block paths; the fused one with skipped prompt rows for the deep cases, where rows are discarded. */
const PATHS: Array<{ name: string; opts: Partial<CreateModelOptions>; deepOnly?: boolean }> = [
  { name: 'unfused, every row', opts: { fusedLayerNorm: false, skipDiscardedPromptRows: false } },
  {
    name: 'fused, skipDiscardedPromptRows',
    opts: { fusedLayerNorm: true, skipDiscardedPromptRows: true },
    deepOnly: true,
  },
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

async function features(o: Partial<CreateModelOptions> & { weights: string }): Promise<Float32Array> {
  const m = await createModel({ numClasses: NUM_CLASSES, device: 'cpu', transfer: 'linear', ...o });
  try {
    return await m.features({ pixels: images, shape: [...shape] });
  } finally {
    m.dispose();
  }
}

/** A copy of the MoCo v3 fixture with its tensors renamed / added / left out, in a folder with its config.json. */
async function mocoVariant(
  name: string,
  rename: (n: string) => string | null,
  extra: HostTensor[] = [],
  format: 'safetensors' | 'npz' = 'safetensors',
): Promise<string> {
  const folder = join(tmp.dir, name);
  await mkdir(folder, { recursive: true });
  await copyFile(join(DIR, 'mocov3', 'config.json'), join(folder, 'config.json'));
  const { tensors } = await readSafetensors(MOCO);
  const out: HostTensor[] = [...extra];
  for (const [n, t] of tensors) {
    const to = rename(n);
    if (to !== null) out.push({ ...t, name: to });
  }
  const file = join(folder, `model.${format}`);
  if (format === 'npz') await writeNpz(file, out);
  else await writeSafetensors(file, out);
  return file;
}

describe('MAE and MoCo v3 features match timm', () => {
  it('MAE: average pooling of the patch tokens, then an identity fc_norm (the checkpoint has norm, no fc_norm)', async () => {
    const f = await features({ weights: MAE, selfSupervised: 'mae' });
    expect(maxAbsDiff(f, g.get('mae.features')!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
    // Without selfSupervised the same file runs as timm's registration: class token after `norm`.
    const token = await features({ weights: MAE });
    expect(maxAbsDiff(token, g.get('mae.features')!.data)).toBeGreaterThan(0.01);
  });

  it("MAE: a checkpoint's own fc_norm (a fine-tuned MAE) is used", async () => {
    const folder = join(tmp.dir, 'mae_ft');
    await mkdir(folder, { recursive: true });
    await copyFile(join(MAE, 'config.json'), join(folder, 'config.json'));
    const { tensors } = await readSafetensors(join(MAE, 'model.safetensors'));
    const out = [...tensors.values()].filter((t) => !t.name.startsWith('norm.'));
    out.push({ ...g.get('mae_ft.fc_norm.weight')!, name: 'fc_norm.weight' });
    out.push({ ...g.get('mae_ft.fc_norm.bias')!, name: 'fc_norm.bias' });
    await writeSafetensors(join(folder, 'model.safetensors'), out);
    const f = await features({ weights: folder, selfSupervised: 'mae' });
    expect(maxAbsDiff(f, g.get('mae_ft.features')!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
  });

  it('MoCo v3: the linear-probe checkpoint (module.* names, its classifier dropped) is detected', async () => {
    const f = await features({ weights: MOCO });
    expect(maxAbsDiff(f, g.get('mocov3.features')!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
  });

  it('MoCo v3: the pretraining checkpoint loads its base encoder; projection, momentum encoder and predictor are left out', async () => {
    const junk = (name: string, n: number): HostTensor => ({ name, shape: [n], data: new Float32Array(n).fill(7) });
    const file = await mocoVariant(
      'pretrain',
      (n) => (n.startsWith('module.head.') ? null : n.replace(/^module\./, 'module.base_encoder.')),
      [
        junk('module.base_encoder.head.0.weight', 64),
        junk('module.base_encoder.head.1.running_mean', 8),
        junk('module.momentum_encoder.patch_embed.proj.weight', 16),
        junk('module.momentum_encoder.blocks.0.attn.qkv.weight', 16),
        junk('module.predictor.0.weight', 16),
      ],
    );
    const f = await features({ weights: file });
    expect(maxAbsDiff(f, g.get('mocov3.features')!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
  });

  it('MoCo v3: an .npz export (np.savez of the state_dict) loads the same', async () => {
    const file = await mocoVariant('npz', (n) => n, [], 'npz');
    const f = await features({ weights: file });
    expect(maxAbsDiff(f, g.get('mocov3.features')!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
  });

  it("MoCo v3: without pos_embed, MoCo's fixed 2D sin-cos embedding is computed", async () => {
    const file = await mocoVariant('no_pos', (n) => (n === 'module.pos_embed' ? null : n));
    const f = await features({ weights: file });
    expect(maxAbsDiff(f, g.get('mocov3.features')!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
    // A timm-named copy without pos_embed needs selfSupervised 'moco-v3' to know the embedding is MoCo's.
    const plain = await mocoVariant('plain_no_pos', (n) =>
      n === 'module.pos_embed' || n.startsWith('module.head.') ? null : n.slice('module.'.length),
    );
    await expect(features({ weights: plain })).rejects.toThrow(/pos_embed/);
    const f2 = await features({ weights: plain, selfSupervised: 'moco-v3' });
    expect(maxAbsDiff(f2, g.get('mocov3.features')!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
  });
});

describe("prompted MAE / MoCo v3 match KMnP/vpt's vit_mae.py / vit_moco.py", () => {
  for (const [c, spec] of Object.entries(CASES)) {
    for (const path of PATHS.filter((p) => !p.deepOnly || spec.prompt.deep === true)) {
      it(`${c}: logits and one SGD step (${path.name})`, async () => {
        const m = await createModel({
          weights: spec.ssl === 'mae' ? MAE : MOCO,
          numClasses: NUM_CLASSES,
          device: 'cpu',
          selfSupervised: spec.ssl,
          prompt: { tokens: TOKENS, ...spec.prompt },
          trainable: join(DIR, `${c}.safetensors`),
          ...path.opts,
        });
        try {
          const logits = await m.forward(images, [...shape]);
          expect(maxAbsDiff(logits, g.get(`${c}.logits`)!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
          m.configureOptimizer({ optimizer: 'sgd', lr: 1, momentum: 0 });
          await m.trainStep(images, [...shape], labels);
          const file = join(tmp.dir, `${c}-${saved++}.safetensors`);
          await m.saveTrainable(file);
          const { tensors, metadata } = await readSafetensors(file);
          const meta = JSON.parse(metadata.vpt!) as Record<string, unknown>;
          expect(meta.selfSupervised).toBe(spec.ssl);
          expect(meta.poolPrompts ?? false).toBe(c === 'mae_shallow' || c === 'mae_deep');
          for (const [name, t] of tensors) {
            const expected = g.get(`sgd1.${c}.${name}`);
            expect(expected, name).toBeDefined();
            expect(maxAbsDiff(t.data, expected!.data), name).toBeLessThanOrEqual(ONE_STEP_TOLERANCE);
          }
        } finally {
          m.dispose();
        }
      });
    }
  }

  it('loadTrainedModel (eval / predict) rebuilds an MAE model from what its trainable state records', async () => {
    const { model, metadata } = await loadTrainedModel({
      weights: MAE,
      checkpoint: join(DIR, 'mae_deep.safetensors'),
      device: 'cpu',
    });
    try {
      expect(metadata.selfSupervised).toBe('mae');
      const logits = await model.forward(images, [...shape]);
      expect(maxAbsDiff(logits, g.get('mae_deep.logits')!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
    } finally {
      model.dispose();
    }
  });

  it('a trainable state is refused by a model with another selfSupervised setting, by name', async () => {
    const err = await createModel({
      weights: MAE,
      numClasses: NUM_CLASSES,
      device: 'cpu',
      prompt: { tokens: TOKENS, pool: 'prompt_pool' },
      trainable: join(DIR, 'mae_prompt_pool.safetensors'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VptError);
    expect((err as VptError).message).toMatch(/selfSupervised="mae".*selfSupervised=null/);
  });

  it('the multi-task forward serves a MoCo v3 task as createModel does, and refuses an MAE task by name', async () => {
    const multi = await MultiTaskModel.create({ weights: MOCO, device: 'cpu' });
    try {
      await multi.addTask('moco', join(DIR, 'mocov3_deep.safetensors'));
      const requests = [0, 1, 2, 3].map((image) => ({ image, task: 'moco' }));
      const logits = await multi.forwardF32({ pixels: images, shape }, requests);
      const expected = g.get('mocov3_deep.logits')!.data;
      for (let i = 0; i < 4; i++) {
        const row = expected.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
        expect(maxAbsDiff(logits[i]!, row)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
      }
    } finally {
      multi.dispose();
    }
    const mae = await MultiTaskModel.create({ weights: MAE, device: 'cpu' });
    try {
      await expect(mae.addTask('mae', join(DIR, 'mae_deep.safetensors'))).rejects.toThrow(/selfSupervised="mae"/);
    } finally {
      mae.dispose();
    }
  });
});
