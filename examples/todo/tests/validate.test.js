// The validation rules of this app's spec, one test per rule, written out by Kiln when it
// generated the app: if app.json or src/crud/validate.js stops enforcing one, a test fails.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { checkField, checkRecord, toValues } from "../src/crud/validate.js";

const spec = JSON.parse(readFileSync(new URL("../app.json", import.meta.url), "utf8"));

/** The entity called `name` in app.json. */
function entityNamed(name) {
  const entity = spec.entities.find((e) => e.name === name);
  assert.ok(entity, `app.json has no entity ${name}`);
  return entity;
}

/** The field called `name` of `entity`. */
function fieldOf(entity, name) {
  const field = entity.fields.find((f) => f.name === name);
  assert.ok(field, `app.json has no field ${entity.name}.${name}`);
  return field;
}

/** A valid value for `field`, as a form sends it. */
function sample(field) {
  switch (field.type) {
    case "int":
      return String(field.min ?? Math.min(1, field.max ?? 1));
    case "decimal":
      return "12.5";
    case "bool":
      return "true";
    case "date":
      return "2026-11-28";
    case "datetime":
      return "2026-11-28T10:30";
    case "time":
      return "10:30";
    case "email":
      return "ada@example.com";
    case "url":
      return "https://example.com/page";
    case "enum":
      return field.values[0];
    case "ref":
      return "1";
    default:
      return "Something";
  }
}

describe("task", () => {
  const entity = entityNamed("task");

  test("a complete record is valid", () => {
    const record = Object.fromEntries(entity.fields.map((f) => [f.name, sample(f)]));
    assert.deepEqual(checkRecord(entity, record), {});
    const values = toValues(entity, record);
    for (const f of entity.fields) assert.ok(f.name in values, f.name);
  });

  describe("title", () => {
    const field = fieldOf(entity, "title");

    test("is required", () => {
      assert.match(checkField(field, ""), /is required/);
      assert.match(checkField(field, "  "), /is required/);
    });

    test("takes any text", () => {
      assert.equal(checkField(field, "Any text at all"), null);
    });
  });

  describe("due_date", () => {
    const field = fieldOf(entity, "due_date");

    test("may be left empty", () => {
      assert.equal(checkField(field, ""), null);
    });

    test("refuses malformed input", () => {
      assert.match(checkField(field, "not valid"), /must be a date/);
    });
  });

  describe("priority", () => {
    const field = fieldOf(entity, "priority");

    test("may be left empty", () => {
      assert.equal(checkField(field, ""), null);
    });

    test("takes only its values", () => {
      const values = [
        // The values the spec lists.
        "low",
        "medium",
        "high",
      ];
      for (const value of values) assert.equal(checkField(field, value), null);
      assert.match(checkField(field, `${values.join("")}?`), /must be one of/);
    });
  });

  describe("done", () => {
    const field = fieldOf(entity, "done");

    test("may be left empty", () => {
      assert.equal(checkField(field, ""), null);
    });

    test("refuses malformed input", () => {
      assert.match(checkField(field, "not valid"), /must be yes or no/);
    });
  });
});
