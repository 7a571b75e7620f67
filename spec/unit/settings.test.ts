import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatIssue } from '../../lib/config/config.ts';
import { parseWarnings } from '../../lib/kube/client.ts';
import { createLogger, redact } from '../../lib/report/log.ts';
import { selectorError } from '../../lib/config/selector.ts';
import { parseDuration } from '../../lib/config/duration.ts';
import { resolveSettings, type Flags } from '../../lib/config/settings.ts';

const defaults: Flags = {
  config: 'mefi.yaml',
  remoteFilter: 'isMefiRemote=true',
  localFilter: 'isMefiLocal',
  originalFilter: 'isMefiOriginalName',
  sourceClusterLabel: 'multicluster.kubernetes.io/source-cluster',
  mefiNamespace: 'mefi-system',
  concurrency: 8,
  requestTimeout: '30s',
  pageSize: 500,
  policy: 'sync',
};

function settingsErrors(flags: Partial<Flags>): string[] {
  try {
    resolveSettings({ ...defaults, ...flags });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues.map(formatIssue);
  }
  return [];
}

describe('label selectors', () => {
  it('accepts what apimachinery accepts', () => {
    for (const s of [
      'isMefiRemote=true',
      'isMefiRemote',
      '!legacy',
      'a==b',
      'a!=b',
      'tier in (web, api)',
      'tier notin (db)',
      'app=web,env in (prod,stage),!skip',
      'example.com/mefi=yes',
      'a=',
    ]) {
      assert.equal(selectorError(s), undefined, s);
    }
  });
  it('says what is wrong with the rest', () => {
    assert.equal(selectorError(''), 'is empty: it would select every Endpoints of every cluster');
    assert.equal(selectorError('a=b,'), "found '', expected: a label key after ','");
    assert.equal(selectorError('a b'), "found 'b', expected: in, notin, =, ==, !=, > or <");
    assert.equal(selectorError('-bad=x'), 'key "-bad" is not a valid label key');
    assert.equal(selectorError('a=b c'), "found 'c', expected: ',' or the end");
    assert.equal(selectorError('a in (x, y z)'), "found 'z', expected: ',' or ')'");
    assert.equal(selectorError(`a=${'v'.repeat(64)}`), `value "${'v'.repeat(64)}" is not a valid label value`);
  });
});

describe('settings', () => {
  it("keeps the original's defaults: owner label isMefiLocal=true", () => {
    const s = resolveSettings(defaults);
    assert.deepEqual(s.options.ownerLabel, { key: 'isMefiLocal', value: 'true' });
    assert.equal(s.options.namespace, 'mefi-system');
    assert.equal(s.requestTimeoutMs, 30_000);
  });
  it('accepts key=value for --local-filter and comma lists for --local', () => {
    const s = resolveSettings({ ...defaults, localFilter: 'example.com/managed-by=mefi', local: ['a,b', 'c'] });
    assert.deepEqual(s.options.ownerLabel, { key: 'example.com/managed-by', value: 'mefi' });
    assert.deepEqual(s.local, ['a', 'b', 'c']);
  });
  it('names the flag of every bad value', () => {
    assert.deepEqual(
      settingsErrors({
        remoteFilter: 'a b',
        localFilter: 'a=b=c',
        mefiNamespace: 'Mefi',
        concurrency: 0,
        requestTimeout: 'soon',
        policy: 'delete-all',
        pageSize: -1,
      }),
      [
        'command line: --remote-filter: "a b" found \'b\', expected: in, notin, =, ==, !=, > or <',
        'command line: --local-filter: "a=b=c" is not a label key or key=value',
        'command line: --mefi-namespace: "Mefi" is not a valid namespace name',
        'command line: --concurrency: must be a whole number from 1 to 256, got 0',
        'command line: --page-size: must be a whole number, 0 for unpaginated lists, got -1',
        'command line: --request-timeout: "soon" is not a duration such as 30s or 1m',
        'command line: --policy: must be sync or upsert-only, got "delete-all"',
      ],
    );
    assert.deepEqual(settingsErrors({ originalFilter: 'isMefiLocal' }), [
      'command line: --local-filter: the owner, original-name and source-cluster labels must be three different keys',
    ]);
  });

  it('takes --cluster-services in slice mode only, and says why', () => {
    assert.deepEqual(settingsErrors({ clusterServices: true }), [
      "command line: --cluster-services: needs --target endpointslices: a cluster's own Service is a set of EndpointSlices (the mirroring controller skips mefi's mirrors)",
    ]);
    assert.equal(
      resolveSettings({ ...defaults, clusterServices: true, target: 'endpointslices' }).options.clusterServices,
      true,
    );
    assert.equal(resolveSettings({ ...defaults, target: 'endpointslices' }).options.clusterServices, undefined);
  });
  it('reads durations', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('2'), 2000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('1x'), undefined);
    assert.equal(parseDuration(''), undefined);
  });
});

describe('logs and warnings', () => {
  it('masks bearer tokens, JWTs and PEM blocks', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJlLXZhbHVl';
    assert.equal(redact(`Authorization: Bearer abc.def-123`), 'Authorization: Bearer <redacted>');
    assert.equal(redact(`token ${jwt} here`), 'token <redacted JWT> here');
    assert.equal(
      redact('x -----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY----- y'),
      'x <redacted PEM> y',
    );
  });
  it('writes JSON lines or text, filtered by level, redacted', () => {
    const lines: string[] = [];
    const log = createLogger('info', 'json', (l) => lines.push(l));
    log.debug('hidden');
    log.info('shown', { header: 'Bearer s3cret' });
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.msg, 'shown');
    assert.equal(entry.level, 'info');
    assert.equal(entry.header, 'Bearer <redacted>');
    const text: string[] = [];
    createLogger('debug', 'text', (l) => text.push(l)).warn('run finished', { cluster: 'alpha', error: 'a b' });
    assert.match(text[0]!, /^\d\d:\d\d:\d\d\.\d{3} WARN  run finished cluster=alpha error="a b"\n$/);
  });
  it('parses Warning headers', () => {
    assert.deepEqual(
      parseWarnings('299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"'),
      ['v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice'],
    );
    assert.deepEqual(parseWarnings('299 - "a, b", 299 - "say \\"c\\""'), ['a, b', 'say "c"']);
  });
});

describe('probe flags', () => {
  it('are checked whether or not --probe is given, each error naming its flag', () => {
    assert.deepEqual(settingsErrors({ probeTimeout: 'soon', probeConcurrency: 0, probeInterval: '100ms' }), [
      'command line: --probe-timeout: "soon" is not a duration from 10ms to 1m, such as 1s',
      'command line: --probe-concurrency: must be a whole number from 1 to 10000, got 0',
      'command line: --probe-interval: "100ms" is not a duration of at least 1s, such as 10s',
    ]);
  });
  it('default to a 1s timeout, 1000 connects at once and a 10s interval', () => {
    assert.deepEqual(resolveSettings({ ...defaults, probe: true }).probe, {
      timeoutMs: 1000,
      concurrency: 1000,
      intervalMs: 10_000,
    });
    assert.equal(resolveSettings(defaults).probe, undefined);
  });
});
