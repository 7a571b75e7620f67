// Which cluster and user a kubeconfig's context names, written once: the
// config loader checks it (with the config's line and field), the connection
// uses it. Pure: a parsed kubeconfig in, the entries or what is wrong out.

type Entry = Record<string, unknown>;

export type Resolved =
  { ok: true; context: string; cluster: Entry; user: Entry } | { ok: false; onContext: boolean; message: string };

const isEntry = (v: unknown): v is Entry => typeof v === 'object' && v !== null && !Array.isArray(v);
const named = (list: unknown, name: unknown): Entry | undefined =>
  Array.isArray(list) ? list.filter(isEntry).find((x) => x.name === name) : undefined;

/** The context (given, else the file's current-context), its cluster and its user (users may be absent: no credentials). */
export function resolveKubeconfig(kc: unknown, file: string, context: string | undefined): Resolved {
  if (!isEntry(kc) || !Array.isArray(kc.contexts) || !Array.isArray(kc.clusters))
    return { ok: false, onContext: false, message: `${file} is not a kubeconfig (no clusters and contexts lists)` };
  const name =
    context ?? (typeof kc['current-context'] === 'string' && kc['current-context'] ? kc['current-context'] : undefined);
  if (!name) return { ok: false, onContext: false, message: `${file} has no current-context; set context` };
  const entry = named(kc.contexts, name);
  if (!entry) {
    const known =
      kc.contexts
        .filter(isEntry)
        .map((x) => String(x.name))
        .join(', ') || 'none';
    return {
      ok: false,
      onContext: context !== undefined,
      message: `context ${name} is not in ${file} (it has: ${known})`,
    };
  }
  const ctx = isEntry(entry.context) ? entry.context : {};
  const cluster = named(kc.clusters, ctx.cluster)?.cluster;
  if (!isEntry(cluster) || typeof cluster.server !== 'string')
    return {
      ok: false,
      onContext: context !== undefined,
      message: `context ${name} in ${file} names cluster ${String(ctx.cluster)}, which is not in it (with a server)`,
    };
  const user = named(kc.users, ctx.user)?.user;
  return { ok: true, context: name, cluster, user: isEntry(user) ? user : {} };
}
