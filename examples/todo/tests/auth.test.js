import { test } from "node:test";
import assert from "node:assert/strict";
import { checkCredentials, createAuth, emailOf } from "../src/auth/client.js";
import { accountHtml, credentialsFormHtml } from "../src/auth/view.js";

function fakeFetch(status, body, seen = []) {
  return async (url, init) => {
    seen.push({ url, init });
    return {
      ok: status < 400,
      status,
      text: async () => (body === undefined ? "" : JSON.stringify(body)),
    };
  };
}

test("signs up, logs in and out at the runtime's endpoints", async () => {
  const seen = [];
  const auth = createAuth(fakeFetch(200, { email: "ada@example.com" }, seen));
  await auth.signup({ email: " ada@example.com ", password: "correct horse" });
  await auth.login({ email: "ada@example.com", password: "correct horse" });
  await auth.logout();
  assert.deepEqual(
    seen.map((s) => `${s.init.method} ${s.url}`),
    ["POST /api/auth/signup", "POST /api/auth/login", "POST /api/auth/logout"],
  );
  assert.deepEqual(JSON.parse(seen[0].init.body), {
    email: "ada@example.com",
    password: "correct horse",
  });
  assert.equal(seen[2].init.body, undefined);
});

test("knows who is signed in, and that nobody is", async () => {
  const seen = [];
  const auth = createAuth(fakeFetch(200, { user: { email: "a@b.co" } }, seen));
  assert.equal(emailOf(await auth.me()), "a@b.co");
  assert.equal(seen[0].url, "/api/auth/session");
  assert.equal(await createAuth(fakeFetch(200, { user: null })).me(), null);
  await assert.rejects(createAuth(fakeFetch(500, { message: "Down." })).me(), /Down/);
});

test("checks the form before sending it", () => {
  assert.deepEqual(checkCredentials({ email: "", password: "" }), {
    email: "Email is required.",
    password: "Password is required.",
  });
  assert.match(checkCredentials({ email: "ada", password: "x" }).email, /look like/);
  assert.deepEqual(checkCredentials({ email: "ada@example.com", password: "short" }), {});
  assert.match(
    checkCredentials({ email: "ada@example.com", password: "short" }, { signup: true }).password,
    /at least 8/,
  );
});

test("labels the fields and names the buttons", () => {
  for (const mode of ["login", "signup"]) {
    const html = credentialsFormHtml(mode, {}, { password: "Password is required." });
    assert.match(html, /<label for="email">Email/);
    assert.match(html, /<label for="password">Password/);
    assert.match(html, /id="password"[^>]*aria-describedby="[^"]*password-error"/);
    assert.match(html, /<button type="submit">(Log in|Create account)<\/button>/);
  }
  assert.match(credentialsFormHtml("signup"), /autocomplete="new-password"/);
  assert.match(accountHtml(null), /Log in<\/a> <a class="button" href="#\/auth\/signup">Sign up/);
  assert.match(accountHtml({ email: "<b>" }), /&lt;b&gt;.*>Log out<\/button>/);
});
