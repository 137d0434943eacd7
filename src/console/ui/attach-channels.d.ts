// The attach WebSocket's protocol and channels, served as /ui/attach-channels.js by the server
// from its own contract (src/contract/attach-channels.ts).
export { ATTACH_PROTOCOL, CHANNEL } from '../../contract/attach-channels.ts';
