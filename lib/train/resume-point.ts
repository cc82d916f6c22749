/**
 * Resuming a run: the settings a training-state file was trained with, and where its loop
 * stood. A resumed run continues the saved one exactly, so the settings that shape its
 * trajectory are taken from the file where the caller leaves them unset, and refused where
 * the caller sets them to something else.
 */
import type { ResolvedTrainConfig, TrainConfig } from '../config/train-config.js';
import { ErrorCode, VptError } from '../errors.js';
import { readSafetensorsHeader } from '../weights/safetensors.js';

/** Settings that shape what a run computes: a resumed run keeps the saved ones. */
export const RUN_SETTINGS = [
  'epochs',
  'warmupEpochs',
  'batchSize',
  'baseLr',
  'optimizer',
  'momentum',
  'weightDecay',
  'clipGradNorm',
  'scheduleUnit',
  'transfer',
  'promptTokens',
  'deep',
  'promptDropout',
  'promptProject',
  'deepLayers',
  'reverseDeep',
  'deepShared',
  'deepNoExpand',
  'promptPool',
  'promptInit',
  'promptLocation',
  'mlpLayers',
  'adapterReduction',
  'headDropout',
  'classWeights',
  'cropSize',
  'normalize',
  'headBias',
  'selfSupervised',
  'augment',
  'seed',
] as const satisfies ReadonlyArray<keyof ResolvedTrainConfig>;

/** Train statistics of an epoch interrupted part-way. */
export interface PartialEpoch {
  lossSum: number;
  correct: number;
  images: number;
  skipped: number;
  seconds: number;
}

/**
 * Where the loop stands, saved with the training state (`saveState`'s `run` record). A type,
 * not an interface, so that it is a `Record<string, unknown>` as `saveState` takes one.
 */
export type RunPosition = {
  /** Optimizer steps run (skipped non-finite steps included). */
  step: number;
  /** 0-based epoch the loop is in, and the batches of it already consumed. */
  epoch?: number;
  batch?: number;
  partial?: PartialEpoch;
  /** Data-parallel: every rank's dropout-generator state (base64), by rank. */
  rankRng?: string[];
  /** The resolved config, so every checkpoint says how it was made. */
  config?: ResolvedTrainConfig;
};

/** Run settings added after states were first saved, at the value those states ran with. */
const SETTINGS_ADDED_LATER: Partial<ResolvedTrainConfig> = {
  reverseDeep: false,
  deepShared: false,
  deepNoExpand: false,
  promptPool: 'original',
  promptInit: 'random',
  promptLocation: 'prepend',
  normalize: 'timm',
  headBias: 0,
  adapterReduction: 8,
  headDropout: 0.1,
};

/** The position recorded in a training-state file (the run loop's `run` record), if any. */
async function savedPosition(path: string): Promise<RunPosition | undefined> {
  const { metadata } = await readSafetensorsHeader(path);
  try {
    const train = JSON.parse(metadata.train ?? 'null') as { run?: RunPosition } | null;
    return train?.run && typeof train.run === 'object' ? train.run : undefined;
  } catch {
    return undefined; // not a training-state file: loadState says so
  }
}

/** The config a training-state file was trained with (undefined when it records none). */
export async function savedRunConfig(path: string): Promise<ResolvedTrainConfig | undefined> {
  const config = (await savedPosition(path))?.config;
  return config && typeof config === 'object' ? { ...SETTINGS_ADDED_LATER, ...config } : undefined;
}

/** `config` with the run-defining settings it leaves unset taken from the saved run. */
export function withSavedSettings(config: TrainConfig, saved: ResolvedTrainConfig): TrainConfig {
  const filled: Record<string, unknown> = { ...config };
  for (const key of RUN_SETTINGS) {
    if (filled[key] === undefined && saved[key] !== undefined) filled[key] = saved[key];
  }
  return filled as TrainConfig;
}

/** Refuses a resume whose run-defining settings differ from the saved run's, naming each. */
export function checkSameRun(c: ResolvedTrainConfig, saved: ResolvedTrainConfig, path: string): void {
  const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
  const differ = RUN_SETTINGS.filter((k) => show(c[k]) !== show(saved[k])).map(
    (k) => `${k}: ${show(saved[k])} in the saved run, ${show(c[k])} now`,
  );
  if (differ.length) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "resume": ${path} continues a run trained with other settings, and a resume goes on exactly where that run stopped:\n  ${differ.join('\n  ')}\n` +
        'Leave these unset (they are taken from the saved run), or start a new run in another folder to change them.',
    );
  }
}

/** Where a resumed loop starts: epoch, batches of it to pass over, steps run. */
export interface ResumePoint {
  epoch: number;
  batch: number;
  step: number;
  partial?: PartialEpoch;
  rankRng?: string[];
}

/**
 * The loop position in a loaded state. Files without an explicit epoch (older ones, or
 * `saveState` without a run record) count it from the steps, which holds when no batch was
 * ever left out.
 */
export function resumePoint(
  position: RunPosition | undefined,
  steps: number,
  stepsPerEpoch: number,
  epochs: number,
  path: string,
  unfinished = false,
): ResumePoint {
  const step = typeof position?.step === 'number' ? position.step : steps;
  const explicit = Number.isInteger(position?.epoch) && Number.isInteger(position?.batch);
  const epoch = explicit ? position!.epoch! : Math.floor(step / stepsPerEpoch);
  const batch = explicit ? position!.batch! : step - epoch * stepsPerEpoch;
  // A run stopped after its last state but before its summary (killed): nothing to train, the rest to write.
  if (epoch >= epochs && !unfinished) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "resume": ${path} is the state after the last of the run's ${epochs} epochs; nothing is left to train`,
    );
  }
  return {
    epoch,
    batch,
    step,
    ...(position?.partial ? { partial: position.partial } : {}),
    ...(position?.rankRng ? { rankRng: position.rankRng } : {}),
  };
}
