"""Look at the built site as a reader would: in headless Chromium.

``python docs/check_site.py [docs/_build/html]`` opens the index, API reference pages, a user
guide page and gallery pages in Debian's ``chromium`` (driven through ``chromedriver`` from the
``chromium-driver`` package and Selenium), and checks that each shows its title, its code and
its figures: every ``<img>`` loaded with a non-zero size, no raw reStructuredText or Markdown
markup in the rendered text, and rendered math where the page has math.  Screenshots go to
``<html>/_screenshots/``.  Exits 1 naming every failed check.
"""

import re
import shutil
import sys
from pathlib import Path

# page, words its <h1> must hold, CSS selectors that must match, what else it must show
PAGES = [
    ("index.html", "cxent", ["pre", "a[href='guide/index.html']"], []),
    ("api/index.html", "API reference", ["table.autosummary a"],
     ["cross_entropy", "SoftmaxRegression"]),
    ("api/generated/cxent.cross_entropy.html", "cxent.cross_entropy",
     ["dl.py.function", "div.highlight pre", "dl.field-list"], ["Parameters", "Examples",
                                                                "label_smoothing"]),
    ("api/generated/cxent.torch.CrossEntropyLoss.html", "CrossEntropyLoss", ["dl.py.class"], []),
    ("guide/worked-example.html", "worked example", ["div.highlight pre", "span.math"],
     ["0.176"]),
    ("auto_examples/index.html", "Examples", ["div.sphx-glr-thumbcontainer img"], []),
    ("auto_examples/plot_calibration.html", "Calibration",
     ["img.sphx-glr-single-img", "div.highlight pre", "pre"], ["fitted temperature"]),
    ("auto_examples/plot_digits_classifier.html", "digits classifier",
     ["img.sphx-glr-single-img"], ["test accuracy"]),
]

# markup that should have been rendered, never shown to the reader
RAW = [r":(func|class|meth|mod|doc|ref|obj):`", r"``\w", r"^\s*\.\. [a-z-]+::", r"^```",
       r"\{toctree\}", r"^\s*:param "]


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600",
                "--allow-file-access-from-files"):
        opts.add_argument(arg)
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def check(root):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    shots = root / "_screenshots"
    shots.mkdir(exist_ok=True)
    failures, notes = [], []
    drv = _driver()
    try:
        for page, title, selectors, words in PAGES:
            path = root / page
            if not path.exists():
                failures.append(f"{page}: not built")
                continue
            drv.get(path.as_uri())
            WebDriverWait(drv, 20).until(
                lambda d: d.execute_script("return document.readyState") == "complete")
            if drv.find_elements(By.CSS_SELECTOR, ".math"):
                notes.append(_math(drv, page))
            h1 = drv.find_elements(By.CSS_SELECTOR, "article h1, main h1, h1")
            h1_text = h1[0].text if h1 else ""
            if title.lower() not in h1_text.lower():
                failures.append(f"{page}: title {h1_text!r} does not show {title!r}")
            for sel in selectors:
                if not drv.find_elements(By.CSS_SELECTOR, sel):
                    failures.append(f"{page}: nothing matches {sel!r}")
            broken = drv.execute_script(
                "return Array.from(document.images).filter(i => !i.complete || "
                "i.naturalWidth === 0).map(i => i.getAttribute('src'))")
            failures += [f"{page}: broken image {src}" for src in broken]
            body = drv.find_element(By.CSS_SELECTOR, "main, body").text
            for w in words:
                if w not in body:
                    failures.append(f"{page}: does not show {w!r}")
            for pat in RAW:
                m = re.search(pat, body, flags=re.M)
                if m:
                    failures.append(f"{page}: raw markup {m.group(0)!r} in the rendered text")
            n_img = drv.execute_script("return document.images.length")
            drv.save_screenshot(str(shots / (page.replace("/", "_").replace(".html", ".png"))))
            print(f"{page}: {h1_text!r}, {n_img} images, {len(body):,} characters of text")
    finally:
        drv.quit()
    return failures, [n for n in notes if n]


def _math(drv, page):
    """MathJax comes from its CDN (the site is read online): typeset when it can be reached,
    a note when not (an offline machine; the TeX source is then shown instead)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(drv, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "mjx-container"))
        return None
    except Exception:  # selenium's TimeoutException
        loaded = drv.execute_script("return typeof window.MathJax === 'object' && "
                                    "typeof window.MathJax.typeset === 'function'")
        why = "loaded" if loaded else "not loaded: its CDN is unreachable from this machine"
        return f"{page}: math not typeset (MathJax {why})"


def main(argv):
    root = Path(argv[1] if len(argv) > 1 else "docs/_build/html").resolve()
    failures, notes = check(root)
    for n in notes:
        print("NOTE", n)
    for f in failures:
        print("FAIL", f)
    print(f"{len(PAGES)} pages checked in Chromium, {len(failures)} failures; screenshots in "
          f"{root / '_screenshots'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
