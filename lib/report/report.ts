// What a run says: a table for people, a kubectl-diff-style patch for `mefi
// diff`, and one stable document (json|yaml) for machines.

import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import type { Outcome } from '../apply/apply.ts';
import { resourceOf } from '../kube/kinds.ts';
import type { Change, ServiceExportObject, ServiceImportObject, ServiceObject, Subset } from '../plan/index.ts';
import { blockers, type RunResult } from './result.ts';

export type Format = 'table' | 'json' | 'yaml';
export type Command = 'sync' | 'diff';

/** A planned change as reported: the plan's own fields, less what is only for sending it. */
export type ReportChange = { action: 'create' | 'update' | 'delete' } & Pick<
  Change,
  'target' | 'role' | 'namespace' | 'name' | 'originalName' | 'cluster' | 'before' | 'after'
> & {
    kind: NonNullable<Change['kind']>;
    /** planned (dry run, diff), done, skipped or failed. */
    result: 'planned' | Outcome['result'];
    /** An update that takes over the original mefi's aggregate (--adopt). */
    adopted?: boolean;
    /** MCS kinds: what the object becomes, in a few words. */
    summary?: string;
    message?: string;
  };

export interface Report {
  apiVersion: 'mefi/v1';
  kind: 'RunReport';
  command: Command;
  dryRun: boolean;
  changes: ReportChange[];
  unreadable: RunResult['plan']['unreadable'];
  problems: RunResult['plan']['problems'];
  /** staleAfter bookkeeping: Lease renewals, one per source cluster and target. */
  leases: {
    action: 'create' | 'update';
    target: string;
    cluster: string;
    name: string;
    result: 'planned' | 'done' | 'skipped' | 'failed';
    message?: string;
  }[];
  warnings: string[];
  /** --probe: what the run probed from where it ran, and, per source cluster, the (address, port)s that did not answer. */
  probe?: {
    target: string;
    candidates: number;
    probed: number;
    unprobed: number;
    unreachable: Record<string, number>;
    durationMs: number;
  };
  summary: {
    create: number;
    update: number;
    delete: number;
    done: number;
    skipped: number;
    failed: number;
    problems: number;
    /** Blocking problems and skipped writes: wanted objects not as wanted (exit 2). */
    blocking: number;
    unreadable: number;
    leases: number;
    durationMs: number;
    phases: RunResult['phases'];
    apiCalls: RunResult['calls'];
  };
  exitCode: number;
}

export function toReport(command: Command, r: RunResult, exitCode: number): Report {
  const outcomes = new Map<Change, Outcome>(r.outcomes.map((o) => [o.change, o]));
  const entry =
    (action: ReportChange['action']) =>
    (c: Change): ReportChange => {
      const o = outcomes.get(c);
      return {
        action,
        target: c.target,
        kind: c.kind ?? 'Endpoints',
        role: c.role,
        namespace: c.namespace,
        name: c.name,
        originalName: c.originalName,
        ...(c.cluster ? { cluster: c.cluster } : {}),
        ...(c.before ? { before: c.before } : {}),
        ...(c.after ? { after: c.after } : {}),
        result: o ? o.result : 'planned',
        ...(mcsSummary(c) !== undefined ? { summary: mcsSummary(c)! } : {}),
        ...(o?.message ? { message: o.message } : {}),
        ...(c.adopted ? { adopted: true } : {}),
      };
    };
  const changes = [
    ...r.plan.creates.map(entry('create')),
    ...r.plan.updates.map(entry('update')),
    ...r.plan.deletes.map(entry('delete')),
  ];
  const count = (result: Outcome['result']) => r.outcomes.filter((o) => o.result === result).length;
  return {
    apiVersion: 'mefi/v1',
    kind: 'RunReport',
    command,
    dryRun: !r.applied,
    changes,
    unreadable: r.plan.unreadable,
    problems: r.plan.problems,
    leases: r.plan.leases.map((l) => {
      const o = r.leaseOutcomes.find((x) => x.lease === l);
      return {
        action: l.action,
        target: l.target,
        cluster: l.cluster,
        name: l.name,
        result: o ? o.result : 'planned',
        ...(o?.message ? { message: o.message } : {}),
      };
    }),
    warnings: r.warnings,
    ...(r.probe
      ? {
          probe: {
            target: r.probe.target,
            candidates: r.probe.candidates,
            probed: r.probe.probed,
            unprobed: r.probe.unprobed,
            unreachable: Object.fromEntries([...r.probe.unreachable].sort()),
            durationMs: r.probe.ms,
          },
        }
      : {}),
    summary: {
      create: r.plan.creates.length,
      update: r.plan.updates.length,
      delete: r.plan.deletes.length,
      done: count('done'),
      skipped: count('skipped'),
      failed: count('failed'),
      problems: r.plan.problems.length,
      blocking: blockers(r),
      unreadable: r.plan.unreadable.length,
      leases: r.plan.leases.length,
      durationMs: Math.round(r.durationMs),
      phases: r.phases,
      apiCalls: r.calls,
    },
    exitCode,
  };
}

