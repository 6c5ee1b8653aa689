"""The documentation site and JupyterLab in a real browser: headless Chromium driven by Selenium.

Screenshots go to `test-artifacts/` (git-ignored) so CI keeps them: `docs-*.png` for the site, `jupyterlab-*.png`."""
import os, re, shutil, signal, socket, subprocess, sys, threading, time, urllib.request
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser"),   # one worker: the site is built and the browser started once
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--window-size=1400,1000"]

@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions(); opts.binary_location = CHROMIUM
    for f in CHROMIUM_FLAGS: opts.add_argument(f)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()

def free_port() -> int:
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

class Links(HTMLParser):
    def __init__(self): super().__init__(); self.hrefs = []
    def handle_starttag(self, tag, attrs):
        if tag == "a" and (href := dict(attrs).get("href")): self.hrefs.append(href)

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    "Build the site as `mlx-modernbert docs` does and serve it on 127.0.0.1."
    out = tmp_path_factory.mktemp("site")
    r = subprocess.run([str(Path(sys.executable).with_name("mlx-modernbert")), "docs", "--output", str(out), "--no-quarto"],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(SimpleHTTPRequestHandler, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/", out
    server.shutdown()

PAGES = {"index.html": "mlx_modernbert", "layers.html": "attention", "trainer.html": "Learner", "run.html": "train_run",
         "architecture.html": "From a CSV to a submission", "kaggle.html": "kaggle_submit",
         "loaders.html": "TextLoader.epoch_batches",   # a method shown with show_doc
         "commands.html": "mlx-modernbert kaggle submit", "howto.html": "use a GPU",
         "tutorials/titanic.html": "Titanic, end to end", "tutorials/house_prices.html": "House Prices",
         "tutorials/penguins.html": "Penguins"}
SECTIONS = ["Tutorials", "How do I", "How the package is built", "Command line", "API reference"]

def shot(browser, name:str):
    browser.save_screenshot(str(ARTIFACTS / f"docs-{name.replace('/', '-').removesuffix('.html')}.png"))

def test_site_pages_render_with_parameter_tables_and_no_prompts(browser, site):
    base, out = site
    for page, text in PAGES.items():
        browser.get(base + page)
        body = browser.find_element("tag name", "body").text
        assert text in body, f"{page}: {text!r} not shown"
        header = browser.find_element("css selector", ".bd-header").text
        assert all(s in header for s in SECTIONS), f"{page}: the header lacks a section: {header!r}"
        assert not re.search(r"(In|Out)\s*\[\s*\d*\s*\]:", body), f"{page}: notebook prompts shown"
        if page in ("layers.html", "trainer.html", "run.html", "kaggle.html", "loaders.html"):
            headers = [th.text for th in browser.find_elements("css selector", "article table th")]
            assert "Type" in headers and "Default" in headers and "Details" in headers, page   # parameter tables
            assert len(browser.find_elements("css selector", ".bd-sidebar-primary a")) >= 20   # the sidebar lists every module
        if page == "loaders.html": assert "the epoch, which reseeds the shuffle" in body   # a docments description in a table
        shot(browser, page)
    browser.get(base + "tutorials/titanic.html")
    assert len(browser.find_elements("css selector", "article img")) >= 4        # the tutorial's committed plots are there
    # nothing is loaded from another host: the site works offline
    remote = [f"{p.name}: {m}" for p in out.rglob("*.html") for m in re.findall(r'<(?:script|link)[^>]*(?:src|href)="(?:https?:)?//[^"]+', p.read_text())]
    assert not remote, remote[:5]

def test_site_search_finds_the_trainer(browser, site):
    from selenium.webdriver.support.ui import WebDriverWait
    base, _ = site
    browser.get(base + "search.html?q=Learner")
    WebDriverWait(browser, 60).until(lambda d: d.find_elements("css selector", "#search-results li a"))
    hits = [a.get_attribute("href") for a in browser.find_elements("css selector", "#search-results li a")]
    shot(browser, "search-Learner")
    assert any(h.split("#")[0].endswith("/trainer.html") for h in hits), hits[:10]

def test_site_code_is_highlighted_in_light_and_dark_modes(browser, site):
    base, _ = site
    browser.get(base + "loaders.html")
    colour = lambda css: browser.execute_script(f"return getComputedStyle(document.querySelector('{css}')).color")
    seen = {}
    for mode in ("light", "dark"):
        browser.execute_script(f"document.documentElement.dataset.theme = '{mode}'; document.documentElement.dataset.mode = '{mode}'")
        keyword, text = colour("article div.highlight pre span.k"), colour("article div.highlight pre")
        assert keyword != text, f"{mode}: keywords are not coloured ({keyword})"
        seen[mode] = (keyword, colour("body"))
        shot(browser, f"loaders-{mode}")
    assert seen["light"] != seen["dark"], seen        # the dark mode has its own colours

def test_site_widgets_render_from_saved_state(browser, site):
    from selenium.webdriver.support.ui import WebDriverWait, Select
    base, _ = site
    browser.get(base + "tutorials/titanic.html")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: d.find_elements("css selector", "article .widget-dropdown select"))
    menu = Select(browser.find_element("css selector", "article .widget-dropdown select"))
    options = [o.text for o in menu.options]
    assert options[:1] == ["titanic"] and "sentence" in options           # the template explorer, from its state
    assert "tokens" in browser.find_element("css selector", "article .widget-html-content").text
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element("css selector", "article .jupyter-widgets"))
    menu.select_by_visible_text("sentence")                                          # interactive without a kernel
    assert menu.first_selected_option.text == "sentence"
    shot(browser, "titanic-widget")
    browser.get(base + "widgets.html")                                               # the training dashboard
    wait.until(lambda d: d.find_elements("css selector", "article .widget-hprogress"))
    bar = browser.find_element("css selector", "article .widget-hprogress")
    browser.execute_script("arguments[0].scrollIntoView()", bar)
    assert "done: 16 updates" in browser.find_element("tag name", "article").text
    shot(browser, "widgets-dashboard")

