import { test } from "node:test";
import assert from "node:assert/strict";
import { alertHtml, errorSummaryHtml, escapeHtml, fieldHtml, plural } from "../src/render.js";

test("escapes HTML", () => {
  assert.equal(
    escapeHtml(`<img src=x onerror="a('b')">&`),
    "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;",
  );
  assert.equal(escapeHtml(null), "");
});

test("makes plurals of labels", () => {
  assert.equal(plural("Task"), "Tasks");
  assert.equal(plural("Category"), "Categories");
  assert.equal(plural("Day"), "Days");
  assert.equal(plural("Box"), "Boxes");
  assert.equal(plural("Match"), "Matches");
});

test("labels every control and links its hint and error", () => {
  const html = fieldHtml({
    id: "f-title",
    name: "title",
    label: "Title",
    value: 'say "hi"',
    required: true,
    hint: "A few words.",
    error: "Title is required.",
  });
  assert.match(html, /<label for="f-title">Title/);
  assert.match(html, /<input id="f-title" name="title" required aria-invalid="true"/);
  assert.match(html, /aria-describedby="f-title-hint f-title-error"/);
  assert.match(html, /<p class="field-error" id="f-title-error">Title is required.<\/p>/);
  assert.match(html, /value="say &quot;hi&quot;"/);
});

test("makes selects and textareas", () => {
  const select = fieldHtml({
    id: "f-size",
    label: "Size",
    value: "m",
    options: [
      { value: "s", label: "Small" },
      { value: "m", label: "Medium" },
    ],
  });
  assert.match(select, /<label for="f-size">Size<\/label><select id="f-size" name="f-size">/);
  assert.match(select, /<option value="m" selected>Medium<\/option>/);
  const area = fieldHtml({ id: "f-notes", label: "Notes", multiline: true, value: "<b>" });
  assert.match(area, /<textarea id="f-notes" name="f-notes">&lt;b&gt;<\/textarea>/);
  assert.doesNotMatch(area, /aria-invalid/);
});

test("announces errors", () => {
  assert.equal(alertHtml(""), "");
  assert.match(alertHtml("No <network>"), /role="alert">No &lt;network&gt;/);
  assert.equal(errorSummaryHtml({}), "");
  const summary = errorSummaryHtml({ a: "A is required.", b: "B must be a number." });
  assert.match(summary, /role="alert"><h2>There are 2 problems<\/h2>/);
  assert.match(summary, /<li>B must be a number.<\/li>/);
});
