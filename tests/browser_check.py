#!/usr/bin/python3
"""Opens every chart that tests/chart_samples.cpp writes in headless Chromium and checks it really renders, then
its HTML report (report.html): it loads with no console message at all (the report has no script, so any message
is a fault: a blocked resource, a parse error) and its charts are visible in a screenshot of the whole page.

Per chart: (1) the SVG parses as XML; (2) an HTML page holding it in an <img> loads it - onload/onerror set the
page title, read back with --dump-dom (a malformed SVG fires onerror); (3) a screenshot at the chart's size is not
blank: enough non-white pixels, several colours, dark text pixels, and the lab's engine colours where the chart
uses them. Exits non-zero with a reason on any failure, including a missing Chromium or Pillow (named by their
Debian packages), so the check can never pass by being skipped.

Every Chromium run has a fresh user-data dir, a bounded timeout and its own process group; on timeout only that
group is killed.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

RUN_TIMEOUT_S = 90
HF = (0xFF, 0x6B, 0x6B)
VLLM = (0x4E, 0xCD, 0xC4)
TIMELINE_BAR = (0x4E, 0x79, 0xA7)
TIMELINE_FAILED = (0xE1, 0x57, 0x59)
REPORT_SIZE = (1150, 5200)

# Which charts must show which lab colours (sampled from tests/chart_samples.cpp's data).
EXPECTED_COLOURS = {
    "throughput_bars.svg": [HF, VLLM],
    "latency_lines.svg": [HF, VLLM],
    "ttft_tpot.svg": [HF, VLLM],
    "latency_cdf.svg": [HF, VLLM],
    "edge_one_category.svg": [HF, VLLM],
    "timeline.svg": [TIMELINE_BAR, TIMELINE_FAILED],
}


class ChartFailure(Exception):
    pass


def fail(message):
    """Setup problems end the run at once."""
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def bad(message):
    """A problem with one chart: reported, and the other charts are still checked."""
    raise ChartFailure(message)


def find_chromium():
    for candidate in (os.environ.get("SERVEBENCH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    fail("Chromium not found: install Debian's 'chromium' package (apt-get install -y chromium), "
         "or point SERVEBENCH_CHROMIUM at a chromium binary")


def run_chromium(chromium, args, workdir):
    """Runs one headless Chromium with a fresh profile; returns (returncode, stdout, stderr)."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1",
           "--user-data-dir=" + profile] + args
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own session/process group only
        proc.communicate()
        shutil.rmtree(profile, ignore_errors=True)
        fail("chromium did not finish within %ds: %s" % (RUN_TIMEOUT_S, " ".join(cmd)))
    # Helpers Chromium left behind in our group (zygote, GPU process) go with it.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    shutil.rmtree(profile, ignore_errors=True)
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def svg_size(path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        bad("%s does not parse as XML: %s" % (path, e))
    if root.tag != "{http://www.w3.org/2000/svg}svg":
        bad("%s: root element is %s, not an SVG <svg>" % (path, root.tag))
    return int(root.get("width")), int(root.get("height"))


def close(a, b, tolerance=12):
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def check_screenshot(Image, png, name, width, height):
    image = Image.open(png).convert("RGB")
    if image.size != (width, height):
        bad("%s: screenshot is %dx%d, expected %dx%d" % (name, image.size[0], image.size[1], width, height))
    pixels = list(image.getdata())
    total = len(pixels)
    non_white = sum(1 for p in pixels if min(p) < 245)
    dark = sum(1 for p in pixels if max(p) < 90)
    colours = len(set(pixels))
    print("  %s: %.1f%% non-white, %d dark pixels, %d colours" % (name, 100.0 * non_white / total, dark, colours))
    if non_white < total * 0.01:
        bad("%s looks blank: only %d of %d pixels are not white" % (name, non_white, total))
    if colours < 3:
        bad("%s has only %d colours" % (name, colours))
    if dark < 500:
        bad("%s has almost no dark pixels (%d): text did not render (fonts missing?)" % (name, dark))
    for colour in EXPECTED_COLOURS.get(name, []):
        count = sum(1 for p in pixels if close(p, colour))
        if count < 100:
            bad("%s: expected colour #%02x%02x%02x is (almost) absent: %d pixels" % ((name,) + colour + (count,)))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", required=True, help="the chart_samples program")
    parser.add_argument("--out", required=True, help="directory for SVGs, pages and screenshots")
    args = parser.parse_args()

    try:
        from PIL import Image
    except ImportError:
        fail("Pillow not importable by %s: install Debian's 'python3-pil' package (apt-get install -y python3-pil)"
             % sys.executable)
    chromium = find_chromium()

    out = os.path.abspath(args.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    result = subprocess.run([args.samples, out], timeout=60)
    if result.returncode != 0:
        fail("%s exited with %d" % (args.samples, result.returncode))
    charts = sorted(f for f in os.listdir(out) if f.endswith(".svg"))
    if len(charts) < 4:
        fail("expected at least 4 charts in %s, found %s" % (out, charts))

    failures = []
    for name in charts:
        try:
            check_chart(chromium, Image, out, name)
        except ChartFailure as e:
            print("FAIL: " + str(e), file=sys.stderr)
            failures.append(name)
    if failures:
        print("%d of %d charts failed: %s (SVGs, pages and screenshots in %s)" % (len(failures), len(charts),
              ", ".join(failures), out), file=sys.stderr)
        sys.exit(1)
    try:
        check_report(chromium, Image, out)
    except ChartFailure as e:
        print("FAIL: " + str(e), file=sys.stderr)
        sys.exit(1)
    print("OK: %d charts and the HTML report rendered in %s; screenshots in %s" % (len(charts), chromium, out))


def check_report(chromium, Image, out):
    page = os.path.join(out, "report.html")
    if not os.path.isfile(page):
        bad("the samples wrote no report.html")
    url = "file://" + page
    rc, dom, err = run_chromium(chromium, ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
                                           "--dump-dom", url], out)
    if rc != 0:
        bad("report.html: chromium --dump-dom exited with %d: %s" % (rc, err[-2000:]))
    if "<title>servebench report: hf vs vllm</title>" not in dom:
        bad("report.html did not load (no title in the DOM)")
    consoles = [line for line in err.splitlines() if "CONSOLE" in line]
    if consoles:
        bad("report.html logged to the console: " + " | ".join(consoles[:5]))
    svgs = dom.count("<svg")
    if svgs < 5:
        bad("report.html holds %d charts, expected throughput, latency and 3 timelines" % svgs)
    png = os.path.join(out, "report.png")
    rc, _, err = run_chromium(chromium, ["--virtual-time-budget=5000", "--window-size=%d,%d" % REPORT_SIZE,
                                         "--screenshot=" + png, url], out)
    if rc != 0 or not os.path.isfile(png):
        bad("report.html: chromium --screenshot failed (exit %d): %s" % (rc, err[-2000:]))
    image = Image.open(png).convert("RGB")
    pixels = list(image.getdata())
    for name, colour in (("HF bars", HF), ("vLLM bars", VLLM), ("timeline bars", TIMELINE_BAR),
                         ("failed requests", TIMELINE_FAILED)):
        count = sum(1 for p in pixels if close(p, colour))
        print("  report.png: %s (#%02x%02x%02x): %d pixels" % ((name,) + colour + (count,)))
        if count < 200:
            bad("report.html: %s are not visible in the screenshot (%d pixels of #%02x%02x%02x)"
                % ((name, count) + colour))


def check_chart(chromium, Image, out, name):
    svg = os.path.join(out, name)
    width, height = svg_size(svg)
    page = os.path.join(out, name[:-4] + ".html")
    with open(page, "w", encoding="utf-8") as f:
        f.write('<!DOCTYPE html><html><head><meta charset="utf-8"><title>pending</title></head>'
                '<body style="margin:0;background:#ffffff">'
                '<img src="%s" width="%d" height="%d" style="display:block" '
                'onload="document.title=\'loaded \'+this.naturalWidth+\'x\'+this.naturalHeight" '
                'onerror="document.title=\'error\'"></body></html>' % (name, width, height))
    url = "file://" + page
    rc, dom, err = run_chromium(chromium, ["--virtual-time-budget=5000", "--dump-dom", url], out)
    if rc != 0:
        bad("%s: chromium --dump-dom exited with %d: %s" % (name, rc, err[-2000:]))
    expected = "<title>loaded %dx%d</title>" % (width, height)
    if expected not in dom:
        start = dom.find("<title>")
        bad("%s: page did not load the SVG (wanted %s, got %s)" % (name, expected, dom[start:start + 60]))
    png = os.path.join(out, name[:-4] + ".png")
    rc, _, err = run_chromium(chromium, ["--virtual-time-budget=5000", "--window-size=%d,%d" % (width, height),
                                         "--screenshot=" + png, url], out)
    if rc != 0 or not os.path.isfile(png):
        bad("%s: chromium --screenshot failed (exit %d): %s" % (name, rc, err[-2000:]))
    check_screenshot(Image, png, name, width, height)


if __name__ == "__main__":
    main()
