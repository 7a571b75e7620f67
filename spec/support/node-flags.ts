// The Node flags mefi runs under, as bin/mefi's first line names them: what
// the bench and the image test start mefi with, so they measure what users run.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repo } from './world.ts';

export function nodeFlags(): string[] {
  const shebang = readFileSync(path.join(repo, 'bin/mefi'), 'utf8').split('\n')[0]!;
  const m = /^#!\/usr\/bin\/env -S node(?<flags>( --[\w-]+(=\S+)?)*)$/.exec(shebang);
  if (!m) throw new Error(`bin/mefi's first line is not "#!/usr/bin/env -S node [--flag...]": ${shebang}`);
  return m.groups!.flags!.trim().split(/\s+/).filter(Boolean);
}
