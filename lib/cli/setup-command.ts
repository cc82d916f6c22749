/**
 * `vpt-native setup [--yes] [--cuda] [--check] [--force]`: makes the native addon loadable —
 * finds a LibTorch (or installs one into the user cache with pip, with consent), compiles the
 * addon into the user cache with a progress bar and the elapsed time. `--check` only reports.
 * Also the first-use offer of the commands that need the addon (`offerSetup`).
 */
import { createInterface } from 'node:readline/promises';

import cliProgress from 'cli-progress';
import type { Command } from 'commander';

import { loadAddon, packageRoot } from '../binding.js';
import { ErrorCode, VptError } from '../errors.js';
import { formatElapsed, type SetupProgress } from '../setup/build-addon.js';
import { ensureAddon, nvidiaSmiOutput } from '../setup/ensure-addon.js';
import { chooseWheel } from '../setup/install-libtorch.js';
import { type AddonSearch, locateAddon, SETUP_COMMAND } from '../setup/locate-addon.js';
import { driverCudaVersion } from '../setup/torch-wheel.js';

/** Exit code of a command that needed the addon and found none (the message names `setup`). */
export const ADDON_MISSING_EXIT = 3;

/** The lines `info` (without an addon) and `setup --check` print about the search. */
export function describeSearch(search: AddonSearch, loaded?: { path: string; error?: string }): string[] {
  const lines: string[] = [];
  lines.push('LibTorch candidates (first usable is used; $LIBTORCH / $Torch_DIR win when set):');
  if (search.candidates.length === 0)
    lines.push('  none found ($LIBTORCH, $Torch_DIR, Python torch, .deps/torch-cpu, user cache, system prefixes)');
  for (const c of search.candidates) {
    lines.push(
      `  ${c === search.libtorch ? '*' : '-'} ${c.version} (${c.variant}) ${c.root}  [${c.source}]${c.problem ? `  ${c.problem}` : ''}`,
    );
  }
  lines.push('Addon:');
  if (search.locations.length === 0) lines.push('  none to load');
  for (const [i, l] of search.locations.entries()) lines.push(`  ${i === 0 ? '*' : '-'} ${l.path}  [${l.source}]`);
  if (search.cacheDir) lines.push(`  setup builds into ${search.cacheDir}`);
  if (loaded?.error) lines.push(`  load: ${loaded.error}`);
  if (search.problem) lines.push(`Fix: ${search.problem.fix}`);
  return lines;
}

/** The progress display: a bar on a terminal, a line per 10% (and the last) otherwise. */
function progressDisplay(): { onProgress: (e: SetupProgress) => void; stop: () => void } {
  const tty = Boolean(process.stderr.isTTY);
  let bar: cliProgress.SingleBar | undefined;
  let lastTenth = -1;
  return {
    onProgress(e) {
      if (e.phase === 'compile' && e.total) {
        if (tty) {
          if (!bar) {
            bar = new cliProgress.SingleBar(
              {
                format: 'vpt-native setup: compiling {bar} {value}/{total} steps | {elapsed_s}',
                stream: process.stderr,
                hideCursor: true,
              },
              cliProgress.Presets.shades_classic,
            );
            bar.start(e.total, 0, { elapsed_s: formatElapsed(e.elapsedMs) });
          }
          bar.setTotal(e.total);
          bar.update(e.done ?? 0, { elapsed_s: formatElapsed(e.elapsedMs) });
        } else {
          const tenth = Math.floor(((e.done ?? 0) / e.total) * 10);
          if (tenth !== lastTenth || e.done === e.total) {
            lastTenth = tenth;
            process.stderr.write(
              `vpt-native setup: compiling [${e.done}/${e.total}] ${formatElapsed(e.elapsedMs)}  ${e.message.replace(/^\[[^\]]*\]\s*/, '').slice(0, 100)}\n`,
            );
          }
        }
        return;
      }
      bar?.stop();
      bar = undefined;
      process.stderr.write(`vpt-native setup: ${e.message}\n`);
    },
    stop() {
      bar?.stop();
    },
  };
}

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

