// MCS sources to the clusterset's exported services, once per run whatever
// the number of targets (as sources.ts is for labelled Endpoints). Per
// exported (namespace, name): each readable cluster's ServiceExport, whether
// it is valid, and the import spec the valid ones merge into by the KEP's
// conflict resolution, with every conflict found ("Constraints and Conflict
// Resolution"). Each valid export's endpoints are a mirror of the view, read
// from its Service's EndpointSlices by the slice mode's own rules, so one
// readiness rule and one canonical form serve both modes.

import equal from 'fast-deep-equal';
import { isLabelKey, isLabelValue } from '../names.ts';
import { normalizePorts, normalizeSubsets } from '../normalize.ts';
import { isOwned } from '../object.ts';
import { isMefiSlice, slicesAsEndpoints } from '../slices.ts';
import { emptyView, podCIDRFilter, type SourceView } from '../sources.ts';
import type { Finding, PlanInput, PlanOptions, Port } from '../types.ts';
import { derivedName } from './derived.ts';
import {
  derivedServiceAnnotation,
  type ImportType,
  type ServiceExportObject,
  type ServiceImportSpec,
  type ServiceObject,
} from './types.ts';

/** What one valid export brings: its Service's properties and its export's labels. */
export interface Contribution {
  cluster: string;
  type: ImportType;
  ports: Port[];
  sessionAffinity: 'None' | 'ClientIP';
  timeoutSeconds?: number;
  internalTrafficPolicy?: string;
  trafficDistribution?: string;
  ipFamilies: string[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Export {
  cluster: string;
  object: ServiceExportObject;
  /** Why it is not valid (condition Valid False), or undefined. */
  invalid?: { reason: 'NoService' | 'InvalidServiceType'; message: string };
  contribution?: Contribution;
}

export interface Conflict {
  reason: string;
  message: string;
}

/** One exported (namespace, name) of the clusterset. */
export interface Exported {
  namespace: string;
  name: string;
  derived: string;
  /** Every export of the name in a readable cluster, oldest first (creationTimestamp, then cluster name). */
  exports: Export[];
  /** The import the valid exports merge into; undefined when none is valid. */
  merged?: {
    spec: ServiceImportSpec;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    clusters: string[];
  };
  conflicts: Conflict[];
}

export interface McsView extends SourceView {
  /** By `<namespace>/<name>`, in that order. Mirrors are named by slice prefix, with the key as their originalName. */
  exported: Map<string, Exported>;
}

export const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** A missing or malformed creationTimestamp counts as the newest: a known age always wins. */
const created = (e: ServiceExportObject) => {
  const t = e.metadata.creationTimestamp ? Date.parse(e.metadata.creationTimestamp) : NaN;
  return Number.isNaN(t) ? Infinity : t;
};
/** Oldest first; timestamps have one-second granularity, so ties go by cluster name, as Cilium and Lighthouse break them. */
const byPrecedence = (a: Export, b: Export) =>
  created(a.object) - created(b.object) || byCodeUnit(a.cluster, b.cluster);

function contributionOf(
  cluster: string,
  service: ServiceObject,
  exp: ServiceExportObject,
  problem: (code: Finding['code'], message: string) => void,
): Contribution {
  const s = service.spec ?? {};
  const { ports, errors } = normalizePorts(s.ports);
  for (const e of errors) problem('invalid-port', `Service port dropped from the export: ${e}`);
  const sessionAffinity = s.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None';
  return {
    cluster,
    // NodePort and LoadBalancer Services export as ClusterSetIP (KEP "Service Types").
    type: s.clusterIP === 'None' ? 'Headless' : 'ClusterSetIP',
    ports,
    sessionAffinity,
    ...(sessionAffinity === 'ClientIP'
      ? { timeoutSeconds: s.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 }
      : {}),
    ...(s.internalTrafficPolicy ? { internalTrafficPolicy: s.internalTrafficPolicy } : {}),
    ...(s.trafficDistribution ? { trafficDistribution: s.trafficDistribution } : {}),
    ipFamilies: [...new Set(s.ipFamilies ?? [])],
    // Only what the export asks for, never the Service's or the export's own metadata (KEP "Exporting Services").
    labels: { ...(exp.spec?.exportedLabels ?? {}) },
    annotations: { ...(exp.spec?.exportedAnnotations ?? {}) },
  };
}

const showPort = (p: Port) =>
  `${p.name ?? '(unnamed)'} ${p.port}/${p.protocol}${p.appProtocol ? ` (${p.appProtocol})` : ''}`;

/**
 * The KEP's port merge: by name first, then by (protocol, port); the oldest
 * export wins every duplicate, and what loses is dropped. The union of the
 * exports' ports otherwise, with a conflict when any export's ports differ
 * from it (as Cilium's mergePorts; conformance "union … and raise a conflict").
 */
function mergePorts(valid: Contribution[]): { ports: Port[]; details: string[] } {
  const byName = new Map<string, { port: Port; cluster: string }>();
  const byNumber = new Map<string, { port: Port; cluster: string }>();
  const details: string[] = [];
  for (const c of valid)
    for (const p of c.ports) {
      const named = byName.get(p.name ?? '');
      const number = `${p.protocol}/${p.port}`;
      if (named) {
        if (named.port.protocol !== p.protocol || named.port.port !== p.port)
          details.push(
            `cluster ${c.cluster} has ${showPort(p)}, the oldest export of that name (cluster ${named.cluster}) ${showPort(named.port)}`,
          );
        else if ((named.port.appProtocol ?? '') !== (p.appProtocol ?? ''))
          details.push(
            `cluster ${c.cluster} has ${showPort(p)}, the oldest export of it (cluster ${named.cluster}) ${showPort(named.port)}`,
          );
        continue;
      }
      const numbered = byNumber.get(number);
      if (numbered) {
        details.push(
          `cluster ${c.cluster} has ${showPort(p)}, the oldest export of ${number} (cluster ${numbered.cluster}) ${showPort(numbered.port)}`,
        );
        continue;
      }
      byName.set(p.name ?? '', { port: p, cluster: c.cluster });
      byNumber.set(number, { port: p, cluster: c.cluster });
    }
  const ports = normalizePorts([...byName.values()].map((x) => x.port)).ports;
  if (details.length === 0)
    for (const c of valid)
      if (!equal(c.ports, ports))
        details.push(`cluster ${c.cluster} has ${c.ports.map(showPort).join(', ') || 'no ports'}`);
  return { ports, details };
}

/** The order the API lists the reasons in; a Conflict condition joins its reasons with commas in it. */
const reasonOrder = [
  'PortConflict',
  'TypeConflict',
  'SessionAffinityConflict',
  'SessionAffinityConfigConflict',
  'AnnotationsConflict',
  'LabelsConflict',
  'InternalTrafficPolicyConflict',
  'TrafficDistributionConflict',
  'IPFamilyConflict',
];

/** The import the valid exports (oldest first) merge into, and its conflicts. */
function merge(valid: Contribution[]): { spec: ServiceImportSpec; conflicts: Conflict[] } {
  const first = valid[0]!;
  const conflicts: Conflict[] = [];
  const n = valid.length;
  const { ports, details } = mergePorts(valid);
  if (details.length)
    conflicts.push({
      reason: 'PortConflict',
      message: `Conflicting ports: ${details.join('; ')}. The import has ${ports.map(showPort).join(', ') || 'no ports'}; a port is served only by the clusters that have it as the import does.`,
    });

  // Properties of the service as a whole: the oldest export's value, and who disagrees.
  const property = (reason: string, field: string, of: (c: Contribution) => string, among = valid) => {
    const want = of(first);
    const differ = among.filter((c) => of(c) !== want);
    if (differ.length)
      conflicts.push({
        reason,
        message: `Conflicting ${field}: ${differ.length} of ${n} clusters disagree (${differ.map((c) => `${c.cluster}: ${of(c)}`).join(', ')}); using ${want} from the oldest export, in cluster ${first.cluster}.`,
      });
  };
  const sorted = (m: Record<string, string>) =>
    JSON.stringify(Object.fromEntries(Object.entries(m).sort(([a], [b]) => byCodeUnit(a, b))));
  property('TypeConflict', 'type', (c) => c.type);
  property('SessionAffinityConflict', 'sessionAffinity', (c) => c.sessionAffinity);
  if (first.sessionAffinity === 'ClientIP')
    property(
      'SessionAffinityConfigConflict',
      'sessionAffinityConfig.clientIP.timeoutSeconds',
      (c) => String(c.timeoutSeconds),
      valid.filter((c) => c.sessionAffinity === 'ClientIP'),
    );
  property('AnnotationsConflict', 'exportedAnnotations', (c) => sorted(c.annotations));
  property('LabelsConflict', 'exportedLabels', (c) => sorted(c.labels));
  // The API server defaults internalTrafficPolicy to Cluster: an export without it says the same.
  property('InternalTrafficPolicyConflict', 'internalTrafficPolicy', (c) => c.internalTrafficPolicy ?? 'Cluster');
  property('TrafficDistributionConflict', 'trafficDistribution', (c) => c.trafficDistribution ?? '(none)');

  // IP families: the intersection, in the oldest export's order, so every
  // family the import has reaches every cluster's pods. A cluster with none
  // in common is left out of it (Cilium's intersectIPFamilies), and said.
  let families: string[] | undefined;
  const apart: Contribution[] = [];
  for (const c of valid) {
    if (c.ipFamilies.length === 0) continue; // not said: no constraint
    if (families === undefined) families = c.ipFamilies;
    else {
      const common = families.filter((f) => c.ipFamilies.includes(f));
      if (common.length) families = common;
      else apart.push(c);
    }
  }
  if (apart.length)
    conflicts.push({
      reason: 'IPFamilyConflict',
      message: `Conflicting ipFamilies: ${apart.map((c) => `${c.cluster} (${c.ipFamilies.join(', ')})`).join(', ')} share none with ${families!.join(', ')}, the families of the clusters before ${apart.length === 1 ? 'it' : 'them'}, which the import has.`,
    });

  const spec: ServiceImportSpec = {
    type: first.type,
    ports,
    sessionAffinity: first.sessionAffinity,
    ...(first.timeoutSeconds !== undefined
      ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: first.timeoutSeconds } } }
      : {}),
    ...(families?.length ? { ipFamilies: families } : {}),
    ...(first.internalTrafficPolicy ? { internalTrafficPolicy: first.internalTrafficPolicy } : {}),
    ...(first.trafficDistribution ? { trafficDistribution: first.trafficDistribution } : {}),
  };
  return { spec, conflicts: conflicts.sort((a, b) => reasonOrder.indexOf(a.reason) - reasonOrder.indexOf(b.reason)) };
}

