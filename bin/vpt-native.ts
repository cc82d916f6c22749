#!/usr/bin/env node
/** The vpt-native command line: one file per command under lib/cli/. */
import { Command } from 'commander';

import { registerInfoCommand } from '../lib/cli/info-command.js';
import { VptError } from '../lib/errors.js';
import { VERSION } from '../lib/version.js';

const program = new Command();
program
  .name('vpt-native')
  .description('Visual Prompt Tuning for timm Vision Transformers, on LibTorch')
  .version(VERSION, '-V, --version')
  .showHelpAfterError();

registerInfoCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof VptError) {
    process.stderr.write(`vpt-native: ${error.message} [${error.code}]\n`);
  } else {
    process.stderr.write(`vpt-native: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exitCode = 1;
});
