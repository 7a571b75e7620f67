import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromOriginalArgs, fromOriginalConfig, isOriginalInvocation } from '../../lib/config/original.ts';

describe("the original mefi's command line", () => {
  it('is recognised by the absence of a command', () => {
    assert.equal(isOriginalInvocation([]), true);
    assert.equal(isOriginalInvocation(['--config=/etc/mefi/config.yaml']), true);
    assert.equal(isOriginalInvocation(['-c', 'sync']), true, 'a flag value is not a command');
    assert.equal(isOriginalInvocation(['-v', 'debug', '-o', 'stdout']), true);
    assert.equal(isOriginalInvocation(['sync', '--watch']), false);
    assert.equal(isOriginalInvocation(['-c', 'x.yaml', 'diff']), false);
    assert.equal(isOriginalInvocation(['--help']), false);
  });

  it('runs the watching loop, with -o as log output, -i as the resync in seconds, logrus levels', () => {
    assert.deepEqual(fromOriginalArgs(['--config=/etc/mefi/config.yaml', '-o', 'stdout', '-i', '900', '-v', 'trace']), [
      'sync',
      '--watch',
      '--config=/etc/mefi/config.yaml',
      '--log-output=stdout',
      '--resync=900s',
      '--log-level=debug',
    ]);
    assert.deepEqual(fromOriginalArgs(['--resync-interval=0', '--log-level=panic', '-ostderr']), [
      'sync',
      '--watch',
      '--resync=off',
      '--log-level=error',
      '--log-output=stderr',
    ]);
    assert.deepEqual(fromOriginalArgs(['--remote-filter', 'isMefiRemote', '-q', '50']), [
      'sync',
      '--watch',
      '--remote-filter',
      'isMefiRemote',
      '-q',
      '50',
    ]);
  });

  it('takes the flag keys its config files held, translated the same way', () => {
    assert.deepEqual(
      fromOriginalConfig({ 'log-level': 'fatal', 'resync-interval': 60, 'remote-filter': 'isMefiRemote' }),
      { 'log-level': 'error', resync: '60s', 'remote-filter': 'isMefiRemote' },
    );
  });
});
