// The README's TypeScript snippets, which the unit suite type-checks and the browser suite runs.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** Every ```ts block of the package README, in order. */
export function readmeSnippets(): string[] {
  const readme = readFileSync(resolve(import.meta.dirname, "../README.md"), "utf8");
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
}

/** The README's CallSession snippet. */
export function callSessionSnippet(): string {
  const snippet = readmeSnippets().find((s) => s.includes("new CallSession"));
  if (!snippet) throw new Error("the README has no CallSession snippet");
  return snippet;
}
