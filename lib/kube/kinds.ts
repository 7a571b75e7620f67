// The kinds mefi reads and writes.

import type {
  Change,
  EndpointsObject,
  LeaseObject,
  NamespaceObject,
  ServiceExportObject,
  ServiceImportObject,
  ServiceObject,
  SliceObject,
} from '../plan/index.ts';
import type { ClusterProfileObject } from '../config/profiles.ts';
import { resource } from './resource.ts';

export const endpoints = resource<EndpointsObject>('endpoints', '/api/v1');
export const endpointSlices = resource<SliceObject>('endpointslices', '/apis/discovery.k8s.io/v1');
export const leases = resource<LeaseObject>('leases', '/apis/coordination.k8s.io/v1');
// MCS mode (multicluster.x-k8s.io/v1beta1, as sigs.k8s.io/mcs-api v0.5.2 serves it).
export const services = resource<ServiceObject>('services', '/api/v1');
export const namespaces = resource<NamespaceObject>('namespaces', '/api/v1');
export const serviceExports = resource<ServiceExportObject>('serviceexports', '/apis/multicluster.x-k8s.io/v1beta1');
export const serviceImports = resource<ServiceImportObject>('serviceimports', '/apis/multicluster.x-k8s.io/v1beta1');
// The hub's inventory (sigs.k8s.io/cluster-inventory-api v0.1).
export const clusterProfiles = resource<ClusterProfileObject>(
  'clusterprofiles',
  '/apis/multicluster.x-k8s.io/v1alpha1',
);

/** The resource a planned change is written to: one table for apply, the loop's caches and the report. */
const byChangeKind = {
  Endpoints: endpoints,
  EndpointSlice: endpointSlices,
  Service: services,
  ServiceImport: serviceImports,
  ServiceExportStatus: serviceExports,
} as const;
export const resourceOf = (c: Pick<Change, 'kind'>) => byChangeKind[c.kind ?? 'Endpoints'];
