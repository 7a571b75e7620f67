import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeSubsets, toRawSubsets } from '../../lib/plan/normalize.ts';

const http = { name: 'http', port: 8080, protocol: 'TCP' as const };

describe('normalizeSubsets', () => {
  it('defaults the protocol to TCP and drops nodeName and targetRef', () => {
    const { subsets, dropped } = normalizeSubsets([
      {
        addresses: [{ ip: '10.0.0.1', nodeName: 'node-1', targetRef: { kind: 'Pod', name: 'web-1' } }],
        ports: [{ name: 'http', port: 8080 }],
      },
    ]);
    assert.deepEqual(subsets, [{ addresses: [{ ip: '10.0.0.1' }], notReadyAddresses: [], ports: [http] }]);
    assert.deepEqual(dropped, []);
  });

  it('merges subsets with identical port sets, ready wins, duplicates go, all sorted', () => {
    const { subsets } = normalizeSubsets([
      {
        addresses: [{ ip: '10.0.0.3' }, { ip: '10.0.0.1' }],
        notReadyAddresses: [{ ip: '10.0.0.2' }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
      {
        addresses: [{ ip: '10.0.0.2' }, { ip: '10.0.0.1' }],
        notReadyAddresses: [{ ip: '10.0.0.4' }],
        ports: [{ name: 'http', port: 8080 }],
      },
    ]);
    assert.deepEqual(subsets, [
      {
        addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }],
        notReadyAddresses: [{ ip: '10.0.0.4' }],
        ports: [http],
      },
    ]);
  });

  it('keeps subsets with different ports apart: never a wrong port', () => {
    const { subsets } = normalizeSubsets([
      { addresses: [{ ip: '10.2.0.1' }], ports: [{ name: 'http', port: 80 }] },
      { addresses: [{ ip: '10.1.0.1' }], ports: [{ name: 'http', port: 8080 }] },
    ]);
    assert.equal(subsets.length, 2);
    assert.deepEqual(subsets.map((s) => [s.ports[0]!.port, s.addresses[0]!.ip]).sort(), [
      [80, '10.2.0.1'],
      [8080, '10.1.0.1'],
    ]);
  });

  it('treats port order inside a subset as irrelevant', () => {
    const a = normalizeSubsets([
      {
        addresses: [{ ip: '10.0.0.1' }],
        ports: [
          { name: 'b', port: 2 },
          { name: 'a', port: 1 },
        ],
      },
    ]).subsets;
    const b = normalizeSubsets([
      {
        addresses: [{ ip: '10.0.0.1' }],
        ports: [
          { name: 'a', port: 1, protocol: 'TCP' },
          { name: 'b', port: 2 },
        ],
      },
    ]).subsets;
    assert.deepEqual(a, b);
    assert.deepEqual(
      a[0]!.ports.map((p) => p.name),
      ['a', 'b'],
    );
  });

  it('writes IPv4 addresses with leading zeros in canonical form, and canonical ones as they are', () => {
    const { subsets } = normalizeSubsets([
      {
        addresses: [
          { ip: '010.001.000.009' },
          { ip: '10.0.0.10' },
          { ip: '1.02.3.4' },
          { ip: '0.0.0.1' },
          { ip: '10.0.0.100' },
        ],
        ports: [http],
      },
    ]);
    assert.deepEqual(
      subsets[0]!.addresses.map((a) => a.ip),
      ['0.0.0.1', '1.2.3.4', '10.0.0.10', '10.0.0.100', '10.1.0.9'],
    );
  });

  it('handles IPv6 and mixed families in canonical order', () => {
    const { subsets } = normalizeSubsets([
      { addresses: [{ ip: 'FD00::0002' }, { ip: '10.0.0.1' }, { ip: 'fd00::2' }], ports: [http] },
    ]);
    assert.deepEqual(subsets[0]!.addresses, [{ ip: '10.0.0.1' }, { ip: 'fd00::2' }]);
  });

  it('drops special and malformed addresses with a reason, keeping the rest', () => {
    const { subsets, dropped } = normalizeSubsets([
      {
        addresses: [{ ip: '127.0.0.1' }, { ip: '10.0.0.1' }, { ip: 'fe80::1' }, { ip: 'nonsense' }, {}],
        notReadyAddresses: [{ ip: '224.0.0.5' }],
        ports: [http],
      },
    ]);
    assert.deepEqual(subsets[0]!.addresses, [{ ip: '10.0.0.1' }]);
    assert.deepEqual(
      dropped.map((d) => d.message),
      [
        'address 127.0.0.1 is loopback',
        'address fe80::1 is link-local',
        'address "nonsense" is not an IP address',
        'address undefined is not an IP address',
        'address 224.0.0.5 is multicast',
      ],
    );
    assert.ok(dropped.every((d) => d.code === 'invalid-address'));
  });

  it('drops a subset whose ports the API server would refuse, and says why', () => {
    const { subsets, dropped } = normalizeSubsets([
      { addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }, { port: 443 }] },
      { addresses: [{ ip: '10.0.0.2' }], ports: [{ name: 'x', port: 70000 }] },
      { addresses: [{ ip: '10.0.0.3' }], ports: [{ name: 'dns', port: 53, protocol: 'ICMP' }] },
      { addresses: [{ ip: '10.0.0.4' }], ports: [{ name: 'Bad_Name', port: 1 }] },
      { addresses: [{ ip: '10.0.0.5' }], ports: [http] },
    ]);
    assert.deepEqual(
      subsets.map((s) => s.addresses[0]!.ip),
      ['10.0.0.5'],
    );
    assert.equal(dropped.length, 4);
    assert.ok(dropped.every((d) => d.code === 'invalid-port'));
    assert.match(dropped[0]!.message, /several ports needs a name/);
    assert.match(dropped[1]!.message, /70000 is not in 1-65535/);
    assert.match(dropped[2]!.message, /"ICMP" is not TCP, UDP or SCTP/);
    assert.match(dropped[3]!.message, /"Bad_Name" is not a DNS-1123 label/);
  });

  it('drops empty subsets and keeps headless (port-less) ones', () => {
    const { subsets } = normalizeSubsets([
      { ports: [http] },
      { addresses: [], notReadyAddresses: [] },
      { addresses: [{ ip: '10.0.0.1' }] },
      null as never,
    ]);
    assert.deepEqual(subsets, [{ addresses: [{ ip: '10.0.0.1' }], notReadyAddresses: [], ports: [] }]);
  });

  it('keeps the least hostname when duplicates disagree, whatever the order', () => {
    const one = normalizeSubsets([
      {
        addresses: [
          { ip: '10.0.0.1', hostname: 'b' },
          { ip: '10.0.0.1', hostname: 'a' },
        ],
        ports: [http],
      },
    ]).subsets;
    const two = normalizeSubsets([
      {
        addresses: [
          { ip: '10.0.0.1', hostname: 'a' },
          { ip: '10.0.0.1', hostname: 'b' },
        ],
        ports: [http],
      },
    ]).subsets;
    assert.deepEqual(one, two);
    assert.equal(one[0]!.addresses[0]!.hostname, 'a');
  });

  it('is idempotent through the API form', () => {
    const once = normalizeSubsets([
      { addresses: [{ ip: '10.0.0.2' }], notReadyAddresses: [{ ip: '10.0.0.1' }], ports: [{ name: 'http', port: 80 }] },
      { addresses: [{ ip: 'fd00::1', hostname: 'h' }] },
    ]).subsets;
    assert.deepEqual(normalizeSubsets(toRawSubsets(once)).subsets, once);
    assert.deepEqual(
      toRawSubsets(once)[1],
      { addresses: [{ ip: 'fd00::1', hostname: 'h' }] },
      'empty lists are omitted, as the server stores them',
    );
  });
});
