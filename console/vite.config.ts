import { defineConfig } from "vite";

// Built by scripts/build_console into the server package, which serves it at "/".
export default defineConfig({
  build: {
    outDir: "../k12ai_server/console/dist",
    emptyOutDir: true,
    target: "es2022",
    // One script and one stylesheet: the page is small, and fewer requests open it sooner.
    modulePreload: false,
    reportCompressedSize: false,
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
});
