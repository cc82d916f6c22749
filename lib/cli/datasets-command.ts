/** `vpt-native datasets`: what `prepare` converts, the files each needs, where to get them, their terms. */
import type { Command } from 'commander';

import { FGVC_DATASETS, VTAB_INFO } from '../data/datasets/catalog.js';

const fmt = (n: number) => n.toLocaleString('en-US');

export function formatDatasets(): string {
  const lines: string[] = [];
  for (const d of FGVC_DATASETS) {
    lines.push(`${d.name.padEnd(8)} ${d.title}`);
    lines.push(`  files:  ${d.files.join(', ')}`);
    lines.push(`  source: ${d.source}`);
    lines.push(`  terms:  ${d.terms}`);
    const o = d.official;
    lines.push(
      `  official: train ${fmt(o.train)}${o.val !== undefined ? ` / val ${fmt(o.val)}` : ''} / test ${fmt(o.test)} (${o.publishedIn})`,
    );
    if (d.paper) {
      lines.push(
        `  splits: val ${d.val === 'official' ? 'official' : 'carved from train (--val-fraction 0.1, --seed)'}; ` +
          `the VPT paper's sizes: ${fmt(d.paper.train)} / ${fmt(d.paper.val)} / ${fmt(d.paper.test)}`,
      );
    }
  }
  lines.push(
    `${VTAB_INFO.name.padEnd(8)} ${VTAB_INFO.title} (19 tasks; preprocessing: resize to 224, no crop or augmentation)`,
  );
  lines.push(`  files:  ${VTAB_INFO.files.join(', ')}`);
  lines.push(`  source: ${VTAB_INFO.source}`);
  lines.push(`  terms:  ${VTAB_INFO.terms}`);
  for (const [group, tasks] of Object.entries(VTAB_INFO.groups))
    lines.push(`  ${group}: ${tasks.map((t) => `${t} (${VTAB_INFO.tasks[t]})`).join(', ')}`);
  lines.push("Terms are summaries of the owners' pages; the owners' pages are authoritative.");
  return `${lines.join('\n')}\n`;
}

export function registerDatasetsCommand(program: Command): void {
  program
    .command('datasets')
    .description('list the datasets `prepare` converts: files needed, where the owners publish them, their terms')
    .action(() => {
      process.stdout.write(formatDatasets());
    });
}
