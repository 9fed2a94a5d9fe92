// Builds the dashboard into dashboard/dist/: app-<hash>.js and app-<hash>.css (bundled and minified by
// esbuild), index.html pointing at them, login.html, and manifest.json (file names and the login page's
// inline-script hash for a Content-Security-Policy). `--dev` skips minifying and adds source maps.

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "dist");
const dev = process.argv.includes("--dev");

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: join(here, "src/main.tsx") },
  outdir: outDir,
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome110", "firefox115", "safari16"],
  minify: !dev,
  sourcemap: dev ? "linked" : false,
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
  define: { "process.env.NODE_ENV": dev ? '"development"' : '"production"' },
});

const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
const js = outputs.find((name) => /^app-.*\.js$/.test(name));
const css = outputs.find((name) => /^app-.*\.css$/.test(name));
if (!js || !css) throw new Error(`dashboard build: expected app-*.js and app-*.css, got ${outputs.join(", ")}`);

const index = readFileSync(join(here, "index.html"), "utf8").replace("/__APP_JS__", `/${js}`).replace("/__APP_CSS__", `/${css}`);
writeFileSync(join(outDir, "index.html"), index);

const login = readFileSync(join(here, "login.html"), "utf8");
writeFileSync(join(outDir, "login.html"), login);
const hashes = (pattern) => [...login.matchAll(pattern)].map((match) => `'sha256-${createHash("sha256").update(match[1]).digest("base64")}'`);
const scriptHashes = hashes(/<script>([\s\S]*?)<\/script>/g);
const styleHashes = hashes(/<style>([\s\S]*?)<\/style>/g);
// A policy the head can send with both pages: nothing but this origin, plus the login page's inline blocks.
const contentSecurityPolicy = [
  "default-src 'self'",
  `script-src 'self' ${scriptHashes.join(" ")}`,
  `style-src 'self' ${styleHashes.join(" ")}`,
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const manifest = { js, css, index: "index.html", login: "login.html", contentSecurityPolicy };
writeFileSync(join(outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);

const sizes = outputs
  .filter((name) => !name.endsWith(".map"))
  .map((name) => `${name} ${(result.metafile.outputs[join(outDir, name).replace(`${process.cwd()}/`, "")]?.bytes ?? 0) / 1024 | 0} KiB`);
console.log(`dashboard: built ${[...sizes, "index.html", "login.html", "manifest.json"].join(", ")} in ${outDir}`);
