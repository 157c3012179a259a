// Sign up, log in and log out for the app's own users; the header shows who is signed in.

import { ApiError } from "../api.js";
import { checkCredentials, createAuth } from "./client.js";
import { accountHtml, credentialsFormHtml } from "./view.js";

export const auth = {
  async install(app) {
    const client = createAuth();
    const account = document.createElement("div");
    account.className = "account";
    app.header.append(account);
    app.loginHref = "#/auth/login";

    const showAccount = (user) => {
      app.user = user;
      account.innerHTML = accountHtml(user);
      account.querySelector("#logout")?.addEventListener("click", async () => {
        // Signed out either way: a failed request most likely means the session had ended.
        await client.logout().catch(() => null);
        showAccount(null);
        app.navigate(app.loginHref);
      });
    };
    // Known before the first page shows, so pages for signed-in people can ask for a log-in.
    showAccount(await client.me().catch(() => null));

    const showForm = (mode, page) => {
      const title = mode === "signup" ? "Sign up" : "Log in";
      const show = (values, errors = {}, message = "") => {
        const main = page.render(title, credentialsFormHtml(mode, values, errors, message));
        if (!main) return;
        const form = main.querySelector("form");
        form.querySelector('[aria-invalid="true"]')?.focus();
        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          const values = Object.fromEntries(new FormData(form).entries());
          const found = checkCredentials(values, { signup: mode === "signup" });
          if (Object.keys(found).length) return show(values, found);
          form.querySelector('button[type="submit"]').disabled = true;
          try {
            const user = await client[mode](values);
            showAccount(user ?? (await client.me()) ?? {});
            app.navigate(app.home || "#/");
          } catch (error) {
            const fields = error instanceof ApiError ? error.fields : {};
            show({ email: values.email }, fields, error.message);
          }
        });
      };
      show({});
    };
    app.addPage("auth/login", (_, page) => showForm("login", page));
    app.addPage("auth/signup", (_, page) => showForm("signup", page));
  },
};
