// The Multi-Cluster Services API's objects (KEP-1645, sigs.k8s.io/mcs-api
// v0.5.2, multicluster.x-k8s.io/v1beta1), as far as the planner reads and
// writes them, and the core Services it derives. Plain data, as the API
// returns it.

import type { ObjectMeta } from '../objects.ts';

export const mcsApiVersion = 'multicluster.x-k8s.io/v1beta1';
/** On an EndpointSlice: the ServiceImport it belongs to (v1beta1.LabelServiceName). */
export const mcsServiceNameLabel = 'multicluster.kubernetes.io/service-name';
/** On an EndpointSlice: the cluster id its endpoints come from (v1beta1.LabelSourceCluster). */
export const mcsSourceClusterLabel = 'multicluster.kubernetes.io/source-cluster';
/**
 * A cluster's id in the ClusterSet, as ServiceImport.status.clusters and the
 * slices' source-cluster label say it: its cluster.clusterset.k8s.io
 * ClusterProperty where it has one, else its name.
 */
export function mcsIdOf(options: { clusterIds?: Record<string, string> }, cluster: string): string {
  return options.clusterIds?.[cluster] ?? cluster;
}

/** The configured cluster a source-cluster label names (by its id, or by its name as before it had one), else the label as it is. */
export function mcsClusterOf(options: { clusterIds?: Record<string, string> }, label: string): string {
  for (const [cluster, id] of Object.entries(options.clusterIds ?? {})) if (id === label) return cluster;
  return label;
}

/** On a ServiceImport: its derived Service (mcs-api controllers.DerivedServiceAnnotation; Cilium's Gateway API needs it). */
export const derivedServiceAnnotation = 'multicluster.kubernetes.io/derived-service';

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface ServiceExportObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta & { creationTimestamp?: string; generation?: number; deletionTimestamp?: string };
  spec?: { exportedLabels?: Record<string, string> | null; exportedAnnotations?: Record<string, string> | null } | null;
  status?: { conditions?: Condition[] | null } | null;
}

export interface ServicePortSpec {
  name?: string;
  protocol?: string;
  port?: number;
  appProtocol?: string;
  targetPort?: number | string;
  nodePort?: number;
}

export interface SessionAffinityConfig {
  clientIP?: { timeoutSeconds?: number | null } | null;
}

/** A core v1 Service: an exported one in a source, a derived one in a target. */
export interface ServiceObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    type?: string;
    selector?: Record<string, string> | null;
    ports?: ServicePortSpec[] | null;
    clusterIP?: string;
    clusterIPs?: string[] | null;
    ipFamilies?: string[] | null;
    ipFamilyPolicy?: string;
    sessionAffinity?: string;
    sessionAffinityConfig?: SessionAffinityConfig | null;
    internalTrafficPolicy?: string;
    trafficDistribution?: string;
    externalName?: string;
    [other: string]: unknown;
  };
}

export type ImportType = 'ClusterSetIP' | 'Headless';

/** ServiceImport.spec.ports[]: a port without targetPort. */
export interface ImportPort {
  name?: string;
  protocol?: string;
  port: number;
  appProtocol?: string;
}

export interface ServiceImportSpec {
  ports: ImportPort[];
  ips?: string[];
  type: ImportType;
  sessionAffinity?: string;
  sessionAffinityConfig?: SessionAffinityConfig | null;
  ipFamilies?: string[];
  internalTrafficPolicy?: string;
  trafficDistribution?: string;
}

export interface ServiceImportObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: ServiceImportSpec;
  status?: {
    clusters?: { cluster: string }[] | null;
    endpointSliceObjects?: 'Present' | 'Absent';
    conditions?: Condition[] | null;
    [other: string]: unknown;
  } | null;
}

/** A Namespace of a target: imports go only where the export's namespace exists and is not Terminating (KEP "Importing Services"). */
export interface NamespaceObject {
  metadata: { name: string; [other: string]: unknown };
  status?: { phase?: string } | null;
}
