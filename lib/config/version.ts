// mefi's own version, from its package.json, wherever it is installed.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function version(): string {
  // dist/lib/version.js or lib/config/version.ts: walk up to mefi's package.json, not the caller's.
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'mefi' && pkg.version) return pkg.version;
  }
  return 'unknown';
}
