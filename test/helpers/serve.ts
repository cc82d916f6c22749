/** What the serve tests share: tasks on the tiny fixture ViT, test images, a server, Prometheus text checks. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import sharp from 'sharp';

import { type ServeHandle, type ServeOptions, serve } from '../../lib/index.js';
import { TINY_VIT } from './common.js';
import { writeJpeg } from './data.js';
import { writeTaskStates } from './tasks.js';

/** Task files of MIXED_TASKS in `dir`, a 50 x 40 JPEG (`bird.jpg`), and their models closed. */
export async function serveFixture(dir: string): Promise<{ tasks: Record<string, string>; jpeg: Buffer }> {
  const states = await writeTaskStates(TINY_VIT, dir);
  for (const s of states) s.model.dispose();
  const image = join(dir, 'bird.jpg');
  await writeJpeg(image, 50, 40, 3);
  return { tasks: Object.fromEntries(states.map((s) => [s.spec.name, s.path])), jpeg: await readFile(image) };
}

/** `serve()` on the tiny ViT at a free loopback port. */
export function startServer(tasks: Record<string, string>, extra: Partial<ServeOptions> = {}): Promise<ServeHandle> {
  return serve({ weights: TINY_VIT, tasks, device: 'cpu', port: 0, ...extra });
}

/** A PNG of `width` x `height` of one colour: tiny on disk, huge decoded (a decompression bomb). */
export async function bombPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 10, g: 20, b: 30 } } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/**
 * Parses Prometheus text exposition format (0.0.4), failing on any line that is not a comment,
 * a blank line or a sample `name{label="value",...} number`.
 * @returns the samples, keyed by `name{labels}` as written
 */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const label = String.raw`[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"`;
  const sample = new RegExp(
    String.raw`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:${label}(?:,${label})*)?,?\})?) (-?(?:[0-9.e+-]+|Inf|NaN|\+Inf))(?: -?[0-9]+)?$`,
  );
  for (const line of text.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const m = sample.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    samples.set(m[1]!, Number(m[2]!.replace('+Inf', 'Infinity').replace('Inf', 'Infinity')));
  }
  return samples;
}
