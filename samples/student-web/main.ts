// The student's app: wallet and shop, preferences, pre-call check, the call itself, rating, history
// and the school's receipts (which the school backend makes from Callern's webhooks).
import { PreCallCheck, RealtimeError, type Call, type CallAcceptedEvent, type CallWarmup, type CallEndedEvent, type Package, type Student } from "@callern/sdk";
import { Classroom, endedNotice, rejoinLiveCall, summaryOfEnded, warmUp } from "../web-shared/classroom.js";
import { busy, clock, describe, h, minutes, show, when } from "../web-shared/dom.js";
import { historyTable } from "../web-shared/history.js";
import { header, schoolGet, schoolPost, signIn } from "../web-shared/school.js";
import "../web-shared/styles.css";

const root = document.getElementById("app")!;
const signedIn = await signIn(root, "Student sign-in");
const { api, realtime } = signedIn;

const wallet = h("section", { class: "card", id: "wallet", "aria-labelledby": "wallet-title" });
const shop = h("section", { class: "card", id: "shop", "aria-labelledby": "shop-title" });
const preferences = h("section", { class: "card", id: "preferences", "aria-labelledby": "preferences-title" });
const check = h("section", { class: "card", id: "check", "aria-labelledby": "check-title" });
const lesson = h("section", { class: "card wide", id: "lesson", "aria-labelledby": "lesson-title" });
const history = h("section", { class: "card wide", id: "history", "aria-labelledby": "history-title" });
const receipts = h("section", { class: "card wide", id: "receipts", "aria-labelledby": "receipts-title" });
show(root, header(signedIn, "Callern lessons"), h("div", { class: "grid" }, lesson, wallet, shop, preferences, check, history, receipts));

let availableSeconds = 0;
let profile: Student | undefined;

