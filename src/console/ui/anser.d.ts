// anser, served as /ui/anser.js by the server from node_modules (console-assets.ts): its own
// types, for the module the server makes of it.
import type AnserClass from 'anser';

declare const Anser: typeof AnserClass;
export default Anser;
