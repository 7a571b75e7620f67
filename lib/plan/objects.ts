// Kubernetes objects as the API returns them and as mefi sends them: only
// the fields mefi reads or writes. Plain data (the MCS API's objects are in
// mcs/types.ts).

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

/** A discovery.k8s.io/v1 EndpointSlice. */
export interface SliceEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null } | null;
  hostname?: string;
  nodeName?: string;
  targetRef?: unknown;
  zone?: string;
}

export interface SliceObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  addressType: string;
  endpoints?: SliceEndpoint[] | null;
  ports?: RawPort[] | null;
}

/** A coordination.k8s.io/v1 Lease: when a source cluster was last read (staleAfter). */
export interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    holderIdentity?: string | null;
    renewTime?: string | null;
    leaseDurationSeconds?: number | null;
    /** --leader-elect's too (lib/loop/leader.ts). */
    acquireTime?: string | null;
    leaseTransitions?: number | null;
  };
}
