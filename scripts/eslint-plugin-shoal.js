// Local ESLint rules that keep src/ layered one way (STYLE.md: "Folders by component,
// dependencies one way, no cycles ... Enforce it with a lint rule, not with hope.").
//
// Rules:
//   shoal/layering          an import from src/<a> into src/<b> must be in the allowed map below;
//                           nothing outside src/sim and test/ may import src/sim.
//   shoal/no-node-builtins  the file must not import Node builtins (node:*, or bare "fs" etc.).
//                           Which files are pure cores is decided in eslint.config.js through
//                           `files` (see `pureCoreFiles` / `pureCoreIgnores` exported here).
//
// Both rules look at every way a module can be named statically: import/export-from
// declarations (type-only ones too: a type import is still a dependency), import("..."),
// `typeof import("...")` types, `import x = require("...")` and require("...").

import { isBuiltin } from "node:module";
import path from "node:path";

/**
 * The dependency map: component folder under src/ -> folders it may import. A folder may
 * always import within itself. Keep in the order of STYLE.md's arrows.
 * @type {Readonly<Record<string, readonly string[]>>}
 */
export const layers = Object.freeze({
  core: [],
  protocol: ["core"],
  transport: ["core", "protocol"],
  scheduler: ["core", "protocol"],
  store: ["core"],
  observability: ["core", "protocol"],
  head: ["core", "protocol", "transport", "scheduler", "store", "observability"],
  node: ["core", "protocol", "transport", "observability"],
  worker: ["core", "protocol", "transport"],
  client: ["core", "protocol", "transport", "observability"],
  cli: ["client", "core", "observability"],
  sim: ["core", "protocol", "scheduler", "store", "head"],
});

/**
 * Single-file exceptions on top of `layers`: files (or whole folders, ending in "/") that may
 * import specific entry files of a component they otherwise may not. Paths are relative to the
 * project root, without extension. These exist because the importer starts the target as a
 * process (local cluster, CLI), so it needs the composition root's path, not its internals.
 * @type {ReadonlyArray<{ from: string, to: readonly string[] }>}
 */
export const entryExceptions = Object.freeze([
  { from: "src/client/local-cluster", to: ["src/head/main", "src/node/main"] },
  { from: "src/cli/", to: ["src/head/main", "src/node/main"] },
]);

/** Component nobody may import (except itself and the tests under test/). */
const sealedComponent = "sim";
/** Top-level folders whose files may import the sealed component. */
const sealedImportersOutsideSrc = ["test/"];

/** Pure cores: no Node builtins. Used as `files` / `ignores` in eslint.config.js. */
export const pureCoreFiles = ["src/scheduler/**/*.ts", "src/core/**/*.ts", "src/**/*-machine.ts"];
/** clock.ts is the real-time implementation of the Clock interface; tests use node:test. */
export const pureCoreIgnores = ["src/core/clock.ts", "src/**/*.test.ts"];

const sourceExtension = /(\.d)?\.(ts|mts|cts|js|mjs|cjs|tsx|jsx)$/;

/** @param {string} p */
function toPosix(p) {
  return p.split(path.sep).join("/");
}

/**
 * Where a module specifier points, as a project-relative posix path without extension, or
 * undefined when it is outside the project (packages, builtins, URLs).
 * @param {string} specifier
 * @param {string} importerAbsolute
 * @param {{ root: string, selfPackage: string, selfEntry: string }} options
 */
function resolveTarget(specifier, importerAbsolute, options) {
  if (specifier === options.selfPackage) {
    return options.selfEntry.replace(sourceExtension, "");
  }
  if (!specifier.startsWith(".") && !specifier.startsWith("/")) {
    return undefined;
  }
  const absolute = path.resolve(path.dirname(importerAbsolute), specifier);
  const relative = toPosix(path.relative(options.root, absolute));
  if (relative.startsWith("../") || relative === "..") {
    return undefined;
  }
  return relative.replace(sourceExtension, "");
}

/**
 * The component (first folder under src/) of a project-relative path, or undefined when the
 * path is not under src/. Files directly in src/ get their own name, which is in no map.
 * @param {string} relative
 */
function componentOf(relative) {
  const segments = relative.split("/");
  if (segments[0] !== "src" || segments.length < 2) {
    return undefined;
  }
  return segments[1];
}

/**
 * Calls `check(specifier, node)` for every statically named module in the file.
 * @param {(specifier: string, node: import("estree").Node) => void} check
 */
function moduleVisitors(check) {
  /** @param {any} source @param {any} node */
  const visit = (source, node) => {
    if (!source) {
      return;
    }
    if (source.type === "Literal" && typeof source.value === "string") {
      check(source.value, node);
    } else if (source.type === "TemplateLiteral" && source.expressions.length === 0) {
      check(source.quasis[0].value.cooked, node);
    }
  };
  return {
    /** @param {any} node */
    ImportDeclaration: (node) => visit(node.source, node),
    /** @param {any} node */
    ExportNamedDeclaration: (node) => visit(node.source, node),
    /** @param {any} node */
    ExportAllDeclaration: (node) => visit(node.source, node),
    /** @param {any} node */
    ImportExpression: (node) => visit(node.source, node),
    /** @param {any} node */
    TSImportType: (node) => visit(node.source ?? node.argument?.literal, node),
    /** @param {any} node */
    TSExternalModuleReference: (node) => visit(node.expression, node),
    /** @param {any} node */
    CallExpression: (node) => {
      if (node.callee.type === "Identifier" && node.callee.name === "require") {
        visit(node.arguments[0], node);
      }
    },
  };
}

