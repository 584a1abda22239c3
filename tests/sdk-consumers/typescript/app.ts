// A school's app as it would use the packed SDK: the REST client, the realtime client, a
// CallSession over a call's room. Type-checked only; the SDK's own tests run these paths.
import {
  CallernRealtime,
  CallSession,
  createCallernApi,
  type CallAcceptedEvent,
  type ChatMessage,
  type RealtimeError,
  type WhiteboardOperation,
} from "@callern/sdk";

const baseUrl = "http://127.0.0.1:5080";
const accessToken = async (): Promise<string> => (await fetch("/my-school/callern-token")).text();

export async function student(): Promise<void> {
  const api = createCallernApi({ baseUrl, accessToken });
  const me = await api.getMe();
  const realtime = new CallernRealtime({ baseUrl, accessToken, reconnectDelaysMs: [0, 1000, 5000] });
  realtime.on("connectionStateChanged", ({ state, error }) => console.log(state, error?.message));
  realtime.on("callAccepted", (accepted: CallAcceptedEvent) => {
    const room = realtime.room(accepted.callId);
    const session = new CallSession({ iceServers: accepted.iceServers.iceServers, polite: accepted.polite, channel: room });
    room.onChat((m: ChatMessage) => console.log(m.seq, m.text));
    room.onWhiteboard((op: WhiteboardOperation) => console.log(op.kind === "stroke" ? op.data.points.length : op.kind));
    void session.start();
    void room.sendWhiteboard({ kind: "stroke", data: { points: [[0.1, 0.2]], color: "#000", width: 2 } });
  });
  await realtime.start();
  const call = await realtime.requestCall({ language: me.student?.targetLanguage ?? "en" });
  console.log(call.state);
}

export async function teacher(): Promise<void> {
  const realtime = new CallernRealtime({ baseUrl, accessToken });
  realtime.on("incomingCall", (offer) => {
    realtime.acceptOffer(offer.offerId).catch((error: RealtimeError) => console.warn(error.code));
  });
  await realtime.start();
  const presence = await realtime.setAvailability("available");
  console.log(presence.status);
}
