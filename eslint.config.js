// ESLint flat config for Shoal: typescript-eslint recommended everywhere, type-aware checks,
// import cycles and the one-way folder layering (scripts/eslint-plugin-shoal.js) in src/.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "eslint/config";
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import importPlugin from "eslint-plugin-import";
import shoal, { pureCoreFiles, pureCoreIgnores } from "./scripts/eslint-plugin-shoal.js";

const root = path.dirname(fileURLToPath(import.meta.url));

const typescriptFiles = ["src/**/*.ts", "test/**/*.ts", "examples/**/*.ts", "bench/**/*.ts"];
const javascriptFiles = ["scripts/**/*.js", "bin/**/*.js", "eslint.config.js"];

// The Node globals our plain .js files use (no `globals` package in devDependencies).
const nodeGlobals = Object.fromEntries(
  [
    "process", "console", "Buffer", "URL", "URLSearchParams", "AbortController", "AbortSignal",
    "TextEncoder", "TextDecoder", "structuredClone", "queueMicrotask", "performance",
    "setTimeout", "clearTimeout", "setInterval", "clearInterval", "setImmediate", "clearImmediate",
    "fetch",
  ].map((name) => [name, "readonly"]),
);

export default defineConfig(
  {
    name: "shoal/ignores",
    ignores: [
      "dist/",
      "node_modules/",
      "dashboard/dist/",
      "test-artifacts/",
      // ESLint lints every .js/.mjs/.cjs by default; keep it to the trees we own.
      "**/*.{js,mjs,cjs}",
      ...javascriptFiles.map((pattern) => `!${pattern}`),
    ],
  },
  {
    name: "shoal/files",
    files: [...typescriptFiles, ...javascriptFiles],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" },
      ],
    },
  },
  {
    name: "shoal/javascript",
    files: javascriptFiles,
    languageOptions: { globals: nodeGlobals },
  },
  {
    // Type-aware rules only where they pay: src/. projectService reuses tsconfig.json.
    name: "shoal/src-typed",
    files: ["src/**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    rules: {
      // Role handlers take a subset of message kinds and throw a ProtocolError in `default` for the rest;
      // that default is their exhaustive case. Switches without a default must name every member.
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          // node:test's test()/describe() return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] },
          ],
        },
      ],
    },
  },
  {
    name: "shoal/src-imports",
    files: ["src/**/*.ts"],
    plugins: { import: importPlugin },
    settings: {
      "import/extensions": [".ts", ".js"],
      "import/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import/resolver": { typescript: { project: path.join(root, "tsconfig.json") } },
    },
    rules: {
      "import/no-cycle": ["error", { ignoreExternal: true }],
    },
  },
  {
    // Layering applies to everything that can import src/ (outside src/ only the sim seal).
    name: "shoal/layering",
    files: [...typescriptFiles, ...javascriptFiles],
    plugins: { shoal },
    rules: {
      "shoal/layering": ["error", { root }],
    },
  },
  {
    name: "shoal/pure-cores",
    files: pureCoreFiles,
    ignores: pureCoreIgnores,
    plugins: { shoal },
    rules: {
      "shoal/no-node-builtins": ["error", { root }],
    },
  },
);
