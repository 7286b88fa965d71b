#!/usr/bin/env bash
# Renders a memdrift HTML report in headless Chromium and fails on any console error, uncaught
# exception or network request, or when a chart or flame graph did not render; also clicks a
# flame frame and searches to check the interaction. Installs Debian's chromium when missing.
# Usage: scripts/check-html.sh FILE.html [SCREENSHOT.png]
#   CHECK_HTML_FULL_PAGE=1  screenshot the whole page instead of a 1280x1600 window
#   CHROMIUM=/path/to/chrome  browser to use
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 FILE.html [SCREENSHOT.png]" >&2
    exit 2
fi
file="$1"
shot="${2:-}"
if [[ ! -f "$file" ]]; then
    echo "check-html: no such file: $file" >&2
    exit 2
fi

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

find_browser() {
    if [[ -n "${CHROMIUM:-}" ]]; then echo "$CHROMIUM"; return; fi
    # The binary itself, not Debian's launcher script, so the debugging pipe fds reach it untouched.
    local candidate
    for candidate in /usr/lib/chromium/chromium chromium chromium-browser google-chrome; do
        if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return; fi
    done
}

browser="$(find_browser)"
if [[ -z "$browser" ]]; then
    echo "check-html: installing chromium with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    as_root apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
    browser="$(find_browser)"
    [[ -n "$browser" ]] || { echo "check-html: chromium is still missing after apt-get" >&2; exit 1; }
fi
command -v python3 >/dev/null 2>&1 || { echo "check-html: python3 is required" >&2; exit 1; }

# The Python side has its own deadlines; this one catches anything that still hangs.
timeout --kill-after=10 180 python3 - "$browser" "$(realpath "$file")" "$shot" <<'PY'
import base64, fcntl, json, os, select, shutil, signal, subprocess, sys, tempfile, time

browser, path, shot = sys.argv[1], sys.argv[2], sys.argv[3]
full_page = os.environ.get("CHECK_HTML_FULL_PAGE") == "1"
WIDTH, HEIGHT = 1280, 1600


class Failure(Exception):
    pass


