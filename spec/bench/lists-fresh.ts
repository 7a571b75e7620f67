// The floor of a one-shot run, as a one-shot run has it: a new process with
// new connections (TLS handshakes) and a cold JIT sending the same paginated
// lists at the same concurrency. Prints the ms from its first request to its
// last page parsed (mefi's run time, too, starts after the process has).
//   node lists-fresh.ts '<json: {lists: [{kubeconfig, path, query}], pageSize, concurrency}>'

import pLimit from 'p-limit';
import { listAll, rawClient } from './raw.ts';

const { lists, pageSize, concurrency } = JSON.parse(process.argv[2]!) as {
  lists: { kubeconfig: string; path: string; query: Record<string, string> }[];
  pageSize: number;
  concurrency: number;
};
const clients = lists.map((l) => rawClient(l.kubeconfig));
const limit = pLimit(concurrency);
const t = performance.now();
await Promise.all(lists.map((l, i) => limit(() => listAll(clients[i]!, l.path, l.query, pageSize))));
process.stdout.write(`${performance.now() - t}\n`);
process.exit(0);
