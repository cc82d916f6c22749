/**
 * Config sources of the CLI, later overriding earlier:
 * defaults < --vpt-config (the original VPT yacs YAML) < --config (YAML/JSON) < flags.
 */
import { readConfigFile } from './config-file.js';
import type { TrainConfig } from './train-config.js';
import { importVptConfig } from './vpt-yacs.js';

/** Flags that steer the command rather than the run. */
const RUNNER_FLAGS = new Set(['config', 'vptConfig', 'quiet', 'json', 'nproc', 'force']);

/** Merges the config sources in precedence order. */
export async function resolveCliConfig(
  flags: Record<string, unknown>,
): Promise<{ config: TrainConfig; notes: string[]; numberClasses?: number }> {
  const notes: string[] = [];
  let numberClasses: number | undefined;
  let merged: Record<string, unknown> = {};
  if (typeof flags.vptConfig === 'string') {
    const imported = await importVptConfig(flags.vptConfig);
    merged = { ...imported.config };
    numberClasses = imported.numberClasses;
    if (imported.unsupported.length)
      notes.push(`${flags.vptConfig}: not honored by vpt-native: ${imported.unsupported.join(', ')}`);
  }
  if (typeof flags.config === 'string') merged = { ...merged, ...(await readConfigFile(flags.config)) };
  for (const [key, value] of Object.entries(flags)) {
    if (!RUNNER_FLAGS.has(key) && value !== undefined) merged[key] = value;
  }
  return { config: merged as TrainConfig, notes, ...(numberClasses ? { numberClasses } : {}) };
}
