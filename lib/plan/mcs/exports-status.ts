// The status of every ServiceExport of a readable cluster: conditions Valid,
// Ready and Conflict (sigs.k8s.io/mcs-api v1beta1 serviceexport.go), written
// through the status subresource in the export's own cluster. A condition's
// lastTransitionTime changes only when its status does (metav1.Condition),
// taken from the run's `now`, so an unchanged world plans no write.
// Conditions of other types (another controller's) are kept as they are.

import equal from 'fast-deep-equal';
import type { Change } from '../types.ts';
import type { McsView } from './exports.ts';
import { mcsApiVersion, type Condition, type ServiceExportObject } from './types.ts';

/** How an exported name fared in one readable target. */
export type ImportState =
  /** Planned as wanted (written or already so). */
  | { state: 'imported' }
  /** Not written: a name it needs there is another's. */
  | { state: 'blocked'; message: string }
  /** Kept as it is while exporting clusters cannot be read; these clusters are in it. */
  | { state: 'frozen'; listed: string[]; unknown: string[] }
  /** No such namespace there: not imported, as the KEP says. */
  | { state: 'absent' };

/** Per target, per `<namespace>/<name>`. */
export type ImportStates = Map<string, Map<string, ImportState>>;

const managedTypes = ['Valid', 'Ready', 'Conflict'];

/** metav1.Time: RFC 3339, whole seconds. */
const timeOf = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function planExportStatus(view: McsView, states: ImportStates, now: number | undefined): Change[] {
  const changes: Change[] = [];
  const at = timeOf(now ?? 0);
  for (const [key, entry] of view.exported) {
    // Where the name could not be imported, or waits: the same for every export of it.
    const blocked: string[] = [];
    const frozen: { target: string; listed: string[]; unknown: string[] }[] = [];
    for (const [target, byKey] of [...states].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const s = byKey.get(key);
      if (s?.state === 'blocked') blocked.push(`${target} (${s.message})`);
      if (s?.state === 'frozen') frozen.push({ target, ...s });
    }
    const conflict = entry.conflicts.length
      ? {
          status: 'True' as const,
          reason: entry.conflicts.map((c) => c.reason).join(','),
          message: entry.conflicts.map((c) => c.message).join(' '),
        }
      : { status: 'False' as const, reason: 'NoConflicts', message: 'every export of the name agrees' };
    for (const e of entry.exports) {
      const current = e.object.status?.conditions ?? [];
      const generation = e.object.metadata.generation;
      const condition = (type: string, status: Condition['status'], reason: string, message: string): Condition => {
        const was = current.find((c) => c.type === type);
        return {
          type,
          status,
          reason,
          // metav1.Condition's message is at most 32768 characters.
          message: message.length > 32768 ? `${message.slice(0, 32765)}...` : message,
          lastTransitionTime: was?.status === status && was.lastTransitionTime ? was.lastTransitionTime : at,
          ...(generation !== undefined ? { observedGeneration: generation } : {}),
        };
      };
      const waiting = frozen.filter((f) => !f.listed.includes(e.cluster));
      const wanted: Condition[] = e.invalid
        ? [
            condition('Valid', 'False', e.invalid.reason, e.invalid.message),
            condition('Ready', 'False', 'Pending', 'not exported: the export is not valid (see condition Valid)'),
          ]
        : [
            condition('Valid', 'True', 'Valid', `Service ${key} is exported`),
            blocked.length
              ? condition('Ready', 'False', 'Failed', `not imported in ${blocked.join(', ')}`)
              : waiting.length
                ? condition(
                    'Ready',
                    'False',
                    'Pending',
                    `not yet imported in ${waiting.map((f) => `${f.target} (its import waits for cluster ${f.unknown.join(', ')} to be read)`).join(', ')}`,
                  )
                : condition('Ready', 'True', 'Exported', 'imported in every readable cluster that has the namespace'),
            // An invalid export takes no part in the merge: it has no Conflict condition (as Cilium does).
            condition('Conflict', conflict.status, conflict.reason, conflict.message),
          ];
      const others = current.filter((c) => !managedTypes.includes(c.type));
      const conditions = [...others, ...wanted];
      const byType = (cs: Condition[]) => Object.fromEntries(cs.map((c) => [c.type, c]));
      if (equal(byType(current), byType(conditions))) continue;
      const { managedFields: _m, ...metadata } = e.object.metadata;
      const object: ServiceExportObject = {
        apiVersion: mcsApiVersion,
        kind: 'ServiceExport',
        metadata,
        ...(e.object.spec ? { spec: e.object.spec } : {}),
        status: { ...(e.object.status ?? {}), conditions },
      };
      changes.push({
        target: e.cluster,
        kind: 'ServiceExportStatus',
        role: 'mirror',
        namespace: entry.namespace,
        name: entry.name,
        originalName: entry.name,
        cluster: e.cluster,
        object,
        current: e.object,
        writes: ['status'],
        ...(e.object.metadata.resourceVersion ? { resourceVersion: e.object.metadata.resourceVersion } : {}),
      });
    }
  }
  return changes;
}
