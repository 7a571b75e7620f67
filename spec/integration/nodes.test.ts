// Real nodes leave nothing behind. A bed's supervisor killed with SIGKILL
// cannot stop what containerd started: the shims and the containers outlive
// it, and the kubelet's host sysctls stay changed. The next bed to start
// kills what the dead one left (it is in the dead bed's cgroups), and the
// last bed to stop puts the host's sysctls back. Asked of the host itself:
// its processes, cgroups, mounts and /proc/sys.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startControlPlanes, withoutRealNodes, type ControlPlanes } from '../support/launch.ts';
import { makePods } from '../support/pods.ts';
import { eventually } from '../support/world.ts';

const skip = withoutRealNodes();

const sysctls = ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops'];
const readSysctls = () => sysctls.map((k) => `${k}=${readFileSync(path.join('/proc/sys', k), 'utf8').trim()}`);
/** Pids of the processes whose command line names dir (containerd, its shims, the kubelet). */
const processesOf = (dir: string) => {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
};
/** Other beds with real nodes running now (their pids, as they register in /run/mefi-bed): they hold the host's sysctls changed. */
const otherBeds = () =>
  existsSync('/run/mefi-bed/beds') ? readdirSync('/run/mefi-bed/beds').filter((p) => existsSync(`/proc/${p}`)) : [];
const cgroupsOf = (pid: number) =>
  readdirSync('/sys/fs/cgroup').filter((h) => existsSync(path.join('/sys/fs/cgroup', h, 'mefi-bed', String(pid))));

describe('real nodes leave nothing behind, even when their bed is killed', { skip, timeout: 300_000 }, () => {
  const dirs: string[] = [];
  let second: ControlPlanes | undefined;
  after(async () => {
    await second?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("a bed killed with SIGKILL leaves shims and containers; the next bed removes them; the last to stop restores the host's sysctls", async () => {
    // With another real-node bed running (test files run side by side on more cores) the sysctls are not this test's to judge.
    const alone = otherBeds().length === 0;
    const before = readSysctls();
    const first = mkdtempSync(path.join(tmpdir(), 'mefi-nodes-'));
    dirs.push(first);
    const killed = await startControlPlanes(first, ['alpha'], { network: true });
    await makePods(first).add({ cluster: 'alpha', namespace: 'app', name: 'web', ports: [8080] });
    if (alone)
      assert.notDeepEqual(
        readSysctls(),
        before,
        'the kubelet set its sysctls (if the host had them already, this test cannot tell)',
      );
    process.kill(killed.pid, 'SIGKILL');
    await eventually(
      'the supervisor gone',
      async () =>
        !existsSync(`/proc/${killed.pid}`) || readFileSync(`/proc/${killed.pid}/stat`, 'utf8').split(' ')[2] === 'Z',
    );
    const left = processesOf(first).filter((p) =>
      readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('/usr/bin/containerd-shim'),
    );
    assert.ok(
      left.length >= 2,
      `containerd's shims (CoreDNS's and the pod's) outlive a killed supervisor: ${left.join(', ')}`,
    );
    assert.ok(cgroupsOf(killed.pid).length > 0, 'its cgroups are still there');

    const next = mkdtempSync(path.join(tmpdir(), 'mefi-nodes-'));
    dirs.push(next);
    second = await startControlPlanes(next, ['alpha'], { network: true });
    assert.deepEqual(processesOf(first), [], 'the next bed killed everything the dead one left');
    assert.deepEqual(cgroupsOf(killed.pid), [], 'and removed its cgroups');
    const mounts = () =>
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.includes(first) || l.includes(next));
    assert.deepEqual(mounts(), [], 'no mount of a node is seen from the host');

    const pid = second.pid;
    await second.stop();
    second = undefined;
    assert.deepEqual(processesOf(next), []);
    assert.deepEqual(cgroupsOf(pid), []);
    if (alone && otherBeds().length === 0) assert.deepEqual(readSysctls(), before, "the host's sysctls as they were");
    for (const fixed of ['/run/containerd', '/var/lib/kubelet', '/var/lib/cni', '/var/log/containers'])
      assert.equal(existsSync(fixed), false, `${fixed} never made on the host`);
    assert.equal(
      execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).trim(),
      '',
      'no named network namespace on the host',
    );
  });
});
