/**
 * Shows a tune's progress: on a TTY a bar over the search's planned config-steps with the trials running,
 * finished, pruned and failed and the best so far; otherwise a line per trial that stops. The
 * final runs report as `train` does. JSON lines with --json, nothing with --quiet.
 */
import cliProgress from 'cli-progress';

import { describeDecision } from '../tune/stacked-step.js';
import { selectionScore, type TrialRecord } from '../tune/trial-record.js';
import type { TuneProgressEvent } from '../tune/tune-progress.js';
import { createReporter, type ReportMode } from './progress-reporter.js';

const pct = (x: number | undefined | null) =>
  x === undefined || x === null || !Number.isFinite(x) ? '-' : `${(x * 100).toFixed(1)}%`;

function halvingText(rungs: number[], schedule: 'restart' | undefined): string {
  if (!rungs.length) return '';
  return schedule === 'restart'
    ? `, halving over complete runs of ${rungs.join(', ')} epochs`
    : `, halving at epochs ${rungs.join(', ')}`;
}

export function createTuneReporter(
  mode: ReportMode,
  select: 'last' | 'best',
  stream: NodeJS.WriteStream = process.stderr,
): (e: TuneProgressEvent) => void {
  if (mode === 'quiet') return () => undefined;
  if (mode === 'json') return (e) => e.type !== 'trial-step' && process.stdout.write(`${JSON.stringify(e)}\n`);
  const tty = stream.isTTY === true;
  const finalReport = createReporter(mode, stream);
  const counts = { finished: 0, pruned: 0, failed: 0 };
  let best: TrialRecord | undefined;
  let bar: cliProgress.SingleBar | undefined;
  const payload = () => ({
    ...counts,
    best: best ? `${best.id} ${pct(best.epochs.at(-1)?.val?.top1)}` : '-',
  });
  return (e) => {
    switch (e.type) {
      case 'search':
        stream.write(
          `tuning ${e.trials} configs x ${e.epochs} epochs, ${e.groupSize} at a time${halvingText(e.rungs, e.rungSchedule)} -> ${e.out}\n`,
        );
        if (tty) {
          bar = new cliProgress.SingleBar(
            {
              format:
                'search |{bar}| {value}/{total} config-steps | finished {finished} pruned {pruned} failed {failed} | best {best} | ETA {eta_formatted}',
              stream,
              hideCursor: true,
              clearOnComplete: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(e.plannedTrialEpochs * e.stepsPerEpoch, e.trialEpochs * e.stepsPerEpoch, payload());
        }
        break;
      case 'stacked-step':
        stream.write(`${describeDecision(e.decision)}\n`);
        break;
      case 'trial-step':
        bar?.increment(1, payload());
        break;
      case 'trial-epoch': {
        const v = e.trial.epochs.at(-1)?.val?.top1 ?? -1;
        if (!best || v > (best.epochs.at(-1)?.val?.top1 ?? -1)) best = e.trial;
        bar?.update(payload());
        break;
      }
      case 'trial-status': {
        const s = e.trial.status;
        if (s === 'finished' || s === 'pruned' || s === 'failed') counts[s]++;
        bar?.update(payload());
        if (!tty) {
          const why =
            s === 'pruned'
              ? e.trial.budget === undefined
                ? ` at epoch ${e.trial.prunedAt}`
                : ` after its ${e.trial.budget}-epoch run`
              : s === 'promoted'
                ? ` to the ${e.trial.promotedTo}-epoch run`
                : s === 'failed'
                  ? `: ${e.trial.error}`
                  : '';
          stream.write(`trial ${e.trial.id} ${s}${why}, val top-1 ${pct(selectionScore(e.trial, select))}\n`);
        }
        break;
      }
      case 'chosen':
        bar?.stop();
        bar = undefined;
        stream.write(`chosen on val: ${e.trial.id} (val top-1 ${pct(e.valTop1)})\n`);
        break;
      case 'final':
        if (e.event.type === 'start') stream.write(`final run, seed ${e.seed}:\n`);
        finalReport(e.event);
        break;
      case 'done':
        stream.write(
          `done in ${e.summary.seconds.toFixed(1)} s: ${e.summary.chosen.id}, val top-1 ${pct(e.summary.valTop1)}, ` +
            `test top-1 ${pct(e.summary.testTop1Mean)} +- ${pct(e.summary.testTop1Std)} over ${e.summary.seeds.length} seeds; ` +
            `${e.summary.trialEpochs} of ${e.summary.gridEpochs} config-epochs trained\n`,
        );
        break;
    }
  };
}
