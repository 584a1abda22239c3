import { defineConfig } from "vitest/config";

export default defineConfig({
  // The browser suite has its own config (vitest.browser.config.ts, `npm run test:browser`).
  test: { include: ["test/**/*.test.ts"], exclude: ["test/browser/**", "**/node_modules/**"], testTimeout: 20_000 },
});
