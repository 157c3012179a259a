import { test } from "node:test";
import assert from "node:assert/strict";
import { findRoute, matchRoute, navHtml, parseHash } from "../src/app.js";

test("reads routes from the location hash", () => {
  assert.deepEqual(parseHash(""), []);
  assert.deepEqual(parseHash("#/"), []);
  assert.deepEqual(parseHash("#/tasks/7/edit"), ["tasks", "7", "edit"]);
  assert.deepEqual(parseHash("#/notes/a%2Fb"), ["notes", "a/b"]);
  assert.equal(parseHash("#main"), null);
});

test("matches patterns and prefers literal segments", () => {
  assert.deepEqual(matchRoute("tasks/:id/edit", ["tasks", "7", "edit"]), { id: "7" });
  assert.equal(matchRoute("tasks/:id", ["tasks"]), null);
  assert.equal(matchRoute("tasks", ["notes"]), null);
  const routes = [{ pattern: "tasks/:id" }, { pattern: "tasks/new" }, { pattern: "tasks" }];
  assert.equal(findRoute(routes, ["tasks", "new"]).route.pattern, "tasks/new");
  assert.deepEqual(findRoute(routes, ["tasks", "3"]).params, { id: "3" });
  assert.equal(findRoute(routes, ["people"]), null);
});

test("marks the current section in the navigation", () => {
  const html = navHtml(
    [
      { href: "#/tasks", label: "Tasks" },
      { href: "#/chat", label: "Assistant" },
    ],
    ["tasks", "3"],
  );
  assert.match(html, /<a href="#\/tasks" aria-current="page">Tasks<\/a>/);
  assert.match(html, /<a href="#\/chat">Assistant<\/a>/);
});
