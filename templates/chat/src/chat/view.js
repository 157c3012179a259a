// The assistant page's HTML: the conversation and the message form.

import { escapeHtml, fieldHtml } from "../render.js";

/** One message of the conversation; `from` is "you" or "assistant". */
export function messageHtml(from, text) {
  const who = from === "you" ? "You" : "Assistant";
  return `<div class="message ${from === "you" ? "you" : "assistant"}"><p class="who">${who}</p><p class="text">${escapeHtml(text)}</p></div>`;
}

/** The page: the conversation so far (read out as it grows) and a labelled message box. */
export function chatHtml(messages) {
  const log = messages.length
    ? messages.map((m) => messageHtml(m.from, m.text)).join("")
    : '<p class="empty">Ask the assistant anything.</p>';
  const box = fieldHtml({
    id: "message",
    label: "Message",
    multiline: true,
    hint: "Enter sends; Shift+Enter starts a new line.",
  });
  return `<div class="log" id="log" role="log" aria-live="polite" aria-label="Conversation">${log}</div>
    <form class="chat" novalidate>
      ${box}
      <p class="muted" id="chat-status" role="status"></p>
      <div class="actions"><button type="submit">Send</button></div>
    </form>`;
}
