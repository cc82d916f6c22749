/** best-config.yaml: the chosen trial's train config, which `train --config` takes (give it an --out). */
import { stringify } from 'yaml';

import type { ResolvedTrainConfig } from '../config/train-config.js';

export function bestConfigYaml(config: ResolvedTrainConfig, id: string, valTop1: number): string {
  const { out: _out, resume: _resume, ...settings } = config;
  const defined = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
  return `# vpt-native tune: trial ${id}, val top-1 ${(valTop1 * 100).toFixed(2)}%\n# vpt-native train --config best-config.yaml --out <run folder>\n${stringify(defined)}`;
}
