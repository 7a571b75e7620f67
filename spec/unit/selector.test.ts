// The selector check agrees with apimachinery's own parser on its own test
// vectors (k8s.io/apimachinery/pkg/labels/selector_test.go, v0.34:
// TestSelectorParse and TestSetSelectorParser).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectorError } from '../../lib/config/selector.ts';

const valid = [
  // TestSelectorParse
  'x=a,y=b,z=c',
  'x!=a,y=b',
  'x=',
  'x= ',
  'x=,z= ',
  'x= ,z= ',
  '!x',
  'x>1',
  'x>1,z<5',
  // TestSetSelectorParser
  '\rx',
  'this-is-a-dns.domain.com/key-with-dash',
  'this-is-another-dns.domain.com/key-with-dash in (so,what)',
  '0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)',
  'foo  in\t (abc)',
  'x notin\n (abc)',
  'x  notin\t\t(abc,def)',
  'x in (abc,def)',
  'x in (abc,)',
  'x in ()',
  'x notin (abc,,def),bar,z in (),w',
  'x,y in (a)',
  'x=a',
  'x<7',
  'x=a,y!=b',
  'x=a,y!=b,z in (h,i,j)',
  'x notin ( )',
  'x notin (, a)',
  'a ',
  'a in (x,y,notin, z,in)',
  // the cases: accepted by the API server
  'x>1',
  'x<2',
  'a in(x)',
  'a notin(x)',
  'isMefiRemote',
  'isMefiRemote=true',
  'app==web',
];

const invalid = [
  // TestSelectorParse
  'x=a||y=b',
  'x==a==b',
  '!x=a',
  'x<a',
  // TestSetSelectorParser
  'x,,y',
  ',x,y',
  'x nott in (y)',
  'a in (xyz),',
  'a in (xyz)b notin ()',
  'a in (xyz abc)',
  'a notin(',
  'a (',
  '(',
  // keys and values the API server refuses
  'a b',
  'Bad Key=x',
  'x=-a',
  'x>1.5',
  'x>99999999999999999999',
];

describe('label selectors, as apimachinery parses them', () => {
  for (const s of valid) it(`accepts ${JSON.stringify(s)}`, () => assert.equal(selectorError(s), undefined));
  for (const s of invalid) it(`refuses ${JSON.stringify(s)}`, () => assert.ok(selectorError(s), 'expected an error'));
  it('refuses the empty selector, which would select everything', () => assert.match(selectorError(' ')!, /is empty/));
  it('says what it found and what it expected', () => {
    assert.equal(selectorError('a b'), "found 'b', expected: in, notin, =, ==, !=, > or <");
    assert.equal(selectorError('x<a'), 'value "a" after < must be an integer');
    assert.equal(selectorError('a,'), "found '', expected: a label key after ','");
  });
});
