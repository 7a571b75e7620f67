// Loop mode follows its input files: the config and the files it names
// (kubeconfigs, CA files, the access provider file). A Secret or ConfigMap volume updates them in place
// (a symlink swap), so what counts is their content, not their mtime.

import { crypto } from '../builtins.ts';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.ts';

/** The config file and every file it names that is read once, at load. */
export function inputFiles(configFile: string, config: Config): string[] {
  const files = [configFile];
  if (config.profiles?.providerFile) files.push(config.profiles.providerFile);
  for (const c of [...config.clusters, ...(config.profiles ? [config.profiles.hub] : [])]) {
    if (c.connection.kind === 'kubeconfig') files.push(c.connection.path);
    if (c.connection.kind === 'url' && c.connection.caFile) files.push(c.connection.caFile);
  }
  return files;
}

/** One hash of the files' contents; a missing or unreadable file counts as such. */
export function fingerprint(files: string[]): string {
  const h = crypto.createHash('sha256');
  for (const f of files) {
    h.update(f).update('\0');
    try {
      h.update(readFileSync(f));
    } catch (err) {
      h.update(`unreadable:${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    h.update('\0');
  }
  return h.digest('hex');
}
