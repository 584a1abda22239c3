import type { Call } from "@callern/sdk";
import { clock, h, when } from "./dom.js";

/** A table of calls with their summaries (newest first), as both apps show them. */
export function historyTable(calls: Call[], peerOf: (call: Call) => string): HTMLElement {
  if (calls.length === 0) return h("p", { class: "muted" }, "No calls yet.");
  return h(
    "table",
    { class: "history" },
    h("thead", {}, h("tr", {}, ...["When", "With", "Talked", "Billed", "Ended", "Rating"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      ...calls.map((call) =>
        h(
          "tr",
          { "data-call": call.id },
          h("td", {}, when(call.requestedAt)),
          h("td", {}, peerOf(call)),
          h("td", {}, clock(call.meteredSeconds)),
          h("td", {}, call.billedSeconds === null || call.billedSeconds === undefined ? "—" : clock(call.billedSeconds)),
          h("td", {}, call.endReason?.replace(/_/g, " ") ?? call.state),
          h("td", {}, call.rating ? "★".repeat(call.rating.stars) : "—"),
        ),
      ),
    ),
  );
}
