// The in-call view both apps share: videos, media controls, timer, chat, files and whiteboard.
// The WebRTC side is the SDK's CallSession; the room (chat, files, whiteboard, media state and
// signaling for this call) is the SDK's CallRoom.
import { CallSession, CallWarmup, RealtimeError, type Call, type CallAcceptedEvent, type CallernApi, type CallernRealtime, type CallFile, type CallRoom, type CallTimerEvent, type ChatMessage } from "@callern/sdk";
import { clock, describe, h, show } from "./dom.js";
import type { SignedIn } from "./school.js";
import { WhiteboardView } from "./whiteboard.js";

/** `?relay` in the page's URL forces media through TURN (the end-to-end test uses it; schools may, to hide IPs). */
const iceTransportPolicy: RTCIceTransportPolicy = new URLSearchParams(location.search).has("relay") ? "relay" : "all";

/**
 * Camera, microphone and relay candidates opened while a call rings (the SDK's CallWarmup), so the
 * lesson's media flows sooner after the accept: the student's app warms up when it requests, the
 * teacher's when a call rings. The lesson view takes it over; close it if the call never starts.
 */
export async function warmUp(signedIn: SignedIn): Promise<CallWarmup> {
  const { iceServers } = await signedIn.api.getIceServers();
  return new CallWarmup({ iceServers: iceServers as RTCIceServer[], iceTransportPolicy });
}

export class Classroom {
  readonly element: HTMLElement;
  readonly room: CallRoom;
  private readonly session: CallSession;
  private readonly localVideo = h("video", { autoplay: true, muted: true, playsinline: true, class: "local", "aria-label": "Your camera" });
  private readonly remoteVideo = h("video", { autoplay: true, playsinline: true, class: "remote", "aria-label": "Your partner's camera" });
  private readonly screenVideo = h("video", { autoplay: true, muted: true, playsinline: true, class: "screen", hidden: true, "aria-label": "Shared screen" });
  private readonly media = h("p", { class: "status", role: "status", id: "media-state" }, "Connecting media…");
  private readonly timer = h("p", { class: "timer", id: "call-timer", "aria-live": "off" }, "0:00");
  private readonly alerts = h("p", { class: "status warning", role: "alert", id: "call-alert" });
  /** "Reconnecting…" while billing is paused because media stopped on either side, then "back". */
  private readonly banner = h("p", { class: "banner", role: "status", id: "connection-banner", hidden: true });
  private bannerTimer: ReturnType<typeof setTimeout> | undefined;
  /** A reconnect is under way: the partner's video playing again means the lesson is back. */
  private awaitingMedia = false;
  private readonly chatLog = h("ol", { class: "chat-log", id: "chat-log", "aria-live": "polite", "aria-label": "Chat messages" });
  private readonly files = h("ul", { class: "files", id: "shared-files", "aria-label": "Shared files" });
  private readonly controls: Record<"mic" | "camera" | "screen", HTMLButtonElement>;
  private readonly whiteboard: WhiteboardView;

  constructor(private readonly signedIn: SignedIn, private readonly accepted: CallAcceptedEvent, onHangUp: () => void, warmup?: CallWarmup) {
    this.room = signedIn.realtime.room(accepted.callId);
    this.session = new CallSession({
      iceServers: accepted.iceServers.iceServers as RTCIceServer[],
      polite: accepted.polite,
      channel: this.room,
      iceTransportPolicy,
      warmup,
    });
    const toggle = (label: string, onClick: () => Promise<void>): HTMLButtonElement => {
      const button = h("button", { type: "button", "aria-pressed": "false" }, label);
      button.addEventListener("click", () => void onClick().catch((error: unknown) => this.alert(describe(error))));
      return button;
    };
    this.controls = {
      mic: toggle("Mute", () => this.session.setMicrophoneEnabled(!this.session.mediaState.microphone)),
      camera: toggle("Camera off", () => this.session.setCameraEnabled(!this.session.mediaState.camera)),
      screen: toggle("Share screen", () => (this.session.mediaState.screenShare ? this.session.stopScreenShare() : this.session.startScreenShare())),
    };
    const hangUp = h("button", { type: "button", class: "danger", id: "end-call" }, "End call");
    hangUp.addEventListener("click", onHangUp);
    this.whiteboard = new WhiteboardView(this.room, signedIn.user.id);
    this.element = h(
      "section",
      { class: "classroom", "aria-label": `Call with ${accepted.peer.displayName}` },
      h("div", { class: "call-bar" }, h("h2", {}, `In call with ${accepted.peer.displayName}`), this.timer),
      this.banner,
      this.alerts,
      h("div", { class: "videos" }, this.remoteVideo, this.screenVideo, this.localVideo),
      this.media,
      h("div", { class: "row controls", role: "toolbar", "aria-label": "Call controls" }, this.controls.mic, this.controls.camera, this.controls.screen, hangUp),
      h("div", { class: "panels" }, this.chatPanel(), h("div", {}, this.filePanel(), this.whiteboard.element)),
    );
    this.wire();
  }

