/**
 * The training-state file: everything needed to resume exactly — trainable tensors, optimizer
 * buffers (`optim.momentum.*`, `optim.exp_avg.*`, `optim.exp_avg_sq.*`), the step counter, the
 * dropout RNG state and the non-finite counters — in one safetensors file, written atomically.
 * `__metadata__.vpt` is the trainable-state metadata; `__metadata__.train` the rest.
 */
import type { NativeOptimizerConfig, NativeTrainingState } from '../binding.js';
import { ErrorCode, VptError } from '../errors.js';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.js';
import { checkTrainableMetadata, type TrainableMetadata } from './trainable-state.js';

export const TRAINING_FORMAT = 'vpt-native.training';

interface TrainingMetadata {
  format: typeof TRAINING_FORMAT;
  version: 1;
  step: number;
  optimizer: NativeOptimizerConfig;
  rng: string; // base64
  nonfiniteTotal: number;
  nonfiniteStreak: number;
  /** Caller's bookkeeping (e.g. the train loop's position), stored verbatim. */
  run?: Record<string, unknown>;
}

export async function writeTrainingState(
  path: string,
  state: NativeTrainingState,
  optimizer: NativeOptimizerConfig,
  model: TrainableMetadata,
  run?: Record<string, unknown>,
): Promise<void> {
  const train: TrainingMetadata = {
    format: TRAINING_FORMAT,
    version: 1,
    step: state.step,
    optimizer,
    rng: Buffer.from(state.rng).toString('base64'),
    nonfiniteTotal: state.nonfiniteTotal,
    nonfiniteStreak: state.nonfiniteStreak,
    ...(run ? { run } : {}),
  };
  await writeSafetensors(path, state.tensors, { vpt: JSON.stringify(model), train: JSON.stringify(train) });
}

export async function readTrainingState(
  path: string,
  model: TrainableMetadata,
): Promise<{ state: NativeTrainingState; optimizer: NativeOptimizerConfig; run?: Record<string, unknown> }> {
  const { metadata, tensors } = await readSafetensors(path);
  let train: Partial<TrainingMetadata> | null = null;
  try {
    train = JSON.parse(metadata.train ?? 'null') as Partial<TrainingMetadata> | null;
  } catch {
    train = null;
  }
  if (!train || train.format !== TRAINING_FORMAT || typeof train.rng !== 'string' || !train.optimizer) {
    throw new VptError(
      ErrorCode.Training,
      `${path} is not a vpt-native training-state file (no __metadata__.train); a trainable-state file holds no optimizer state`,
    );
  }
  checkTrainableMetadata(path, metadata, model);
  return {
    state: {
      tensors: [...tensors.values()],
      step: train.step ?? 0,
      rng: new Uint8Array(Buffer.from(train.rng, 'base64')),
      nonfiniteTotal: train.nonfiniteTotal ?? 0,
      nonfiniteStreak: train.nonfiniteStreak ?? 0,
    },
    optimizer: train.optimizer,
    ...(train.run ? { run: train.run } : {}),
  };
}
