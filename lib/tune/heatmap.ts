/** heatmap.png: val top-1 over lr x wd (one panel per prompt setting searched), vega-lite -> SVG -> PNG. */

import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../util/atomic-write.js';
import sharp from '../util/uncached-sharp.js';
import type { LeaderboardRow } from './leaderboard.js';

interface Cell {
  lr: string;
  wd: string;
  panel: string;
  /** Val top-1 in %, absent for a failed trial. */
  value?: number;
  label: string;
  /** The cell's colour is in viridis' dark lower half: its label is drawn in white. */
  dark: boolean;
}

function cellsOf(rows: LeaderboardRow[]): Cell[] {
  const values = rows.map((r) => r.valTop1).filter((v): v is number => v !== null);
  const lo = Math.min(...values),
    hi = Math.max(...values);
  return rows.map((r) => ({
    dark: r.valTop1 !== null && (hi === lo || (r.valTop1 - lo) / (hi - lo) < 0.5),
    lr: String(r.baseLr),
    wd: String(r.weightDecay),
    panel: `${r.promptTokens} prompts, ${r.deep ? 'deep' : 'shallow'}`,
    ...(r.valTop1 === null ? {} : { value: r.valTop1 * 100 }),
    label:
      r.status === 'failed'
        ? 'failed'
        : `${r.valTop1 === null ? '-' : (r.valTop1 * 100).toFixed(1)}${r.status === 'pruned' ? ` (e${r.epochs})` : ''}`,
  }));
}

/** The heatmap as SVG; lrs and wds in the order given (the grid's). */
export async function renderHeatmapSvg(rows: LeaderboardRow[], lrs: number[], wds: number[]): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    title: 'val top-1 (%) by base lr x weight decay; (eN): pruned after N epochs',
    data: { values: cellsOf(rows) },
    facet: { field: 'panel', type: 'nominal', title: null },
    spec: {
      width: 72 * wds.length,
      height: 26 * lrs.length,
      encoding: {
        x: { field: 'wd', type: 'ordinal', title: 'weight decay', sort: wds.map(String) },
        y: { field: 'lr', type: 'ordinal', title: 'base lr', sort: lrs.map(String) },
      },
      layer: [
        {
          mark: 'rect',
          encoding: {
            color: { field: 'value', type: 'quantitative', title: 'val top-1 %', scale: { scheme: 'viridis' } },
          },
        },
        {
          mark: { type: 'text', fontSize: 10 },
          encoding: {
            text: { field: 'label', type: 'nominal' },
            color: { condition: { test: 'datum.dark', value: 'white' }, value: 'black' },
          },
        },
      ],
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export async function drawHeatmap(path: string, rows: LeaderboardRow[], lrs: number[], wds: number[]): Promise<void> {
  const png = await sharp(Buffer.from(await renderHeatmapSvg(rows, lrs, wds)))
    .png()
    .toBuffer();
  await writeFileAtomic(path, [png]);
}
