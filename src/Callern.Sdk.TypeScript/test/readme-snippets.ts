// The TypeScript snippets of the package README and of docs/sdk-typescript.md, which the unit
// suite type-checks and the browser suite partly runs.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

function tsBlocks(path: string): string[] {
  return [...readFileSync(path, "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
}

/** Every ```ts block of the package README, in order. */
export function readmeSnippets(): string[] {
  return tsBlocks(resolve(import.meta.dirname, "../README.md"));
}

/** Every ```ts block of the repository's TypeScript SDK guide, in order. */
export function guideSnippets(): string[] {
  return tsBlocks(resolve(import.meta.dirname, "../../../docs/sdk-typescript.md"));
}

/** The README's CallSession snippet: two tabs with their own SignalingChannel, no platform needed. */
export function callSessionSnippet(): string {
  const snippet = readmeSnippets().find((s) => s.includes("new CallSession") && s.includes("const channel: SignalingChannel"));
  if (!snippet) throw new Error("the README has no CallSession snippet with its own SignalingChannel");
  return snippet;
}