async function renderWallet(): Promise<void> {
  const balance = await api.getMyWallet();
  availableSeconds = balance.availableSeconds;
  show(
    wallet,
    h("h2", { id: "wallet-title" }, "My minutes"),
    h("p", { class: "big", id: "balance", "data-seconds": balance.availableSeconds, "data-held-seconds": balance.heldSeconds }, minutes(balance.availableSeconds)),
    balance.heldSeconds > 0 && h("p", { class: "muted" }, `${minutes(balance.heldSeconds)} reserved by a call in progress`),
    balance.expiringWithin7DaysSeconds > 0 && h("p", { class: "warning" }, `${minutes(balance.expiringWithin7DaysSeconds)} expire within 7 days`),
    h(
      "table",
      { class: "lots" },
      h("caption", { class: "visually-hidden" }, "Minute lots, earliest expiry first"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Left"), h("th", { scope: "col" }, "Expires"))),
      h("tbody", {}, ...balance.lots.map((lot) => h("tr", {}, h("td", {}, minutes(lot.remainingSeconds)), h("td", {}, lot.expiresAt ? when(lot.expiresAt) : "never")))),
    ),
  );
}

const shopStatus = h("p", { class: "status", role: "status", id: "shop-status" });

async function renderShop(): Promise<void> {
  const packages = (await api.listPackages(undefined, 20, undefined)).items;
  const buy = (pkg: Package): HTMLButtonElement => {
    const button = h("button", { type: "button", class: "primary" }, `Buy ${pkg.minutes} min`);
    button.setAttribute("aria-label", `Buy ${pkg.name} for ${pkg.price} ${pkg.currency}`);
    // One Idempotency-Key per checkout: a double click or a retry after a timeout credits once.
    const checkoutKey = crypto.randomUUID();
    button.addEventListener("click", () =>
      void busy(button, shopStatus, async () => {
        await schoolPost("purchases", { packageId: pkg.id }, { "Idempotency-Key": checkoutKey });
        await Promise.all([renderWallet(), renderShop()]); // the shop again: new checkouts get new keys
        followReceipts();
        shopStatus.textContent = `Thank you! ${pkg.minutes} minutes were added.`;
        if (!activeCallId) renderIdle();
      }),
    );
    return button;
  };
  show(
    shop,
    h("h2", { id: "shop-title" }, "Buy minutes"),
    h(
      "ul",
      { class: "packages" },
      ...packages.map((pkg) =>
        h(
          "li",
          {},
          h("span", {}, h("strong", {}, pkg.name), h("br"), h("span", { class: "muted" }, `${new Intl.NumberFormat(undefined, { style: "currency", currency: pkg.currency }).format(pkg.price)} · ${pkg.validityDays ? `valid ${pkg.validityDays} days` : "never expire"}`)),
          buy(pkg),
        ),
      ),
    ),
    shopStatus,
  );
}

function choice(id: string, label: string, options: [value: string, text: string][], value: string | null | undefined): [HTMLLabelElement, HTMLSelectElement] {
  const select = h("select", { id, name: id }, ...options.map(([v, text]) => h("option", { value: v, selected: v === (value ?? "") }, text)));
  return [h("label", { for: id }, label), select];
}

async function renderPreferences(): Promise<void> {
  profile = (await api.getMe()).student;
  const [languageLabel, language] = choice("pref-language", "Language", [["en", "English"], ["es", "Spanish"], ["fr", "French"]], profile?.targetLanguage);
  const [levelLabel, level] = choice("pref-level", "Level", ["A1", "A2", "B1", "B2", "C1", "C2"].map((l) => [l, l]), profile?.level);
  const accents: [string, string][] = [["", "Any accent"], ["en-GB", "British"], ["en-US", "American"], ["en-AU", "Australian"], ["en-IE", "Irish"], ["en-IN", "Indian"], ["es-ES", "Spain"], ["es-MX", "Mexico"], ["fr-FR", "France"]];
  const [accentLabel, accent] = choice("pref-accent", "Accent", accents, profile?.preferences?.accent);
  const topics: [string, string][] = [["", "Any topic"], ["conversational", "Conversation"], ["business", "Business"], ["travel", "Travel"], ["exam-preparation", "Exam preparation"], ["academic", "Academic"], ["kids", "Kids"]];
  const [specializationLabel, specialization] = choice("pref-specialization", "Focus", topics, profile?.preferences?.specialization);
  const status = h("p", { class: "status", role: "status" });
  const save = h("button", { type: "submit" }, "Save preferences");
  const form = h("form", { class: "stack" }, languageLabel, language, levelLabel, level, accentLabel, accent, specializationLabel, specialization, save, status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(save, status, async () => {
      const updated = await api.updateMe({
        student: {
          ...profile,
          targetLanguage: language.value,
          level: level.value,
          preferences: { accent: accent.value || null, specialization: specialization.value || null },
        },
      });
      profile = updated.student;
      status.textContent = "Saved.";
    });
  });
  show(preferences, h("h2", { id: "preferences-title" }, "What I want to learn"), form);
}

function renderCheck(): void {
  const status = h("div", { role: "status", id: "check-result" });
  const run = h("button", { type: "button" }, "Test camera, microphone and network");
  run.addEventListener("click", () =>
    void busy(run, status, async () => {
      status.textContent = "Testing…";
      const { iceServers } = await api.getIceServers();
      const report = await new PreCallCheck({ iceServers: iceServers as RTCIceServer[] }).run();
      const line = (ok: boolean, good: string, bad: string): HTMLElement => h("li", { class: ok ? "ok" : "error" }, ok ? `✓ ${good}` : `✗ ${bad}`);
      show(
        status,
        h(
          "ul",
          { class: "checks" },
          line(report.camera.ok, `Camera: ${report.camera.label ?? "ready"}`, `No camera: ${report.camera.error ?? "not found"}. Check that it is plugged in and allowed for this site.`),
          line(report.microphone.ok, `Microphone: ${report.microphone.label ?? "ready"} (level ${report.microphone.level.toFixed(2)})`, `No microphone: ${report.microphone.error ?? "not found"}.`),
          line(report.turn.ok, `Network: video relay reachable in ${report.turn.elapsedMs} ms`, `Network: the video relay is unreachable (${report.turn.error ?? "unknown"}). Calls may fail on this network.`),
        ),
      );
      status.dataset.ok = String(report.ok);
    }),
  );
  show(check, h("h2", { id: "check-title" }, "Before you call"), h("p", { class: "muted" }, "Make sure others can see and hear you."), run, status);
}

