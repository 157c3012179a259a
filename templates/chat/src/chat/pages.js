// The assistant page: a conversation with the runtime's chat endpoint, shown as it streams.

import { escapeHtml } from "../render.js";
import { sendChat } from "./client.js";
import { chatHtml, messageHtml } from "./view.js";

/** The conversation, kept while the app is open. */
const messages = [];

function showChat(page) {
  const main = page.render("Assistant", chatHtml(messages));
  if (!main) return;
  const log = main.querySelector("#log");
  const form = main.querySelector("form");
  const box = form.querySelector("#message");
  const status = form.querySelector("#chat-status");
  const button = form.querySelector('button[type="submit"]');

  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = box.value.trim();
    if (!text || button.disabled) return;
    if (!messages.length) log.innerHTML = "";
    messages.push({ from: "you", text });
    log.insertAdjacentHTML("beforeend", messageHtml("you", text));
    box.value = "";
    const answer = { from: "assistant", text: "" };
    messages.push(answer);
    log.insertAdjacentHTML("beforeend", messageHtml("assistant", ""));
    const shown = log.lastElementChild.querySelector(".text");
    // Read the answer out once it is complete, not piece by piece.
    log.setAttribute("aria-busy", "true");
    button.disabled = true;
    status.textContent = "The assistant is answering…";
    try {
      await sendChat(text, {
        onText(piece) {
          answer.text += piece;
          shown.textContent = answer.text;
          shown.scrollIntoView({ block: "nearest" });
        },
      });
      status.textContent = "";
    } catch (error) {
      answer.text ||= "(no answer)";
      shown.textContent = answer.text;
      status.innerHTML = `<span class="alert">${escapeHtml(error.message)}</span>`;
    } finally {
      log.setAttribute("aria-busy", "false");
      button.disabled = false;
      box.focus();
    }
  });
}

export const chat = {
  install(app) {
    app.addLink("#/chat", "Assistant");
    app.addPage("chat", (_, page) => showChat(page));
    if (!app.home) app.home = "#/chat";
  },
};
