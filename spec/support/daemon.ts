// A long-running program of the bed (an ingress controller, its proxy), run as
// its deployment would run it: in a node's network namespace (pods.onNode)
// and killed with the test process however it ends (setpriv --pdeathsig), so
// nothing outlives the test and keeps a namespace alive.

import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Daemon {
  /** The end of what it wrote (stdout and stderr, to its log file). */
  log: () => string;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

export function daemon(
  what: string,
  via: string[],
  argv: string[],
  logFile: string,
  env: Record<string, string> = {},
): Daemon {
  const [cmd, ...rest] = [...via, 'setpriv', '--pdeathsig', 'KILL', '--', ...argv];
  // A file, not a pipe: Envoy opens /dev/stdout for its access log, which a socket cannot be reopened as.
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd!, rest, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))),
  );
  return {
    log: () => `${what} (${logFile}):\n${readFileSync(logFile, 'utf8').slice(-20_000)}`,
    exited,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      if ((await Promise.race([exited.then(() => 'exited'), sleep(graceMs)])) !== 'exited') child.kill('SIGKILL');
      await exited;
    },
  };
}
