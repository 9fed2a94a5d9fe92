// The peers `npm run bench` measures beside Shoal, in table column order, and the physical floor last.

import type { Peer } from "../harness.js";
import { bullmq } from "./bullmq.js";
import { dask } from "./dask.js";
import { tcpFloor } from "./tcp-floor.js";

export const peers: readonly Peer[] = [bullmq, dask, tcpFloor];
