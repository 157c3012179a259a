// The app's REST API on its own origin, served by the Kiln runtime:
// /api/<collection> and /api/<collection>/<id>.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `Request failed (${status}).`);
    this.status = status;
    this.fields = Object.fromEntries((body?.fields ?? []).map((f) => [f.field, f.message]));
  }
}

/** Sends one JSON request; resolves to the response's JSON (null when empty). */
export async function requestJson(fetchImpl, method, path, body) {
  const res = await fetchImpl(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin",
  });
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's error page, say: report the status, not the page.
    const message = res.ok ? "The server's answer was not JSON." : undefined;
    throw new ApiError(res.status, { message });
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** A client for one app; `fetchImpl` is the browser's fetch (replaceable in tests). */
export function createClient(fetchImpl = globalThis.fetch.bind(globalThis)) {
  const request = (method, path, body) => requestJson(fetchImpl, method, path, body);
  const at = (collection, id) => `/api/${collection}/${encodeURIComponent(id)}`;
  return {
    list: (collection) => request("GET", `/api/${collection}`),
    get: (collection, id) => request("GET", at(collection, id)),
    create: (collection, values) => request("POST", `/api/${collection}`, values),
    update: (collection, id, values) => request("PATCH", at(collection, id), values),
    remove: (collection, id) => request("DELETE", at(collection, id)),
  };
}