async function renderHistory(): Promise<void> {
  const calls = (await api.listCalls(undefined, 10, undefined, undefined, undefined)).items;
  show(history, h("h2", { id: "history-title" }, "My lessons"), historyTable(calls, (call) => call.teacherId ?? "—"));
}

interface Receipt {
  eventId: string;
  kind: "purchase" | "lesson";
  text: string;
  at: string;
}

async function renderReceipts(): Promise<void> {
  const lines = await schoolGet<Receipt[]>("receipts");
  show(
    receipts,
    h("h2", { id: "receipts-title" }, "Receipts"),
    lines.length === 0
      ? h("p", { class: "muted" }, "Your purchases and charged lessons appear here.")
      : h("ul", { class: "receipts" }, ...lines.map((r) => h("li", { "data-kind": r.kind }, h("span", {}, r.text), " ", h("time", { class: "muted", datetime: r.at }, when(r.at))))),
  );
}

/** The school hears of a purchase or a lesson's charge by webhook a moment later: look again for a few seconds. */
function followReceipts(): void {
  for (const delay of [500, 1500, 3000, 6000, 10000]) setTimeout(() => void renderReceipts().catch(() => undefined), delay);
}

// The call: idle → requesting (queued/ringing) → in call → ended (rate) → idle.
let activeCallId: string | null = null;
let classroom: Classroom | null = null;
/** Opened as the call is requested, taken by the lesson view; closed if no lesson starts. */
let warmup: CallWarmup | null = null;
const callStatus = h("p", { class: "status", role: "status", id: "call-status" });

function renderIdle(notice?: HTMLElement): void {
  const call = h("button", { type: "button", class: "primary big", id: "call-button" }, "Call a teacher now");
  const error = h("p", { class: "status error", role: "alert", id: "call-error" });
  call.addEventListener("click", () => void startCall(call, error));
  show(
    lesson,
    h("h2", { id: "lesson-title" }, "Talk to a teacher"),
    notice,
    availableSeconds === 0
      ? h("p", { class: "warning", id: "no-minutes" }, "You have no minutes. Buy a package to start a lesson.")
      : h("p", { class: "muted" }, `${profile?.targetLanguage ?? "en"} · ${profile?.level ?? ""} · the best free teacher answers, usually within seconds.`),
    call,
    error,
  );
  call.disabled = availableSeconds === 0;
}

async function startCall(button: HTMLButtonElement, error: HTMLElement): Promise<void> {
  button.disabled = true;
  const cancel = h("button", { type: "button", id: "cancel-call" }, "Cancel");
  callStatus.textContent = "Finding a teacher…";
  try {
    const call: Call = await realtime.requestCall({
      language: profile?.targetLanguage ?? "en",
      level: profile?.level ?? "B1",
      accent: profile?.preferences?.accent ?? null,
      specialization: profile?.preferences?.specialization ?? null,
    });
    activeCallId = call.id;
    warmUp(signedIn).then(
      (w) => (activeCallId === call.id && !classroom ? (warmup = w) : w.close()),
      () => undefined, // the lesson view opens its own media then
    );
    cancel.addEventListener("click", () => void realtime.endCall(call.id).catch((e: unknown) => (callStatus.textContent = describe(e))));
    show(lesson, h("h2", { id: "lesson-title" }, "Calling…"), h("div", { class: "spinner", "aria-hidden": "true" }), callStatus, cancel);
    cancel.focus();
  } catch (e) {
    error.textContent = e instanceof RealtimeError && e.code === "no_minutes" ? "You have no minutes left. Buy a package first." : describe(e);
    button.disabled = false;
  }
}

