/**
 * A backbone checkpoint opened for loading, whatever its format: timm `.safetensors` or Google
 * `.npz`. Everything is validated here; the native side then reads the listed byte ranges.
 */
import { extname } from 'node:path';

import type { NativeTensorEntry } from '../binding.js';
import { ErrorCode, VptError } from '../errors.js';
import { type CheckpointShape, timmCheckpointShape } from './architecture.js';
import { archFromGoogleFileName, googleBackbone } from './google-checkpoint.js';
import { MOCO_V3_VIT_B, type MocoV3Layout, mocoV3Layout } from './moco-v3-layout.js';
import { readNpz } from './npz.js';
import { FLOAT_DTYPES, readSafetensorsHeader } from './safetensors.js';

export interface Checkpoint {
  path: string;
  /** The file the entries' byte ranges refer to. */
  dataPath: string;
  /** The backbone tensors (the checkpoint's classifier left out), timm- or Google-named. */
  entries: NativeTensorEntry[];
  /** What the shapes say about the architecture. */
  shape: CheckpointShape;
  /** The architecture the file name implies (`ViT-B_16.npz`), when it says one. */
  inferredArch?: string;
  /** A MoCo v3 checkpoint (lib/weights/moco-v3-layout.ts), its names already mapped to timm's. */
  mocoV3?: MocoV3Layout;
  /** Releases what opening took (the temporary file of a compressed `.npz`). */
  close(): Promise<void>;
}

/**
 * Opens a `.safetensors` (timm names) or `.npz` (Google names) backbone checkpoint.
 * @example
 * ```ts
 * const checkpoint = await openCheckpoint('ViT-B_16.npz');
 * try { console.log(checkpoint.inferredArch); } finally { await checkpoint.close(); }
 * ```
 */
export async function openCheckpoint(path: string): Promise<Checkpoint> {
  if (extname(path).toLowerCase() === '.npz') {
    const npz = await readNpz(path);
    try {
      const moco = mocoV3Layout(npz.entries, path);
      if (moco) return mocoV3Checkpoint(path, npz.dataPath, moco, npz.close);
      const { entries, shape } = googleBackbone(npz.entries, path, npz.others);
      const inferredArch = archFromGoogleFileName(path, shape);
      return {
        path,
        dataPath: npz.dataPath,
        entries,
        shape,
        ...(inferredArch ? { inferredArch } : {}),
        close: npz.close,
      };
    } catch (error) {
      await npz.close();
      throw error;
    }
  }
  const header = await readSafetensorsHeader(path);
  const moco = mocoV3Layout(header.entries, path);
  if (moco) return mocoV3Checkpoint(path, path, moco, async () => undefined);
  // The checkpoint's classifier is dropped: the task gets its own head.
  const entries = header.entries.filter((e) => !e.name.startsWith('head.'));
  const nonFloat = entries.filter((e) => !FLOAT_DTYPES.has(e.dtype));
  if (nonFloat.length > 0) {
    throw new VptError(
      ErrorCode.Weights,
      `${path}: tensors with non-float dtypes: ${nonFloat.map((e) => `${e.name} (${e.dtype})`).join(', ')}`,
    );
  }
  return { path, dataPath: path, entries, shape: timmCheckpointShape(entries), close: async () => undefined };
}

/**
 * A MoCo v3 checkpoint with its tensors under timm's names; without a config.json or `arch`
 * its shapes imply the ViT-B VPT uses (MoCo v3's vit_base is timm's vit_base_patch16_224).
 */
function mocoV3Checkpoint(path: string, dataPath: string, moco: MocoV3Layout, close: () => Promise<void>): Checkpoint {
  const nonFloat = moco.entries.filter((e) => !FLOAT_DTYPES.has(e.dtype));
  if (nonFloat.length > 0) {
    throw new VptError(
      ErrorCode.Weights,
      `${path}: tensors with non-float dtypes: ${nonFloat.map((e) => `${moco.prefix}${e.name} (${e.dtype})`).join(', ')}`,
    );
  }
  const shape = timmCheckpointShape(moco.entries);
  const vitB = shape.embedDim === 768 && shape.depth === 12 && shape.patchSize === 16;
  return {
    path,
    dataPath,
    entries: moco.entries,
    shape,
    ...(vitB ? { inferredArch: MOCO_V3_VIT_B } : {}),
    mocoV3: moco,
    close,
  };
}
