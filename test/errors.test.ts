/**
 * Error codes have one source: lib/errors.ts's ErrorCode. Every code native/ can raise (its
 * kErr* constants and any "VPT_*" literal in its sources) and every "VPT_*" literal in lib/
 * and bin/ must be one of them, so a new native code cannot reach JavaScript undocumented.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../lib/binding.js';
import { ErrorCode } from '../lib/errors.js';

const documented = new Set<string>(Object.values(ErrorCode));

function sources(dir: string, pattern: RegExp): string[] {
  return readdirSync(join(packageRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => pattern.test(f))
    .map((f) => join(packageRoot, dir, f));
}

/** `VPT_*` string literals per file (quoted, so prose and identifiers do not count). */
function literalCodes(files: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of files) {
    const codes = [...readFileSync(file, 'utf8').matchAll(/["'`](VPT_[A-Z0-9_]+)["'`]/g)].map((m) => m[1]!);
    if (codes.length) out.set(relative(packageRoot, file), codes);
  }
  return out;
}

describe('error codes', () => {
  it('native/runtime/errors.h declares only documented codes, and declares each once', () => {
    const header = readFileSync(join(packageRoot, 'native', 'runtime', 'errors.h'), 'utf8');
    const declared = [...header.matchAll(/kErr\w+\s*=\s*"(VPT_[A-Z0-9_]+)"/g)].map((m) => m[1]!);
    expect(declared.length).toBeGreaterThan(5);
    expect(new Set(declared).size).toBe(declared.length);
    expect(declared.filter((c) => !documented.has(c))).toEqual([]);
  });

  it('every VPT_<WORD> literal in native/, lib/ and bin/ is an ErrorCode (VPT_<WORD>_<WORD> are environment names)', () => {
    const files = [...sources('native', /\.(cc|h|cu)$/), ...sources('lib', /\.ts$/), ...sources('bin', /\.c?ts$/)];
    const unknown: string[] = [];
    for (const [file, codes] of literalCodes(files)) {
      for (const code of codes)
        if (/^VPT_[A-Z]+$/.test(code) && !documented.has(code)) unknown.push(`${file}: ${code}`);
    }
    expect(unknown).toEqual([]);
  });

  it('the codes are unique and each is VPT_ plus upper case', () => {
    const values = Object.values(ErrorCode);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) expect(v).toMatch(/^VPT_[A-Z]+$/);
  });
});