  /** Opens camera and microphone and connects; when they cannot be opened it says why and throws (the app then ends the call). */
  async start(): Promise<void> {
    try {
      await this.session.start();
    } catch (error) {
      this.alert(`No camera or microphone (${describe(error)}). Check that one is plugged in and that this site may use it.`);
      this.session.end("media");
      throw error;
    }
    // After a reload the lesson's chat, files, media states and board come back too.
    await this.room.catchUp().catch(() => undefined);
    await this.whiteboard.load().catch(() => undefined);
  }

  /** Timer and remaining balance from the platform (the only clock that bills). */
  setTimer(event: CallTimerEvent): void {
    const remaining = event.remainingSeconds == null ? "" : ` · ${clock(event.remainingSeconds)} left`;
    this.timer.textContent = `${clock(event.elapsedSeconds)}${remaining}${event.paused ? " · paused" : ""}`;
  }

  alert(text: string): void {
    this.alerts.textContent = text;
  }

  /** Tears down media and the room; the platform's CallEnded has settled the call. */
  close(): void {
    clearTimeout(this.bannerTimer);
    this.session.end("ended");
    this.room.close();
  }

  /** Called once when the session ends: by itself (the platform ended the call while this page was away or reconnecting), or by {@link close}. */
  onEnded(handler: () => void): void {
    this.session.on("ended", handler);
  }

  private reconnecting(text: string): void {
    this.awaitingMedia = true;
    this.showBanner("reconnecting", text);
  }

  private back(): void {
    this.awaitingMedia = false;
    this.showBanner("back", "Back: the lesson goes on.");
  }

  private showBanner(state: "reconnecting" | "back", text: string): void {
    clearTimeout(this.bannerTimer);
    this.banner.textContent = text;
    this.banner.dataset.state = state;
    this.banner.hidden = false;
    if (state === "back") this.bannerTimer = setTimeout(() => (this.banner.hidden = true), 5000);
  }

  private wire(): void {
    const me = this.signedIn.user.id;
    this.session.on("localStream", (stream, source) => {
      if (source === "camera") this.localVideo.srcObject = stream;
    });
    this.session.on("remoteStream", (stream, source) => {
      const video = source === "camera" ? this.remoteVideo : this.screenVideo;
      video.srcObject = stream;
      video.hidden = false;
    });
    this.session.on("remoteStreamRemoved", (_, source) => {
      if (source === "screen") this.screenVideo.hidden = true;
    });
    this.session.on("connectionState", (state) => {
      this.media.textContent = { new: "Connecting media…", connecting: "Connecting media…", connected: "Media connected", disconnected: "Connection unstable, reconnecting…", failed: "Media connection failed, retrying…", closed: "Media closed" }[state];
      this.media.dataset.state = state;
    });
    this.session.on("mediaState", (state) => {
      const set = (button: HTMLButtonElement, pressed: boolean, on: string, off: string): void => {
        button.setAttribute("aria-pressed", String(pressed));
        button.textContent = pressed ? off : on;
      };
      set(this.controls.mic, !state.microphone, "Mute", "Unmute");
      set(this.controls.camera, !state.camera, "Camera off", "Camera on");
      set(this.controls.screen, state.screenShare, "Share screen", "Stop sharing");
    });
    // A rejoin after a reload: the lesson is back once the partner's video plays again.
    if (this.accepted.state === "connected") this.reconnecting("Reconnecting to your lesson…");
    this.session.on("peerRejoined", () => this.reconnecting(`${this.accepted.peer.displayName} is reconnecting…`));
    this.session.on("reconnecting", ({ graceEndsAt }) => {
      const until = graceEndsAt ? ` The lesson is kept until ${new Date(graceEndsAt).toLocaleTimeString()}.` : "";
      this.reconnecting(`Reconnecting… the lesson is paused and not billed.${until}`);
    });
    this.session.on("back", () => this.back());
    this.remoteVideo.addEventListener("resize", () => {
      if (this.awaitingMedia && this.remoteVideo.videoWidth > 0) this.back();
    });
    this.session.on("error", (error) => {
      if (error.code === "media") this.alert(`Camera or microphone problem: ${error.message}`);
    });
    this.room.onMediaState((event) => {
      if (event.userId !== me) this.session.setRemoteMediaState(event.state);
    });
    this.room.onChat((message) => this.addChat(message));
    this.room.onFile((file) => this.addFile(file));
  }

  private chatPanel(): HTMLElement {
    const input = h("input", { id: "chat-input", name: "message", autocomplete: "off", maxlength: 2000, required: true });
    const status = h("p", { class: "status", role: "status" });
    const form = h("form", { class: "row" }, h("label", { for: "chat-input", class: "visually-hidden" }, "Message"), input, h("button", { type: "submit" }, "Send"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      status.textContent = "";
      this.room.sendChat(text).then((message) => this.addChat(message), (error: unknown) => {
        input.value = text;
        status.textContent = `Not sent: ${describe(error)}`;
      });
    });
    return h("section", { class: "chat", "aria-label": "Chat" }, h("h3", {}, "Chat"), this.chatLog, form, status);
  }

