/**
 * `--vpt-config` MODEL.TYPE ssl-vit: honored with an MAE / MoCo v3 DATA.FEATURE, which sets
 * `selfSupervised`; listed as not honored otherwise.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { addTrainFlags, commandLineFlags } from '../../lib/cli/train-command.js';
import { resolveTrainConfig } from '../../lib/config/train-config.js';
import { importVptConfig } from '../../lib/config/vpt-yacs.js';
import { tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

async function load(type: string, feature: string) {
  const file = join(tmp.dir, `${type}-${feature}.yaml`);
  await writeFile(file, ['MODEL:', `  TYPE: "${type}"`, 'DATA:', `  FEATURE: "${feature}"`].join('\n'));
  return importVptConfig(file);
}

describe('--vpt-config MODEL.TYPE ssl-vit', () => {
  it('MAE and MoCo v3 features set selfSupervised, both keys honored', async () => {
    for (const [feature, ssl] of [
      ['mae_vitb16', 'mae'],
      ['mae_vitl16', 'mae'],
      ['mocov3_vitb', 'moco-v3'],
      ['mocov3_vitb16', 'moco-v3'],
    ] as const) {
      const r = await load('ssl-vit', feature);
      expect(r.config.selfSupervised, feature).toBe(ssl);
      expect(r.unsupported, feature).toEqual([]);
    }
  });

  it('other combinations are not honored', async () => {
    const other = await load('ssl-vit', 'dino_vitb16');
    expect(other.config.selfSupervised).toBeUndefined();
    expect(other.unsupported.sort()).toEqual(['DATA.FEATURE', 'MODEL.TYPE']);
    const supervised = await load('vit', 'mae_vitb16');
    expect(supervised.config.selfSupervised).toBeUndefined();
    expect(supervised.unsupported).toEqual(['DATA.FEATURE']);
  });
});

describe('--self-supervised', () => {
  it('sets the train key, and only to mae or moco-v3', () => {
    const cmd = addTrainFlags(new Command().exitOverride().configureOutput({ writeErr: () => undefined }));
    cmd.parse(['--self-supervised', 'moco-v3'], { from: 'user' });
    expect(commandLineFlags(cmd)).toEqual({ selfSupervised: 'moco-v3' });
    const bad = addTrainFlags(new Command().exitOverride().configureOutput({ writeErr: () => undefined }));
    expect(() => bad.parse(['--self-supervised', 'dino'], { from: 'user' })).toThrow(/mae, moco-v3/);
    expect(() => resolveTrainConfig({ data: 'd', weights: 'w', out: 'o', selfSupervised: 'dino' } as never)).toThrow(
      /selfSupervised/,
    );
  });
});
