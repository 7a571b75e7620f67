// The bench's DNS probe: does a cluster's DNS (CoreDNS, the kube-dns Service
// of a real-node bed) answer a name with an A record? Asked over TCP from the
// cluster's node network, through the node's CONNECT proxy (its unix socket,
// <cluster>/egress.sock): the server every pod of that cluster asks, reached
// as they reach it, through kube-proxy.

import { connect } from 'node:net';

/** The kube-dns Service's ClusterIP on the bed (spec/support/controlplane/node.go). */
const clusterDNS = '10.0.0.10';

/** A standard query for name's A record, with DNS over TCP's two-byte length before it. */
function query(name: string): Buffer {
  const labels = name
    .split('.')
    .filter(Boolean)
    .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  // id 1, recursion desired, one question; the name, then type A (1), class IN (1).
  const message = Buffer.concat([
    Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
    ...labels,
    Buffer.from([0, 0, 1, 0, 1]),
  ]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/** Whether the cluster's DNS answers name with at least one record (NOERROR), asked through the node's proxy at socket. */
export function resolves(socket: string, name: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = connect({ path: socket });
    let connected = false;
    let data = Buffer.alloc(0);
    const done = (ok: boolean) => {
      conn.destroy();
      resolve(ok);
    };
    conn.setTimeout(timeoutMs, () => done(false));
    conn.on('error', () => done(false));
    conn.on('connect', () => conn.write(`CONNECT ${clusterDNS}:53 HTTP/1.1\r\nHost: ${clusterDNS}:53\r\n\r\n`));
    conn.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (!connected) {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!/^HTTP\/1\.1 200/.test(data.subarray(0, end).toString())) return done(false);
        connected = true;
        data = data.subarray(end + 4);
        conn.write(query(name));
      }
      if (data.length < 2 || data.length < 2 + data.readUInt16BE(0)) return;
      const flags = data.readUInt16BE(2 + 2);
      const answers = data.readUInt16BE(2 + 6);
      done((flags & 0xf) === 0 && answers > 0);
    });
  });
}
