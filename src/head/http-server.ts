// The head's HTTP side: JSON API, live stream (SSE), Prometheus /metrics and the dashboard, all behind the cluster token.
//
// Security: every route but the login page needs the token, as `Authorization: Bearer <token>` or as the
// session cookie the login form sets (an HMAC of the token, HttpOnly, SameSite=Strict: the token itself
// is never stored in the browser). No CORS headers are ever sent; requests whose Origin is not this server
// are refused on login and on the stream; pages forbid framing and load nothing from elsewhere.

import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync, existsSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import type { Logger } from "../core/logger.js";

/** What the HTTP side asks of the head. Every method is cheap or bounded (virtualised pages ask for slices). */
export interface HeadHttpApi {
  cluster(): Promise<unknown>;
  nodes(): Promise<unknown>;
  nodeMetrics(nodeId: string, sinceMs: number, resolution: "1s" | "1m" | "auto"): unknown;
  jobs(): Promise<unknown>;
  job(jobId: string): Promise<unknown>;
  jobTasks(jobId: string, sinceMs: number, limit: number): unknown;
  taskLogs(taskId: string): unknown;
  jobLogs(jobId: string, sinceMs: number): unknown;
  events(sinceHlc: string | undefined): unknown;
  alerts(): unknown;
  metrics(): Promise<string>;
  /** Live updates for the stream: called with (event name, data); returns an unsubscribe function. */
  subscribe(send: (event: string, data: unknown) => void): () => void;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  token: string;
  api: HeadHttpApi;
  /** The built dashboard (index.html, login.html, assets); missing means a plain notice at `/`. */
  dashboardDir: string;
  log: Logger;
}

export interface HttpServer {
  readonly url: string;
  close(): Promise<void>;
}

