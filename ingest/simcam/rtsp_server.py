"""A real RTSP server with simulated cameras, for development, tests and the demo.

Runs under the *system* Python (``/usr/bin/python3``), which has GStreamer's bindings
(Debian: python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-{base,good,bad,
ugly}, gstreamer1.0-libav, python3-gi-cairo); it imports nothing from Ronin.

    /usr/bin/python3 rtsp_server.py CONFIG_JSON

CONFIG_JSON: {"cameras": [{"port": 8554, "path": "cam1", "codec": "h264|h265",
"width": 640, "height": 360, "fps": 15, "gop": 15, "audio": "none|aac|g711",
"video": true, "scene": "ball|person", "person_png": PATH, "scene_period_s": 60,
"user": null, "password": null}]}; each camera is served on its own port.

Scene "person": a real photograph (``person_png``, written by the launcher) walks into the
picture every ``scene_period_s`` seconds, stays for about a third of the period, and
leaves, so live detection has someone to find.

Every frame carries the wall-clock time twice: as text for people, and as a strip of
black and white squares (epoch time in tenths of a second, 40 bits, 2 rows of 20,
most significant bit first) that tests decode exactly (``ingest.simcam.timecode``).
Prints "READY port..." once listening.
"""

import json
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

BITS, PER_ROW = 40, 20


