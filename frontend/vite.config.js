// Multi-page build: the annotator (index.html) now, the admin dashboard (admin.html) when it lands.
// Every input that exists is built, so adding admin.html needs no change here.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { defineConfig } from "vite";

const pages = ["index.html", "admin.html"].filter((p) => existsSync(resolve(import.meta.dirname, p)));

// The Kaibu path needs imjoy-core in the page and imjoy-rpc served from our own origin
// (imjoy-core would otherwise fetch imjoy-rpc from a CDN). Both are copied verbatim from npm.
const vendored = {
  "vendor/imjoy-core.min.js": "node_modules/imjoy-core/dist/imjoy-core.min.js",
  "vendor/imjoy-rpc.min.js": "node_modules/imjoy-rpc/dist/imjoy-rpc.min.js",
};

function vendorFiles() {
  return {
    name: "vendor-files",
    // `npm run dev` serves them from node_modules under the same paths.
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const src = vendored[req.url.split("?")[0].replace(/^\//, "")];
        if (!src) return next();
        res.setHeader("Content-Type", "text/javascript");
        res.end(readFileSync(resolve(import.meta.dirname, src)));
      });
    },
    generateBundle() {
      for (const [fileName, src] of Object.entries(vendored)) {
        this.emitFile({ type: "asset", fileName, source: readFileSync(resolve(import.meta.dirname, src)) });
      }
    },
  };
}

export default defineConfig({
  base: "./", // the site may live under any prefix (S3 website, CloudFront path, local server)
  build: {
    outDir: "dist",
    rollupOptions: { input: Object.fromEntries(pages.map((p) => [p.replace(".html", ""), resolve(import.meta.dirname, p)])) },
  },
  plugins: [vendorFiles()],
});