const sessionCookie = "shoal_session";
const loginAttemptsPerMinuteMax = 20;
const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".map": "application/json",
};

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const session = createHmac("sha256", options.token).update("shoal dashboard session").digest("base64url");
  const handler = new RequestHandler(options, session);
  const server: Server = createServer((request, response) => {
    handler.handle(request, response).catch((error: unknown) => {
      options.log.warn({ err: (error as Error).message, url: request.url }, "http request failed");
      if (!response.headersSent) sendJson(response, 500, { error: "internal error" });
      else response.end();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        handler.closeStreams();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

class RequestHandler {
  private readonly streams = new Set<() => void>();
  private readonly loginAttempts = new Map<string, { count: number; windowStartMs: number }>();
  private readonly pagePolicy: string | undefined;

  constructor(
    private readonly options: HttpServerOptions,
    private readonly session: string,
  ) {
    this.pagePolicy = readPagePolicy(options.dashboardDir);
  }

  closeStreams(): void {
    for (const close of this.streams) close();
  }

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    securityHeaders(response);
    const url = new URL(request.url ?? "/", "http://head");
    const path = url.pathname;
    if (path === "/login") return this.login(request, response);
    if (!this.authorised(request)) {
      if (path.startsWith("/api/") || path === "/metrics") return sendJson(response, 401, { error: "the cluster token is required (Authorization: Bearer <token>, or log in)" });
      return redirect(response, "/login");
    }
    if (request.method !== "GET") return sendJson(response, 405, { error: `${request.method} is not allowed on ${path}` });
    if (path === "/metrics") return sendText(response, 200, await this.options.api.metrics(), "text/plain; version=0.0.4; charset=utf-8");
    if (path === "/api/stream") return this.stream(request, response);
    if (path.startsWith("/api/")) return this.apiRoute(path, url.searchParams, response);
    return this.staticFile(path, response);
  }

  private async apiRoute(path: string, query: URLSearchParams, response: ServerResponse): Promise<void> {
    const api = this.options.api;
    const parts = path.split("/").filter((part) => part !== "").map(decodeURIComponent); // ["api", ...]
    const since = numberParam(query, "since", 0);
    const [, first, id, sub] = parts;
    let body: unknown;
    if (first === "cluster" && id === undefined) body = await api.cluster();
    else if (first === "nodes" && id === undefined) body = await api.nodes();
    else if (first === "nodes" && id !== undefined && sub === "metrics") body = api.nodeMetrics(id, since, resolutionParam(query));
    else if (first === "jobs" && id === undefined) body = await api.jobs();
    else if (first === "jobs" && id !== undefined && sub === undefined) body = await api.job(id);
    else if (first === "jobs" && id !== undefined && sub === "tasks") body = api.jobTasks(id, since, numberParam(query, "limit", 200_000));
    else if (first === "jobs" && id !== undefined && sub === "logs") body = api.jobLogs(id, since);
    else if (first === "tasks" && id !== undefined && sub === "logs") body = api.taskLogs(id);
    else if (first === "events" && id === undefined) body = api.events(query.get("since") ?? undefined);
    else if (first === "alerts" && id === undefined) body = api.alerts();
    else return sendJson(response, 404, { error: `no such API route: ${path}` });
    if (body === undefined) return sendJson(response, 404, { error: `not found: ${path}` });
    sendJson(response, 200, body);
  }

  /** Server-Sent Events: the dashboard's live view. Same-origin only. */
  private stream(request: IncomingMessage, response: ServerResponse): void {
    if (!sameOrigin(request)) return sendJson(response, 403, { error: "cross-origin stream refused" });
    response.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive" });
    response.write(": shoal live stream\n\n");
    const unsubscribe = this.options.api.subscribe((event, data) => {
      response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    });
    const close = (): void => {
      unsubscribe();
      this.streams.delete(close);
      response.end();
    };
    this.streams.add(close);
    request.on("close", close);
  }

  private async login(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method === "GET") return this.staticFile("/login.html", response);
    if (request.method !== "POST") return sendJson(response, 405, { error: "use GET or POST on /login" });
    if (!sameOrigin(request)) return sendJson(response, 403, { error: "cross-origin login refused" });
    if (!this.allowLoginAttempt(request.socket.remoteAddress ?? "?")) return sendJson(response, 429, { error: "too many login attempts; wait a minute" });
    const form = new URLSearchParams(await readBody(request, 4_096));
    const offered = form.get("token") ?? "";
    if (!equalSecrets(offered.trim(), this.options.token)) return redirect(response, "/login?error=1");
    response.setHeader("Set-Cookie", `${sessionCookie}=${this.session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=86400`);
    redirect(response, "/");
  }

  private authorised(request: IncomingMessage): boolean {
    const header = request.headers.authorization;
    if (header?.startsWith("Bearer ") === true) return equalSecrets(header.slice(7).trim(), this.options.token);
    const cookie = parseCookies(request.headers.cookie ?? "").get(sessionCookie);
    return cookie !== undefined && equalSecrets(cookie, this.session);
  }

  private allowLoginAttempt(remote: string): boolean {
    const nowMs = Date.now();
    const entry = this.loginAttempts.get(remote);
    if (entry === undefined || nowMs - entry.windowStartMs > 60_000) {
      this.loginAttempts.set(remote, { count: 1, windowStartMs: nowMs });
      return true;
    }
    entry.count += 1;
    return entry.count <= loginAttemptsPerMinuteMax;
  }

  private staticFile(path: string, response: ServerResponse): void {
    const root = resolve(this.options.dashboardDir);
    const relative = path === "/" ? "index.html" : path.slice(1);
    const file = resolve(join(root, relative));
    if (!file.startsWith(root + sep) || !existsSync(file)) {
      if (path === "/") return sendText(response, 200, "The dashboard is not built: run `npm run build`.", "text/plain; charset=utf-8");
      return sendJson(response, 404, { error: `no such file: ${path}` });
    }
    const cacheable = /-[0-9A-Z]{8}\./.test(relative);
    // The build states the pages' policy (it knows the hashes of their inline script and style).
    if (extname(file) === ".html" && this.pagePolicy !== undefined) response.setHeader("Content-Security-Policy", this.pagePolicy);
    response.writeHead(200, {
      "Content-Type": contentTypes[extname(file)] ?? "application/octet-stream",
      "Cache-Control": cacheable ? "public, max-age=31536000, immutable" : "no-cache",
    });
    response.end(readFileSync(file));
  }
}

function readPagePolicy(dashboardDir: string): string | undefined {
  try {
    const manifest = JSON.parse(readFileSync(join(dashboardDir, "manifest.json"), "utf8")) as { contentSecurityPolicy?: unknown };
    return typeof manifest.contentSecurityPolicy === "string" ? manifest.contentSecurityPolicy : undefined;
  } catch {
    return undefined;
  }
}

function securityHeaders(response: ServerResponse): void {
  response.setHeader("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
  response.setHeader("X-Content-Type-Options", "nosniff");
  response.setHeader("X-Frame-Options", "DENY");
  // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on the login form's POST.
  response.setHeader("Referrer-Policy", "same-origin");
}

/** A browser sends Origin on cross-site requests; it must then be this very server. */
function sameOrigin(request: IncomingMessage): boolean {
  const fetchSite = request.headers["sec-fetch-site"];
  if (fetchSite !== undefined && fetchSite !== "same-origin" && fetchSite !== "none") return false;
  const origin = request.headers.origin;
  if (origin === undefined || (origin === "null" && fetchSite === "same-origin")) return true;
  return origin === `http://${request.headers.host ?? ""}`;
}

function equalSecrets(offered: string, expected: string): boolean {
  const a = Buffer.from(offered);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function parseCookies(header: string): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of header.split(";")) {
    const index = part.indexOf("=");
    if (index > 0) cookies.set(part.slice(0, index).trim(), part.slice(index + 1).trim());
  }
  return cookies;
}

function readBody(request: IncomingMessage, bytesMax: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      body += chunk;
      if (body.length > bytesMax) {
        reject(new Error("request body too large"));
        request.destroy();
      }
    });
    request.on("end", () => resolve(body));
    request.on("error", reject);
  });
}

function numberParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  const value = raw === null ? Number.NaN : Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

function resolutionParam(query: URLSearchParams): "1s" | "1m" | "auto" {
  const raw = query.get("resolution");
  return raw === "1s" || raw === "1m" ? raw : "auto";
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  sendText(response, status, JSON.stringify(body), "application/json");
}

function sendText(response: ServerResponse, status: number, text: string, contentType: string): void {
  response.writeHead(status, { "Content-Type": contentType, "Cache-Control": "no-store" });
  response.end(text);
}

function redirect(response: ServerResponse, location: string): void {
  response.writeHead(303, { Location: location });
  response.end();
}
