/**
 * Shows training progress: a live bar on a TTY (cli-progress), one line per epoch otherwise,
 * JSON lines with --json, nothing but errors with --quiet.
 */
import cliProgress from 'cli-progress';

import type { ProgressEvent } from '../train/train.js';

export type ReportMode = 'auto' | 'quiet' | 'json';

const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '  -  ' : `${(x * 100).toFixed(1)}%`);

export function createReporter(
  mode: ReportMode,
  stream: NodeJS.WriteStream = process.stderr,
): (e: ProgressEvent) => void {
  if (mode === 'quiet') return () => undefined;
  if (mode === 'json') return (e) => process.stdout.write(`${JSON.stringify(e)}\n`);
  const tty = stream.isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  return (e) => {
    switch (e.type) {
      case 'download':
        if (tty) {
          if (!bar) {
            bar = new cliProgress.SingleBar(
              {
                format: 'downloading {file} |{bar}| {percentage}% | {mb} MB',
                stream,
                hideCursor: true,
                clearOnComplete: true,
              },
              cliProgress.Presets.shades_classic,
            );
            bar.start(e.total ?? 1, 0, { file: e.file, mb: '0' });
          }
          bar.update(e.total ? e.received : 0, { file: e.file, mb: (e.received / 2 ** 20).toFixed(1) });
          if (e.total !== null && e.received >= e.total) {
            bar.stop();
            bar = undefined;
          }
        } else if (e.total !== null && e.received >= e.total) {
          stream.write(`downloaded ${e.file} (${(e.received / 2 ** 20).toFixed(1)} MB)\n`);
        }
        break;
      case 'start':
        stream.write(
          `training on ${e.device} (${e.precision}), ${e.trainableParams.toLocaleString()} trainable parameters, ` +
            `${e.stepsPerEpoch} steps/epoch, epochs ${e.startEpoch + 1}..${e.epochs} -> ${e.out}\n`,
        );
        break;
      case 'step':
        if (!tty) break;
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              format:
                'epoch {epoch} |{bar}| {value}/{total} | loss {loss} | lr {lr} | {ips} img/s | ETA {eta_formatted}',
              stream,
              hideCursor: true,
              clearOnComplete: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(e.stepsPerEpoch, 0);
        }
        bar.update(e.stepInEpoch, {
          epoch: e.epoch + 1,
          loss: e.loss.toFixed(4),
          lr: e.lr.toExponential(2),
          ips: e.imagesPerSecond.toFixed(0),
        });
        break;
      case 'notice':
        bar?.stop();
        bar = undefined;
        stream.write(`vpt-native: ${e.message}\n`);
        break;
      case 'evaluate':
        bar?.stop();
        bar = undefined;
        break;
      case 'epoch': {
        bar?.stop();
        bar = undefined;
        const m = e.metrics;
        stream.write(
          `epoch ${m.epoch}: train loss ${m.train.loss.toFixed(4)} top-1 ${pct(m.train.top1)} | ` +
            `val top-1 ${pct(m.val?.top1)} top-5 ${pct(m.val?.top5)} | test top-1 ${pct(m.test?.top1)} | ` +
            `${m.train.imagesPerSecond.toFixed(0)} img/s${e.best ? ' | best' : ''}\n`,
        );
        break;
      }
      case 'done':
        stream.write(
          `done in ${e.result.seconds.toFixed(1)} s: best val top-1 ${pct(e.result.bestValTop1 ?? undefined)} at epoch ${e.result.bestEpoch}` +
            `, test top-1 there ${pct(e.result.testTop1AtBestVal ?? undefined)}\n`,
        );
        break;
    }
  };
}
