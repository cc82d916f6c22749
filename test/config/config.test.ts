import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { resolveCliConfig } from '../../lib/config/config-sources.js';
import { resolveTrainConfig, scaledLearningRate } from '../../lib/config/train-config.js';
import { importVptConfig } from '../../lib/config/vpt-yacs.js';
import { learningRateAt } from '../../lib/train/schedule.js';
import { FIXTURES, tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

const required = { data: 'd', weights: 'w', out: 'o' };

describe('train config', () => {
  it('fills in the VPT recipe defaults', () => {
    const c = resolveTrainConfig(required);
    expect(c).toMatchObject({
      epochs: 100,
      warmupEpochs: 10,
      batchSize: 128,
      optimizer: 'sgd',
      momentum: 0.9,
      weightDecay: 1e-4,
      promptTokens: 5,
      deep: false,
      promptDropout: 0,
      promptProject: 0,
      cropSize: 224,
      transfer: 'prompt',
    });
    expect(scaledLearningRate({ ...c, baseLr: 0.5, batchSize: 64 })).toBe(0.125);
  });

  it('unknown or misspelled keys suggest the closest valid key', () => {
    expect(() => resolveTrainConfig({ ...required, epocs: 3 })).toThrow(
      /unknown option "epocs" \(did you mean "epochs"\?\)/,
    );
    expect(() => resolveTrainConfig({ ...required, promptToken: 3 })).toThrow(/did you mean "promptTokens"/);
    expect(() => resolveTrainConfig({ ...required, batchSize: 0 })).toThrow(/"batchSize"/);
    expect(() => resolveTrainConfig({ data: 'd', out: 'o' })).toThrow(/"weights"/);
  });

  it('precedence: defaults < --vpt-config < --config < flags', async () => {
    const file = join(tmp.dir, 'run.yaml');
    await writeFile(file, 'epochs: 7\nbatchSize: 16\nbaseLr: 0.5\ndata: from-file\n');
    const { config, notes } = await resolveCliConfig({
      vptConfig: join(FIXTURES, 'vpt-configs', 'cub.yaml'),
      config: file,
      epochs: 30,
      weights: 'w',
      out: 'o',
      deep: undefined,
    });
    const c = resolveTrainConfig(config);
    expect(c.epochs).toBe(30); // flag over file
    expect(c.batchSize).toBe(16); // file over vpt-config
    expect(c.baseLr).toBe(0.5);
    expect(c.data).toBe('from-file'); // file over vpt-config's DATAPATH
    expect(c.promptTokens).toBe(10); // vpt-config over defaults
    expect(c.deep).toBe(true);
    expect(c.warmupEpochs).toBe(10); // from _BASE_
    expect(notes.join()).toContain('SOLVER.LOSS');
  });

  it('imports the original VPT yacs config with _BASE_, listing what it cannot honor', async () => {
    const r = await importVptConfig(join(FIXTURES, 'vpt-configs', 'cub.yaml'));
    expect(r.config).toEqual({
      transfer: 'prompt',
      optimizer: 'sgd',
      momentum: 0.9,
      weightDecay: 0.001,
      warmupEpochs: 10,
      epochs: 100,
      batchSize: 128,
      data: '/data/CUB_200_2011',
      promptTokens: 10,
      deep: true,
      promptDropout: 0.1,
      promptProject: 0,
      baseLr: 0.25,
    });
    expect(r.unsupported).toEqual(['SOLVER.LOSS']);
    expect(r.numberClasses).toBe(200);
  });

  it("VPT's defaults are neutral; any other value of a key that changes the model or recipe is listed", async () => {
    expect((await importVptConfig(join(FIXTURES, 'vpt-configs', 'base-prompt.yaml'))).unsupported).toEqual([]);
    const defaults = join(tmp.dir, 'vpt-defaults.yaml');
    await writeFile(
      defaults,
      [
        'MODEL:',
        '  TYPE: "vit"',
        '  WEIGHT_PATH: ""',
        '  LINEAR:',
        '    MLP_SIZES: []',
        '  PROMPT:',
        '    LOCATION: "prepend"',
        '    INITIATION: "random"',
        '    VIT_POOL_TYPE: "original"',
        '    DEEP_SHARED: False',
        'SOLVER:',
        '  SCHEDULER: "cosine"',
        '  LOSS: "softmax"',
        '  WEIGHT_DECAY_BIAS: 0',
        '  PATIENCE: 300',
        '  TOTAL_EPOCH: 100',
        'DATA:',
        '  MULTILABEL: False',
        '  FEATURE: "sup_vitb16_imagenet21k"',
      ].join('\n'),
    );
    expect((await importVptConfig(defaults)).unsupported).toEqual([]);
    const others = join(tmp.dir, 'vpt-others.yaml');
    await writeFile(
      others,
      [
        'MODEL:',
        '  TYPE: "resnet"',
        '  WEIGHT_PATH: "ckpt.pth"',
        '  LINEAR:',
        '    MLP_SIZES: [512]',
        '  PROMPT:',
        '    LOCATION: "prepend-patch"',
        '    INITIATION: "final-cls"',
        '    VIT_POOL_TYPE: "img_pool"',
        'SOLVER:',
        '  SCHEDULER: "constant"',
        '  LOSS: "sigmoid"',
        '  WEIGHT_DECAY_BIAS: 0.0001',
        '  PATIENCE: 5',
        '  TOTAL_EPOCH: 100',
        'DATA:',
        '  MULTILABEL: True',
        '  FEATURE: "imagenet_sup_rn50"',
        '  NAME: "CUB"',
        '  NUM_WORKERS: 8',
      ].join('\n'),
    );
    expect((await importVptConfig(others)).unsupported.sort()).toEqual([
      'DATA.FEATURE',
      'DATA.MULTILABEL',
      'MODEL.LINEAR.MLP_SIZES',
      'MODEL.PROMPT.LOCATION',
      'MODEL.TYPE',
      'MODEL.WEIGHT_PATH',
      'SOLVER.LOSS',
      'SOLVER.PATIENCE',
      'SOLVER.SCHEDULER',
      'SOLVER.WEIGHT_DECAY_BIAS',
    ]);
  });

  it("honors VPT's deep variants and pool types (NUM_DEEP_LAYERS, REVERSE_DEEP, DEEP_SHARED, FORWARD_DEEP_NOEXPAND, VIT_POOL_TYPE)", async () => {
    const file = join(tmp.dir, 'vpt-deep-variants.yaml');
    await writeFile(
      file,
      [
        'MODEL:',
        '  PROMPT:',
        '    DEEP: True',
        '    NUM_DEEP_LAYERS: 6',
        '    REVERSE_DEEP: True',
        '    DEEP_SHARED: False',
        '    FORWARD_DEEP_NOEXPAND: False',
        '    VIT_POOL_TYPE: "imgprompt_pool"',
      ].join('\n'),
    );
    const r = await importVptConfig(file);
    expect(r.unsupported).toEqual([]);
    expect(r.config).toEqual({
      deep: true,
      deepLayers: 6,
      reverseDeep: true,
      deepShared: false,
      deepNoExpand: false,
      promptPool: 'imgprompt_pool',
    });
    const init = join(tmp.dir, 'vpt-init.yaml');
    await writeFile(
      init,
      'MODEL:\n  PROMPT:\n    INITIATION: "cls-nolastl"\n    CLSEMB_PATH: "cub.npy"\n    CLSEMB_FOLDER: "x"\n',
    );
    const initImport = await importVptConfig(init);
    expect(initImport.config).toEqual({ promptInit: 'cls-nolastl', clsEmbeddings: 'cub.npy' });
    expect(initImport.unsupported).toEqual([]);
    const add = join(tmp.dir, 'vpt-add.yaml');
    await writeFile(add, 'MODEL:\n  PROMPT:\n    LOCATION: "add-1"\n');
    expect(await importVptConfig(add)).toEqual({ config: { promptLocation: 'add-1' }, unsupported: [] });
    for (const location of [
      'prepend-pixel',
      'prepend-pixel-gaussian',
      'prepend-pixel-imgnettransform',
      'pad',
      'below',
    ]) {
      const pixel = join(tmp.dir, `vpt-${location}.yaml`);
      await writeFile(pixel, `MODEL:\n  PROMPT:\n    LOCATION: "${location}"\n`);
      expect(await importVptConfig(pixel)).toEqual({ config: { promptLocation: location }, unsupported: [] });
    }
    const unknown = join(tmp.dir, 'vpt-unknown-location.yaml');
    await writeFile(unknown, 'MODEL:\n  PROMPT:\n    LOCATION: "above"\n');
    expect(await importVptConfig(unknown)).toEqual({ config: {}, unsupported: ['MODEL.PROMPT.LOCATION'] });
    const none = join(tmp.dir, 'vpt-none.yaml');
    await writeFile(none, 'MODEL:\n  PROMPT:\n    NUM_DEEP_LAYERS: None\n    DEEP_SHARED: True\n');
    expect((await importVptConfig(none)).config).toEqual({ deepShared: true });
    const bad = join(tmp.dir, 'vpt-bad-pool.yaml');
    await writeFile(bad, 'MODEL:\n  PROMPT:\n    VIT_POOL_TYPE: "max_pool"\n');
    await expect(importVptConfig(bad)).rejects.toThrow(/VIT_POOL_TYPE "max_pool" is not supported/);
  });

  it('warmupEpochs must leave epochs for the cosine decay', () => {
    expect(() => resolveTrainConfig({ ...required, epochs: 2 })).toThrow(
      'train config: option "warmupEpochs": 10 warmup epochs leave none of the 2 epochs for the cosine decay; set warmupEpochs below epochs (e.g. --warmup-epochs 0)',
    );
    expect(() => resolveTrainConfig({ ...required, epochs: 10 })).toThrow(
      /"warmupEpochs": 10 warmup epochs leave none of the 10 epochs/,
    );
    expect(() => resolveTrainConfig({ ...required, epochs: 1, warmupEpochs: 1 })).toThrow(/"warmupEpochs"/);
    expect(resolveTrainConfig({ ...required, epochs: 11 }).warmupEpochs).toBe(10);
    expect(resolveTrainConfig({ ...required, epochs: 1, warmupEpochs: 0 }).epochs).toBe(1);
    // A field that is wrong on its own is reported as such, not as a warmup problem.
    expect(() => resolveTrainConfig({ ...required, epochs: 0 })).toThrow(/^train config: option "epochs": [^;]*$/);
    expect(() => resolveTrainConfig({ ...required, epochs: Number.NaN })).toThrow(
      /^train config: option "epochs": [^;]*$/,
    );
  });
});

describe('learning-rate schedule', () => {
  const s = { baseLr: 1, unit: 'step' as const, warmupEpochs: 2, epochs: 10, stepsPerEpoch: 5 };
  it('warms up linearly per step, then follows a half cosine to zero', () => {
    expect(learningRateAt(s, 0)).toBeCloseTo(0.1);
    expect(learningRateAt(s, 9)).toBeCloseTo(1);
    expect(learningRateAt(s, 10)).toBeCloseTo(1);
    expect(learningRateAt(s, 30)).toBeCloseTo(0.5);
    expect(learningRateAt(s, 50)).toBeCloseTo(0);
  });
  it("per epoch reproduces VPT's scheduler (epoch 0 runs at lr 0)", () => {
    const e = { ...s, unit: 'epoch' as const };
    expect(learningRateAt(e, 0)).toBe(0);
    expect(learningRateAt(e, 4)).toBe(0);
    expect(learningRateAt(e, 5)).toBeCloseTo(0.5);
    expect(learningRateAt(e, 10)).toBeCloseTo(1);
    expect(learningRateAt(e, 30)).toBeCloseTo(0.5 * (1 + Math.cos((Math.PI * 4) / 8)));
  });
});
