// The application the network tests balance, as users have it: in every
// cluster a Service app/web labelled for mefi, selecting two pods that answer
// "<cluster> <pod>" (gamma's on another port, so the aggregate holds two port
// sets), and a client pod in alpha that sends the requests. The sources come
// from the real controllers, not from the test.

import type { Pods, PodRef } from './pods.ts';
import { eventually, type World } from './world.ts';

export const clusters = ['alpha', 'beta', 'gamma'];
export const portOf = (cluster: string) => (cluster === 'gamma' ? 9090 : 8080);
export const client: PodRef = { cluster: 'alpha', namespace: 'app', name: 'client' };

export async function deployWeb(w: World, pods: Pods): Promise<void> {
  for (const c of clusters) {
    await w.ensureNamespace(c, 'app');
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'app', labels: { isMefiRemote: 'true' } },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: portOf(c) }] },
    };
    const r = await w.kubectl(['apply', '-f', '-'], { cluster: c, input: JSON.stringify(service) });
    if (r.code !== 0) throw new Error(`${c}: Service app/web: ${r.stderr}`);
    for (const name of ['web-1', 'web-2'])
      await pods.add({ cluster: c, namespace: 'app', name, labels: { app: 'web' }, ports: [portOf(c)] });
  }
  await pods.add({ ...client, labels: { app: 'client' }, ports: [8080] });
  for (const c of clusters)
    await eventually(
      `${c}: Endpoints app/web with both pods`,
      async () => ((await w.getEndpoints(c, 'app', 'web'))?.subsets?.[0]?.addresses?.length ?? 0) === 2,
    );
}
