// The original mefi's command line, as its Helm chart runs it
// (`mefi --config=FILE` plus extraArgs): no command, and flags of its own
// (cmd/flags.go): -o/--log-output stderr|stdout, -i/--resync-interval seconds
// (0: no periodic resync), logrus levels. It ran forever, watching; here that
// is `mefi sync --watch` with the same meanings. Pure: argv in, argv out.

const commands = new Set(['sync', 'diff']);

/** Flags that take a value, so their value is not mistaken for a command. */
const withValue = new Set([
  '-c',
  '--config',
  '-n',
  '--mefi-namespace',
  '-v',
  '--log-level',
  '-o',
  '--log-output',
  '-i',
  '--resync-interval',
  '-q',
  '--k8s-rest-config-qps',
  '-b',
  '--k8s-rest-config-burst',
  '--remote-filter',
  '--local-filter',
  '--original-filter',
  '--local',
  '--source-cluster-label',
  '--concurrency',
  '--request-timeout',
  '--page-size',
  '--policy',
  '--source',
  '--target',
  '--max-endpoints-per-slice',
  '--log-format',
  '--metrics-addr',
  '--unhealthy-after',
  '--resync',
  '--interval',
  '--output',
]);

/** logrus's levels, as the original accepted them, in mefi's four. */
const levels: Record<string, string> = {
  trace: 'debug',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'error',
  panic: 'error',
};

/** True when argv names no command: the original's invocation. */
export function isOriginalInvocation(args: string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--help' || a === '-h' || a === '--version') return false;
    if (a.startsWith('-')) {
      if (withValue.has(a)) i++;
      continue;
    }
    return !commands.has(a);
  }
  return true;
}

/** The original's flags in this mefi's words: `sync --watch …`. */
export function fromOriginalArgs(args: string[]): string[] {
  const out = ['sync', '--watch'];
  const value = (i: number, a: string): [string, number] => {
    const eq = a.indexOf('=');
    if (eq > 0) return [a.slice(eq + 1), i];
    if (/^-[a-z].+/.test(a) && !a.startsWith('--')) return [a.slice(2), i]; // -ostdout
    return [args[i + 1] ?? '', i + 1];
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.includes('=')
      ? a.slice(0, a.indexOf('='))
      : /^-[a-z].+/.test(a) && !a.startsWith('--')
        ? a.slice(0, 2)
        : a;
    if (name === '-o' || name === '--log-output') {
      const [v, j] = value(i, a);
      out.push(`--log-output=${v}`);
      i = j;
    } else if (name === '-i' || name === '--resync-interval') {
      const [v, j] = value(i, a);
      // Seconds; 0 disables the periodic resync (a change still starts a run).
      out.push(`--resync=${/^\d+$/.test(v) ? (v === '0' ? 'off' : `${v}s`) : v}`);
      i = j;
    } else if (name === '-v' || name === '--log-level') {
      const [v, j] = value(i, a);
      out.push(`--log-level=${levels[v.toLowerCase()] ?? v}`);
      i = j;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** The flag keys the original's config file could hold (viper merged them with the flags). */
export const originalConfigKeys = [
  'remote-filter',
  'local-filter',
  'original-filter',
  'mefi-namespace',
  'log-level',
  'log-output',
  'resync-interval',
  'k8s-rest-config-qps',
  'k8s-rest-config-burst',
];

/** Such keys as this mefi's options (name → value), translated as on the command line. */
export function fromOriginalConfig(keys: Record<string, unknown>): Record<string, string> {
  const args: string[] = [];
  for (const [k, v] of Object.entries(keys)) args.push(`--${k}=${String(v)}`);
  const out: Record<string, string> = {};
  for (const a of fromOriginalArgs(args).slice(2)) {
    const [k, ...rest] = a.slice(2).split('=');
    out[k!] = rest.join('=');
  }
  return out;
}
