// The app shell: pages by route (#/tasks/7), the navigation, page titles, focus and errors.
// Each module (crud, auth, chat) adds its pages, links and header controls in `install(app)`.

import { ApiError, createClient } from "./api.js";
import { alertHtml, escapeHtml } from "./render.js";

/** The segments of a location hash: "#/tasks/7" → ["tasks", "7"]; null when not a route. */
export function parseHash(hash) {
  if (hash === "" || hash === "#") return [];
  if (!hash.startsWith("#/")) return null;
  return hash
    .slice(2)
    .split("/")
    .filter(Boolean)
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    });
}

/** Matches segments against a pattern such as "tasks/:id/edit"; returns its params or null. */
export function matchRoute(pattern, segments) {
  const parts = pattern.split("/").filter(Boolean);
  if (parts.length !== segments.length) return null;
  const params = {};
  for (const [i, part] of parts.entries()) {
    if (part.startsWith(":")) params[part.slice(1)] = segments[i];
    else if (part !== segments[i]) return null;
  }
  return params;
}

/** The route for `segments`: the match with the fewest parameters ("tasks/new" over "tasks/:id"). */
export function findRoute(routes, segments) {
  let best = null;
  for (const route of routes) {
    const params = matchRoute(route.pattern, segments);
    if (!params) continue;
    if (!best || Object.keys(params).length < Object.keys(best.params).length) {
      best = { route, params };
    }
  }
  return best;
}

/** The navigation links; the one of the current section is marked for assistive technology. */
export function navHtml(links, segments) {
  return links
    .map(({ href, label }) => {
      const section = parseHash(href)?.[0];
      const current = section !== undefined && section === segments[0];
      return `<a href="${escapeHtml(href)}"${current ? ' aria-current="page"' : ""}>${escapeHtml(label)}</a>`;
    })
    .join("");
}

/** The app: what modules use to add pages and show them. */
export function createApp(spec) {
  const main = document.querySelector("main");
  const nav = document.querySelector("nav");
  const routes = [];
  const links = [];
  let visit = 0;

  function pageFor(token) {
    return {
      /** False once the person has moved to another page (drop late results). */
      current: () => token === visit,
      /** Replaces the page with a heading and `html`; the heading takes focus. */
      render(title, html = "") {
        if (token !== visit) return null;
        document.title = title === spec.name ? spec.name : `${title} · ${spec.name}`;
        main.innerHTML = `<h1 tabindex="-1">${escapeHtml(title)}</h1>${html}`;
        main.querySelector("h1").focus();
        return main;
      },
      /** Shows an error; a request refused for want of a session links to the log-in page. */
      fail(title, error) {
        const login =
          error instanceof ApiError && error.status === 401 && app.loginHref
            ? `<p><a href="${escapeHtml(app.loginHref)}">Log in</a> to see this page.</p>`
            : "";
        return this.render(title, alertHtml(error.message) + login);
      },
    };
  }

  async function route() {
    let segments = parseHash(location.hash);
    if (segments === null) return; // an in-page link, such as "Skip to content"
    if (!segments.length && app.home) segments = parseHash(app.home);
    nav.innerHTML = navHtml(links, segments);
    visit += 1;
    const page = pageFor(visit);
    const found = findRoute(routes, segments);
    if (!found && !segments.length) {
      return page.render(spec.name, "<p>This app has no pages yet.</p>");
    }
    if (!found) {
      return page.render(
        "Not found",
        '<p>There is no page here. <a href="#/">Start again</a>.</p>',
      );
    }
    // A page only signed-in people may see: ask for a log-in instead of a refused request.
    if (found.route.signedIn && app.loginHref && !app.user) {
      return page.render(
        "Log in to continue",
        `<p><a href="${escapeHtml(app.loginHref)}">Log in</a> or ` +
          '<a href="#/auth/signup">sign up</a> to see this page.</p>',
      );
    }
    try {
      await found.route.show(found.params, page);
    } catch (error) {
      page.fail("Something went wrong", error);
    }
  }

  const app = {
    spec,
    api: createClient(),
    header: document.querySelector("header"),
    /** The hash shown for "#/" (the first module with pages sets it). */
    home: "",
    /** The hash of the log-in page, when the app has accounts. */
    loginHref: "",
    /** The signed-in user, when the app has accounts and someone is signed in. */
    user: null,
    /**
     * Adds a page: `show(params, page)` renders it with `page.render(title, html)`. With
     * `signedIn`, a visitor who is not signed in is asked to log in instead.
     */
    addPage(pattern, show, { signedIn = false } = {}) {
      routes.push({ pattern, show, signedIn });
    },
    /** Adds a link to the navigation. */
    addLink(href, label) {
      links.push({ href, label });
    },
    /** Goes to `hash`, showing it again when it is already the current page. */
    navigate(hash) {
      if (location.hash === hash) route();
      else location.hash = hash;
    },
    /** Shows the current page again (after logging in or out). */
    refresh: () => route(),
    start() {
      document.querySelector("header .name").textContent = spec.name;
      window.addEventListener("hashchange", route);
      return route();
    },
  };
  return app;
}

/** Loads app.json, lets each module install itself, then shows the current page. */
export async function startApp(modules) {
  try {
    const res = await fetch("./app.json");
    if (!res.ok) throw new Error(`app.json could not be loaded (${res.status}).`);
    const app = createApp(await res.json());
    for (const module of modules) await module.install(app);
    await app.start();
  } catch (error) {
    document.querySelector("main").innerHTML = alertHtml(
      `This app could not start: ${error.message}`,
    );
  }
}
