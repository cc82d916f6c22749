/** A TrialTrainer that trains nothing: each trial's val top-1 per epoch comes from a script. */
import type { EpochMetrics } from '../../lib/train/run-folder.js';
import type { TrialEvents, TrialRun, TrialTrainer } from '../../lib/tune/trial-trainer.js';

export type Script = (id: string, epoch: number) => number | Error;

export function scriptedMetrics(epoch: number, top1: number): EpochMetrics {
  return {
    epoch,
    step: epoch,
    lr: 0,
    train: { loss: 1, top1, imagesPerSecond: 1, skippedSteps: 0 },
    val: { loss: 1 - top1, top1, top5: 1, count: 100 },
    seconds: 0,
  };
}

export class ScriptedTrainer implements TrialTrainer {
  /** Each call: the trial ids, the epoch they started at, and the epoch trained to. */
  readonly calls: Array<{ ids: string[]; from: number; until: number }> = [];
  constructor(
    readonly groupSize: number,
    readonly script: Script,
  ) {}

  async train(runs: TrialRun[], until: number, events: TrialEvents): Promise<void> {
    this.calls.push({ ids: runs.map((r) => r.spec.id), from: runs[0]!.epochsDone, until });
    for (const run of runs) {
      for (let epoch = run.epochsDone + 1; epoch <= until; epoch++) {
        const v = this.script(run.spec.id, epoch);
        if (v instanceof Error) {
          await events.failed(run.spec.id, v.message);
          break;
        }
        await events.epoch(run.spec.id, scriptedMetrics(epoch, v));
      }
    }
  }
}
