// The teacher's app: availability, the incoming call (ring, student preview, countdown), the
// call itself, earnings and history.
import type { Call, CallAcceptedEvent, CallWarmup, IncomingCallEvent } from "@callern/sdk";
import { Classroom, endedNotice, rejoinLiveCall, summaryOfEnded, warmUp } from "../web-shared/classroom.js";
import { busy, clock, describe, h, show } from "../web-shared/dom.js";
import { historyTable } from "../web-shared/history.js";
import { header, signIn } from "../web-shared/school.js";
import "../web-shared/styles.css";

const root = document.getElementById("app")!;
const signedIn = await signIn(root, "Teacher sign-in");
const { api, realtime } = signedIn;

const availability = h("section", { class: "card", id: "availability", "aria-labelledby": "availability-title" });
const lesson = h("section", { class: "card wide", id: "lesson", "aria-labelledby": "lesson-title" });
const earnings = h("section", { class: "card", id: "earnings", "aria-labelledby": "earnings-title" });
const history = h("section", { class: "card wide", id: "history", "aria-labelledby": "history-title" });
show(root, header(signedIn, "Callern teaching"), h("div", { class: "grid" }, availability, lesson, earnings, history));

/** A ring made with WebAudio (no sound file to ship): two short beeps every 1.5 s while an offer is open. */
class Ringer {
  private context: AudioContext | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;

  /** Creating the context in a click (going online) lets it play later without another gesture. */
  unlock(): void {
    this.context ??= new AudioContext();
    void this.context.resume();
  }