const interactive = () => Boolean(process.stdin.isTTY && process.stdout.isTTY);

/** Runs setup with the terminal's progress display and, on a terminal, questions. */
async function runSetup(opts: { yes?: boolean; cuda?: boolean; force?: boolean }): Promise<void> {
  const display = progressDisplay();
  try {
    const result = await ensureAddon({
      ...opts,
      onProgress: display.onProgress,
      ...(interactive() ? { confirm: ask } : {}),
    });
    if (!result.built)
      process.stderr.write(`vpt-native setup: the addon is already there: ${result.path} (--force rebuilds it)\n`);
  } finally {
    display.stop();
  }
}

export function registerSetupCommand(program: Command): void {
  program
    .command('setup')
    .description(
      'make the native addon loadable: find (or install) a LibTorch and compile the addon for it, with progress',
    )
    .option('--check', 'only say what is there and what would be used; change nothing')
    .option('-y, --yes', 'install a LibTorch with pip without asking, when none is found')
    .option(
      '--cuda',
      "install the CUDA LibTorch matching the driver's CUDA version (nvidia-smi) instead of the CPU one",
    )
    .option('--force', 'rebuild even when an addon loads already')
    .addHelpText(
      'after',
      [
        '',
        'The addon is built into $XDG_CACHE_HOME/vpt-native/<version>-<platform>-<arch>-torch<version>-<variant>/',
        '(default ~/.cache); a LibTorch installed by setup goes to $XDG_CACHE_HOME/vpt-native/libtorch/<variant>/.',
        '',
        'Examples:',
        '  $ npx vpt-native setup --check',
        '  $ npx vpt-native setup --yes',
        '  $ npx vpt-native setup --yes --cuda',
      ].join('\n'),
    )
    .action(async (opts: { check?: boolean; yes?: boolean; cuda?: boolean; force?: boolean }) => {
      if (opts.check) {
        const search = locateAddon(packageRoot);
        let loaded: { path: string; error?: string } | undefined;
        if (search.locations.length > 0) {
          try {
            loaded = { path: loadAddon().path };
          } catch (error) {
            loaded = { path: '', error: (error as Error).message.split('\n').slice(0, 2).join(' ') };
          }
        }
        const lines = [
          `vpt-native ${search.version} setup --check (nothing is changed)`,
          ...describeSearch(search, loaded),
        ];
        if (loaded && !loaded.error) lines.push(`Ready: loads ${loaded.path}`);
        else if (search.libtorch && !search.libtorch.problem)
          lines.push(`setup would compile the addon against ${search.libtorch.root} into ${search.cacheDir}`);
        else {
          const smi = opts.cuda ? nvidiaSmiOutput() : '';
          let wheel: string;
          try {
            wheel = chooseWheel(Boolean(opts.cuda)).spec;
          } catch (error) {
            wheel = `(none: ${(error as Error).message})`;
          }
          lines.push(
            `setup would install ${wheel}${opts.cuda ? ` (driver CUDA ${driverCudaVersion(smi) ?? 'unknown'})` : ''} with pip, after asking (--yes), then compile the addon`,
          );
        }
        process.stdout.write(`${lines.join('\n')}\n`);
        return;
      }
      await runSetup(opts);
    });
}

/**
 * Before a command that needs the addon: when it does not load, on a terminal offer to run
 * setup now; otherwise fail with the message naming `setup` (exit code ADDON_MISSING_EXIT).
 */
export async function offerSetup(): Promise<void> {
  try {
    loadAddon();
    return;
  } catch (error) {
    if (!(error instanceof VptError) || error.code !== ErrorCode.Addon) throw error;
    if (!interactive()) throw error;
    process.stderr.write(`${error.message}\n\n`);
    if (!(await ask(`Run \`${SETUP_COMMAND}\` now (compiles the addon, a few minutes)?`))) throw error;
  }
  await runSetup({});
  process.stderr.write('\n');
}
