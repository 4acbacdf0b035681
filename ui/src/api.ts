// The API client: token handling (stored, checked for expiry, dropped on 401), JSON
// helpers, media tokens for <video> and hls.js, and server-sent events over fetch (an
// EventSource cannot send the Authorization header).

export const TOKEN_KEY = "ronin.token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface TokenStore {
  get(): string | null;
  set(token: string | null): void;
}

export class StorageTokenStore implements TokenStore {
  constructor(private readonly storage: Pick<Storage, "getItem" | "setItem" | "removeItem">) {}
  get(): string | null {
    return this.storage.getItem(TOKEN_KEY);
  }
  set(token: string | null): void {
    if (token === null) this.storage.removeItem(TOKEN_KEY);
    else this.storage.setItem(TOKEN_KEY, token);
  }
}

/** The ``exp`` claim of a JWT (seconds), or null when unreadable. */
export function tokenExpiry(token: string): number | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp : null;
  } catch {
    return null;
  }
}

export function isExpired(token: string, nowMs: number, marginS = 10): boolean {
  const exp = tokenExpiry(token);
  return exp === null || exp * 1000 <= nowMs + marginS * 1000;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== null && v !== undefined && v !== "") params.set(k, String(v));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** ``url`` with its ``token`` query parameter set to ``token`` (the rest kept). */
export function withToken(url: string, token: string): string {
  const parsed = new URL(url, "http://relative.invalid");
  parsed.searchParams.set("token", token);
  return parsed.origin === "http://relative.invalid" ? parsed.pathname + parsed.search : parsed.toString();
}

/** The ``token`` query parameter of a URL ("" if none). */
export function tokenOf(url: string): string {
  return new URL(url, "http://relative.invalid").searchParams.get("token") ?? "";
}

export interface SseMessage {
  event: string;
  id: string;
  data: unknown;
}

/** Split an SSE byte stream's text into complete messages; returns them and the rest. */
export function parseSse(buffer: string): { messages: SseMessage[]; rest: string } {
  const messages: SseMessage[] = [];
  const blocks = buffer.split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    let id = "";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("id: ")) id = line.slice(4);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    if (data.length) messages.push({ event, id, data: JSON.parse(data.join("\n")) });
  }
  return { messages, rest };
}

type Fetch = typeof fetch;

export class Api {
  private media = new Map<string, { token: string; until: number }>();

  constructor(
    private readonly tokens: TokenStore,
    private readonly fetchImpl: Fetch = (...args) => fetch(...args),
    private readonly onUnauthorized: () => void = () => {},
    private readonly now: () => number = () => Date.now(),
  ) {}

  get loggedIn(): boolean {
    const token = this.tokens.get();
    return token !== null && !isExpired(token, this.now());
  }

  async login(username: string, password: string): Promise<void> {
    const response = await this.fetchImpl("/api/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    if (!response.ok) {
      throw new ApiError(response.status, await errorText(response));
    }
    const body = (await response.json()) as { access_token: string };
    this.tokens.set(body.access_token);
    this.media.clear();
  }

  /** Sign out here, and end the user's sessions on the server (best effort). */
  logout(): void {
    const token = this.tokens.get();
    if (token !== null && !isExpired(token, this.now())) {
      void this.fetchImpl("/api/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${token}` } })
        .catch(() => {});
    }
    this.tokens.set(null);
    this.media.clear();
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const token = this.tokens.get();
    if (token === null || isExpired(token, this.now())) {
      this.expire();
      throw new ApiError(401, "your session has expired; log in again");
    }
    const response = await this.fetchImpl(withQuery(path, query), {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      this.expire();
      throw new ApiError(401, "your session has expired; log in again");
    }
    if (!response.ok) throw new ApiError(response.status, await errorText(response));
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, undefined, query);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body ?? {});
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  /** A token that opens the one media URL ``path`` for a few minutes (kept until a
   * minute before it expires). */
  async mediaToken(path: string): Promise<string> {
    const known = this.media.get(path);
    if (known && known.until > this.now()) return known.token;
    const body = await this.post<{ access_token: string; expires_in: number }>("/api/auth/media-token", { path });
    if (this.media.size > 500) this.media.clear();
    this.media.set(path, { token: body.access_token, until: this.now() + Math.max(0, body.expires_in - 60) * 1000 });
    return body.access_token;
  }

  async mediaUrl(path: string): Promise<string> {
    const bare = path.split("?")[0];
    return withQuery(bare, { token: await this.mediaToken(bare) });
  }

  /** Follow ``/api/events/stream`` until ``signal`` aborts; reconnects with Last-Event-ID. */
  async follow(onMessage: (m: SseMessage) => void, signal: AbortSignal): Promise<void> {
    let lastId = "";
    while (!signal.aborted) {
      try {
        const token = this.tokens.get();
        if (token === null || isExpired(token, this.now())) return this.expire();
        const response = await this.fetchImpl("/api/events/stream", {
          headers: { Authorization: `Bearer ${token}`, ...(lastId ? { "Last-Event-ID": lastId } : {}) },
          signal,
        });
        if (response.status === 401) return this.expire();
        if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          const parsed = parseSse(buffer);
          buffer = parsed.rest;
          for (const message of parsed.messages) {
            lastId = message.id || lastId;
            onMessage(message);
          }
        }
      } catch (e) {
        if (signal.aborted) return;
        console.warn("event stream interrupted", e);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  private expire(): void {
    this.logout();
    this.onUnauthorized();
  }
}

/** Every error is RFC 9457 problem details: `detail` says what went wrong, in words. */
async function errorText(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { detail?: unknown };
    if (typeof body.detail === "string") return body.detail;
  } catch {
    /* not JSON */
  }
  return `${response.status} ${response.statusText}`;
}