// --- addresses, as a person reads them ----------------------------------

function hostPort(ip: string, s: Subset): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  if (s.ports.length === 0) return host;
  const ports = s.ports.map((p) => `${p.port}${p.protocol === 'TCP' ? '' : `/${p.protocol}`}`).join(',');
  return `${host}:${ports}`;
}

/** Every served endpoint as "ip:ports" → ready. */
function endpoints(subsets: Subset[] | undefined): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const s of subsets ?? []) {
    for (const a of s.addresses) out.set(hostPort(a.ip, s), true);
    for (const a of s.notReadyAddresses) if (!out.has(hostPort(a.ip, s))) out.set(hostPort(a.ip, s), false);
  }
  return out;
}

/** "+a -b ~c(not ready)": what the change does to the served addresses. */
export function addressDelta(before: Subset[] | undefined, after: Subset[] | undefined, most = 4): string {
  const b = endpoints(before);
  const a = endpoints(after);
  const items: string[] = [];
  for (const [k, ready] of a) {
    if (!b.has(k)) items.push(`+${k}${ready ? '' : '(not ready)'}`);
    else if (b.get(k) !== ready) items.push(`~${k}(${ready ? 'ready' : 'not ready'})`);
  }
  for (const k of b.keys()) if (!a.has(k)) items.push(`-${k}`);
  if (items.length === 0) return 'labels only';
  const shown = items.slice(0, most).join(' ');
  return items.length > most ? `${shown} (+${items.length - most} more)` : shown;
}

const kindSuffix: Record<ReportChange['kind'], string> = {
  Endpoints: '',
  EndpointSlice: ' (slice)',
  ServiceImport: ' (import)',
  Service: ' (service)',
  ServiceExportStatus: ' (export status)',
};

