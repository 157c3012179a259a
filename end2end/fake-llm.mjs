// A stand-in for an OpenAI-compatible model (a paid external service), speaking the real
// streaming chat-completions wire format: `POST /v1/chat/completions` with `stream: true`
// answers server-sent events of `chat.completion.chunk` objects, then `data: [DONE]`.
// The answer repeats the question and the lines of the system prompt that describe the app's
// records, so a test sees that the prompt was built from the app's plan.
// `GET /requests` lists the request bodies received (for assertions).
//   node fake-llm.mjs PORT
import http from "node:http";

const port = Number(process.argv[2] ?? 0);
const seen = [];

function chunk(model, content, finish = null) {
  const delta = content ? { role: "assistant", content } : {};
  const c = {
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
  return `data: ${JSON.stringify(c)}\n\n`;
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/requests") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify(seen));
  }
  if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
    res.writeHead(404, { "content-type": "application/json" });
    return res.end(JSON.stringify({ error: { message: "no such route" } }));
  }
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", async () => {
    let request;
    try {
      request = JSON.parse(body);
    } catch {
      res.writeHead(400, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: { message: "malformed JSON" } }));
    }
    seen.push(request);
    const messages = request.messages ?? [];
    const system = messages.find((m) => m.role === "system")?.content ?? "";
    const question = messages.filter((m) => m.role === "user").at(-1)?.content ?? "";
    const knows = system
      .split("\n")
      .filter((l) => l.startsWith("- "))
      .map((l) => l.slice(2))
      .join("; ");
    const pieces = [`You asked: ${question}. `, "This app keeps ", `${knows || "nothing"}.`];
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    for (const p of pieces) {
      res.write(chunk(request.model, p));
      await new Promise((r) => setTimeout(r, 150));
    }
    res.write(chunk(request.model, "", "stop"));
    res.end("data: [DONE]\n\n");
  });
});
server.listen(port, "127.0.0.1", () => {
  console.log(`READY ${server.address().port}`);
});
