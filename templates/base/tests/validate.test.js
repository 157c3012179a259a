// Validation follows the app's own spec (app.json): a valid record of every entity passes, and
// each rule the spec sets refuses what it should.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { checkField, checkRecord, toValues } from "../src/validate.js";

const spec = JSON.parse(readFileSync(new URL("../app.json", import.meta.url), "utf8"));

function sample(field) {
  switch (field.type) {
    case "int":
      return String(field.min ?? 1);
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

for (const entity of spec.entities) {
  test(`a complete ${entity.name} is valid`, () => {
    const record = Object.fromEntries(entity.fields.map((f) => [f.name, sample(f)]));
    assert.deepEqual(checkRecord(entity, record), {});
    const values = toValues(entity, record);
    for (const f of entity.fields) assert.ok(f.name in values, f.name);
  });

  for (const field of entity.fields) {
    if (field.required) {
      test(`${entity.name}.${field.name} is required`, () => {
        assert.match(checkField(field, ""), /required/);
      });
    }
    if (field.type === "enum") {
      test(`${entity.name}.${field.name} only takes its values`, () => {
        assert.match(checkField(field, "not-a-value"), /must be one of/);
      });
    }
    if (field.type === "int") {
      test(`${entity.name}.${field.name} takes whole numbers in range`, () => {
        assert.match(checkField(field, "1.5"), /whole number/);
        if (field.max !== undefined)
          assert.match(checkField(field, String(field.max + 1)), /at most/);
        if (field.min !== undefined)
          assert.match(checkField(field, String(field.min - 1)), /at least/);
      });
    }
    if (field.type === "email" || field.type === "url" || field.type === "date") {
      test(`${entity.name}.${field.name} refuses malformed input`, () => {
        assert.notEqual(checkField(field, "not valid"), null);
      });
    }
  }
}
