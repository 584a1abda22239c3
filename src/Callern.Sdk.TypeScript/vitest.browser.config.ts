import { defineConfig } from "vitest/config";

// The real-browser suite (`npm run test:browser`): scenarios in order, each file with two or three
// browser processes, a coturn and (platform-calls) the platform, so nothing runs in parallel on a
// 2-core machine.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 45_000,
    hookTimeout: 60_000,
  },
});
