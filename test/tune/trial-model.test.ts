/** A tune trial's model is the one `train()` builds for the same config, prompt variants included. */
import { describe, expect, it } from 'vitest';

import { resolveTrainConfig } from '../../lib/config/train-config.js';
import type { Dataset } from '../../lib/data/dataset.js';
import { createTrialModel } from '../../lib/tune/trial-model.js';
import { TINY_VIT } from '../helpers/common.js';

const dataset = { numClasses: 3, classNames: ['a', 'b', 'c'], splits: { train: [] } } as unknown as Dataset;

describe('createTrialModel', () => {
  it('honours the deep variants and the normalization of the config', async () => {
    const config = resolveTrainConfig({
      data: 'unused',
      weights: TINY_VIT,
      out: 'unused',
      deep: true,
      promptTokens: 2,
      deepLayers: 1,
      reverseDeep: true,
      normalize: 'vpt',
    });
    const model = await createTrialModel(config, dataset, 'cpu', 'fp32');
    try {
      // Prompts in the last of the 3 blocks only: the 2 below are a frozen, prompt-free stem.
      expect(model.info().stemBlocks).toBe(2);
      expect(model.info().mean).toEqual([0.485, 0.456, 0.406]);
    } finally {
      model.dispose();
    }
  });
});
