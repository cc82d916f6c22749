/**
 * curves.png: a run's CurvesRenderer adds each epoch to one chart and draws, pixel for pixel, what
 * a chart made from the whole history draws (the SVG may list axis ticks in another order);
 * another history starts over. sharp runs with libvips' operation
 * cache off (it held the growing chart's renders: bench/soak-train.mjs).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import type { EpochMetrics } from '../../lib/index.js';
import { CurvesRenderer, renderCurvesSvg } from '../../lib/train/curves.js';
import { tempDir } from '../helpers/common.js';

const epoch = (e: number, withTest: boolean): EpochMetrics =>
  ({
    epoch: e,
    step: 4 * (e + 1),
    lr: 0.1,
    train: { loss: 2 - 0.13 * e, top1: 0.05 * e },
    val: { loss: 2.2 - 0.11 * e, top1: 0.04 * e },
    ...(withTest ? { test: { loss: 2.3 - 0.1 * e, top1: 0.03 * e } } : {}),
  }) as unknown as EpochMetrics;

/** An SVG rasterized (RGB bytes and size). */
async function pixels(svg: string): Promise<{ width: number; height: number; data: Buffer }> {
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

describe('CurvesRenderer', () => {
  it('draws, epoch after epoch, the chart a fresh render of the whole history draws', async () => {
    const renderer = new CurvesRenderer();
    const history: EpochMetrics[] = [];
    for (let e = 0; e < 12; e++) {
      history.push(epoch(e, e % 3 === 0));
      const got = await pixels(await renderer.svg(history));
      const want = await pixels(await renderCurvesSvg(history));
      expect([got.width, got.height], `epoch ${e}`).toEqual([want.width, want.height]);
      expect(got.data.equals(want.data), `epoch ${e}`).toBe(true);
    }
    // Another history (a resumed run's, read back) is drawn from scratch.
    const other = history.slice(0, 5).map((m) => ({ ...m, train: { ...m.train, loss: 1 } }));
    expect(
      (await pixels(await renderer.svg(other))).data.equals((await pixels(await renderCurvesSvg(other))).data),
    ).toBe(true);
    renderer.close();
  });

  it("writes a PNG, with sharp's operation cache off", async () => {
    const tmp = await tempDir();
    try {
      const path = join(tmp.dir, 'curves.png');
      await new CurvesRenderer().draw(path, [epoch(0, true), epoch(1, false)]);
      const { format, width, height } = await sharp(await readFile(path)).metadata();
      expect({ format, wide: width! > height! }).toEqual({ format: 'png', wide: true });
      expect(sharp.cache()).toMatchObject({ items: { max: 0 }, memory: { max: 0 }, files: { max: 0 } });
    } finally {
      await tmp.cleanup();
    }
  });
});
