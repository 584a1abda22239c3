// The test page: one participant of a call, driven by the node test through window.harness.
// The SignalingChannel below stands in for the platform's hub: it relays through functions the
// test exposes on the page (relaySignal, relayMediaState, confirmMedia, refreshIceServers) and
// receives through window.harness.deliver*.
import { CallSession, PreCallCheck } from "/sdk/index.js";

const events = [];
const signalHandlers = new Set();
/** Every track getUserMedia/getDisplayMedia ever handed out, to prove none is left running. */
const capturedTracks = [];
let session = null;
let lastStats = null;

for (const method of ["getUserMedia", "getDisplayMedia"]) {
  const original = navigator.mediaDevices[method].bind(navigator.mediaDevices);
  navigator.mediaDevices[method] = async (constraints) => {
    const stream = await original(constraints);
    capturedTracks.push(...stream.getTracks());
    return stream;
  };
}

const channel = {
  send: (signal) => window.relaySignal(signal),
  onSignal(handler) {
    signalHandlers.add(handler);
    return () => signalHandlers.delete(handler);
  },
  reportMediaState: (state) => window.relayMediaState(state),
  confirmMedia: (sample) => window.confirmMedia(sample),
  // The session sends its stats with its media confirmations, so this is never called here.
  reportStats: async () => undefined,
  refreshIceServers: () => window.refreshIceServers(),
};

function record(name, detail) {
  events.push({ name, at: performance.now(), detail });
}

function describeStream(stream) {
  return { id: stream.id, tracks: stream.getTracks().map((t) => ({ kind: t.kind, readyState: t.readyState })) };
}

window.harness = {
  async start(options) {
    events.length = 0; // a new call in the same page starts a new record
    session = new CallSession({ ...options, channel, statsIntervalMs: 1000 });
    session.on("localStream", (stream, source) => record("localStream", { source, ...describeStream(stream) }));
    session.on("remoteStream", (stream, source) => {
      record("remoteStream", { source, ...describeStream(stream) });
      if (source === "camera") document.getElementById("remote").srcObject = stream;
    });
    session.on("remoteStreamRemoved", (stream, source) => record("remoteStreamRemoved", { source, id: stream.id }));
    session.on("mediaState", (state) => record("mediaState", state));
    session.on("remoteMediaState", (state) => record("remoteMediaState", state));
    session.on("connectionState", (state) => record("connectionState", state));
    session.on("mediaConnected", () => record("mediaConnected"));
    session.on("iceRestart", (reason) => record("iceRestart", reason));
    session.on("stats", (stats) => {
      lastStats = stats;
      record("stats", stats);
    });
    session.on("quality", (quality) => record("quality", quality));
    session.on("ended", (reason) => record("ended", reason));
    session.on("error", (error) => record("error", { code: error.code, message: error.message, cause: String(error.cause) }));
    const startedAt = performance.now();
    record("start");
    await session.start();
    return startedAt;
  },
  deliverSignal(signal) {
    for (const handler of signalHandlers) handler(signal);
  },
  deliverRemoteMediaState(state) {
    session.setRemoteMediaState(state);
  },
  events: (name) => events.filter((e) => e.name === name),
  lastStats: () => lastStats,
  session: () => session,
  signalHandlerCount: () => signalHandlers.size,
  capturedTracks: () => capturedTracks.map((t) => ({ kind: t.kind, label: t.label, readyState: t.readyState })),
  remoteStreams: () =>
    session.remoteStreams.map(({ stream, source }) => ({
      source,
      tracks: stream.getTracks().map((t) => ({ kind: t.kind, readyState: t.readyState, muted: t.muted })),
    })),
  preCallCheck: (options) => new PreCallCheck(options).run(),
};
window.harnessReady = true;
