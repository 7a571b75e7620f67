// Logs go to stderr (stdout carries the report): human lines on a terminal,
// JSON lines for collectors. Secrets never reach a log line: anything shaped
// like a bearer token or PEM block is masked before it is written.

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';

const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const secretPatterns: [RegExp, string][] = [
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, '$1<redacted>'],
  [/-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g, '<redacted PEM>'],
  [/\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/g, '<redacted JWT>'],
];

export function redact(text: string): string {
  return secretPatterns.reduce((t, [re, by]) => t.replace(re, by), text);
}

export function parseLevel(value: string): Level | undefined {
  const v = value.toLowerCase();
  return v === 'warning' ? 'warn' : v in order ? (v as Level) : undefined;
}

export function createLogger(
  level: Level,
  format: LogFormat,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const log =
    (at: Level) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (order[at] < order[level]) return;
      const time = new Date().toISOString();
      let line: string;
      if (format === 'json') {
        line = JSON.stringify({ time, level: at, msg, ...fields });
      } else {
        const extra = Object.entries(fields)
          .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
          .join(' ');
        line = `${time.slice(11, 23)} ${at.toUpperCase().padEnd(5)} ${msg}${extra ? ` ${extra}` : ''}`;
      }
      write(redact(line) + '\n');
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
