/** Loss and accuracy curves of a run: a vega-lite chart rendered to SVG, then PNG by sharp. */
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

import { writeFileAtomic } from '../util/atomic-write.js';
import type { EpochMetrics } from './run-folder.js';

interface Point {
  epoch: number;
  series: string;
  value: number;
}

function points(history: EpochMetrics[]): { loss: Point[]; accuracy: Point[] } {
  const loss: Point[] = [],
    accuracy: Point[] = [];
  for (const m of history) {
    const add = (list: Point[], series: string, value: number | undefined) => {
      if (value !== undefined && Number.isFinite(value)) list.push({ epoch: m.epoch, series, value });
    };
    add(loss, 'train', m.train.loss);
    add(loss, 'val', m.val?.loss);
    add(loss, 'test', m.test?.loss);
    add(accuracy, 'train top-1', m.train.top1);
    add(accuracy, 'val top-1', m.val?.top1);
    add(accuracy, 'test top-1', m.test?.top1);
  }
  return { loss, accuracy };
}

function panel(title: string, values: Point[], yTitle: string) {
  return {
    title,
    width: 320,
    height: 220,
    data: { values },
    mark: { type: 'line' as const, point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: { tickMinStep: 1 } },
      y: { field: 'value', type: 'quantitative' as const, title: yTitle },
      color: { field: 'series', type: 'nominal' as const, title: null },
    },
  };
}

/** Renders the curves of `history` to an SVG string. */
export async function renderCurvesSvg(history: EpochMetrics[]): Promise<string> {
  const { loss, accuracy } = points(history);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    hconcat: [panel('Loss', loss, 'cross-entropy'), panel('Accuracy', accuracy, 'top-1')],
    resolve: { scale: { color: 'independent' } },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Writes `curves.png` (atomically). */
export async function drawCurves(path: string, history: EpochMetrics[]): Promise<void> {
  const png = await sharp(Buffer.from(await renderCurvesSvg(history)))
    .png()
    .toBuffer();
  await writeFileAtomic(path, [png]);
}
