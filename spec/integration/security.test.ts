// TLS is verified unless the config says otherwise, credentials never reach
// output or logs, and a refused call says which cluster, verb and resource.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { dir, kubeconfigOf, mefi, scratch, skip } from '../support/world.ts';

function alphaAccess() {
  const kc = JSON.parse(readFileSync(kubeconfigOf('alpha'), 'utf8'));
  const token = readFileSync(path.join(dir, 'alpha', 'tokens.csv'), 'utf8').split(',')[0]!; // user "nobody": authenticated, no roles
  return {
    server: kc.clusters[0].cluster.server as string,
    ca: kc.clusters[0].cluster['certificate-authority-data'] as string,
    token,
  };
}

function config(lines: string[]): string {
  const d = scratch('mefi-sec-');
  const file = path.join(d, 'mefi.yaml');
  writeFileSync(
    file,
    ['clusters:', '  - name: alpha', '    type: local', ...lines.map((l) => `    ${l}`)].join('\n') + '\n',
  );
  return file;
}

describe('security against a real API server', { skip }, () => {
  it('says which cluster, verb and resource RBAC refused, exits 2, and never prints the token', async () => {
    const a = alphaAccess();
    const file = config([`url: ${a.server}`, `token: ${a.token}`, `ca: ${a.ca}`]);
    for (const output of ['table', 'json']) {
      const r = await mefi(['sync', '-c', file, '-v', 'debug', '-o', output, '--log-format', 'json']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stdout + r.stderr,
        /cluster alpha: list endpoints in all namespaces: Forbidden: endpoints is forbidden: User \\?"nobody\\?" cannot list resource \\?"endpoints\\?"/,
      );
      assert.ok(!(r.stdout + r.stderr).includes(a.token), 'the token appears in the output');
    }
  });

  it('verifies TLS by default: without the CA the server is not trusted', async () => {
    const a = alphaAccess();
    const r = await mefi(['sync', '-c', config([`url: ${a.server}`, `token: ${a.token}`])], {
      NODE_TLS_REJECT_UNAUTHORIZED: '',
    });
    assert.equal(r.code, 2);
    assert.match(
      r.stdout,
      /UNREADABLE alpha \(source\): cluster alpha: list endpoints in all namespaces: .*(certificate|self-signed|UNABLE_TO_VERIFY|SELF_SIGNED)/i,
    );
  });

  it('skips verification only when insecureSkipTLSVerify: true is written', async () => {
    const a = alphaAccess();
    const r = await mefi([
      'sync',
      '-c',
      config([`url: ${a.server}`, `token: ${a.token}`, 'insecureSkipTLSVerify: true']),
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /Forbidden/, 'TLS passed, so RBAC answered');
  });

  it('reads a token file, trailing newline and all', async () => {
    const a = alphaAccess();
    const d = scratch('mefi-tok-');
    writeFileSync(path.join(d, 'token'), `${a.token}\n`);
    writeFileSync(path.join(d, 'ca.crt'), Buffer.from(a.ca, 'base64'));
    const r = await mefi([
      'sync',
      '-c',
      config([`url: ${a.server}`, `tokenFile: ${path.join(d, 'token')}`, `caFile: ${path.join(d, 'ca.crt')}`]),
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /Forbidden/, 'authenticated as nobody (403), not rejected as unknown (401)');
    assert.doesNotMatch(r.stdout, /Unauthorized/);
  });
});
