/**
 * Finds the weights file and timm's `config.json` for a `weights` option: a `.safetensors` or
 * Google `.npz` file (config.json beside it, if any) or a folder holding `model.safetensors` +
 * `config.json`, or a Hugging Face hub id (`org/name`) that is not a local path and does not
 * look like one (hub.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';

import { ErrorCode, VptError } from '../errors.js';
import type { TimmConfig } from './architecture.js';
import { type HubOptions, looksLikeHubId, resolveHubWeights } from './hub.js';
import { rejectTransformersConfig } from './transformers-checkpoint.js';

export interface ResolvedWeights {
  weightsPath: string;
  configPath?: string;
  config?: TimmConfig;
}

async function kind(path: string): Promise<'file' | 'dir' | 'none'> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'none';
  } catch {
    return 'none';
  }
}

/**
 * A hub id's local folder; a failed lookup also says that no local path of that name exists,
 * in case a path was meant.
 */
async function hubFolder(id: string, hub: HubOptions): Promise<string> {
  try {
    return await resolveHubWeights(id, hub);
  } catch (error) {
    if (!(error instanceof VptError) || error.code !== ErrorCode.Io) throw error;
    throw new VptError(
      ErrorCode.Io,
      `${error.message} (read as a Hugging Face hub id: no local file or folder ${resolve(id)} exists either)`,
      { cause: error },
    );
  }
}

/**
 * Resolves `weights` to a file and, when present, reads the timm `config.json` beside it.
 * @throws VptError (VPT_IO) `weights not found: <absolute path>` for a missing local path
 * @example
 * ```ts
 * const { weightsPath, config } = await resolveWeights('models/vit_base_patch16_224');
 * ```
 */
export async function resolveWeights(weights: string, hub: HubOptions = {}): Promise<ResolvedWeights> {
  const target = looksLikeHubId(weights) ? await hubFolder(weights, hub) : resolve(weights);
  let weightsPath: string;
  const k = await kind(target);
  if (k === 'none') throw new VptError(ErrorCode.Io, `weights not found: ${target}`);
  if (k === 'dir') {
    weightsPath = join(target, 'model.safetensors');
    if ((await kind(weightsPath)) !== 'file') {
      throw new VptError(ErrorCode.Io, `weights folder ${target} holds no model.safetensors`);
    }
  } else {
    weightsPath = target;
  }
  const ext = extname(weightsPath).toLowerCase();
  if (ext !== '.safetensors' && ext !== '.npz') {
    throw new VptError(
      ErrorCode.Weights,
      `${basename(weightsPath)}: unsupported weights format "${ext || '(no extension)'}" (expected .safetensors or .npz)`,
    );
  }
  const configPath = join(dirname(weightsPath), 'config.json');
  if ((await kind(configPath)) !== 'file') return { weightsPath };
  let config: unknown;
  try {
    config = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (error) {
    throw new VptError(ErrorCode.Arch, `${configPath} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new VptError(ErrorCode.Arch, `${configPath} is not a JSON object`);
  }
  rejectTransformersConfig(config as Record<string, unknown>, configPath);
  return { weightsPath, configPath, config: config as TimmConfig };
}
