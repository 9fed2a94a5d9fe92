// Module declarations for what esbuild bundles that TypeScript cannot read: style sheets.

declare module "*.css";
