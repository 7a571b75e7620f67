// How mefi's consumers read what it writes, as their sources say (DESIGN.md
// §8), for the property tests: which (ip, port) each would send requests to.
// The traffic tests on the bed run the real ones; these models only let a
// property test ask the question of every generated world.

import type { EndpointsObject, SliceObject } from '../../lib/plan/index.ts';

type Endpoint = NonNullable<SliceObject['endpoints']>[number];

/**
 * The EndpointSlice mirroring controller (pkg/controller/endpointslicemirroring,
 * addressToEndpoint): one endpoint per address, ready true for addresses and
 * false for notReadyAddresses; serving and terminating are left unset.
 */
export function mirroredSlices(e: EndpointsObject): SliceObject[] {
  return (e.subsets ?? []).map((s) => ({
    metadata: { name: e.metadata.name, namespace: e.metadata.namespace ?? '' },
    addressType: 'IPv4',
    endpoints: [
      ...(s.addresses ?? []).map((a) => ({ addresses: [a.ip ?? ''], conditions: { ready: true } })),
      ...(s.notReadyAddresses ?? []).map((a) => ({ addresses: [a.ip ?? ''], conditions: { ready: false } })),
    ],
    ports: s.ports ?? [],
  }));
}

/** The API's defaults: ready and serving unset mean true, terminating unset means false. */
const ready = (e: Endpoint) => e.conditions?.ready !== false;
const serving = (e: Endpoint) => e.conditions?.serving ?? true;
const terminating = (e: Endpoint) => e.conditions?.terminating === true;

function targets(
  slices: SliceObject[],
  take: (e: Endpoint, all: Endpoint[]) => boolean,
  firstOnly = false,
): Set<string> {
  const out = new Set<string>();
  const all = slices.flatMap((s) => s.endpoints ?? []);
  for (const s of slices)
    for (const e of s.endpoints ?? []) {
      if (!take(e, all)) continue;
      for (const ip of firstOnly ? e.addresses.slice(0, 1) : e.addresses)
        for (const p of s.ports ?? []) out.add(`${ip}:${p.port}/${p.protocol ?? 'TCP'}`);
    }
  return out;
}

/** Each consumer: the "ip:port/protocol"s one Service's slices send requests to. */
export const consumers: Record<string, (slices: SliceObject[]) => Set<string>> = {
  // pkg/proxy: ready endpoints; only when none is ready, those serving and terminating.
  'kube-proxy': (slices) => {
    const anyReady = slices.some((s) => (s.endpoints ?? []).some(ready));
    return targets(slices, (e) => (anyReady ? ready(e) : serving(e) && terminating(e)));
  },
  // Traefik's Ingress and IngressRoute (HTTP) providers: serving, whatever ready says.
  'traefik-http': (slices) => targets(slices, (e) => serving(e) && !terminating(e)),
  // Traefik's Gateway provider and TCP routes: ready.
  'traefik-gateway': (slices) => targets(slices, ready),
  // Contour: drops ready false, and uses an endpoint's first address only.
  contour: (slices) => targets(slices, ready, true),
};
