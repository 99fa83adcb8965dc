export { CallClient, SignalingClient, SignalingRequestError, type CallClientOptions, type CallState, type WebSocketFactory } from './client/index.ts';
export { startSfu, Sfu, type SfuEvents } from './Sfu.ts';
export type { SfuTotals, WorkerLoad } from './types.ts';
export { SfuOptions, sfuOptionsFromEnv, type SfuOptionsInput } from './options.ts';
export type { Room, RoomSnapshot } from './Room.ts';
export type { BotPageApi, BotPageState, RawStatsSnapshot } from './botpage/api.ts';