def test_site_internal_links_resolve(site):
    base, out = site
    broken, checked = [], set()
    for html in out.rglob("*.html"):
        parser = Links(); parser.feed(html.read_text())
        page_url = base + str(html.relative_to(out))
        for href in parser.hrefs:
            url = urljoin(page_url, href).split("#")[0]
            if not url.startswith(base) or url in checked: continue
            checked.add(url)
            try: urllib.request.urlopen(url, timeout=10)
            except Exception as e: broken.append(f"{html.name} -> {href} ({e})")
    assert not broken, broken
    assert len(checked) >= 40

@pytest.fixture
def jupyter_lab(tmp_path):
    "JupyterLab on 127.0.0.1 with a token, kernels running the tutorials with tiny settings."
    port, token = free_port(), "mlx-modernbert-test-token"
    env = {**os.environ, "MLX_MODERNBERT_LIMIT_ROWS": "96", "MLX_MODERNBERT_EPOCHS": "1", "MLX_MODERNBERT_FOLDS": "2",
           "MLX_MODERNBERT_MAX_LENGTH": "48", "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    work = tmp_path / "work"; shutil.copytree(ROOT / "nbs" / "tutorials", work)
    proc = subprocess.Popen([str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", "--ip=127.0.0.1",
                             f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
                             "--ServerApp.open_browser=False", "--allow-root"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(120):
        try: urllib.request.urlopen(f"{url}api/status?token={token}", timeout=2); break
        except Exception: time.sleep(1)
    else:
        os.killpg(proc.pid, signal.SIGKILL); pytest.fail("jupyter lab did not start")
    yield url, token
    os.killpg(proc.pid, signal.SIGTERM)
    try: proc.wait(20)
    except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL)

def test_titanic_tutorial_runs_in_jupyterlab(browser, jupyter_lab):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    url, token = jupyter_lab
    browser.get(f"{url}lab/tree/titanic.ipynb?token={token}")
    wait = WebDriverWait(browser, 180)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"))
    time.sleep(5)   # let the kernel start and connect
    def menu(label, item):   # click JupyterLab's menu bar entry `label`, then its entry `item`
        [m for m in browser.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if m.text.strip() == label][0].click()
        wait.until(lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel") if e.text.strip() == item])
        [e for e in browser.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel") if e.text.strip() == item][0].click()
    try: menu("Run", "Run All Cells")
    except Exception:
        browser.save_screenshot(str(ARTIFACTS / "jupyterlab-titanic-menu.png")); raise
    # done when the last code cell shows an execution count and the kernel is idle
    def finished(d):
        prompts = [p.text.strip() for p in d.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputPrompt")]
        return prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
    WebDriverWait(browser, 900, poll_frequency=2).until(finished)
    time.sleep(2)
    browser.save_screenshot(str(ARTIFACTS / "jupyterlab-titanic.png"))
    errors = browser.find_elements(By.CSS_SELECTOR, '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"] .jp-RenderedText, .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')
    tracebacks = [e.text for e in errors if "Traceback" in e.text or "Error" in e.text.split("\n")[0]]
    assert not tracebacks, tracebacks[:2]
    widgets = browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea .widget-dropdown, .jp-OutputArea .jupyter-widgets")
    assert widgets, "the template explorer widget did not render"
    assert browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea img")        # plots rendered
