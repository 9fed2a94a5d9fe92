// Process loggers: JSON lines (pino) to stderr, level from SHOAL_LOG_LEVEL (default info).

import { pino } from "pino";
import type { Logger } from "../core/logger.js";

export function createLogger(component: string, level = process.env["SHOAL_LOG_LEVEL"] ?? "info"): Logger {
  return pino({ level, base: { component, pid: process.pid } }, pino.destination(2));
}
