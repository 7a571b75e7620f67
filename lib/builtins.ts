// Node's http, https and crypto, loaded with require. An ESM import of a
// built-in evaluates every one of its exports, and node:http's include
// Node's own fetch implementation (its undici, web streams and web crypto:
// about 8 MiB and 7 ms at start) that mefi never uses; node:crypto's its web
// crypto.

import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export const http = load('node:http') as typeof import('node:http');
export const https = load('node:https') as typeof import('node:https');
export const crypto = load('node:crypto') as typeof import('node:crypto');
