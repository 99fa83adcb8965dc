export { startSfu, Sfu, type SfuEvents, type SfuTotals, type WorkerLoad } from './Sfu.ts';
export { SfuOptions, sfuOptionsFromEnv, type SfuOptionsInput } from './options.ts';
export type { Room, RoomSnapshot } from './Room.ts';
export { SignalingClient, SignalingRequestError, type WebSocketFactory } from './client/SignalingClient.ts';
export { CallClient, type CallClientOptions, type CallState } from './client/CallClient.ts';
export type { BotPageApi, BotPageState, RawStatsSnapshot } from './botpage/api.ts';