/** What an MCS object becomes, in a few words (the ADDRESSES column): its type, IPs, ports; a status's conditions. */
export function mcsSummary(c: Change): string | undefined {
  const o = c.object as (ServiceImportObject & ServiceObject & ServiceExportObject) | undefined;
  if (!o || c.kind === undefined || c.kind === 'Endpoints' || c.kind === 'EndpointSlice') return undefined;
  if (c.kind === 'ServiceExportStatus')
    return (o.status?.conditions ?? [])
      .map(
        (x) =>
          `${x.type}=${x.status}${x.status === (x.type === 'Conflict' ? 'True' : 'False') ? ` (${x.reason})` : ''}`,
      )
      .join(' ');
  const ports = (o.spec?.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || 'no ports';
  if (c.kind === 'Service')
    return `${o.spec?.clusterIP === 'None' ? 'headless' : 'ClusterIP'} ${ports}${c.recreate ? ' (recreated: an immutable field changes)' : ''}`;
  const ips = c.ipsFrom ? `IPs of ${c.ipsFrom}` : (o.spec.ips ?? []).join(',');
  return `${o.spec.type}${ips ? ` ${ips}` : ''} ${ports} from ${(o.status?.clusters ?? []).map((x) => x.cluster).join(',') || 'no cluster'}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

function summaryLine(report: Report): string {
  const s = report.summary;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const parts = [`${s.create} to create, ${s.update} to update, ${s.delete} to delete`];
  if (!report.dryRun) parts.push(`${s.done} done, ${s.skipped} skipped, ${s.failed} failed`);
  parts.push(plural(s.problems, 'problem') + (s.blocking ? ` (${s.blocking} blocking: not converged)` : ''));
  if (s.unreadable)
    parts.push(`${s.unreadable} unreadable (${report.unreadable.map((u) => `${u.cluster} as ${u.role}`).join(', ')})`);
  if (s.leases) parts.push(`${plural(s.leases, 'lease')} to renew (staleAfter)`);
  const pr = report.probe;
  if (pr) {
    const silent = Object.values(pr.unreachable).reduce((a, b) => a + b, 0);
    parts.push(
      `probed ${pr.probed} of ${pr.candidates} remote (address, port)s from ${pr.target} in ${(pr.durationMs / 1000).toFixed(2)}s, ${silent} not answering${pr.unprobed ? `, ${pr.unprobed} not probed (budget spent)` : ''}`,
    );
  }
  const writes = s.apiCalls.create + s.apiCalls.update + s.apiCalls.delete;
  parts.push(`${s.apiCalls.list + s.apiCalls.get} reads, ${writes} writes in ${(s.durationMs / 1000).toFixed(2)}s`);
  return `${report.dryRun ? 'Plan (dry run)' : 'Sync'}: ${parts.join('; ')}`;
}

/** Unreadable clusters and problems; API warnings go to the log (once per run), not here. */
function trailer(report: Report): string[] {
  const out: string[] = [];
  for (const u of report.unreadable) out.push(`UNREADABLE ${u.cluster} (${u.role}): ${u.error}`);
  for (const p of report.problems)
    out.push(
      `PROBLEM${p.blocking ? ' (blocking)' : ''} ${p.code} ${p.cluster}${p.namespace ? ` ${p.namespace}/${p.name}` : p.name ? ` ${p.name}` : ''}: ${p.message}`,
    );
  return out;
}

export function renderTable(report: Report): string {
  const out: string[] = [];
  if (report.changes.length > 0) {
    const rows = [['ACTION', 'TARGET', 'ENDPOINTS', 'CLUSTER', ...(report.dryRun ? [] : ['RESULT']), 'ADDRESSES']];
    for (const c of report.changes) {
      rows.push([
        c.adopted ? 'adopt' : c.action,
        c.target,
        `${c.namespace}/${c.name}${kindSuffix[c.kind]}`,
        c.role === 'aggregate' ? '(aggregate)' : (c.cluster ?? '-'),
        ...(report.dryRun ? [] : [c.result + (c.result !== 'done' && c.message ? `: ${c.message}` : '')]),
        c.summary ?? addressDelta(c.before, c.after),
      ]);
    }
    out.push(table(rows), '');
  } else {
    out.push(
      report.unreadable.length
        ? 'No changes planned, but not every cluster could be read (see UNREADABLE below).'
        : 'No changes: every target is in sync.',
      '',
    );
  }
  const t = trailer(report);
  if (t.length) out.push(...t, '');
  out.push(summaryLine(report));
  return out.join('\n') + '\n';
}

/** An MCS object as a diff shows it: what mefi manages of it (metadata it writes, spec, status), not what the server keeps. */
function mcsDoc(c: Change, o: ServiceImportObject | ServiceObject | ServiceExportObject): string {
  const m = o.metadata;
  const meta = {
    name: m.name,
    namespace: m.namespace ?? c.namespace,
    ...(m.labels && Object.keys(m.labels).length ? { labels: m.labels } : {}),
    ...(m.annotations && Object.keys(m.annotations).length ? { annotations: m.annotations } : {}),
  };
  const status = (o as ServiceImportObject).status;
  const spec = (o as ServiceObject).spec;
  if (c.kind === 'ServiceExportStatus')
    return stringify(
      { metadata: { name: m.name, namespace: meta.namespace }, status: { conditions: status?.conditions ?? [] } },
      { sortMapEntries: true },
    );
  // The ips of an import still to be allocated: said, not guessed.
  const shownSpec =
    c.kind === 'ServiceImport' && c.ipsFrom && o === c.object
      ? { ...spec, ips: [`(the cluster IPs of Service ${c.ipsFrom})`] }
      : spec;
  return stringify(
    {
      metadata: meta,
      spec: shownSpec,
      ...(c.kind === 'ServiceImport' ? { status: { clusters: status?.clusters ?? [] } } : {}),
    },
    { sortMapEntries: true },
  );
}

/** kubectl diff's form: a unified diff per object, current (a/) to wanted (b/). */
export function renderDiff(report: Report, r: RunResult): string {
  const out: string[] = [];
  const all = [...r.plan.creates, ...r.plan.updates, ...r.plan.deletes];
  for (const c of all) {
    const path = `${c.target}/${c.namespace}/${resourceOf(c).name}/${c.name}`;
    const doc = (labels: Record<string, string> | undefined, subsets: Subset[] | undefined) =>
      stringify({ metadata: { name: c.name, namespace: c.namespace, labels }, subsets }, { sortMapEntries: true });
    const mcs = c.kind !== undefined && c.kind !== 'Endpoints' && c.kind !== 'EndpointSlice';
    const before = mcs ? (c.current ? mcsDoc(c, c.current) : '') : c.before ? doc(c.beforeLabels, c.before) : '';
    const after = mcs
      ? c.object
        ? mcsDoc(c, c.object)
        : ''
      : c.object
        ? doc(c.object.metadata.labels as Record<string, string>, c.after)
        : '';
    out.push(
      createTwoFilesPatch(`a/${path}`, `b/${path}`, before, after, undefined, undefined, { context: 3 }).replace(
        /^=+\n/m,
        '',
      ),
    );
  }
  const t = trailer(report);
  if (t.length) out.push(t.join('\n') + '\n');
  out.push(summaryLine(report).replace(/^Plan \(dry run\)/, 'Diff') + '\n');
  return out.join('');
}

export function render(format: Format, command: Command, r: RunResult, exitCode: number): string {
  const report = toReport(command, r, exitCode);
  if (format === 'json') return JSON.stringify(report, null, 2) + '\n';
  if (format === 'yaml') return stringify(report);
  return command === 'diff' ? renderDiff(report, r) : renderTable(report);
}