class Browser:
    """Chromium driven over --remote-debugging-pipe: NUL-separated JSON on fds 3 (in) and 4 (out)."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="check-html-")
        self.log = open(os.path.join(self.profile, "chromium.log"), "w+")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def place_fds():
            # Move both ends above 10 first so dup2 onto 3 and 4 cannot clobber the other one.
            a = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [
            browser, "--headless", "--disable-gpu", "--no-sandbox", "--remote-debugging-pipe",
            f"--user-data-dir={self.profile}", "--no-first-run", "--no-default-browser-check",
            "--disable-dev-shm-usage", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio",
            "--hide-scrollbars", "--force-color-profile=srgb", "--force-device-scale-factor=1",
            f"--window-size={WIDTH},{HEIGHT}", "about:blank",
        ]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=place_fds, close_fds=False, start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buffer = b""
        self.next_id = 0
        self.session = None
        self.errors = []
        self.requests = []
        self.loaded = False

    def close(self):
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=5)
        except Exception:
            pass
        if self.proc.poll() is None:
            # The browser runs in its own process group, so this reaches only what it spawned.
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        for fd in (self.to_child, self.from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def log_tail(self):
        self.log.flush()
        self.log.seek(0)
        return "".join(self.log.readlines()[-15:])

    def send(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.to_child, data):]
        return self.next_id

    def receive(self, deadline):
        while b"\0" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.from_child], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self.from_child, 1 << 16)
            if not chunk:
                raise Failure("chromium exited unexpectedly:\n" + self.log_tail())
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message:
            self.on_event(message["method"], message.get("params", {}))
        return message

    def call(self, method, params=None, session=True, timeout=20):
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(deadline)
            if message is None:
                raise Failure(f"no answer to {method} within {timeout}s")
            if message.get("id") == wanted:
                if "error" in message:
                    raise Failure(f"{method} failed: {message['error'].get('message')}")
                return message.get("result", {})

    def pump(self, seconds):
        deadline = time.monotonic() + seconds
        while self.receive(deadline) is not None:
            pass

    def on_event(self, method, p):
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            text = (d.get("exception") or {}).get("description") or d.get("text", "exception")
            self.errors.append(f"uncaught exception: {text} ({d.get('url', '')}:{d.get('lineNumber', 0) + 1})")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            parts = [a.get("value", a.get("description", "")) for a in p.get("args", [])]
            self.errors.append("console." + p["type"] + ": " + " ".join(str(x) for x in parts))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            self.errors.append(f"{e.get('source', 'log')} error: {e.get('text', '')} {e.get('url', '')}".rstrip())
        elif method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith(("file:", "data:", "about:", "blob:")):
                self.requests.append(url)
        elif method == "Page.loadEventFired":
            self.loaded = True
        elif method in ("Inspector.targetCrashed", "Target.targetCrashed"):
            self.errors.append("the page crashed")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise Failure("check script failed: " + json.dumps(result["exceptionDetails"])[:500])
        return result.get("result", {}).get("value")


# Runs in the page after load: which charts and flame graphs drew something.
STATE = r"""(() => {
  const all = (s) => Array.from(document.querySelectorAll(s));
  return JSON.stringify({
    ready: document.body.dataset.reportRendered === 'true',
    sections: all('section.process').length,
    charts: all('.chart').map((e) => ({ id: e.id, rendered: e.dataset.rendered === 'true',
      drawn: !!e.querySelector('svg path.series, p.empty') })),
    flames: all('.flame').map((e) => ({ id: e.id, rendered: e.dataset.rendered === 'true',
      drawn: !!e.querySelector('svg g.frame, p.empty'), frames: Number(e.dataset.frames || 0) })),
    errors: all('.error').map((e) => e.textContent),
  });
})()"""

# Zooms into a frame of the first non-empty flame graph, resets, then searches for part of a name.
INTERACT = r"""(() => {
  const flame = Array.from(document.querySelectorAll('.flame')).find((e) => e.querySelector('g.frame'));
  if (!flame) return JSON.stringify({ skipped: true });
  const section = flame.closest('section');
  const out = {};
  const target = Array.from(flame.querySelectorAll('g.frame')).find((g) => g.querySelector('rect').getAttribute('y') !== '0');
  if (target) {
    const name = target.getAttribute('data-i');
    target.querySelector('rect').dispatchEvent(new MouseEvent('click', { bubbles: true }));
    out.zoomDepth = flame.dataset.zoomDepth;
    out.resetEnabled = !section.querySelector('.flame-reset').disabled;
    section.querySelector('.flame-reset').click();
    out.resetDepth = flame.dataset.zoomDepth;
    out.clicked = name;
  }
  const text = flame.querySelector('g.frame:not(.ancestor) text');
  const query = (text ? text.textContent : 'a').replace('…', '').slice(0, 4);
  const input = section.querySelector('.flame-search');
  input.value = query;
  input.dispatchEvent(new Event('input', { bubbles: true }));
  out.query = query;
  out.matches = Number(flame.dataset.matches || 0);
  out.highlighted = flame.querySelectorAll('g.frame.matched').length;
  out.label = section.querySelector('.flame-match').textContent;
  input.value = '';
  input.dispatchEvent(new Event('input', { bubbles: true }));
  return JSON.stringify(out);
})()"""


def check():
    problems = []
    b = Browser()
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        b.session = b.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.call(domain + ".enable")
        b.call("Emulation.setDeviceMetricsOverride",
               {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
        url = "file://" + path
        nav = b.call("Page.navigate", {"url": url})
        if nav.get("errorText"):
            raise Failure(f"cannot open {url}: {nav['errorText']}")
        deadline = time.monotonic() + 30
        while not b.loaded and time.monotonic() < deadline:
            b.pump(0.2)
        if not b.loaded:
            raise Failure("the page did not finish loading within 30s")
        state = {}
        for _ in range(50):
            state = json.loads(b.evaluate(STATE))
            if state["ready"]:
                break
            b.pump(0.1)
        b.pump(0.3)

        if not state.get("ready"):
            problems.append("the report script did not finish (body lacks data-report-rendered)")
        if not state["charts"] or not state["flames"]:
            problems.append(f"expected chart and flame containers, found {len(state['charts'])} charts and {len(state['flames'])} flame graphs")
        for kind in ("charts", "flames"):
            for c in state[kind]:
                if not (c["rendered"] and c["drawn"]):
                    problems.append(f"#{c['id']} did not render")
        problems += [f"page shows error: {e}" for e in state["errors"]]

        if shot:
            params = {"format": "png"}
            if full_page:
                size = b.call("Page.getLayoutMetrics")["cssContentSize"]
                params.update(captureBeyondViewport=True,
                              clip={"x": 0, "y": 0, "width": WIDTH, "height": size["height"], "scale": 1})
            image = b.call("Page.captureScreenshot", params, timeout=60)["data"]
            with open(shot, "wb") as f:
                f.write(base64.b64decode(image))

        result = json.loads(b.evaluate(INTERACT))
        if not result.get("skipped"):
            if "clicked" in result:
                if result["zoomDepth"] in (None, "0") or not result["resetEnabled"]:
                    problems.append(f"clicking a flame frame did not zoom: {result}")
                if result["resetDepth"] != "0":
                    problems.append(f"reset zoom did not return to the root: {result}")
            if result["matches"] < 1 or result["highlighted"] < 1 or "%" not in result["label"]:
                problems.append(f"searching flame frames for {result['query']!r} found nothing: {result}")
        b.pump(0.3)

        problems += b.errors
        problems += [f"network request: {u}" for u in b.requests]
        summary = (f"{state['sections']} process section(s), {len(state['charts'])} chart(s), "
                   f"{len(state['flames'])} flame graph(s), "
                   f"{sum(f['frames'] for f in state['flames'])} frames drawn")
        return problems, summary
    finally:
        b.close()


try:
    problems, summary = check()
except Failure as e:
    print(f"check-html: FAILED: {e}", file=sys.stderr)
    sys.exit(1)
if problems:
    print(f"check-html: FAILED: {path}", file=sys.stderr)
    for p in problems:
        print("  - " + p, file=sys.stderr)
    sys.exit(1)
print(f"check-html: OK: {path}: {summary}" + (f"; screenshot {shot}" if shot else ""))
PY
