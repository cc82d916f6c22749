#!/usr/bin/env node
// The GPU checks that belong to one feature each (serve, tune's grouped step, prompt scaling),
// one module per feature in this folder. scripts/gpu-check.mjs runs them on CUDA after its own
// checks and before torch.compile; here they can also run on the CPU, small, to test them
// before a GPU is lent:
//   npm run build:ts && node scripts/gpu-check/run-sections.mjs --device cpu [name ...]
// (report: $OUT/gpu-check-sections.json, default ./gpu-check-out). On the GPU,
// VPT_GPU_SECTIONS=name,name picks which run (default: all).
//
// A section module exports `title` (one line) and `run(ctx)`, where ctx is
//   { device: 'cuda' | 'cpu', quick: boolean (true off the GPU: smaller sizes, fewer steps),
//     check(name, ok, detail), record(key, value) (sets report[key] and saves),
//     tmp (a scratch folder), root (the repository) }.
// `run` throws only for what it cannot measure at all; a failed expectation is a check.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The section modules, in the order they run (cheapest first). */
export const SECTIONS = ['grouped-step', 'prompt-scaling', 'serve'];

/**
 * Runs the named sections (all by default) one after another. A section that throws fails as one
 * check named for it; the others still run. `save` is called after each.
 */
export async function runSections({ device, quick, check, report, save, tmp, root, names = SECTIONS }) {
  for (const name of names) {
    if (!SECTIONS.includes(name)) throw new Error(`gpu-check: no section '${name}' (have: ${SECTIONS.join(', ')})`);
  }
  for (const name of names) {
    const started = performance.now();
    try {
      const mod = await import(`./${name}.mjs`);
      console.log(`gpu-check section: ${name}: ${mod.title}`);
      const record = async (key, value) => {
        report[key] = value;
        await save();
      };
      await mod.run({ device, quick, check, record, tmp, root });
    } catch (error) {
      check(`section ${name}`, false, { error: String(error?.stack ?? error).slice(0, 2000) });
    }
    console.log(`gpu-check section: ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await save();
  }
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--device');
  const device = at >= 0 ? args[at + 1] : 'cpu';
  const names = args.filter((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1));
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const out = process.env.OUT ?? join(root, 'gpu-check-out');
  await mkdir(out, { recursive: true });
  const report = { device, checks: [] };
  const check = (name, ok, detail) => {
    report.checks.push({ name, ok, ...detail });
    console.log(`${ok ? 'PASS' : 'FAIL'} ${name} ${JSON.stringify(detail)}`);
  };
  const save = () => writeFile(join(out, 'gpu-check-sections.json'), `${JSON.stringify(report, null, 2)}\n`);
  const tmp = await mkdtemp(join(tmpdir(), 'vpt-gpu-sections-'));
  await runSections({
    device,
    quick: device !== 'cuda',
    check,
    report,
    save,
    tmp,
    root,
    names: names.length ? names : SECTIONS,
  });
  process.exit(report.checks.every((c) => c.ok) ? 0 : 1);
}
