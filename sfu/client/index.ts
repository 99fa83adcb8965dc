/**
 * The client side of callswarm signaling, for any participant: the bot page (browsers), lite
 * bots (Node + werift) and tests. Depends on protocol/ and mediasoup-client only, never on the
 * SFU's server side.
 */
export { CallClient, type CallClientEvents, type CallClientOptions, type CallState, type PublishOptions, type RemoteConsumer, type Subscription } from './CallClient.ts';
export { recordParticipantEvents } from './participantEvents.ts';
export { SignalingClient, SignalingRequestError, type SignalingClientEvents, type WebSocketFactory, type WebSocketLike } from './SignalingClient.ts';
