// The planner's vocabulary. Plain data: what the API returns goes in, what the
// API should be sent comes out.

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

import type { EndpointsObject, LeaseObject, SliceObject } from './objects.ts';
import type { NamespaceObject, ServiceExportObject, ServiceImportObject, ServiceObject } from './mcs/types.ts';
export type * from './objects.ts';
export type {
  Condition,
  ImportPort,
  ImportType,
  NamespaceObject,
  ServiceExportObject,
  ServiceImportObject,
  ServiceImportSpec,
  ServiceObject,
  ServicePortSpec,
} from './mcs/types.ts';

/** An object mefi writes in a target: an Endpoints object, or an EndpointSlice in slice mode. */
export type TargetObject = EndpointsObject | SliceObject;

/**
 * What one cluster's reads gave: the items, or why there are none. A target's
 * outcome also carries its Leases. In MCS mode (PlanOptions.mode 'mcs') items
 * is empty and the rest is said by kind:
 * - a source: its ServiceExports, the Services they name, and the
 *   EndpointSlices of those Services (`slices`, any managed-by but mefi's);
 * - a target: its ServiceImports, derived Services and MCS slices mefi owns
 *   (by its ownership label), and any object that occupies a name mefi wants
 *   there; with `namespaces`, imports go only where the namespace exists.
 */
export type ReadOutcome =
  | {
      ok: true;
      items: EndpointsObject[];
      leases?: LeaseObject[];
      slices?: SliceObject[];
      serviceExports?: ServiceExportObject[];
      services?: ServiceObject[];
      serviceImports?: ServiceImportObject[];
      namespaces?: NamespaceObject[];
    }
  | { ok: false; error: string };

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
  /** MCS mode, per cluster: its id in the ClusterSet (KEP-2149's cluster.clusterset.k8s.io), where it is not its name. */
  clusterIds?: Record<string, string>;
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
  /**
   * What chooses and publishes what is shared (DESIGN.md §9): labelled
   * Endpoints, mirrored into `namespace` (endpoints, the default), or the
   * Multi-Cluster Services API (mcs): ServiceExports in, and in every target,
   * in the export's own namespace, a ServiceImport, its derived Service and
   * EndpointSlices (through the slice writer, maxEndpointsPerSlice each).
   * Leases (staleAfter) stay in `namespace` in both.
   */
  mode?: 'endpoints' | 'mcs';
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
  /** The time of the read (ms since the epoch): the planner has no clock of its own. Needed with staleAfter, and in MCS mode (a condition's lastTransitionTime). */
  now?: number;
}

export type Role = 'mirror' | 'aggregate';

export interface Change {
  /** The cluster written to: a target, or for a ServiceExportStatus the export's own (source) cluster. */
  target: string;
  /**
   * The kind written: Endpoints unless said otherwise. MCS mode writes
   * ServiceImports and their derived Services (role aggregate: one per
   * exported name, merging every cluster), EndpointSlices (role mirror: one
   * cluster's endpoints), and the status of ServiceExports
   * (ServiceExportStatus, role mirror, in the export's cluster: always an
   * update of the status subresource alone).
   */
  kind?: 'Endpoints' | 'EndpointSlice' | 'ServiceImport' | 'Service' | 'ServiceExportStatus';
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
  /** MCS kinds: the object as read (updates, deletes), what a diff shows beside `object`. */
  current?: ServiceImportObject | ServiceObject | ServiceExportObject;
  /** The object to send (creates, updates), of `kind`: for updates it carries the resourceVersion read. */
  object?: EndpointsObject | SliceObject | ServiceImportObject | ServiceObject | ServiceExportObject;
  /**
   * The calls the change needs, for kinds with a status subresource: the
   * object itself (POST or PUT) and/or its /status (PUT), in that order. A
   * create of a ServiceImport needs both (the server ignores status on
   * create); a ServiceExportStatus only 'status'. Absent: the object only.
   */
  writes?: ('object' | 'status')[];
  /**
   * ServiceImport only: its spec.ips (for a ClusterSetIP import) are the
   * clusterIPs of this Service (the derived one, same target and namespace),
   * which this plan creates or recreates, so they are not known yet (KEP
   * "ClusterSetIP": the server allocates them); so are its spec.ipFamilies
   * when the plan leaves them out (no export said). Apply writes that
   * Service first and fills them in from what the server stored before
   * writing the import; if it does not, the next run does, as an update.
   */
  ipsFrom?: string;
  /**
   * Service only: an immutable field changes (headless or not, the primary IP
   * family): apply deletes the object, conditional on resourceVersion, and
   * creates `object`. Its cluster IPs change, and the import's with them.
   */
  recreate?: boolean;
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
  | 'deleted-again'
  /** MCS: a ServiceExport that is not valid (no Service, ExternalName), or asks for a key mefi keeps; its status says so too. */
  | 'invalid-export'
  /** MCS: exports of one name disagree; the oldest wins, and every export's status says so (KEP "Constraints and Conflict Resolution"). */
  | 'export-conflict'
  /** MCS: a target has no (or a Terminating) namespace of an export's: nothing is imported there (the KEP leaves creating it out). */
  | 'missing-namespace';

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
