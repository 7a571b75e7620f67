// The ServiceImport of an exported name, in one target, in the export's own
// namespace (namespace sameness, KEP "Importing Services"): its spec is the
// merge of the exports (exports.ts), its ips the derived Service's cluster
// IPs, its status the exporting clusters. The status is a subresource, so a
// change says which of the two calls it needs (Change.writes).

import equal from 'fast-deep-equal';
import { normalizePorts } from '../normalize.ts';
import type { Change, PlanOptions } from '../types.ts';
import {
  derivedServiceAnnotation,
  mcsApiVersion,
  mcsIdOf,
  type ServiceImportObject,
  type ServiceImportSpec,
} from './types.ts';

/** An import spec in the one form both sides are compared in: defaults filled in, ports canonical, empty lists left out. */
export function canonicalSpec(spec: ServiceImportSpec): ServiceImportSpec {
  const affinity = spec.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None';
  return {
    type: spec.type === 'Headless' ? 'Headless' : 'ClusterSetIP',
    ports: normalizePorts(spec.ports).ports,
    ...(spec.ips?.length ? { ips: [...spec.ips] } : {}),
    sessionAffinity: affinity,
    ...(affinity === 'ClientIP'
      ? {
          sessionAffinityConfig: {
            clientIP: { timeoutSeconds: spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 },
          },
        }
      : {}),
    ...(spec.ipFamilies?.length ? { ipFamilies: [...spec.ipFamilies] } : {}),
    ...(spec.internalTrafficPolicy ? { internalTrafficPolicy: spec.internalTrafficPolicy } : {}),
    ...(spec.trafficDistribution ? { trafficDistribution: spec.trafficDistribution } : {}),
  };
}

export interface WantedImport {
  namespace: string;
  name: string;
  derived: string;
  spec: ServiceImportSpec;
  /** exportedLabels and exportedAnnotations of the export that won. */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The exporting clusters (status.clusters). */
  clusters: string[];
}

export function importObject(options: PlanOptions, w: WantedImport): ServiceImportObject {
  return {
    apiVersion: mcsApiVersion,
    kind: 'ServiceImport',
    metadata: {
      name: w.name,
      namespace: w.namespace,
      labels: { ...w.labels, [options.ownerLabel.key]: options.ownerLabel.value },
      annotations: { ...w.annotations, [derivedServiceAnnotation]: w.derived },
    },
    spec: w.spec,
    // mefi writes its slices for every import (KEP "Using EndpointSlice objects": must say so).
    status: {
      clusters: w.clusters
        .map((c) => mcsIdOf(options, c))
        .sort()
        .map((cluster) => ({ cluster })),
      endpointSliceObjects: 'Present',
    },
  };
}

const clustersOf = (i: ServiceImportObject) => (i.status?.clusters ?? []).map((c) => c.cluster).sort();

/** Create or update the import; `current` is mefi's (the caller checked). `ipsFrom`: its ips come from a Service this plan creates. */
export function decideImport(
  target: string,
  wanted: ServiceImportObject,
  current: ServiceImportObject | undefined,
  ipsFrom?: string,
): Change | undefined {
  const base: Change = {
    target,
    kind: 'ServiceImport',
    role: 'aggregate',
    namespace: wanted.metadata.namespace!,
    name: wanted.metadata.name,
    originalName: wanted.metadata.name,
    object: wanted,
    ...(ipsFrom ? { ipsFrom } : {}),
  };
  if (!current) return { ...base, writes: ['object', 'status'] };
  const objectHeld =
    !ipsFrom &&
    equal(canonicalSpec(current.spec ?? { ports: [], type: 'ClusterSetIP' }), wanted.spec) &&
    equal(current.metadata.labels ?? {}, wanted.metadata.labels) &&
    equal(current.metadata.annotations ?? {}, wanted.metadata.annotations);
  const statusHeld =
    equal(clustersOf(current), clustersOf(wanted)) &&
    current.status?.endpointSliceObjects === wanted.status!.endpointSliceObjects;
  if (objectHeld && statusHeld) return undefined;
  // Keep what mefi does not write: the metadata the server keeps, the status conditions.
  const { managedFields: _m, ...metadata } = current.metadata;
  const object: ServiceImportObject = {
    ...wanted,
    metadata: { ...metadata, labels: wanted.metadata.labels!, annotations: wanted.metadata.annotations! },
    status: { ...(current.status ?? {}), ...wanted.status },
  };
  return {
    ...base,
    object,
    beforeLabels: current.metadata.labels ?? {},
    current,
    ...(current.metadata.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
    writes: [...(objectHeld ? [] : ['object' as const]), ...(statusHeld ? [] : ['status' as const])],
  };
}
