/**
 * The page at / in a real headless browser: Debian's chromium driven by playwright-core.
 * .ci/run installs chromium; elsewhere, without it, the test is skipped with a message (in CI,
 * CI=1, a missing chromium fails it).
 */
import { existsSync } from 'node:fs';

import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ServeHandle } from '../../lib/index.js';
import { tempDir } from '../helpers/common.js';
import { serveFixture, startServer } from '../helpers/serve.js';
import { MIXED_TASKS } from '../helpers/tasks.js';

const CHROMIUM = [process.env.VPT_CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => !!p && existsSync(p),
);
if (!CHROMIUM) {
  const message = 'web page test: no chromium (apt-get install chromium, or set VPT_CHROMIUM_PATH=/path/to/chromium)';
  if (process.env.CI) throw new Error(`${message}; CI must run it`);
  console.warn(`skipped: ${message}`);
}

describe.runIf(!!CHROMIUM)('serve: the web page', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fixture: Awaited<ReturnType<typeof serveFixture>>;
  let server: ServeHandle;
  let browser: Browser;

  beforeAll(async () => {
    tmp = await tempDir();
    fixture = await serveFixture(tmp.dir);
    server = await startServer(fixture.tasks);
    browser = await chromium.launch({ executablePath: CHROMIUM!, headless: true, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await tmp.cleanup();
  });

  it('classifies a picked image with the ticked tasks and shows top-k bars per task', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    const boxes = page.locator('#tasks input[type=checkbox]');
    await expect.poll(() => boxes.count()).toBe(MIXED_TASKS.length);
    await page.locator('#tasks input[value="linear-b"]').uncheck();
    await page.setInputFiles('#file', { name: 'bird.jpg', mimeType: 'image/jpeg', buffer: fixture.jpeg });
    await page.locator('#results[aria-busy="false"] section.task').first().waitFor();
    const shown = await page.locator('section.task').evaluateAll((sections) =>
      sections.map((s) => ({
        task: (s as HTMLElement).dataset.task,
        names: [...s.querySelectorAll('.name')].map((n) => n.textContent),
        bars: s.querySelectorAll('.bar').length,
      })),
    );
    const tasks = MIXED_TASKS.map((t) => t.name).filter((t) => t !== 'linear-b');
    const api = await (
      await fetch(`${server.url}/v1/predict?topK=5&tasks=${tasks.join(',')}`, {
        method: 'POST',
        body: fixture.jpeg,
        headers: { 'content-type': 'image/jpeg' },
      })
    ).json();
    expect(shown).toEqual(
      api.predictions.map((p: { task: string; top: Array<{ name: string }> }) => ({
        task: p.task,
        names: p.top.map((t) => t.name),
        bars: p.top.length,
      })),
    );
    expect(errors).toEqual([]);
  });
});
