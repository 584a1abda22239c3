export { CallRoom, type RoomHost, type RoomSink, type WireSignal } from "./call-room.js";
export { CallernRealtime, type CallernRealtimeOptions, defaultReconnectDelaysMs } from "./client.js";
export * from "./types.js";
