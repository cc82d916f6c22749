/** Loss and accuracy curves of a run: a vega-lite chart rendered to SVG, then PNG by sharp. */

import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../util/atomic-write.js';
import sharp from '../util/uncached-sharp.js';
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

function panel(title: string, data: string, yTitle: string) {
  return {
    title,
    width: 320,
    height: 220,
    data: { name: data },
    mark: { type: 'line' as const, point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: { tickMinStep: 1 } },
      y: { field: 'value', type: 'quantitative' as const, title: yTitle },
      color: { field: 'series', type: 'nominal' as const, title: null },
    },
  };
}

/** The chart, its two panels reading the named data sets `loss` and `accuracy`. */
function newView(): vega.View {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    hconcat: [panel('Loss', 'loss', 'cross-entropy'), panel('Accuracy', 'accuracy', 'top-1')],
    resolve: { scale: { color: 'independent' } },
  };
  return new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
}

/**
 * A run's curves, drawn after every epoch. One vega View lives for the run and each epoch adds
 * its own points to it: a View compiled, parsed and run from the whole history every epoch made
 * garbage that grew with the history, and a long run's memory crept up with it (bench/soak-train.mjs).
 */
export class CurvesRenderer {
  #view: vega.View | undefined;
  /** The epochs the view holds, in order. */
  #drawn: EpochMetrics[] = [];

  /** The curves of `history` as SVG: the epochs after those drawn last time are added (another history starts over). */
  async svg(history: EpochMetrics[]): Promise<string> {
    const continues = this.#drawn.length <= history.length && this.#drawn.every((m, i) => history[i] === m);
    if (!this.#view || !continues) {
      this.#view?.finalize();
      this.#view = newView();
      this.#drawn = [];
    }
    const { loss, accuracy } = points(history.slice(this.#drawn.length));
    // resize: the layout (axis label widths) is fitted again, as a fresh view's is.
    this.#view.insert('loss', loss).insert('accuracy', accuracy).resize();
    this.#drawn = [...history];
    return await this.#view.toSVG();
  }

  /** Writes `curves.png` (atomically). */
  async draw(path: string, history: EpochMetrics[]): Promise<void> {
    const png = await sharp(Buffer.from(await this.svg(history)))
      .png()
      .toBuffer();
    await writeFileAtomic(path, [png]);
  }

  /** Lets the view go. */
  close(): void {
    this.#view?.finalize();
    this.#view = undefined;
    this.#drawn = [];
  }
}

/** Renders the curves of `history` to an SVG string. */
export async function renderCurvesSvg(history: EpochMetrics[]): Promise<string> {
  const renderer = new CurvesRenderer();
  try {
    return await renderer.svg(history);
  } finally {
    renderer.close();
  }
}

/** Writes `curves.png` (atomically). */
export async function drawCurves(path: string, history: EpochMetrics[]): Promise<void> {
  const renderer = new CurvesRenderer();
  try {
    await renderer.draw(path, history);
  } finally {
    renderer.close();
  }
}