/** Options shared by both rules; `root` is the project root (default: ESLint's cwd). */
const rootOptionSchema = {
  type: "object",
  properties: {
    root: { type: "string" },
    selfPackage: { type: "string" },
    selfEntry: { type: "string" },
  },
  additionalProperties: false,
};

/** @param {import("eslint").Rule.RuleContext} context */
function readOptions(context) {
  const given = context.options[0] ?? {};
  return {
    root: given.root ?? context.cwd,
    selfPackage: given.selfPackage ?? "shoal",
    selfEntry: given.selfEntry ?? "src/client/index.ts",
  };
}

/** @param {{ from: string }} exception @param {string} importer */
function exceptionApplies(exception, importer) {
  return exception.from.endsWith("/") ? importer.startsWith(exception.from) : importer === exception.from;
}

/** @param {readonly string[]} allowed @param {string} importer */
function describeAllowed(allowed, importer) {
  const entries = entryExceptions
    .filter((exception) => exceptionApplies(exception, importer))
    .flatMap((exception) => exception.to.map((to) => `${to}.ts`));
  const all = [...allowed, ...entries];
  return all.length === 0 ? "nothing else in src" : all.join(", ");
}

/** @type {import("eslint").Rule.RuleModule} */
const layering = {
  meta: {
    type: "problem",
    docs: { description: "Keep imports between the folders of src/ one way (see STYLE.md)." },
    schema: [rootOptionSchema],
    messages: {
      forbidden: "src/{{from}} must not import {{to}} (allowed: {{allowed}})",
      unknown:
        "src/{{from}} is not a component in shoal/layering, so it may not import {{to}}: add it with its allowed dependencies to scripts/eslint-plugin-shoal.js",
      sealed: "{{from}} must not import {{to}}: nothing imports src/sim except src/sim itself and test/",
    },
  },
  create(context) {
    const options = readOptions(context);
    const importerAbsolute = context.physicalFilename;
    const importerFile = toPosix(path.relative(options.root, importerAbsolute));
    const importer = importerFile.replace(sourceExtension, "");
    const from = componentOf(importer);
    const mayImportSealed =
      from === sealedComponent || sealedImportersOutsideSrc.some((prefix) => importer.startsWith(prefix));

    return moduleVisitors((specifier, node) => {
      const target = resolveTarget(specifier, importerAbsolute, options);
      if (target === undefined) {
        return;
      }
      const to = componentOf(target);
      if (to === undefined || to === from) {
        return;
      }
      const shownTarget = target.split("/").length > 2 ? `src/${to}` : target;
      if (to === sealedComponent && !mayImportSealed) {
        context.report({ node, messageId: "sealed", data: { from: from ? `src/${from}` : importerFile, to: shownTarget } });
        return;
      }
      if (from === undefined) {
        return; // test/, examples/, bench/, scripts/: only the sim seal applies
      }
      const allowed = layers[from];
      if (allowed === undefined) {
        context.report({ node, messageId: "unknown", data: { from, to: shownTarget } });
        return;
      }
      if (allowed.includes(to)) {
        return;
      }
      const isEntryException = entryExceptions.some(
        (exception) => exceptionApplies(exception, importer) && exception.to.includes(target),
      );
      if (isEntryException) {
        return;
      }
      context.report({
        node,
        messageId: "forbidden",
        data: { from, to: `src/${to}`, allowed: describeAllowed(allowed, importer) },
      });
    });
  },
};

/** @type {import("eslint").Rule.RuleModule} */
const noNodeBuiltins = {
  meta: {
    type: "problem",
    docs: {
      description:
        "Pure cores (state machines, scheduler, core) take time and IO as events and injected interfaces, never from Node.",
    },
    schema: [rootOptionSchema],
    messages: {
      builtin:
        "{{file}} is a pure core and must not import {{specifier}}: take time, randomness and IO as events or injected interfaces (STYLE.md, Pure core, thin shell)",
    },
  },
  create(context) {
    const file = toPosix(path.relative(readOptions(context).root, context.physicalFilename));
    return moduleVisitors((specifier, node) => {
      if (specifier.startsWith("node:") || isBuiltin(specifier)) {
        context.report({ node, messageId: "builtin", data: { file, specifier } });
      }
    });
  },
};

const plugin = {
  meta: { name: "eslint-plugin-shoal", version: "0.1.0" },
  rules: {
    layering,
    "no-node-builtins": noNodeBuiltins,
  },
};

export default plugin;
