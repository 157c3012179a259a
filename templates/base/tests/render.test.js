import { test } from "node:test";
import assert from "node:assert/strict";
import { display, escapeHtml, inputType, recordTitle, search } from "../src/render.js";

const entity = {
  label: "Task",
  fields: [
    { name: "title", label: "Title", type: "text" },
    { name: "done", label: "Done", type: "bool" },
  ],
};

test("escapes HTML", () => {
  assert.equal(
    escapeHtml(`<img src=x onerror="a('b')">&`),
    "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;",
  );
  assert.equal(escapeHtml(null), "");
});

test("displays values for people", () => {
  assert.equal(display(entity.fields[1], true), "Yes");
  assert.equal(display(entity.fields[0], ""), "—");
  assert.equal(display({ type: "long_text" }, "x".repeat(100)).length, 80);
});

test("names records and picks input types", () => {
  assert.equal(recordTitle(entity, { id: 3, title: "Buy milk" }), "Buy milk");
  assert.equal(recordTitle(entity, { id: 3 }), "Task #3");
  assert.equal(inputType({ type: "date" }), "date");
  assert.equal(inputType({ type: "long_text" }), "text");
});

test("searches text fields", () => {
  const records = [
    { id: 1, title: "Buy milk" },
    { id: 2, title: "Call Bob" },
  ];
  assert.deepEqual(
    search(entity, records, "MILK").map((r) => r.id),
    [1],
  );
  assert.equal(search(entity, records, " ").length, 2);
});
