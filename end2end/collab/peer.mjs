// Unmodified Yjs clients against Kiln's /collab endpoint: npm `yjs` and `y-websocket`'s
// WebsocketProvider (server URL `ws://host/collab`, room = the app's id), with `ws` as the
// WebSocket of Node. Prints one JSON line with what happened; the Rust interop test runs it.
//
//   node peer.mjs converge <wsBase> <room> <tokenA> <tokenB> [wsBaseB]  two editors type at once
//   node peer.mjs offline  <wsBase> <room> <tokenA> <tokenB>   A edits offline, B online; merge
//   node peer.mjs read     <wsBase> <room> <token>             the text after syncing
//   node peer.mjs edit     <wsBase> <room> <token> <text>      append <text>, wait until echoed
//   node peer.mjs viewer   <wsBase> <room> <token>             try to edit as a viewer
//   node peer.mjs companion <wsBase> <room> <token> <waitFor> <append>  beside a browser
//   node peer.mjs refused  <wsBase> <room> [token] [origin] [cookie]  the upgrade's HTTP status
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import WebSocket from "ws";

const [cmd, base, room, ...rest] = process.argv.slice(2);
const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms));

function connect(token, extra = {}, at = base) {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(`${at}/collab`, room, doc, {
    WebSocketPolyfill: WebSocket,
    params: token ? { token } : {},
    disableBc: true,
    ...extra,
  });
  const synced = new Promise((resolve) => {
    if (provider.synced) resolve();
    provider.on("sync", (s) => s && resolve());
  });
  return { doc, provider, text: doc.getText("description"), synced };
}

async function until(pred, ms, what) {
  await Promise.race([
    (async () => {
      while (!pred()) await new Promise((r) => setTimeout(r, 20));
    })(),
    deadline(ms, what),
  ]);
}

function done(result) {
  console.log(JSON.stringify(result));
  process.exit(0);
}

async function main() {
  switch (cmd) {
    case "converge": {
      // B may be on another Kiln process (a replica on the same database).
      const [ta, tb, baseB] = rest;
      const a = connect(ta);
      const b = connect(tb, {}, baseB ?? base);
      await Promise.race([Promise.all([a.synced, b.synced]), deadline(10000, "sync")]);
      const before = a.text.toString();
      // Both type at the same moment, one at the start, one at the end.
      a.text.insert(0, "Alpha ");
      b.text.insert(b.text.length, " Omega");
      await until(
        () =>
          a.text.toString() === b.text.toString() &&
          a.text.toString().includes("Alpha") &&
          a.text.toString().includes("Omega"),
        10000,
        "convergence",
      );
      // Presence: each sees the other (name and colour, as an editor would show them).
      a.provider.awareness.setLocalStateField("user", { name: "a", color: "#c2410c" });
      b.provider.awareness.setLocalStateField("user", { name: "b", color: "#1d4ed8" });
      await until(
        () => [...a.provider.awareness.getStates().values()].some((s) => s.user?.name === "b"),
        10000,
        "presence",
      );
      const result = { before, a: a.text.toString(), b: b.text.toString() };
      a.provider.destroy();
      b.provider.destroy();
      return done(result);
    }
    case "offline": {
      // A loses its connection and keeps typing; B types meanwhile; A comes back and both
      // edits are in both documents (and at the server, for a peer arriving afterwards).
      const [ta, tb] = rest;
      const a = connect(ta);
      const b = connect(tb);
      await Promise.race([Promise.all([a.synced, b.synced]), deadline(10000, "sync")]);
      a.provider.disconnect();
      await until(() => !a.provider.wsconnected, 10000, "A offline");
      a.text.insert(0, "Offline: ");
      b.text.insert(b.text.length, " Online.");
      // B's edit reaches the server while A is away; A's does not.
      const c = connect(tb);
      await Promise.race([c.synced, deadline(10000, "sync")]);
      await until(() => c.text.toString().endsWith(" Online."), 10000, "B's edit at the server");
      const whileAway = { a: a.text.toString(), server: c.text.toString() };
      a.provider.connect();
      const merged = (t) => t.startsWith("Offline: ") && t.endsWith(" Online.");
      await until(
        () => merged(a.text.toString()) && merged(b.text.toString()) && merged(c.text.toString()),
        10000,
        "the offline edit to merge",
      );
      const result = { whileAway, a: a.text.toString(), b: b.text.toString(), c: c.text.toString() };
      for (const p of [a, b, c]) p.provider.destroy();
      return done(result);
    }
    case "read": {
      const p = connect(rest[0]);
      await Promise.race([p.synced, deadline(10000, "sync")]);
      const text = p.text.toString();
      p.provider.destroy();
      return done({ text });
    }
    case "edit": {
      const [token, addition] = rest;
      const p = connect(token);
      await Promise.race([p.synced, deadline(10000, "sync")]);
      p.text.insert(p.text.length, addition);
      // Another connection sees it: it reached the server (which writes before it relays).
      const q = connect(token);
      await Promise.race([q.synced, deadline(10000, "sync")]);
      await until(() => q.text.toString().endsWith(addition), 10000, "the edit at the server");
      const text = q.text.toString();
      p.provider.destroy();
      q.provider.destroy();
      return done({ text });
    }
    case "viewer": {
      const warnings = [];
      console.warn = (...args) => warnings.push(args.join(" "));
      const p = connect(rest[0]);
      await Promise.race([p.synced, deadline(10000, "sync")]);
      const before = p.text.toString();
      p.text.insert(0, "VANDAL ");
      await until(() => warnings.some((w) => /denied/i.test(w)), 10000, "permission denied");
      p.provider.destroy();
      return done({ before, denied: warnings.find((w) => /denied/i.test(w)) });
    }
    case "companion": {
      // Beside a browser: shown as "node-peer", waits for <waitFor>, appends <append>, stays a
      // moment (presence), prints the text it ends with.
      const [token, waitFor, append] = rest;
      const p = connect(token);
      p.provider.awareness.setLocalStateField("user", { name: "node-peer", color: "#15803d" });
      await Promise.race([p.synced, deadline(20000, "sync")]);
      await until(() => p.text.toString().includes(waitFor), 60000, `the text "${waitFor}"`);
      p.text.insert(p.text.length, append);
      await new Promise((r) => setTimeout(r, 3000));
      const text = p.text.toString();
      p.provider.destroy();
      return done({ text });
    }
    case "refused": {
      const [token, origin, cookie] = rest;
      const url = `${base}/collab/${room}${token ? `?token=${encodeURIComponent(token)}` : ""}`;
      const options = origin ? { origin } : {};
      if (cookie) options.headers = { cookie };
      const ws = new WebSocket(url, options);
      const status = await Promise.race([
        new Promise((resolve) => {
          ws.on("unexpected-response", (_req, res) => resolve(res.statusCode));
          ws.on("open", () => resolve(101));
          ws.on("error", () => resolve(0));
        }),
        deadline(10000, "an answer"),
      ]);
      // Did any document data arrive? (It must not, when refused.)
      let frames = 0;
      ws.on("message", () => (frames += 1));
      await new Promise((r) => setTimeout(r, 200));
      ws.terminate();
      return done({ status, frames });
    }
    default:
      throw new Error(`unknown command ${cmd}`);
  }
}

main().catch((e) => {
  console.log(JSON.stringify({ error: String(e?.message ?? e) }));
  process.exit(1);
});
