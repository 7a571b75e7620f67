// A policy on a plan (as external-dns's are): creates of names that something
// else keeps deleting are held back until a given time, and said as problems.
// Pure: the times are data (lib/world/holdoff.ts decides them).

import type { Change, Plan } from './types.ts';

/** The key a held create is found under. */
export const heldKey = (c: Pick<Change, 'target' | 'namespace' | 'name'>) => `${c.target}/${c.namespace}/${c.name}`;

/** `plan` without the creates `until` holds back (key → epoch ms, kept past `now`), each a blocking problem. */
export function holdCreates(plan: Plan, until: ReadonlyMap<string, number>, now: number): Plan {
  if (until.size === 0) return plan;
  const held = plan.creates.filter((c) => (until.get(heldKey(c)) ?? 0) > now);
  if (held.length === 0) return plan;
  return {
    ...plan,
    creates: plan.creates.filter((c) => !held.includes(c)),
    problems: [
      ...plan.problems,
      ...held.map((c) => ({
        code: 'deleted-again' as const,
        cluster: c.target,
        namespace: c.namespace,
        name: c.name,
        message: `deleted again by something else after mefi wrote it back; written again at ${new Date(until.get(heldKey(c))!).toISOString()} (kube-controller-manager's Endpoints controller deletes, after each delete it sees, an Endpoints object that no Service has the name of)`,
        blocking: true,
      })),
    ],
  };
}
