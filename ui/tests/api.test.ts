import { describe, expect, it } from "vitest";
import { Api, type TokenStore, isExpired, parseSse, tokenExpiry, tokenOf, withQuery, withToken } from "../src/api";

function jwt(exp: number): string {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${b64({ alg: "HS256" })}.${b64({ sub: "alice", exp })}.sig`;
}

class Memory implements TokenStore {
  value: string | null = null;
  get() {
    return this.value;
  }
  set(t: string | null) {
    this.value = t;
  }
}

const NOW = Date.UTC(2026, 10, 24, 12);

function fakeFetch(routes: Record<string, (init?: RequestInit) => Response>) {
  const calls: { url: string; init?: RequestInit }[] = [];
  const impl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    calls.push({ url, init });
    const route = routes[url.split("?")[0]];
    return route ? route(init) : new Response("{}", { status: 404 });
  }) as typeof fetch;
  return { impl, calls };
}

describe("API client", () => {
  it("logs in, stores the token and sends it", async () => {
    const token = jwt(NOW / 1000 + 3600);
    const { impl, calls } = fakeFetch({
      "/api/auth/login": () => Response.json({ access_token: token, expires_in: 3600 }),
      "/api/cameras": () => Response.json([{ name: "Door" }]),
    });
    const store = new Memory();
    const api = new Api(store, impl, () => {}, () => NOW);
    expect(api.loggedIn).toBe(false);
    await api.login("alice", "pw");
    expect(store.value).toBe(token);
    expect(api.loggedIn).toBe(true);
    expect(await api.get("/api/cameras")).toEqual([{ name: "Door" }]);
    const headers = calls[1].init?.headers as Record<string, string>;
    expect(headers.Authorization).toBe(`Bearer ${token}`);
  });

  it("signs out on the server too, so the token stops working everywhere", () => {
    const token = jwt(NOW / 1000 + 3600);
    const { impl, calls } = fakeFetch({ "/api/auth/logout": () => new Response(null, { status: 204 }) });
    const store = new Memory();
    store.value = token;
    const api = new Api(store, impl, () => {}, () => NOW);
    api.logout();
    expect(store.value).toBeNull();
    expect(calls.map((c) => [c.url, c.init?.method])).toEqual([["/api/auth/logout", "POST"]]);
    expect((calls[0].init?.headers as Record<string, string>).Authorization).toBe(`Bearer ${token}`);
  });

  it("drops the token and says so on 401 or expiry", async () => {
    let expired = 0;
    const { impl } = fakeFetch({ "/api/cameras": () => new Response("{}", { status: 401 }) });
    const store = new Memory();
    store.value = jwt(NOW / 1000 + 3600);
    const api = new Api(store, impl, () => expired++, () => NOW);
    await expect(api.get("/api/cameras")).rejects.toMatchObject({ status: 401 });
    expect(store.value).toBeNull();
    expect(expired).toBe(1);
    store.value = jwt(NOW / 1000 - 5);
    await expect(api.get("/api/cameras")).rejects.toMatchObject({ status: 401 });
    expect(expired).toBe(2);
  });

  it("reports the server's explanation on a failed login", async () => {
    const { impl } = fakeFetch({
      "/api/auth/login": () => Response.json({ detail: "wrong user name or password" }, { status: 401 }),
    });
    const api = new Api(new Memory(), impl, () => {}, () => NOW);
    await expect(api.login("a", "b")).rejects.toThrow("wrong user name or password");
  });

  it("asks for a media token per URL and keeps it until shortly before it expires", async () => {
    let issued = 0;
    const { impl, calls } = fakeFetch({
      "/api/auth/media-token": () => Response.json({ access_token: `m${++issued}`, expires_in: 300 }),
    });
    const store = new Memory();
    store.value = jwt(NOW / 1000 + 7200);
    let now = NOW;
    const api = new Api(store, impl, () => {}, () => now);
    expect(await api.mediaUrl("/api/segments/1/video")).toBe("/api/segments/1/video?token=m1");
    expect(JSON.parse(String(calls[0].init?.body))).toEqual({ path: "/api/segments/1/video" });
    expect(await api.mediaToken("/api/segments/1/video")).toBe("m1");
    expect(await api.mediaToken("/api/alerts/2/snapshot")).toBe("m2");
    now += 300_000;
    expect(await api.mediaToken("/api/segments/1/video")).toBe("m3");
  });

  it("swaps the token of a media URL, relative or absolute", () => {
    expect(withToken("/api/cameras/c/live/seg00000001.m4s?token=old", "new")).toBe(
      "/api/cameras/c/live/seg00000001.m4s?token=new",
    );
    expect(withToken("http://h:8000/api/x/init.mp4", "t")).toBe("http://h:8000/api/x/init.mp4?token=t");
    expect(tokenOf("/api/cameras/c/live/stream.m3u8?token=abc")).toBe("abc");
  });

  it("reads JWT expiry, queries and SSE frames", () => {
    expect(tokenExpiry(jwt(123))).toBe(123);
    expect(tokenExpiry("garbage")).toBeNull();
    expect(isExpired(jwt(NOW / 1000 + 5), NOW)).toBe(true);
    expect(withQuery("/a", { x: 1, y: null, z: "" })).toBe("/a?x=1");
    const { messages, rest } = parseSse(
      'event: AlertRaised\nid: 1-0_0-0\ndata: {"label":"person"}\n\n: keep-alive\n\nevent: X\nda',
    );
    expect(messages).toEqual([{ event: "AlertRaised", id: "1-0_0-0", data: { label: "person" } }]);
    expect(rest).toBe("event: X\nda");
  });
});