/** The winner's exported labels and annotations that an import can carry: not mefi's own keys, not what the API server would refuse. */
function carried(
  options: PlanOptions,
  c: Contribution,
  problem: (message: string) => void,
): { labels: Record<string, string>; annotations: Record<string, string> } {
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.labels).sort(([a], [b]) => byCodeUnit(a, b))) {
    if (k === options.ownerLabel.key)
      problem(`exportedLabels ${k} is mefi's ownership label; not copied to the ServiceImport`);
    else if (!isLabelKey(k) || !isLabelValue(v))
      problem(`exportedLabels ${k}=${JSON.stringify(v)} is not a valid label; not copied to the ServiceImport`);
    else labels[k] = v;
  }
  for (const [k, v] of Object.entries(c.annotations).sort(([a], [b]) => byCodeUnit(a, b))) {
    if (k === derivedServiceAnnotation)
      problem(`exportedAnnotations ${k} names mefi's derived Service; not copied to the ServiceImport`);
    else if (!isLabelKey(k))
      problem(`exportedAnnotations ${k} is not a valid annotation key; not copied to the ServiceImport`);
    else annotations[k] = v;
  }
  return { labels, annotations };
}

export function mcsView(options: PlanOptions, sources: PlanInput['sources']): McsView {
  const { view, readable } = emptyView(sources);
  const exported = new Map<string, Exported>();
  for (const [cluster, outcome] of readable) {
    // No echo: mefi's derived Services and MCS slices are never sources.
    const services = new Map(
      (outcome.services ?? []).map((s) => [keyOf(s.metadata.namespace ?? '', s.metadata.name), s]),
    );
    const endpoints = new Map(
      slicesAsEndpoints((outcome.slices ?? []).filter((s) => !isMefiSlice(s, options))).map((e) => [
        keyOf(e.metadata.namespace ?? '', e.metadata.name),
        e,
      ]),
    );
    const filter = podCIDRFilter(cluster, options.podCIDRs?.[cluster]);
    const exports = (outcome.serviceExports ?? []).filter((e) => !e.metadata.deletionTimestamp); // going: no longer exported
    for (const exp of exports.sort((a, b) =>
      byCodeUnit(
        keyOf(a.metadata.namespace ?? '', a.metadata.name),
        keyOf(b.metadata.namespace ?? '', b.metadata.name),
      ),
    )) {
      const namespace = exp.metadata.namespace ?? '';
      const name = exp.metadata.name;
      const key = keyOf(namespace, name);
      let entry = exported.get(key);
      if (!entry)
        exported.set(
          key,
          (entry = { namespace, name, derived: derivedName(namespace, name), exports: [], conflicts: [] }),
        );
      const problem = (code: Finding['code'], message: string) =>
        view.problems.push({ code, cluster, namespace, name, message });
      const service = services.get(key);
      const invalid = (reason: 'NoService' | 'InvalidServiceType', message: string) => {
        entry.exports.push({ cluster, object: exp, invalid: { reason, message } });
        problem('invalid-export', message);
      };
      if (!service) invalid('NoService', `ServiceExport ${key} has no Service ${key}; not exported`);
      else if (service.spec?.type === 'ExternalName')
        invalid(
          'InvalidServiceType',
          `Service ${key} is of type ExternalName, which cannot be exported (KEP "Service Types"): create it in each cluster instead`,
        );
      else if (isOwned(service, options))
        invalid(
          'InvalidServiceType',
          `Service ${key} is one mefi wrote (a derived Service): exporting it would echo mefi's own output`,
        );
      else {
        const contribution = contributionOf(cluster, service, exp, problem);
        entry.exports.push({ cluster, object: exp, contribution });
        const source = endpoints.get(key);
        const { subsets, dropped } = normalizeSubsets(source?.subsets, filter);
        for (const d of dropped) problem(d.code, d.message);
        view.mirrors.push({ name: `${entry.derived}-${cluster}`, cluster, originalName: key, subsets });
        const affinity = options.affinityLabel ? service.metadata.labels?.[options.affinityLabel] : undefined;
        if (affinity !== undefined) {
          if (!view.affinity.has(key)) view.affinity.set(key, new Map());
          view.affinity.get(key)!.set(cluster, affinity);
        }
      }
    }
  }
  for (const entry of exported.values()) {
    entry.exports.sort(byPrecedence);
    const valid = entry.exports.flatMap((e) => (e.contribution ? [e.contribution] : []));
    if (valid.length === 0) continue;
    const { spec, conflicts } = merge(valid);
    const winner = valid[0]!;
    const { labels, annotations } = carried(options, winner, (message) =>
      view.problems.push({
        code: 'invalid-export',
        cluster: winner.cluster,
        namespace: entry.namespace,
        name: entry.name,
        message,
      }),
    );
    entry.merged = { spec, labels, annotations, clusters: valid.map((c) => c.cluster).sort() };
    entry.conflicts = conflicts;
    if (conflicts.length)
      view.problems.push({
        code: 'export-conflict',
        cluster: winner.cluster,
        namespace: entry.namespace,
        name: entry.name,
        message: `${conflicts.map((c) => c.message).join(' ')} Every export's Conflict condition says so.`,
      });
  }
  return { ...view, exported: new Map([...exported].sort(([a], [b]) => byCodeUnit(a, b))) };
}
