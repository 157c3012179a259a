// The crud pages' HTML for this app's own entities (app.json): every control is labelled,
// messages sit next to their fields, the list searches and says when it is empty, and delete
// asks first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { escapeHtml } from "../src/render.js";
import {
  countText,
  detailHtml,
  display,
  formHtml,
  inputValue,
  listHtml,
  recordTitle,
  resultsHtml,
  search,
} from "../src/crud/view.js";

const spec = JSON.parse(readFileSync(new URL("../app.json", import.meta.url), "utf8"));

/** The ids of every input, select and textarea in `html`. */
function controlIds(html) {
  return [...html.matchAll(/<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"/g)].map((m) => m[1]);
}

/** The text of every button in `html`. */
function buttonNames(html) {
  return [...html.matchAll(/<button\b[^>]*>([^<]*)<\/button>/g)].map((m) => m[1].trim());
}

for (const entity of spec.entities) {
  const record = { id: 7 };
  for (const f of entity.fields) record[f.name] = f.type === "enum" ? f.values[0] : "x";

  test(`every control of the ${entity.name} form has a label`, () => {
    const html = formHtml(entity, {});
    const ids = controlIds(html);
    assert.equal(ids.length, entity.fields.length);
    for (const id of ids) assert.ok(html.includes(`<label for="${id}">`), id);
    for (const name of buttonNames(html)) assert.notEqual(name, "");
  });

  test(`the ${entity.name} form shows each message next to its field`, () => {
    const errors = Object.fromEntries(entity.fields.map((f) => [f.name, `${f.label} is wrong.`]));
    const html = formHtml(entity, {}, errors);
    assert.match(html, /class="error-summary" role="alert"/);
    for (const f of entity.fields) {
      const control = new RegExp(`id="f-${f.name}"[^>]*aria-describedby="[^"]*f-${f.name}-error"`);
      assert.match(html, control);
      assert.ok(html.includes(`<p class="field-error" id="f-${f.name}-error">`), f.name);
    }
  });

  test(`the ${entity.name} list has a labelled search and an empty state`, () => {
    const empty = listHtml(entity, []);
    assert.match(empty, /class="empty">No .+ yet\.</);
    assert.match(empty, new RegExp(`href="#/${entity.collection}/new"`));
    const full = listHtml(entity, [record]);
    assert.match(full, /<label for="search">Search .+<\/label><input id="search" type="search"/);
    assert.match(full, /href="#\/[^"]+\/7"/);
    assert.match(resultsHtml(entity, [], "zzz"), /No .+ match “zzz”/);
  });

  test(`a ${entity.name} is deleted only after a confirmation`, () => {
    const html = detailHtml(entity, record, spec.entities);
    assert.match(html, /<button type="button" class="danger" id="delete">Delete /);
    assert.match(html, /<dialog id="confirm" aria-labelledby="confirm-title"/);
    assert.deepEqual(buttonNames(html).slice(1), ["Delete", "Keep it"]);
    for (const f of entity.fields) assert.ok(html.includes(`<dt>${escapeHtml(f.label)}</dt>`));
  });
}

const entity = {
  name: "task",
  label: "Task",
  collection: "tasks",
  fields: [
    { name: "title", label: "Title", type: "text", required: true },
    { name: "done", label: "Done", type: "bool" },
    { name: "notes", label: "Notes", type: "long_text" },
  ],
};

test("shows values for people", () => {
  assert.equal(display(entity.fields[1], true), "Yes");
  assert.equal(display(entity.fields[1], "false"), "No");
  assert.equal(display(entity.fields[0], ""), "—");
  assert.equal(display(entity.fields[2], "x".repeat(100)).length, 80);
  assert.equal(inputValue({ type: "datetime" }, "2026-11-28T10:30:00Z"), "2026-11-28T10:30");
  assert.equal(inputValue({ type: "bool" }, true), "true");
});

test("names records", () => {
  assert.equal(recordTitle(entity, { id: 3, title: "Buy milk" }), "Buy milk");
  assert.equal(recordTitle(entity, { id: 3 }), "Task #3");
});

test("searches what is shown and counts the matches", () => {
  const records = [
    { id: 1, title: "Buy milk", done: false },
    { id: 2, title: "Call Bob", done: true },
  ];
  assert.deepEqual(
    search(entity, records, "MILK").map((r) => r.id),
    [1],
  );
  assert.deepEqual(
    search(entity, records, "yes").map((r) => r.id),
    [2],
  );
  assert.equal(search(entity, records, " ").length, 2);
  assert.equal(countText(entity, 2, 2), "2 tasks");
  assert.equal(countText(entity, 1, 2), "1 of 2 tasks");
  assert.equal(countText(entity, 1, 1), "1 task");
});

test("escapes what records contain and links only web addresses", () => {
  const html = resultsHtml(entity, [{ id: 1, title: "<script>" }], "");
  assert.match(html, /&lt;script&gt;/);
  assert.doesNotMatch(html, /<script>/);
  const site = { ...entity, fields: [{ name: "site", label: "Site", type: "url" }] };
  assert.match(detailHtml(site, { id: 1, site: "https://example.com" }), /<a href="https:/);
  assert.doesNotMatch(detailHtml(site, { id: 1, site: "javascript:alert(1)" }), /href="javascript/);
});
