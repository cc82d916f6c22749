import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from './binding.js';

/** vpt-native's version, from its package.json. */
export const VERSION = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string })
  .version;
