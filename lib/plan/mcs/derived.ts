// The derived Service of a ServiceImport: a selector-less Service mefi owns
// in the import's namespace, whose cluster IP is the ClusterSet IP (KEP
// "ClusterSetIP"; the KEP's "shadow" Service). kube-proxy balances it over
// the MCS slices, which carry its name as kubernetes.io/service-name.
//
// Named as the peers name it: "derived-" and the first 10 characters of the
// lower-case, unpadded base32hex of sha256("<namespace>/<name>"), the mcs-api
// reference controller's rule (controllers/common.go derivedName), which
// Cilium copies. So whoever knows that rule (a user, a Gateway, a script
// written for another implementation) finds it, and the annotation on the
// import names it too. It is 18 characters whatever the import's name, so
// always a valid DNS-1035 label, and unlikely to be a user's Service.
//
// Headless imports get a headless derived Service (clusterIP None), as
// Cilium does, so that consumers that read slices by a Service's name (every
// ingress controller) can use the import's slices.

import { createHash } from 'node:crypto'; // computation, not I/O: the planner stays pure
import equal from 'fast-deep-equal';
import { isOwned } from '../object.ts';
import { normalizePorts } from '../normalize.ts';
import type { Change, PlanOptions } from '../types.ts';
import { mcsServiceNameLabel, type ServiceImportSpec, type ServiceObject } from './types.ts';

const base32hex = '0123456789abcdefghijklmnopqrstuv';

export function derivedName(namespace: string, name: string): string {
  const digest = createHash('sha256').update(`${namespace}/${name}`).digest();
  let out = '';
  let bits = 0;
  let value = 0;
  // 10 characters are 50 bits: the first 7 bytes hold them.
  for (const byte of digest.subarray(0, 7)) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += base32hex[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return `derived-${out.slice(0, 10)}`;
}

/** What the planner manages of a Service, with the API server's defaults filled in, to compare a stored one with a wanted one. */
function managedOf(s: ServiceObject['spec'] = {}) {
  const affinity = s.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None';
  return {
    type: s.type ?? 'ClusterIP',
    selector: Object.keys(s.selector ?? {}).length > 0,
    headless: s.clusterIP === 'None',
    ports: normalizePorts(s.ports).ports,
    sessionAffinity: affinity,
    timeout: affinity === 'ClientIP' ? (s.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : undefined,
    internalTrafficPolicy: s.internalTrafficPolicy ?? 'Cluster',
    trafficDistribution: s.trafficDistribution,
  };
}

/**
 * The derived Service an import spec wants, or undefined when there can be
 * none (a ClusterIP Service needs a port). Not copied from the import:
 * internalTrafficPolicy Local, since mefi drops nodeName (DESIGN.md §4), so
 * kube-proxy would find no local endpoint and drop every packet; the import
 * says what the exports said.
 */
export function wantedDerived(
  options: PlanOptions,
  namespace: string,
  name: string,
  spec: ServiceImportSpec,
): ServiceObject | undefined {
  const headless = spec.type === 'Headless';
  if (!headless && spec.ports.length === 0) return undefined;
  const families = spec.ipFamilies ?? [];
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: derivedName(namespace, name),
      namespace,
      labels: { [options.ownerLabel.key]: options.ownerLabel.value, [mcsServiceNameLabel]: name },
    },
    spec: {
      type: 'ClusterIP',
      ...(headless ? { clusterIP: 'None' } : {}),
      ports: spec.ports.map((p) => ({ ...p })),
      // Families unknown (no export said): the server's default.
      ...(families.length
        ? { ipFamilies: families, ipFamilyPolicy: families.length > 1 ? 'RequireDualStack' : 'SingleStack' }
        : {}),
      sessionAffinity: spec.sessionAffinity ?? 'None',
      ...(spec.sessionAffinityConfig ? { sessionAffinityConfig: spec.sessionAffinityConfig } : {}),
      internalTrafficPolicy: 'Cluster',
      ...(spec.trafficDistribution ? { trafficDistribution: spec.trafficDistribution } : {}),
    },
  };
}

export interface DerivedDecision {
  change?: Change;
  /** The stored Service stays (updated in place or not at all): its cluster IPs are the import's. */
  kept?: ServiceObject;
}

/** Create, update, recreate or leave the derived Service; `current` is mefi's (the caller checked). */
export function decideDerived(
  target: string,
  wanted: ServiceObject,
  current: ServiceObject | undefined,
): DerivedDecision {
  const namespace = wanted.metadata.namespace!;
  const base: Change = {
    target,
    kind: 'Service',
    role: 'aggregate',
    namespace,
    name: wanted.metadata.name,
    originalName: wanted.metadata.labels![mcsServiceNameLabel]!,
    object: wanted,
  };
  if (!current) return { change: base };
  const rv = current.metadata.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {};
  const beforeLabels = current.metadata.labels ?? {};
  const want = wanted.spec!;
  const have = current.spec ?? {};
  const families = want.ipFamilies ?? [];
  // clusterIP and the primary family cannot change in place.
  if (
    managedOf(have).headless !== managedOf(want).headless ||
    (families.length > 0 && (have.ipFamilies ?? [])[0] !== undefined && have.ipFamilies![0] !== families[0])
  )
    return { change: { ...base, ...rv, beforeLabels, current, recreate: true } };
  const familiesHeld =
    families.length === 0 || (equal(have.ipFamilies ?? [], families) && have.ipFamilyPolicy === want.ipFamilyPolicy);
  if (
    familiesHeld &&
    equal(managedOf(have), managedOf(want)) &&
    equal(current.metadata.labels ?? {}, wanted.metadata.labels)
  )
    return { kept: current };
  // A PUT replaces the whole object: keep what mefi does not manage (annotations, the allocated IPs).
  const { managedFields: _m, ...metadata } = current.metadata;
  const spec: NonNullable<ServiceObject['spec']> = { ...have, ...want };
  delete spec.selector;
  if (!want.sessionAffinityConfig) delete spec.sessionAffinityConfig;
  if (!want.trafficDistribution) delete spec.trafficDistribution;
  const object: ServiceObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { ...metadata, labels: wanted.metadata.labels! },
    spec,
  };
  // New families give new cluster IPs: the import's follow once they are allocated.
  return { change: { ...base, object, ...rv, beforeLabels, current }, ...(familiesHeld ? { kept: current } : {}) };
}

/** mefi's derived Services among a target's Services: owned, and labelled with the import they serve. */
export function isDerivedService(s: ServiceObject, options: PlanOptions): boolean {
  return isOwned(s, options) && s.metadata.labels?.[mcsServiceNameLabel] !== undefined;
}
