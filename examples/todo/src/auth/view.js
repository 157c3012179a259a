// The account pages' HTML: the header's account controls and the log-in and sign-up forms.

import { alertHtml, errorSummaryHtml, escapeHtml, fieldHtml } from "../render.js";
import { MIN_PASSWORD, emailOf } from "./client.js";

/** The header's account controls: who is signed in and "Log out", or "Log in" and "Sign up". */
export function accountHtml(user) {
  if (!user) {
    return '<a href="#/auth/login">Log in</a> <a class="button" href="#/auth/signup">Sign up</a>';
  }
  const email = emailOf(user);
  const who = email ? `<span class="muted">${escapeHtml(email)}</span> ` : "";
  return `${who}<button type="button" class="secondary" id="logout">Log out</button>`;
}

/** The log-in (`mode` "login") or sign-up ("signup") form with a message per field. */
export function credentialsFormHtml(mode, values = {}, errors = {}, message = "") {
  const signup = mode === "signup";
  const problems = Object.keys(errors).length ? errorSummaryHtml(errors) : alertHtml(message);
  const email = fieldHtml({
    id: "email",
    label: "Email",
    type: "email",
    value: values.email ?? "",
    required: true,
    autocomplete: "email",
    error: errors.email ?? "",
  });
  const password = fieldHtml({
    id: "password",
    label: "Password",
    type: "password",
    required: true,
    autocomplete: signup ? "new-password" : "current-password",
    hint: signup ? `At least ${MIN_PASSWORD} characters.` : "",
    error: errors.password ?? "",
  });
  const other = signup
    ? 'Already have an account? <a href="#/auth/login">Log in</a>'
    : 'New here? <a href="#/auth/signup">Sign up</a>';
  return `${problems}<form class="credentials" novalidate>
      ${email}${password}
      <div class="actions"><button type="submit">${signup ? "Create account" : "Log in"}</button></div>
      <p>${other}</p>
    </form>`;
}