def square_size(width):
    return max(8, width // 32)


def video_branch(cam):
    w, h, fps, gop = cam["width"], cam["height"], cam["fps"], cam["gop"]
    caps = f"video/x-raw,width={w},height={h},framerate={fps}/1"
    pattern = "smpte" if cam["scene"] == "person" else "ball"  # a still set for the person
    raw = f"videotestsrc is-live=true pattern={pattern} ! {caps}"
    if cam["overlay"]:
        raw += (
            " ! videoconvert ! video/x-raw,format=BGRx ! cairooverlay name=overlay ! videoconvert"
            " ! video/x-raw,format=I420"
        )
    else:  # cheap to encode, for benchmarks with many cameras: a still picture
        raw = raw.replace(f"pattern={pattern}", "pattern=smpte")
    if cam["codec"] == "h265":
        enc = (
            f"x265enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} ! "
            "video/x-h265,profile=main ! rtph265pay name=pay0 pt=96 config-interval=1"
        )
    else:
        enc = (
            f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bframes=0 ! "
            "video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1"
        )
    return f"{raw} ! {enc}"


def audio_branch(cam, pay):
    src = "audiotestsrc is-live=true wave=sine freq=440 volume=0.1 ! audioconvert ! audioresample"
    if cam["audio"] == "g711":
        return f"{src} ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name={pay} pt=0"
    if cam["audio"] == "aac":
        return (
            f"{src} ! audio/x-raw,rate=48000,channels=1 ! avenc_aac ! rtpmp4gpay name={pay} pt=97"
        )
    return ""


def draw_person(ctx, state, now):
    """The photograph slides in from the right, stands still, and slides out."""
    person = state.get("person")
    if person is None:
        return
    period = state["period"]
    phase = now % period
    enter, leave, slide = period * 0.15, period * 0.5, 2.0
    if not enter <= phase < leave:
        return
    w, h = state["width"], state["height"]
    scale = h * 0.75 / person.get_height()
    width = person.get_width() * scale
    rest_x = w * 0.55 - width / 2
    if phase < enter + slide:
        x = w - (w - rest_x) * (phase - enter) / slide
    elif phase > leave - slide:
        x = rest_x + (w - rest_x) * (phase - (leave - slide)) / slide
    else:
        x = rest_x
    ctx.save()
    ctx.translate(x, h * 0.12)
    ctx.scale(scale, scale)
    ctx.set_source_surface(person, 0, 0)
    ctx.paint()
    ctx.restore()


def draw_clock(_overlay, ctx, _timestamp, _duration, state):
    now = time.time()
    state["frames"] += 1
    w, h = state["width"], state["height"]
    draw_person(ctx, state, now)
    s = square_size(w)
    code = int(now * 10)
    ctx.set_source_rgb(0.5, 0.5, 0.5)
    ctx.rectangle(0, 0, s * (PER_ROW + 2), s * (BITS // PER_ROW + 2))
    ctx.fill()
    for i in range(BITS):
        bit = (code >> (BITS - 1 - i)) & 1
        ctx.set_source_rgb(bit, bit, bit)
        ctx.rectangle(s + (i % PER_ROW) * s, s + (i // PER_ROW) * s, s, s)
        ctx.fill()
    text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f".{int(now * 10) % 10}"
    text += f"  #{state['frames']}"
    size = max(12, h // 14)
    ctx.set_font_size(size)
    ctx.set_source_rgb(0, 0, 0)
    ctx.rectangle(0, h - size * 1.6, w, size * 1.6)
    ctx.fill()
    ctx.set_source_rgb(1, 1, 1)
    ctx.move_to(size * 0.5, h - size * 0.4)
    ctx.show_text(text)


def make_factory(cam):
    factory = GstRtspServer.RTSPMediaFactory()
    if cam["video"]:
        branches = [video_branch(cam), audio_branch(cam, "pay1")]
    else:  # an audio-only stream: "no video stream" for ingest
        branches = [
            audio_branch(
                {**cam, "audio": cam["audio"] if cam["audio"] != "none" else "g711"}, "pay0"
            )
        ]
    factory.set_launch("( " + " ".join(b for b in branches if b) + " )")
    factory.set_shared(True)
    state = {"frames": 0, "width": cam["width"], "height": cam["height"]}
    if cam["scene"] == "person" and cam["person_png"]:
        import cairo

        state["person"] = cairo.ImageSurface.create_from_png(cam["person_png"])
        state["period"] = float(cam["scene_period_s"])

    def configure(_factory, media):
        overlay = media.get_element().get_by_name("overlay")
        if overlay is not None:
            overlay.connect("draw", draw_clock, state)

    factory.connect("media-configure", configure)
    return factory


def allow(factory, role):
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_role(role)
    permissions.add_permission_for_role(role, "media.factory.access", True)
    permissions.add_permission_for_role(role, "media.factory.construct", True)
    factory.set_permissions(permissions)


def protect(server, factory, cam):
    """Basic authentication: a missing or wrong password gets 401, as on a real camera."""
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", cam["user"])
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(cam["user"], cam["password"]), token)
    server.set_auth(auth)
    allow(factory, cam["user"])


def serve(cam):
    """One RTSP server per camera (its own port), like one device per camera."""
    server = GstRtspServer.RTSPServer()
    server.set_address(cam.get("host", "127.0.0.1"))
    server.set_service(str(cam["port"]))
    factory = make_factory(cam)
    if cam["user"]:
        protect(server, factory, cam)
    server.get_mount_points().add_factory("/" + cam["path"], factory)
    if cam["sub_width"]:  # the same scene, smaller, as a camera's sub-stream
        sub = make_factory({**cam, "width": cam["sub_width"], "height": cam["sub_height"]})
        if cam["user"]:
            allow(sub, cam["user"])
        server.get_mount_points().add_factory("/" + cam["path"] + "_sub", sub)
    if server.attach(None) == 0:
        print(f"cannot listen on port {cam['port']}", file=sys.stderr, flush=True)
        sys.exit(1)
    return server


def main():
    config = json.loads(sys.argv[1])
    Gst.init(None)
    defaults = {
        "video": True,
        "overlay": True,
        "codec": "h264",
        "width": 640,
        "height": 360,
        "fps": 15,
        "gop": 15,
        "audio": "none",
        "user": None,
        "password": None,
        "path": "stream",
        "scene": "ball",
        "person_png": None,
        "scene_period_s": 60,
        "sub_width": None,
        "sub_height": None,
    }
    servers = [serve({**defaults, **cam}) for cam in config["cameras"]]
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("READY " + " ".join(str(s.get_bound_port()) for s in servers), flush=True)
    loop.run()


if __name__ == "__main__":
    main()
