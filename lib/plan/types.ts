// The planner's vocabulary. Plain data: what the API returns goes in, what the
// API should be sent comes out.

/** An Endpoints object as the API returns it; only the fields mefi reads. */
export interface EndpointsObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  subsets?: RawSubset[] | null;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
  resourceVersion?: string;
  uid?: string;
  [other: string]: unknown;
}

export interface RawSubset {
  addresses?: RawAddress[] | null;
  notReadyAddresses?: RawAddress[] | null;
  ports?: RawPort[] | null;
}

export interface RawAddress {
  ip?: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: unknown;
}

export interface RawPort {
  name?: string;
  port?: number;
  protocol?: string;
  appProtocol?: string;
}

/** A normalized subset: validated, canonical, sorted. */
export interface Subset {
  addresses: Address[];
  notReadyAddresses: Address[];
  ports: Port[];
}

export interface Address {
  ip: string;
  hostname?: string;
}

export interface Port {
  name?: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

import type { SliceObject } from './slices.ts';
export type { SliceObject, SliceEndpoint } from './slices.ts';

/** An object mefi writes in a target: an Endpoints object, or an EndpointSlice in slice mode. */
export type TargetObject = EndpointsObject | SliceObject;

/** A coordination.k8s.io/v1 Lease: when a source cluster was last read (staleAfter). */
export interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: { holderIdentity?: string | null; renewTime?: string | null; leaseDurationSeconds?: number | null };
}

/** What one list call gave: the items, or why there are none. A target's outcome also carries its Leases. */
export type ReadOutcome = { ok: true; items: EndpointsObject[]; leases?: LeaseObject[]; slices?: SliceObject[] } | { ok: false; error: string };

export interface PlanOptions {
  /** The namespace mefi writes into in every target (mefi-system). */
  namespace: string;
  /** The label that marks what mefi owns (isMefiLocal=true). */
  ownerLabel: { key: string; value: string };
  /** The label key that carries the source name (isMefiOriginalName). */
  originalNameLabel: string;
  /** The label key that carries a mirror's source cluster. */
  sourceClusterLabel: string;
  /** sync: create, update, delete. upsert-only: never delete. */
  policy: 'sync' | 'upsert-only';
  /** Per cluster: the only ranges its addresses may come from (config podCIDRs). */
  podCIDRs?: Record<string, string[]>;
  /** Per cluster: remove its mirrors once unreadable this long (ms; config staleAfter). */
  staleAfter?: Record<string, number>;
  /** The config's top-level staleAfter: also judges clusters that are no longer configured. */
  staleAfterDefault?: number;
  /** Remove the mirrors of clusters absent from the config (kept and reported otherwise). */
  prune?: boolean;
  /** Take over the original mefi's aggregates: unlabelled, on a wanted aggregate's name, with its mirrors beside them. */
  adopt?: boolean;
  /** Balancing preference when a source does not say: none (every cluster alike), local or remote first. */
  affinity?: 'none' | 'local' | 'remote';
  /** The source label (copied from its Service) that sets a service's affinity. */
  affinityLabel?: string;
  /** What mefi writes: Endpoints mirrors and aggregates (default), or EndpointSlices per mirror. */
  target?: 'endpoints' | 'endpointslices';
  /** With target endpointslices: endpoints per slice (100, as the controller; at most 1000). */
  maxEndpointsPerSlice?: number;
  /** Slice mode: also a Service <name>-<cluster> per mirror, serving that cluster alone (for weighted splits). */
  clusterServices?: boolean;
}

export interface PlanInput {
  /** Per source cluster: its labelled Endpoints. */
  sources: Record<string, ReadOutcome>;
  /** Per target cluster: every Endpoints in the mefi namespace (and mefi's Leases, with staleAfter). */
  targets: Record<string, ReadOutcome>;
  /**
   * Per target: the remote (address, TCP port)s that did not answer a probe
   * from it (--probe), as probeKey names them. Such an address is served there
   * as not ready. Pass the same set again while nothing changed: results are
   * remembered by its identity.
   */
  unreachable?: Record<string, ReadonlySet<string>>;
  /** The time of the read (ms since the epoch): the planner has no clock of its own. Needed with staleAfter. */
  now?: number;
}

export type Role = 'mirror' | 'aggregate';

export interface Change {
  target: string;
  /** The kind written: Endpoints unless said otherwise. */
  kind?: 'Endpoints' | 'EndpointSlice';
  role: Role;
  namespace: string;
  name: string;
  /** The source name the object stands for. */
  originalName: string;
  /** For a mirror: the cluster its addresses come from. */
  cluster?: string;
  /** Normalized subsets now (updates, deletes) and after (creates, updates). */
  before?: Subset[];
  after?: Subset[];
  /** Labels now (updates, deletes): with object.metadata.labels, what a diff shows. */
  beforeLabels?: Record<string, string>;
  /** The object to send (creates, updates), of `kind`: for updates it carries the resourceVersion read. */
  object?: EndpointsObject | SliceObject;
  /** The resourceVersion the write is conditional on (updates, deletes). */
  resourceVersion?: string;
  /** An update that takes over the original mefi's unlabelled aggregate (--adopt). */
  adopted?: boolean;
}

export type ProblemCode =
  | 'invalid-address'
  | 'disallowed-address'
  | 'invalid-port'
  | 'ambiguous-source'
  | 'invalid-name'
  | 'name-collision'
  | 'conflict'
  | 'stale-cluster'
  | 'too-many-addresses'
  | 'unknown-cluster'
  | 'unreachable'
  | 'deleted-again';

/** A problem as the planner's parts find it; plan() says whether it blocks. */
export interface Finding {
  code: ProblemCode;
  /** The cluster the object is in (a source cluster, or the target). */
  cluster: string;
  namespace?: string;
  name?: string;
  message: string;
}

export interface Problem extends Finding {
  /**
   * A wanted object is not as wanted because of it (a conflict, a collision,
   * an invalid name, an ambiguous source): the run has not converged. The
   * others only inform (an address or port dropped, a limit reached).
   */
  blocking: boolean;
}

export interface Unreadable {
  cluster: string;
  role: 'source' | 'target';
  error: string;
}

/** A Lease to write: a source cluster was read at `now` (staleAfter). */
export interface LeaseChange {
  action: 'create' | 'update';
  target: string;
  cluster: string;
  namespace: string;
  name: string;
  object: LeaseObject;
  resourceVersion?: string;
}

export interface Plan {
  creates: Change[];
  updates: Change[];
  deletes: Change[];
  /** Lease renewals (staleAfter): bookkeeping, not drift. */
  leases: LeaseChange[];
  unreadable: Unreadable[];
  problems: Problem[];
}
