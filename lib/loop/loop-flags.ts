// The Node flags a loop runs under. A single run (a CronJob, a laptop, CI) is
// fastest with V8's young generation at up to 8 MiB per semi-space, as
// bin/mefi's first line starts it: a run's lists all survive, and a smaller
// young generation copies them in many more scavenges (a steady run of
// 5 x 1,000 x 10: about 490 ms at 1 MiB, 390 at 8, for 8 MiB more peak RSS).
// A loop keeps its world for good: there 1 MiB keeps it small (3 x 1,000 x 2:
// 164 -> 120 MiB), and --expose-gc lets it give back what a full plan grew
// (lib/loop/heap.ts). Its top tier is Maglev (--max-opt=2): TurboFan's code is
// pages of Node's binary brought in for good once a loop's functions get hot
// (3 x 50: 76 -> 71 MiB after changes), for a full plan about 10% slower.
// And one malloc arena: glibc gives each of V8's worker threads its own,
// which each keep what they once held (another 2-3 MiB at 3 x 50).
// So a loop starts itself again under these, in place (execve: the same PID
// and stdio, so signals and the exit code are as before).

export const loopFlags = ['--max-semi-space-size=1', '--max-opt=2', '--expose-gc'] as const;

/** The loop's environment: glibc's malloc with one arena, unless the user chose otherwise (musl ignores it). */
export const loopEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ MALLOC_ARENA_MAX: '1', ...env });

/** Runs this process again under the loop's flags, unless it already has them (or Node cannot: then it goes on as it is). */
export function becomeLoopProcess(): void {
  if (loopFlags.every((f) => process.execArgv.includes(f)) || typeof process.execve !== 'function') return;
  // The loop's young generation and top tier replace the single run's; every other flag stays.
  const kept = process.execArgv.filter((f) => !f.startsWith('--max-semi-space-size') && !f.startsWith('--max-opt'));
  process.execve(
    process.execPath,
    [process.execPath, ...kept, ...loopFlags, ...process.argv.slice(1)],
    loopEnv(process.env),
  );
}
