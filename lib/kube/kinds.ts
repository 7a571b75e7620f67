// The kinds mefi reads and writes.

import type { EndpointsObject, LeaseObject, SliceObject } from '../plan/index.ts';
import { resource } from './resource.ts';

export const endpoints = resource<EndpointsObject>('endpoints', '/api/v1');
export const endpointSlices = resource<SliceObject>('endpointslices', '/apis/discovery.k8s.io/v1');
export const leases = resource<LeaseObject>('leases', '/apis/coordination.k8s.io/v1');
