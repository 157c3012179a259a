import { test } from "node:test";
import assert from "node:assert/strict";
import { createSseParser, sendChat, textOf } from "../src/chat/client.js";
import { chatHtml, messageHtml } from "../src/chat/view.js";

/** A fetch that answers with `chunks` as a stream of the given content type. */
function streaming(chunks, seen = [], type = "text/event-stream") {
  return async (url, init) => {
    seen.push({ url, init });
    const bytes = new TextEncoder();
    const body = new ReadableStream({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(bytes.encode(chunk));
        controller.close();
      },
    });
    return new Response(body, { status: 200, headers: { "content-type": type } });
  };
}

test("parses server-sent events split anywhere", () => {
  const parser = createSseParser();
  assert.deepEqual(parser.push("data: Hel"), []);
  assert.deepEqual(parser.push("lo\r"), []);
  assert.deepEqual(parser.push("\n\r\n: keep-alive\n\nevent: error\ndata: a\ndata: b\n"), [
    { type: "message", data: "Hello" },
  ]);
  assert.deepEqual(parser.end(), [{ type: "error", data: "a\nb" }]);
});

test("reads text from plain and JSON events", () => {
  assert.equal(textOf(" world"), " world");
  assert.equal(textOf('{"delta":"Hi"}'), "Hi");
  assert.equal(textOf('{"text":"Hi"}'), "Hi");
  assert.equal(textOf('"Hi"'), "Hi");
  assert.equal(textOf("{not json"), "{not json");
});

test("streams a reply from /api/chat", async () => {
  const seen = [];
  const pieces = [];
  const reply = await sendChat("What is due today?", {
    fetchImpl: streaming(
      ['data: {"delta":"Two "}\n\n', "data: tasks.\n\n", "data: [DONE]\n\n"],
      seen,
    ),
    onText: (piece) => pieces.push(piece),
  });
  assert.equal(reply, "Two tasks.");
  assert.deepEqual(pieces, ["Two ", "tasks."]);
  assert.equal(seen[0].url, "/api/chat");
  assert.equal(seen[0].init.method, "POST");
  assert.deepEqual(JSON.parse(seen[0].init.body), { message: "What is due today?" });
});

test("takes an answer that is not a stream", async () => {
  const json = streaming(['{"reply":"Done."}'], [], "application/json");
  assert.equal(await sendChat("Hi", { fetchImpl: json }), "Done.");
});

test("reports errors from the stream and from the server", async () => {
  const failing = streaming(["data: Par\n\n", "event: error\ndata: The model is busy.\n\n"]);
  await assert.rejects(sendChat("Hi", { fetchImpl: failing }), /The model is busy/);
  const refused = async () => new Response('{"message":"Log in first."}', { status: 401 });
  await assert.rejects(sendChat("Hi", { fetchImpl: refused }), (e) => {
    assert.equal(e.status, 401);
    assert.equal(e.message, "Log in first.");
    return true;
  });
});

test("labels the message box and names the button", () => {
  const html = chatHtml([{ from: "you", text: "<hi>" }]);
  assert.match(html, /<label for="message">Message/);
  assert.match(html, /<textarea id="message" name="message" aria-describedby="message-hint"/);
  assert.match(html, /<button type="submit">Send<\/button>/);
  assert.match(html, /role="log"/);
  assert.match(html, /&lt;hi&gt;/);
  assert.match(chatHtml([]), /class="empty"/);
  assert.match(messageHtml("assistant", "x"), /class="message assistant"/);
});
