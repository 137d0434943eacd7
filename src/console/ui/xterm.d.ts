// xterm.js, served as /ui/xterm.js by the server from node_modules (console-assets.ts).
export { Terminal } from '@xterm/xterm';