realtime.on("callQueued", (e) => {
  callStatus.textContent = `All teachers are busy. You are number ${e.position} in line.`;
});
realtime.on("callRinging", (e) => {
  callStatus.textContent = e.teachersRinging > 1 ? `Ringing ${e.teachersRinging} teachers…` : "Ringing a teacher…";
});
/** Opens the lesson view for an accepted call, or for a live call rejoined after a reload. */
function join(e: CallAcceptedEvent): void {
  activeCallId = e.callId;
  classroom?.close();
  classroom = new Classroom(signedIn, e, () => void realtime.endCall(e.callId).catch((err: unknown) => classroom?.alert(describe(err))), warmup ?? undefined);
  warmup = null;
  // Ended by the platform while this page missed it (not by closing the view here).
  classroom.onEnded(() => activeCallId === e.callId && endedWhileAway(e.callId));
  show(lesson, classroom.element);
  classroom.element.querySelector("h2")?.setAttribute("tabindex", "-1");
  (classroom.element.querySelector("h2") as HTMLElement | null)?.focus();
  classroom.start().catch(() => void realtime.endCall(e.callId).catch(() => undefined));
}

/** Closes the lesson view with what the platform settled: the notice, then the rating if a lesson took place. */
function finish(summary: Call): void {
  activeCallId = null;
  warmup?.close();
  warmup = null;
  classroom?.close();
  classroom = null;
  const notice = endedNotice(summary.endReason ?? "completed", summary.billedSeconds ?? 0);
  const taught = Boolean(summary.connectedAt && summary.teacherId);
  if (taught) renderRating(summary, notice);
  // The balance decides whether the call button is enabled, so the idle view waits for it.
  void Promise.all([renderWallet(), renderHistory()]).finally(() => taught || renderIdle(notice));
  followReceipts();
}

/** The call ended while this page was reloading or its connection was down: its summary from the platform. */
const endedWhileAway = (callId: string): void =>
  void summaryOfEnded(api, callId, activeCallId).then((summary) => summary && finish(summary));

realtime.on("callAccepted", join);
realtime.on("callTimer", (e) => classroom?.setTimer(e));
realtime.on("balanceWarning", (e) => classroom?.alert(`Only ${e.thresholdMinutes} minute${e.thresholdMinutes === 1 ? "" : "s"} left. Buy more to keep talking.`));
realtime.on("callEnded", (e: CallEndedEvent) => {
  if (e.callId === activeCallId) finish(e.summary);
});

function renderRating(call: Call, notice: HTMLElement): void {
  const status = h("p", { class: "status", role: "status" });
  const stars = [5, 4, 3, 2, 1].map((n) =>
    h("label", { class: "star" }, h("input", { type: "radio", name: "stars", value: n, required: true }), ` ${"★".repeat(n)} `, h("span", { class: "visually-hidden" }, `${n} stars`)),
  );
  const comment = h("textarea", { id: "rating-comment", name: "comment", rows: 2, maxlength: 500 });
  const submit = h("button", { type: "submit", class: "primary" }, "Send rating");
  const skip = h("button", { type: "button" }, "Skip");
  skip.addEventListener("click", () => renderIdle());
  const form = h(
    "form",
    { class: "stack", id: "rating-form" },
    h("fieldset", {}, h("legend", {}, "How was your lesson?"), ...stars),
    h("label", { for: "rating-comment" }, "Comment (optional)"),
    comment,
    h("div", { class: "row" }, submit, skip),
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = form.querySelector<HTMLInputElement>("input[name=stars]:checked");
    void busy(submit, status, async () => {
      await api.rateCall(call.id, { stars: Number(chosen?.value), comment: comment.value || null });
      renderIdle(h("p", { class: "status", role: "status", id: "rated" }, "Thanks for your rating!"));
      await renderHistory();
    });
  });
  show(lesson, h("h2", { id: "lesson-title" }, "Lesson finished"), notice, h("p", {}, `You talked for ${clock(call.meteredSeconds)}.`), form);
  form.querySelector("input")?.focus();
}

await Promise.all([renderWallet(), renderShop(), renderPreferences(), renderHistory(), renderReceipts()]).catch((error: unknown) => {
  root.prepend(h("p", { class: "status error", role: "alert" }, `Could not load your account: ${describe(error)}`));
});
renderCheck();
renderIdle();
// After a reload the lesson in progress comes back by itself.
await rejoinLiveCall(realtime, (callId) => callId === activeCallId, join, endedWhileAway);