  private addChat(message: ChatMessage): void {
    if (this.chatLog.querySelector(`[data-seq="${message.seq}"]`)) return; // our own comes back as an event too
    const mine = message.senderId === this.signedIn.user.id;
    const item = h("li", { "data-seq": message.seq, class: mine ? "mine" : "theirs" }, h("strong", {}, mine ? "You" : this.accepted.peer.displayName), " ", message.text);
    const after = [...this.chatLog.children].find((li) => Number((li as HTMLElement).dataset.seq) > message.seq);
    this.chatLog.insertBefore(item, after ?? null);
    item.scrollIntoView({ block: "nearest" });
  }

  private filePanel(): HTMLElement {
    const input = h("input", { type: "file", id: "file-input" });
    const status = h("p", { class: "status", role: "status" });
    const share = h("button", { type: "button" }, "Share file");
    share.addEventListener("click", () => {
      const file = input.files?.[0];
      if (!file) {
        status.textContent = "Choose a file first.";
        return;
      }
      share.disabled = true;
      status.textContent = `Uploading ${file.name}…`;
      this.room.uploadFile(file, file.name).then(
        (shared) => {
          this.addFile(shared);
          status.textContent = "";
          input.value = "";
        },
        (error: unknown) => (status.textContent = `Not shared: ${describe(error)}`),
      ).finally(() => (share.disabled = false));
    });
    return h("section", { class: "file-share", "aria-label": "Files" }, h("h3", {}, "Files"), this.files, h("div", { class: "row" }, h("label", { for: "file-input" }, "File"), input, share), status);
  }

  private addFile(file: CallFile): void {
    if (this.files.querySelector(`[data-file="${file.id}"]`)) return;
    const download = h("button", { type: "button", class: "link" }, `Download ${file.fileName}`);
    download.addEventListener("click", () => {
      // A short-lived signed link: works as a plain <a href> without the bearer token.
      this.room.fileLink(file.id).then(
        (link) => h("a", { href: link.url, download: file.fileName }).click(),
        (error: unknown) => this.alert(`Download failed: ${describe(error)}`),
      );
    });
    this.files.append(h("li", { "data-file": file.id }, download, h("span", { class: "muted" }, ` ${Math.ceil(file.sizeBytes / 1024)} KB`)));
  }
}

/**
 * Rejoins the user's live call after a reload (or in a second tab): asks the platform for it, and
 * after any later reconnect listens for its announcement. `join` gets the fresh accepted call (new
 * TURN credentials, the negotiation role); `ended` is told when the call ended while the user was away.
 */
export async function rejoinLiveCall(
  realtime: CallernRealtime,
  isOpen: (callId: string) => boolean,
  join: (accepted: CallAcceptedEvent) => void,
  ended: (callId: string) => void,
): Promise<void> {
  const rejoin = async (callId: string): Promise<void> => {
    if (isOpen(callId)) return;
    try {
      const rejoined = await realtime.rejoinCall(callId);
      // The liveCall event and findLiveCall ask together at page load: one lesson view, not two.
      if (!isOpen(callId)) join(rejoined);
    } catch (error) {
      if (error instanceof RealtimeError && error.code === "call_ended") ended(callId);
      else throw error;
    }
  };
  realtime.on("liveCall", (event) => void rejoin(event.callId).catch(() => undefined));
  const live = await realtime.findLiveCall();
  if (live) await rejoin(live.id);
}

/**
 * The platform's summary of a call that ended while the page was away (reloading, offline), for the
 * app to close the lesson view with; null when the page has another call open.
 */
export async function summaryOfEnded(api: CallernApi, callId: string, openCallId: string | null): Promise<Call | null> {
  return openCallId !== null && openCallId !== callId ? null : api.getCall(callId);
}

/** What ended the call, in words, and what it cost. */
export function endedNotice(reason: string, billedSeconds: number): HTMLElement {
  const reasons: Record<string, string> = {
    completed: "The call ended.",
    cancelled: "The call was cancelled.",
    no_teacher: "No teacher was free in time. Please try again later.",
    no_minutes: "There were no minutes left for this call.",
    setup_failed: "The media connection could not be set up (free of charge).",
    balance_depleted: "The call ended: the minutes ran out.",
    connection_lost: "The connection was lost.",
    max_duration: "The call reached its maximum length.",
    admin_ended: "The school ended the call.",
  };
  const notice = h("p", { class: "status", role: "status", id: "ended-notice" });
  show(notice, reasons[reason] ?? `The call ended (${reason}).`, billedSeconds > 0 ? ` Billed ${clock(billedSeconds)}.` : "");
  return notice;
}
