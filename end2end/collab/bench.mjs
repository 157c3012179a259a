// Fan-out benchmark of a y-sync server: N peers on one document, each making a small edit every
// `interval` ms; every edit must reach the N-1 others. Measures updates delivered per second and
// the edit-to-delivery latency (p50, p99), after a warm-up.
//
//   node bench.mjs <url> <peers> <seconds> <intervalMs> [token]
//     <url>: the document's WebSocket URL (ws://host/collab/<app id> for Kiln,
//            ws://host/<room> for y-websocket's server); `?token=` is added when given.
//
// Each peer is a real Yjs document producing real updates (npm yjs), sent with y-protocols'
// encoding over `ws`. Peers do not apply what they receive (that would measure the client):
// a received update is recognised by the marker its text carries ("§peer:seq§").
import WebSocket from "ws";
import * as Y from "yjs";
import * as encoding from "lib0/encoding";
import * as decoding from "lib0/decoding";
import * as syncProtocol from "y-protocols/sync";

const [url, peersArg, secondsArg, intervalArg, token] = process.argv.slice(2);
const peers = Number(peersArg ?? 100);
const seconds = Number(secondsArg ?? 10);
const interval = Number(intervalArg ?? 100);
const warmup = 2000;

const sentAt = new Map();
const latencies = [];
let delivered = 0;
let measuring = false;
let sent = 0;
let closed = 0;

function marker(bytes) {
  // The marker is UTF-8 in the update: "§" is 0xC2 0xA7.
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 0xc2 && bytes[i + 1] === 0xa7) {
      let j = i + 2;
      let s = "";
      while (j < bytes.length && !(bytes[j] === 0xc2 && bytes[j + 1] === 0xa7)) {
        s += String.fromCharCode(bytes[j]);
        j++;
      }
      return s;
    }
  }
  return null;
}

function peer(i) {
  return new Promise((resolve, reject) => {
    const doc = new Y.Doc();
    const text = doc.getText("description");
    const target = token ? `${url}?token=${encodeURIComponent(token)}` : url;
    const ws = new WebSocket(target);
    ws.binaryType = "uint8array";
    let synced = false;
    doc.on("update", (update, origin) => {
      if (origin === "remote" || ws.readyState !== WebSocket.OPEN) return;
      const enc = encoding.createEncoder();
      encoding.writeVarUint(enc, 0);
      syncProtocol.writeUpdate(enc, update);
      ws.send(encoding.toUint8Array(enc));
    });
    ws.on("open", () => {
      const enc = encoding.createEncoder();
      encoding.writeVarUint(enc, 0);
      syncProtocol.writeSyncStep1(enc, doc);
      ws.send(encoding.toUint8Array(enc));
    });
    ws.on("message", (data) => {
      const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
      const dec = decoding.createDecoder(bytes);
      const kind = decoding.readVarUint(dec);
      if (kind !== 0) return; // presence, auth
      const step = decoding.readVarUint(dec);
      if (step === 0) {
        // The server's sync step 1: answer with what we have.
        const sv = decoding.readVarUint8Array(dec);
        const enc = encoding.createEncoder();
        encoding.writeVarUint(enc, 0);
        encoding.writeVarUint(enc, 1);
        encoding.writeVarUint8Array(enc, Y.encodeStateAsUpdate(doc, sv));
        ws.send(encoding.toUint8Array(enc));
      } else if (step === 1) {
        if (!synced) {
          synced = true;
          resolve({ i, doc, text, ws });
        }
      } else if (step === 2 && measuring) {
        const m = marker(bytes);
        const at = m && sentAt.get(m);
        if (at !== undefined) {
          delivered++;
          latencies.push(performance.now() - at);
        }
      }
    });
    ws.on("close", () => (closed += 1));
    ws.on("error", (e) => reject(e));
    setTimeout(() => reject(new Error(`peer ${i} did not sync`)), 30000);
  });
}

const all = [];
for (let i = 0; i < peers; i++) all.push(await peer(i));

let seq = 0;
const timers = all.map((p) =>
  setTimeout(() => {
    const t = setInterval(() => {
      seq += 1;
      const m = `${p.i}:${seq}`;
      sentAt.set(m, performance.now());
      if (measuring) sent += 1;
      p.text.insert(0, `§${m}§`);
    }, interval);
    timers.push(t);
  }, Math.random() * interval),
);

await new Promise((r) => setTimeout(r, warmup));
measuring = true;
const started = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
measuring = false;
const elapsed = (performance.now() - started) / 1000;
for (const t of timers) clearInterval(t);
latencies.sort((a, b) => a - b);
const pct = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? null;
console.log(
  JSON.stringify({
    peers,
    interval_ms: interval,
    seconds: Number(elapsed.toFixed(1)),
    edits_per_s: Math.round(sent / elapsed),
    delivered_per_s: Math.round(delivered / elapsed),
    expected_per_s: Math.round((sent * (peers - 1)) / elapsed),
    p50_ms: pct(0.5) && Number(pct(0.5).toFixed(2)),
    p99_ms: pct(0.99) && Number(pct(0.99).toFixed(2)),
    closed,
  }),
);
for (const p of all) p.ws.terminate();
process.exit(0);
