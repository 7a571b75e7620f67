// IP parsing, canonical form and the special ranges the API server rejects in
// Endpoints. Written here rather than taken from node:net so the planner stays
// free of I/O modules, and because node:net has no canonical IPv6 printer.

export interface IP {
  family: 4 | 6;
  /** 4 or 16 bytes. */
  bytes: number[];
}

// One pass over the characters: this runs for every address of every object.
function parseIPv4(text: string): number[] | undefined {
  const bytes = [0, 0, 0, 0];
  let part = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || part === 3) return undefined;
      bytes[part++] = value;
      value = 0;
      digits = 0;
      continue;
    }
    // Leading zeros are read as decimal, as Kubernetes' legacy parser does.
    if (c < 48 || c > 57 || ++digits > 3) return undefined;
    value = value * 10 + (c - 48);
    if (value > 255) return undefined;
  }
  if (part !== 3 || digits === 0) return undefined;
  bytes[3] = value;
  return bytes;
}

function parseIPv6(text: string): number[] | undefined {
  if (text.includes('%')) return undefined; // zones are not IPs in an Endpoints object
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  // A dotted quad may only end the whole address (::ffff:1.2.3.4), never the part before "::".
  const groups = (half: string, last: boolean): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (last && i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIPv4(part);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
        out.push(parseInt(part, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  let all: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    all = head;
  }
  if (all.length !== 8) return undefined;
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

export function parseIP(text: string): IP | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  if (!text.includes(':')) {
    const bytes = parseIPv4(text);
    return bytes && { family: 4, bytes };
  }
  const bytes = parseIPv6(text);
  if (!bytes) return undefined;
  // An IPv4-mapped IPv6 address is an IPv4 address (as Go's net.IP treats it).
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return { family: 4, bytes: bytes.slice(12) };
  }
  return { family: 6, bytes };
}

/** RFC 5952 for IPv6 (the form Go and the API server print), dotted quad for IPv4. */
export function formatIP(ip: IP): string {
  const b = ip.bytes;
  if (ip.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  // Compress the first longest run of two or more zero groups.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/**
 * Why the API server would refuse this IP in an Endpoints address, or
 * undefined when it is an ordinary unicast address.
 */
export function specialIPReason(ip: IP): string | undefined {
  const b = ip.bytes;
  if (ip.family === 4) {
    if (b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0) return 'unspecified';
    if (b[0] === 127) return 'loopback';
    if (b[0] === 169 && b[1] === 254) return 'link-local';
    if (b[0]! >= 224 && b[0]! <= 239) return 'multicast';
    return undefined;
  }
  if (b.every((x) => x === 0)) return 'unspecified';
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return 'loopback';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local';
  if (b[0] === 0xff) return 'multicast';
  return undefined;
}

/** Total order: IPv4 before IPv6, then numerically. */
export function compareIP(a: IP, b: IP): number {
  if (a.family !== b.family) return a.family - b.family;
  for (let i = 0; i < a.bytes.length; i++) {
    const d = a.bytes[i]! - b.bytes[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

export interface CIDR {
  ip: IP;
  prefix: number;
}

/** "10.244.0.0/16" or "fd00:10:244::/56"; undefined when malformed. */
export function parseCIDR(text: string): CIDR | undefined {
  const slash = text.indexOf('/');
  if (slash === -1) return undefined;
  const ip = parseIP(text.slice(0, slash));
  const bits = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = Number(bits);
  if (prefix > ip.bytes.length * 8) return undefined;
  return { ip, prefix };
}

export function formatCIDR(c: CIDR): string {
  return `${formatIP(c.ip)}/${c.prefix}`;
}

export function cidrContains(c: CIDR, ip: IP): boolean {
  if (c.ip.family !== ip.family) return false;
  for (let bit = 0; bit < c.prefix; bit += 8) {
    const take = Math.min(8, c.prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((c.ip.bytes[bit / 8]! & mask) !== (ip.bytes[bit / 8]! & mask)) return false;
  }
  return true;
}
