export { CallRoom, type RoomHost, type RoomSink } from "./call-room.js";
export { CallernRealtime, type CallernRealtimeOptions, defaultReconnectDelaysMs, type RealtimeProtocol } from "./client.js";
export * from "./types.js";
