// Ronin's service worker: shows a web push as a notification and opens the review item
// when it is clicked. The message is made by the notifier (projector/notify/push.py).
self.addEventListener("push", (event) => {
  let message = { title: "Ronin", body: "" };
  try {
    message = event.data ? event.data.json() : message;
  } catch {
    message = { title: "Ronin", body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(
    self.registration.showNotification(message.title, {
      body: message.body,
      tag: message.tag,
      image: message.image || undefined,
      data: { url: message.url || "/" },
      timestamp: message.at ? message.at * 1000 : Date.now(),
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || "/", self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => w.url.startsWith(self.location.origin));
      return open ? open.navigate(url).then((w) => w && w.focus()) : self.clients.openWindow(url);
    }),
  );
});
