// Small builders for planner inputs, and a pure stand-in for "apply the plan"
// used only to check the planner's own invariants (fixed point), never to
// test I/O.

import {
  mirrorAnnotations,
  type EndpointsObject,
  type Plan,
  type PlanInput,
  type PlanOptions,
  type RawSubset,
} from '../../lib/plan/index.ts';

export const options: PlanOptions = {
  namespace: 'mefi-system',
  ownerLabel: { key: 'isMefiLocal', value: 'true' },
  originalNameLabel: 'isMefiOriginalName',
  sourceClusterLabel: 'multicluster.kubernetes.io/source-cluster',
  policy: 'sync',
};

export function ep(
  namespace: string,
  name: string,
  subsets: RawSubset[],
  labels: Record<string, string> = { isMefiRemote: 'true' },
  rv?: string,
): EndpointsObject {
  return { metadata: { name, namespace, labels, ...(rv ? { resourceVersion: rv } : {}) }, subsets };
}

export function ips(ready: string[], notReady: string[] = [], port = 80): RawSubset {
  return {
    ...(ready.length ? { addresses: ready.map((ip) => ({ ip })) } : {}),
    ...(notReady.length ? { notReadyAddresses: notReady.map((ip) => ({ ip })) } : {}),
    ports: [{ name: 'http', port, protocol: 'TCP' }],
  };
}

export function mirrorLabels(name: string, cluster: string): Record<string, string> {
  return { isMefiLocal: 'true', isMefiOriginalName: name, 'multicluster.kubernetes.io/source-cluster': cluster };
}

/** A mirror as mefi stores it in the target: its labels and annotations. */
export function storedMirror(name: string, cluster: string, subsets: RawSubset[], rv?: string): EndpointsObject {
  const obj = ep('mefi-system', `${name}-${cluster}`, subsets, mirrorLabels(name, cluster), rv);
  obj.metadata.annotations = { ...mirrorAnnotations };
  return obj;
}

export function aggregateLabels(name: string): Record<string, string> {
  return { isMefiLocal: 'true', isMefiOriginalName: name };
}

/** What a target holds after the plan's writes, as the API server would store them. */
export function applyToTarget(items: EndpointsObject[], plan: Plan, target: string): EndpointsObject[] {
  const state = new Map(items.map((o) => [o.metadata.name, o]));
  let rv = 1000;
  const stored = (o: EndpointsObject): EndpointsObject => {
    const copy = JSON.parse(JSON.stringify(o)) as EndpointsObject;
    copy.metadata.resourceVersion = String(rv++);
    delete copy.apiVersion;
    delete copy.kind;
    return copy;
  };
  for (const c of plan.creates) if (c.target === target) state.set(c.name, stored(c.object!));
  for (const c of plan.updates) if (c.target === target) state.set(c.name, stored(c.object!));
  for (const c of plan.deletes) if (c.target === target) state.delete(c.name);
  return [...state.values()];
}

/** The source clusters that could not be read. */
export function unreadableSources(input: PlanInput): Set<string> {
  return new Set(
    Object.entries(input.sources)
      .filter(([, o]) => !o.ok)
      .map(([c]) => c),
  );
}
