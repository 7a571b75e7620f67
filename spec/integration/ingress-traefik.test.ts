// Traefik (v3.6, from its module) over examples/target/traefik: an Ingress
// and an IngressRoute (providers that route by serving and ignore ready) and
// a Gateway with an HTTPRoute (a provider that requires ready).

import { describeIngress } from '../support/ingress-scenario.ts';
import { startTraefik, traefikMissing } from '../support/traefik.ts';

describeIngress('Traefik', traefikMissing, startTraefik);
