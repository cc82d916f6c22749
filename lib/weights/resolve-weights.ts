/**
 * Finds the weights file and timm's `config.json` for a `weights` option: a `.safetensors` or
 * Google `.npz` file (config.json beside it, if any) or a folder holding `model.safetensors` +
 * `config.json`.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';

import { ErrorCode, VptError } from '../errors.js';
import type { TimmConfig } from './architecture.js';
import { type HubOptions, looksLikeHubId, resolveHubWeights } from './hub.js';

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

/** Resolves `weights` to a file and, when present, reads the timm `config.json` beside it. */
export async function resolveWeights(weights: string, hub: HubOptions = {}): Promise<ResolvedWeights> {
  const target = looksLikeHubId(weights) ? await resolveHubWeights(weights, hub) : resolve(weights);
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
    throw new VptError(ErrorCode.Weights, `${basename(weightsPath)}: unsupported weights format "${ext || '(no extension)'}" (expected .safetensors or .npz)`);
  }
  const configPath = join(dirname(weightsPath), 'config.json');
  if ((await kind(configPath)) !== 'file') return { weightsPath };
  let config: unknown;
  try {
    config = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (error) {
    throw new VptError(ErrorCode.Arch, `${configPath} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new VptError(ErrorCode.Arch, `${configPath} is not a JSON object`);
  }
  return { weightsPath, configPath, config: config as TimmConfig };
}
