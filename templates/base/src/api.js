// The app's REST API on its own origin: /api/<collection>[/<id>], served by the Kiln runtime.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `Request failed (${status}).`);
    this.status = status;
    this.fields = Object.fromEntries((body?.fields ?? []).map((f) => [f.field, f.message]));
  }
}

/** A client for one app; `fetchImpl` is the browser's fetch (replaceable in tests). */
export function createClient(fetchImpl = globalThis.fetch.bind(globalThis)) {
  async function request(method, path, body) {
    const res = await fetchImpl(path, {
      method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
      credentials: "same-origin",
    });
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }
  return {
    list: (collection) => request("GET", `/api/${collection}`),
    get: (collection, id) => request("GET", `/api/${collection}/${id}`),
    create: (collection, values) => request("POST", `/api/${collection}`, values),
    update: (collection, id, values) => request("PATCH", `/api/${collection}/${id}`, values),
    remove: (collection, id) => request("DELETE", `/api/${collection}/${id}`),
  };
}
