export { CallRoom, type RoomHost, type RoomSink } from "./call-room.js";
export { CallernRealtime, type CallernRealtimeOptions, defaultReconnectDelaysMs } from "./client.js";
export type { RealtimeProtocol } from "./hub-protocol.js";
export * from "./types.js";
