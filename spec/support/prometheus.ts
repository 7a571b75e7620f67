// Prometheus (Debian's package) for the alert tests: the shipped rules
// (manifests/alerts/prometheusrule.yaml, its groups as a rule file), scraping
// what the test names on loopback every second, evaluating every second; its
// own alerts API says what fires. Its data in the test's directory; killed
// with the test however it ends (daemon.ts).

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { daemon, type Daemon } from './daemon.ts';
import { eventually, repo } from './world.ts';

const which = (cmd: string) =>
  (process.env.PATH ?? '').split(':').find((d) => {
    try {
      readFileSync(path.join(d, cmd));
      return true;
    } catch {
      return false;
    }
  });

export const prometheusMissing =
  !which('prometheus') || !which('promtool')
    ? "needs prometheus and promtool (Debian's prometheus package: make test installs it as root)"
    : false;

interface Rule {
  alert: string;
  for?: string;
}

/** The shipped rules as a plain rule file (what promtool and Prometheus read), each `for` replaced where asked. */
export function ruleFile(dir: string, forOf: Record<string, string> = {}): string {
  const rule = parseAllDocuments(
    readFileSync(path.join(repo, 'manifests/alerts/prometheusrule.yaml'), 'utf8'),
  )[0]!.toJS() as {
    spec: { groups: { rules: Rule[] }[] };
  };
  for (const g of rule.spec.groups) for (const r of g.rules) if (forOf[r.alert]) r.for = forOf[r.alert];
  const file = path.join(dir, 'rules.yaml');
  writeFileSync(file, stringify({ groups: rule.spec.groups }));
  return file;
}

export interface Prometheus {
  /** The alerts and their state (pending, firing), from its API. */
  alerts(): Promise<{ labels: Record<string, string>; state: string }[]>;
  stop(): Promise<void>;
  log(): string;
}

export async function startPrometheus(dir: string, targets: string[], rules: string): Promise<Prometheus> {
  const port = 22000 + Math.floor(Math.random() * 20000);
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [rules],
      scrape_configs: [{ job_name: 'mefi', static_configs: [{ targets }] }],
    }),
  );
  const p: Daemon = daemon(
    'prometheus',
    [],
    [
      'prometheus',
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    path.join(dir, 'prometheus.log'),
  );
  const api = `http://127.0.0.1:${port}/api/v1`;
  await eventually(
    'prometheus ready',
    async () => (await fetch(`http://127.0.0.1:${port}/-/ready`).catch(() => undefined))?.ok,
    30_000,
  );
  return {
    alerts: async () =>
      (
        (await (await fetch(`${api}/alerts`)).json()) as {
          data: { alerts: { labels: Record<string, string>; state: string }[] };
        }
      ).data.alerts,
    stop: () => p.stop(),
    log: p.log,
  };
}