  start(indicator: HTMLElement): void {
    this.unlock();
    const context = this.context!;
    const beep = (at: number): void => {
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, at);
      gain.gain.exponentialRampToValueAtTime(0.001, at + 0.25);
      tone.connect(gain).connect(context.destination);
      tone.start(at);
      tone.stop(at + 0.25);
    };
    const ring = (): void => {
      beep(context.currentTime);
      beep(context.currentTime + 0.35);
      indicator.dataset.sound = context.state;
    };
    ring();
    this.timer = setInterval(ring, 1500);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

const ringer = new Ringer();
let available = false;
let offer: { event: IncomingCallEvent; countdown: ReturnType<typeof setInterval> } | null = null;
let activeCallId: string | null = null;
let classroom: Classroom | null = null;
/** Opened as a call rings, taken by the lesson view when accepted; closed with the offer otherwise. */
let warmup: CallWarmup | null = null;

function renderAvailability(error = ""): void {
  const toggle = h("button", { type: "button", class: available ? "primary" : "", id: "availability-toggle", "aria-pressed": String(available) }, available ? "Available for calls" : "Away");
  const status = h("p", { class: "status error", role: "alert" }, error);
  toggle.addEventListener("click", () =>
    void busy(toggle, status, async () => {
      ringer.unlock();
      const presence = await realtime.setAvailability(available ? "away" : "available");
      available = presence.status === "available";
      renderAvailability();
      document.getElementById("availability-toggle")?.focus();
    }),
  );
  show(
    availability,
    h("h2", { id: "availability-title" }, "My status"),
    h("p", { class: "muted", id: "availability-note" }, activeCallId ? "You are in a lesson; no other call rings meanwhile." : available ? "Students can call you now. Keep this page open." : "Switch on to receive calls."),
    toggle,
    status,
  );
}

function renderIdle(notice?: HTMLElement): void {
  show(lesson, h("h2", { id: "lesson-title" }, "Calls"), notice, h("p", { class: "muted", id: "waiting" }, available ? "Waiting for a student…" : "You are away."));
}

function closeOffer(message?: string): void {
  warmup?.close();
  warmup = null;
  if (!offer) return;
  clearInterval(offer.countdown);
  ringer.stop();
  offer = null;
  renderIdle(message ? h("p", { class: "status", role: "status" }, message) : undefined);
}

realtime.on("incomingCall", (event) => {
  if (activeCallId) return;
  const countdown = h("span", { id: "countdown" });
  const ringState = h("p", { id: "ring-state", class: "ringing", "data-ring": "on" }, "Incoming call");
  const accept = h("button", { type: "button", class: "primary big", id: "accept-call" }, "Accept");
  const decline = h("button", { type: "button", id: "decline-call" }, "Decline");
  const status = h("p", { class: "status error", role: "alert" });
  accept.addEventListener("click", () =>
    void busy(accept, status, async () => {
      clearInterval(offer?.countdown);
      ringer.stop();
      await realtime.acceptOffer(event.offerId);
    }),
  );
  decline.addEventListener("click", () =>
    void busy(decline, status, async () => {
      await realtime.declineOffer(event.offerId);
      closeOffer("You declined the call.");
    }),
  );
  const tick = (): void => {
    const left = Math.max(0, Math.round((Date.parse(event.expiresAt) - Date.now()) / 1000));
    countdown.textContent = `${left} s to answer`;
  };
  tick();
  offer = { event, countdown: setInterval(tick, 500) };
  warmUp(signedIn).then(
    (w) => (offer?.event.offerId === event.offerId ? (warmup = w) : w.close()),
    () => undefined, // the lesson view opens its own media then
  );
  const student = event.student;
  show(
    lesson,
    h(
      "div",
      { role: "alertdialog", class: "incoming", "aria-labelledby": "incoming-title", "aria-describedby": "incoming-details" },
      ringState,
      h("h2", { id: "incoming-title" }, `${student.displayName} is calling`),
      h(
        "dl",
        { id: "incoming-details" },
        h("dt", {}, "Wants"),
        h("dd", {}, `${event.language} · ${event.level}${event.specialization ? ` · ${event.specialization}` : ""}`),
        h("dt", {}, "Goal"),
        h("dd", {}, student.goal ?? "—"),
      ),
      countdown,
      h("div", { class: "row" }, accept, decline),
      status,
    ),
  );
  accept.focus();
  ringer.start(ringState);
});

realtime.on("offerClosed", (event) => {
  if (offer?.event.offerId !== event.offerId) return;
  closeOffer(event.outcome === "timed_out" ? "You missed a call." : "The call was taken by another teacher or cancelled.");
});

/** Opens the lesson view for an accepted call, or for a live call rejoined after a reload. */
function join(event: CallAcceptedEvent): void {
  if (activeCallId === event.callId) return;
  const warm = warmup;
  warmup = null;
  closeOffer();
  activeCallId = event.callId;
  classroom?.close();
  classroom = new Classroom(signedIn, event, () => void realtime.endCall(event.callId).catch((err: unknown) => classroom?.alert(describe(err))), warm ?? undefined);
  // Ended by the platform while this page missed it (not by closing the view here).
  classroom.onEnded(() => activeCallId === event.callId && endedWhileAway(event.callId));
  show(lesson, classroom.element);
  renderAvailability();
  classroom.start().catch(() => void realtime.endCall(event.callId).catch(() => undefined));
}

function finish(summary: Call): void {
  activeCallId = null;
  classroom?.close();
  classroom = null;
  renderAvailability();
  renderIdle(endedNotice(summary.endReason ?? "completed", summary.billedSeconds ?? 0));
  void Promise.all([renderEarnings(), renderHistory()]);
}

/** The call ended while this page was reloading or its connection was down: its summary from the platform. */
const endedWhileAway = (callId: string): void =>
  void summaryOfEnded(api, callId, activeCallId).then((summary) => summary && finish(summary));

realtime.on("callAccepted", join);
realtime.on("callTimer", (e) => classroom?.setTimer(e));
realtime.on("callEnded", (e) => {
  if (e.callId === activeCallId) finish(e.summary);
});
realtime.on("presenceChanged", (presence) => {
  available = presence.status === "available";
  renderAvailability();
  if (!offer && !activeCallId) renderIdle();
});

async function renderEarnings(): Promise<void> {
  const summary = await api.getMyEarnings(undefined, undefined);
  show(
    earnings,
    h("h2", { id: "earnings-title" }, "My earnings"),
    h("p", { class: "big", id: "taught", "data-seconds": summary.seconds }, clock(summary.seconds)),
    h("p", { class: "muted" }, `taught in ${summary.calls} paid call${summary.calls === 1 ? "" : "s"} (all time)`),
  );
}

async function renderHistory(): Promise<void> {
  const calls = (await api.listCalls(undefined, 10, undefined, undefined, undefined)).items;
  show(history, h("h2", { id: "history-title" }, "My calls"), historyTable(calls, (call) => call.studentId));
}

// The status as students' requests see it, not an assumption: a reload keeps "available".
available = (await api.getMyAvailability().catch(() => null))?.status === "available";
renderAvailability();
renderIdle();
// After a reload the lesson in progress comes back by itself.
await rejoinLiveCall(realtime, (callId) => callId === activeCallId, join, endedWhileAway);
await Promise.all([renderEarnings(), renderHistory()]).catch((error: unknown) => {
  root.prepend(h("p", { class: "status error", role: "alert" }, `Could not load your account: ${describe(error)}`));
});
