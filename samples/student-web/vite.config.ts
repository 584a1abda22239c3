import { defineConfig } from "vite";

// Served by the school backend at /student/; `npm run dev:student` proxies its API to a running one.
export default defineConfig({
  base: "/student/",
  build: { outDir: "dist", emptyOutDir: true },
  server: { proxy: { "/student/api": process.env.SCHOOL_BACKEND_URL ?? "http://127.0.0.1:5090" } },
});
