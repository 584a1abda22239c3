import { defineConfig } from "vite";

// Served by the school backend at /teacher/; `npm run dev:teacher` proxies its API to a running one.
export default defineConfig({
  base: "/teacher/",
  build: { outDir: "dist", emptyOutDir: true },
  server: { proxy: { "/teacher/api": process.env.SCHOOL_BACKEND_URL ?? "http://127.0.0.1:5090" } },
});
