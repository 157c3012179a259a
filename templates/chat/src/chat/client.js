// The assistant, through the Kiln runtime's chat endpoint: POST /api/chat with `{ message }`
// answers with server-sent events (text/event-stream) that carry the reply as it is written.

import { ApiError } from "../api.js";

/** Reads server-sent events from text chunks: `push(chunk)` returns the events it completed. */
export function createSseParser() {
  let buffer = "";
  let type = "message";
  let data = [];
  const line = (text, out) => {
    if (text === "") {
      if (data.length) out.push({ type, data: data.join("\n") });
      type = "message";
      data = [];
      return;
    }
    if (text.startsWith(":")) return; // a comment, such as a keep-alive
    const colon = text.indexOf(":");
    const name = colon === -1 ? text : text.slice(0, colon);
    const value = colon === -1 ? "" : text.slice(colon + 1).replace(/^ /, "");
    if (name === "data") data.push(value);
    else if (name === "event") type = value;
  };
  return {
    push(chunk) {
      buffer += chunk;
      // A trailing "\r" may be the first half of "\r\n": keep it for the next chunk.
      const held = buffer.endsWith("\r") ? "\r" : "";
      const lines = (held ? buffer.slice(0, -1) : buffer).split(/\r\n|\r|\n/);
      buffer = lines.pop() + held;
      const out = [];
      for (const text of lines) line(text, out);
      return out;
    },
    /** Completes the last event when the stream ends without a blank line. */
    end() {
      const out = [];
      if (buffer.replace(/\r$/, "")) line(buffer.replace(/\r$/, ""), out);
      line("", out);
      buffer = "";
      return out;
    },
  };
}

/** The text an event (or a whole answer) carries: plain text, or JSON with `delta`, `text`… */
export function textOf(data) {
  if (!/^\s*[{"]/.test(data)) return data;
  try {
    const value = JSON.parse(data);
    if (typeof value === "string") return value;
    return String(value?.delta ?? value?.text ?? value?.content ?? value?.reply ?? "");
  } catch {
    return data;
  }
}

/**
 * Sends `message` and resolves to the whole reply; `onText(piece)` sees each piece as it
 * arrives. An answer that is not a stream (JSON such as `{ "reply": "…" }`, or text) works too.
 */
export async function sendChat(
  message,
  { fetchImpl = globalThis.fetch.bind(globalThis), onText = () => {}, signal } = {},
) {
  const res = await fetchImpl("/api/chat", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ message }),
    credentials: "same-origin",
    signal,
  });
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new ApiError(res.status, body);
  }
  if (!(res.headers.get("content-type") ?? "").includes("text/event-stream") || !res.body) {
    const reply = textOf(await res.text());
    onText(reply);
    return reply;
  }
  const parser = createSseParser();
  const decoder = new TextDecoder();
  let reply = "";
  /** Takes events in; true once the answer is complete. */
  const take = (events) => {
    for (const event of events) {
      if (event.type === "error") {
        throw new Error(textOf(event.data) || "The assistant could not answer.");
      }
      if (event.data === "[DONE]") return true;
      const piece = textOf(event.data);
      reply += piece;
      if (piece) onText(piece);
    }
    return false;
  };
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (take(parser.push(decoder.decode(value, { stream: true })))) {
      await reader.cancel();
      return reply;
    }
  }
  take(parser.push(decoder.decode()));
  take(parser.end());
  return reply;
}
