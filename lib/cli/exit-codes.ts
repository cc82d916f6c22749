/** Exit codes of the CLI, and how an error maps onto one. */
import { CommanderError } from 'commander';

import { ErrorCode, VptError } from '../errors.js';

export const ExitCode = { Ok: 0, Error: 1, Usage: 2, Interrupted: 130 } as const;

/** Prints `error` the way a user wants to read it and returns the exit code. */
export function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage; // commander printed it already
  }
  if (error instanceof DOMException && error.name === 'AbortError') {
    process.stderr.write(`vpt-native: interrupted: ${error.message}\n`);
    return ExitCode.Interrupted;
  }
  if (error instanceof VptError) {
    process.stderr.write(`vpt-native: ${error.message} [${error.code}]\n`);
    return error.code === ErrorCode.Option ? ExitCode.Usage : ExitCode.Error;
  }
  process.stderr.write(`vpt-native: ${(error as Error)?.stack ?? String(error)}\n`);
  return ExitCode.Error;
}
