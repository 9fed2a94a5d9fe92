// The peers `npm run bench` measures beside Shoal.

import type { Peer } from "../harness.js";

export const peers: readonly Peer[] = [];
