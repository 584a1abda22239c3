// A participant page of the platform suite: what a school's student or teacher app does with
// the SDK, against the real platform (its REST API and hub are proxied on this page's origin).
// The node test drives it through window.callHarness and reads what it recorded. Times are
// Date.now(), comparable between the browser processes of one machine.
import { CallernRealtime, CallSession, CallWarmup, createCallernApi } from "/sdk/index.js";

const events = [];
let realtime = null;
/** callId -> { session, room, sent: { offer, answer, candidate } } */
const calls = new Map();
let sessionOptions = {};
let api = null;
/** What the README tells an app to do while a call rings: camera, microphone and relay candidates, ready for the accept. */
let warmup = null;
// The teacher's warm-up started when the call rang, until it has its ICE servers and camera request under way.
let warming = Promise.resolve();

async function warmUp() {
  warmup?.close();
  const { iceServers } = await api.getIceServers();
  warmup = new CallWarmup({ iceServers, iceTransportPolicy: "relay", media: sessionOptions.media });
  record("warmingUp", null);
}

function record(name, detail) {
  events.push({ name, at: Date.now(), detail: detail === undefined ? null : JSON.parse(JSON.stringify(detail)) });
}

/** The room as the session's channel, counting what this side sends (offers, answers, candidates). */
function countingChannel(room, sent) {
  return {
    send(signal) {
      const kind = signal.type === "description" ? signal.description.type : signal.type;
      sent[kind] = (sent[kind] ?? 0) + 1;
      record("sent", { callId: room.callId, kind });
      return room.send(signal);
    },
    onSignal: (handler) => room.onSignal(handler),
    reportMediaState: (state) => room.reportMediaState(state),
    reportStats: (stats) => room.reportStats(stats),
    refreshIceServers: () => room.refreshIceServers(),
    confirmMedia: async (sample) => {
      record("confirming", { callId: room.callId, inboundBytes: sample.inboundBytes });
      const outcome = await room.confirmMedia(sample);
      record("confirmation", { callId: room.callId, inboundBytes: sample.inboundBytes, outcome });
      return outcome;
    },
    onCallEvent: (handler) => room.onCallEvent(handler),
  };
}

/** What the README tells an app to do on callAccepted (and after rejoinCall): a room and a session. */
async function startSession(accepted) {
  // The test accepts the moment the call rings, before the warm-up has its ICE servers: the session
  // takes over the warm-up still under way rather than open the camera a second time.
  await warming.catch(() => undefined);
  const room = realtime.room(accepted.callId);
  const sent = {};
  const warmTracks = warmup ? ((await warmup.localStream)?.getTracks().map((t) => t.id) ?? []) : [];
  const session = new CallSession({
    iceServers: accepted.iceServers.iceServers,
    polite: accepted.polite,
    channel: countingChannel(room, sent),
    iceTransportPolicy: "relay",
    warmup: warmup ?? undefined,
    ...sessionOptions,
  });
  warmup = null;
  calls.set(accepted.callId, { session, room, sent });
  const callId = accepted.callId;
  room.onChat((message) => record("chat", { callId, text: message.text, seq: message.seq }));
  room.onMediaState(({ userId, state }) => record("roomMediaState", { callId, userId, microphone: state.microphone, camera: state.camera }));
  session.on("remoteStream", (stream, source) => {
    record("remoteStream", { callId, source });
    if (source === "camera") document.getElementById("remote").srcObject = stream;
  });
  session.on("mediaConnected", () => record("mediaConnected", { callId }));
  session.on("connectionState", (state) => record("connectionState", { callId, state }));
  session.on("reconnecting", (info) => record("reconnecting", { callId, ...info }));
  session.on("back", () => record("back", { callId }));
  session.on("peerRejoined", () => record("sessionPeerRejoined", { callId }));
  session.on("error", (error) => record("error", { callId, code: error.code, message: error.message, cause: String(error.cause) }));
  session.on("ended", (reason) => {
    record("ended", { callId, reason });
    room.close();
  });
  await session.start();
  const tracks = session.localStream.getTracks();
  // Taken over from the warm-up: the camera and microphone opened while the call rang, not opened again.
  record("started", { callId, fromWarmup: tracks.length > 0 && tracks.every((t) => warmTracks.includes(t.id)) });
}

window.callHarness = {
  async connect(token, options = {}) {
    sessionOptions = options.session ?? {};
    realtime = new CallernRealtime({ baseUrl: location.origin, accessToken: () => token, reconnectDelaysMs: [200, 500, 1000] });
    api = createCallernApi({ baseUrl: location.origin, accessToken: () => token });
    if (options.warmUp) {
      realtime.on("incomingCall", () => {
        warming = warmUp();
      });
    }
    for (const name of ["incomingCall", "callRinging", "callConnected", "peerConnection", "liveCall", "peerRejoined", "callEnded", "reconnected"]) {
      realtime.on(name, (e) => record(name, e));
    }
    realtime.on("callAccepted", (accepted) => {
      record("callAccepted", { callId: accepted.callId, polite: accepted.polite });
      startSession(accepted).catch((error) => record("error", { callId: accepted.callId, code: "start", message: String(error) }));
    });
    if (options.rejoinLiveCalls) {
      // After a reload: the live call this client has no room for is rejoined.
      realtime.on("liveCall", ({ callId }) => {
        realtime.rejoinCall(callId).then(
          (accepted) => {
            record("rejoined", { callId, polite: accepted.polite });
            return startSession(accepted);
          },
          (error) => record("rejoinFailed", { callId, code: error.code }),
        );
      });
    }
    await realtime.start();
  },
  setAvailability: (status) => realtime.setAvailability(status).then((p) => p.status),
  async requestCall(request, { warmUp: warm = false } = {}) {
    const [call] = await Promise.all([realtime.requestCall(request), warm ? warmUp() : null]);
    return call.id;
  },
  async accept(offerId) {
    record("accepting", { offerId });
    // The result is the same call as the callAccepted event, which started the session.
    const accepted = await realtime.acceptOffer(offerId);
    return accepted.callId;
  },
  endCall: (callId) => realtime.endCall(callId).then((call) => call.state),
  stop: () => realtime?.stop(),
  events: (name) => events.filter((e) => e.name === name),
  sent: (callId) => calls.get(callId)?.sent ?? null,
  remoteTracks(callId) {
    const entry = calls.get(callId);
    if (!entry) return [];
    return entry.session.remoteStreams.flatMap(({ stream, source }) =>
      stream.getTracks().map((t) => ({ source, kind: t.kind, readyState: t.readyState, muted: t.muted })),
    );
  },
  /** Sends a signal on the call's room as a session would. */
  sendSignal: (callId, signal) => realtime.room(callId).send(signal),
  /** Records every signal the call's room delivers, next to the session's own subscription. */
  watchSignals(callId) {
    realtime.room(callId).onSignal((signal) => record("watchedSignal", { callId, signal }));
  },
  rejoin: (callId) => realtime.rejoinCall(callId).then((accepted) => accepted.callId),
  sendChat: (callId, text) => realtime.room(callId).sendChat(text).then((message) => message.seq),
};

window.callHarnessDump = () => events.filter((e) => e.name !== "watchedSignal").map((e) => [e.name, e.at, JSON.stringify(e.detail).slice(0, 200)]);
window.callHarnessReady = true;
