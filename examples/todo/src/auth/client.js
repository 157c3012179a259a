// The app's own accounts, through the Kiln runtime: /api/auth/signup, login, logout and session.

import { requestJson } from "../api.js";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The shortest password sign-up takes. */
export const MIN_PASSWORD = 8;

/** Checks the log-in or sign-up form; returns `{ field: message }` for every problem. */
export function checkCredentials({ email = "", password = "" }, { signup = false } = {}) {
  const errors = {};
  if (!email.trim()) errors.email = "Email is required.";
  else if (!EMAIL.test(email.trim())) errors.email = "Email must look like ada@example.com.";
  if (!password) errors.password = "Password is required.";
  else if (signup && password.length < MIN_PASSWORD) {
    errors.password = `Password must be at least ${MIN_PASSWORD} characters.`;
  }
  return errors;
}

/** The email of a signed-in user, as the runtime answers `me`, `login` or `signup`. */
export function emailOf(user) {
  return user?.email ?? user?.user?.email ?? "";
}

/** A client for the accounts API; `fetchImpl` is the browser's fetch (replaceable in tests). */
export function createAuth(fetchImpl = globalThis.fetch.bind(globalThis)) {
  const post = (action, body) => requestJson(fetchImpl, "POST", `/api/auth/${action}`, body);
  return {
    signup: ({ email, password }) => post("signup", { email: email.trim(), password }),
    login: ({ email, password }) => post("login", { email: email.trim(), password }),
    logout: () => post("logout"),
    /** The signed-in user, or null (`session` answers either way, without a 401). */
    async me() {
      const session = await requestJson(fetchImpl, "GET", "/api/auth/session");
      return session?.user ?? null;
    },
  };
}
