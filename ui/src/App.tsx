import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Api, StorageTokenStore } from "./api";
import { useEventFeed } from "./app/useEventFeed";
import { Icon } from "./components/Icon";
import { Toasts } from "./components/Toasts";
import { Detections } from "./pages/Detections";
import { Live } from "./pages/Live";
import { Login } from "./pages/Login";
import { Playback } from "./pages/Playback";
import { Review } from "./pages/Review";
import { Setup } from "./pages/Setup";
import { Status } from "./pages/Status";
import type { Camera, Me } from "./types";

const PAGES = [
  { id: "live", title: "Live" },
  { id: "playback", title: "Playback" },
  { id: "review", title: "Review" },
  { id: "detections", title: "Detections" },
  { id: "setup", title: "Setup" },
  { id: "status", title: "Status" },
] as const;
type PageId = (typeof PAGES)[number]["id"];

function currentPage(): PageId {
  const id = window.location.hash.replace(/^#\/?/, "").split("?")[0];
  return (PAGES.find((p) => p.id === id)?.id ?? "live") as PageId;
}

export function App() {
  const [expired, setExpired] = useState(false);
  const api = useMemo(() => new Api(new StorageTokenStore(localStorage), undefined, () => setExpired(true)), []);
  const [loggedIn, setLoggedIn] = useState(api.loggedIn);
  const [page, setPage] = useState<PageId>(currentPage);
  const [cameras, setCameras] = useState<Camera[]>([]);
  const [me, setMe] = useState<Me | null>(null);
  const named = useRef<Camera[]>([]);
  named.current = cameras;

  useEffect(() => {
    if (expired) setLoggedIn(false);
  }, [expired]);

  useEffect(() => {
    const onHash = () => setPage(currentPage());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const refresh = useCallback(() => {
    api.get<Camera[]>("/api/cameras").then(setCameras).catch(() => {});
  }, [api]);

  useEffect(() => {
    if (!loggedIn) return;
    api.get<Me>("/api/auth/me").then(setMe, () => setMe(null));
  }, [api, loggedIn]);

  useEffect(() => {
    if (!loggedIn) return;
    refresh();
    const timer = setInterval(refresh, 5000);
    return () => clearInterval(timer);
  }, [loggedIn, refresh]);

  const { feed, toasts, dismiss } = useEventFeed(api, loggedIn, named, refresh);

  if (!loggedIn) {
    return (
      <Login
        api={api}
        notice={expired ? "Your session has expired. Please sign in again." : undefined}
        onLoggedIn={() => {
          setExpired(false);
          setLoggedIn(true);
        }}
      />
    );
  }

  return (
    <div className="shell">
      <nav className="nav">
        <div className="brand"><span className="logo">◉</span> Ronin</div>
        {PAGES.map((p) => (
          <a key={p.id} href={`#/${p.id}`} className={p.id === page ? "active" : ""} data-testid={`nav-${p.id}`}>
            <span className="nav-icon"><Icon name={p.id} /></span>
            <span className="nav-title">{p.title}</span>
          </a>
        ))}
        <div className="spacer" />
        <button
          className="logout"
          onClick={() => {
            api.logout();
            setLoggedIn(false);
          }}
        >
          Sign out
        </button>
      </nav>
      <main className="content">
        {page === "live" && <Live api={api} cameras={cameras} />}
        {page === "playback" && <Playback api={api} cameras={cameras} />}
        {page === "review" && <Review api={api} cameras={cameras} />}
        {page === "detections" && <Detections api={api} cameras={cameras} feed={feed} />}
        {page === "setup" && <Setup api={api} cameras={cameras} refresh={refresh} admin={me?.is_admin ?? false} />}
        {page === "status" && <Status api={api} />}
      </main>
      <Toasts toasts={toasts} onDismiss={dismiss} />
    </div>
  );
}
