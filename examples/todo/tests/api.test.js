import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError, createClient, requestJson } from "../src/api.js";

function fakeFetch(status, body, seen) {
  return async (url, init) => {
    seen.push({ url, init });
    return {
      ok: status < 400,
      status,
      text: async () => (body === undefined ? "" : JSON.stringify(body)),
    };
  };
}

test("creates a record with a JSON body", async () => {
  const seen = [];
  const api = createClient(fakeFetch(201, { id: 7, title: "x" }, seen));
  const created = await api.create("tasks", { title: "x" });
  assert.equal(created.id, 7);
  assert.equal(seen[0].url, "/api/tasks");
  assert.equal(seen[0].init.method, "POST");
  assert.deepEqual(JSON.parse(seen[0].init.body), { title: "x" });
});

test("reports field errors from the server", async () => {
  const api = createClient(
    fakeFetch(
      422,
      {
        error: "invalid",
        message: "Title is required.",
        fields: [{ field: "title", message: "Title is required." }],
      },
      [],
    ),
  );
  await assert.rejects(api.create("tasks", {}), (e) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 422);
    assert.equal(e.fields.title, "Title is required.");
    return true;
  });
});

test("deletes with no body", async () => {
  const seen = [];
  await createClient(fakeFetch(204, undefined, seen)).remove("tasks", 3);
  assert.equal(seen[0].url, "/api/tasks/3");
  assert.equal(seen[0].init.method, "DELETE");
});

test("encodes record ids in paths", async () => {
  const seen = [];
  await createClient(fakeFetch(200, { id: "a/b" }, seen)).get("tasks", "a/b");
  assert.equal(seen[0].url, "/api/tasks/a%2Fb");
});

test("reports a non-JSON error page by its status", async () => {
  const page = async () => ({ ok: false, status: 502, text: async () => "<h1>Bad gateway</h1>" });
  await assert.rejects(requestJson(page, "GET", "/api/tasks"), (e) => {
    assert.equal(e.status, 502);
    assert.equal(e.message, "Request failed (502).");
    return true;
  });
});
