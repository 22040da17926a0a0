"""Every widget notebook, run in a real JupyterLab in Chromium: widgets render and respond.

For each notebook: open it, run all cells, wait for the kernel (asked through the server's
REST API, not the toolbar), then check that no widget failed, no "Loading widget" is left, no
output holds a traceback, and every image decoded; then move a control and check the display
changed as it should. A negative-control notebook with a broken widget must fail those checks.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

pytestmark = pytest.mark.browser
RUN_TIMEOUT_S = 240


def open_notebook(page, lab, name):
    """Open a notebook and wait, through the app itself, until its kernel is ready and idle.

    (The toolbar's status indicator reads "idle" before any kernel exists, so it proves nothing.)
    """
    page.goto(f"{lab['url']}/lab/tree/{name}?token={lab['token']}&reset", wait_until="domcontentloaded")
    page.wait_for_function(
        """(name) => {
            const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            return widget && widget.context && widget.context.path.endsWith(name) && widget.sessionContext;
        }""", arg=name, timeout=90_000)
    status = page.evaluate(
        """async () => {
            const widget = window.jupyterapp.shell.currentWidget;
            await widget.context.ready;
            await widget.sessionContext.ready;
            const kernel = widget.sessionContext.session && widget.sessionContext.session.kernel;
            for (let i = 0; i < 600 && (!kernel || kernel.status !== 'idle'); i++) {
                await new Promise(resolve => setTimeout(resolve, 100));
            }
            return kernel ? kernel.status : 'no kernel';
        }""")
    assert status == "idle", f"the kernel of {name} is {status!r}, not idle"


def run_all(page, lab):
    """Run every cell with the app's own command; it resolves when the run ends.

    The command answers false when a cell raised (the run stops there); we then report the first
    error shown.
    """
    finished = page.evaluate(
        """async (seconds) => {
            const run = window.jupyterapp.commands.execute('notebook:run-all-cells');
            const late = new Promise(resolve => setTimeout(() => resolve('timeout'), seconds * 1000));
            return await Promise.race([run, late]);
        }""", RUN_TIMEOUT_S)
    if finished == "timeout":
        raise TimeoutError(f"cells still running after {RUN_TIMEOUT_S} s")
    if finished is not True:
        errors = page.locator(".jp-OutputArea-output", has_text="Traceback").all_inner_texts()
        raise AssertionError(f"the run stopped at an error: {errors[:1]}; console errors: {page.console_errors[-5:]}")
    settle_widgets(page)


def settle_widgets(page, seconds: float = 30):
    """Give widget views time to finish rendering (models arrive asynchronously)."""
    try:
        page.wait_for_function("() => !document.body.innerText.includes('Loading widget')", timeout=seconds * 1000)
    except Exception:
        pass  # the checks below report it
    page.wait_for_timeout(500)


def check_page(page, outputs_selector=".jp-OutputArea-output"):
    """The checks every widget page must pass; raises AssertionError saying what failed."""
    errors = page.locator(".jupyter-widgets-error-widget").count()
    assert errors == 0, f"{errors} widget(s) failed to render (.jupyter-widgets-error-widget)"
    text = page.locator("body").inner_text()
    for bad in ("Error displaying widget", "Loading widget", "Traceback (most recent call last)"):
        assert bad not in text, f"the page shows {bad!r}"
    tracebacks = page.locator(f"{outputs_selector}[data-mime-type='application/vnd.jupyter.stderr']",
                              has_text="Error").count()
    assert tracebacks == 0, f"{tracebacks} output(s) show an error"
    images = page.evaluate("() => [...document.querySelectorAll('img')].map(i => [i.complete, i.naturalWidth, i.src])")
    # Badge images point outside 127.0.0.1 and are blocked on purpose; every other image must decode.
    images = [image for image in images if image[2].startswith(("data:", "blob:", "http://127.0.0.1"))]
    broken = [src[:60] for complete, width, src in images if not (complete and width > 0)]
    assert images and not broken, f"{len(broken)} of {len(images)} images did not decode: {broken[:3]}"
    widgets = page.locator(".jupyter-widgets").count()
    assert widgets > 0, "no widget rendered at all"


def slider(page, description):
    return page.locator(".widget-slider", has=page.locator(".widget-label", has_text=description)).first


def set_slider(page, description, value):
    """Type a value into a slider's readout, as a learner can."""
    readout = slider(page, description).locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")
    page.wait_for_timeout(1500)


def choose(page, description, option):
    dropdown = page.locator(".widget-dropdown", has=page.locator(".widget-label", has_text=description)).first
    dropdown.locator("select").select_option(label=option)
    page.wait_for_timeout(1500)


def wait_for_text(page, text, timeout_s=30):
    page.get_by_text(text).first.wait_for(timeout=timeout_s * 1000)


def screenshot(page, artifacts, name, widget_text=None):
    if widget_text:
        page.locator(".jupyter-widgets", has_text=widget_text).first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"{name}.png"))


def widget_text(page, contains):
    """Inner text of the first widget box that contains ``contains``."""
    return page.locator(".widget-vbox", has_text=contains).first.inner_text()


def run_notebook(page, lab, name):
    """Open, run all cells, and pass the checks: what every widget notebook must do first."""
    open_notebook(page, lab, name)
    run_all(page, lab)
    check_page(page)


def wait_until_gone(page, text, timeout_s=30):
    """Wait until no HTML widget shows exactly ``text`` any more (the view was redrawn)."""
    page.wait_for_function("(text) => ![...document.querySelectorAll('.widget-html')].some(e => e.innerText === text)",
                           arg=text, timeout=timeout_s * 1000)


def test_02_query_gallery(page, lab, artifacts):
    run_notebook(page, lab, "02_cosine_search.ipynb")
    before = widget_text(page, "share the query's label")
    set_slider(page, "query", 1)
    wait_for_text(page, "precision@6 = 0.00")  # test query 1 is the encoder's worst case (notebook 02)
    assert widget_text(page, "share the query's label") != before
    set_slider(page, "k", 3)
    wait_for_text(page, "of 3 share the query's label")
    check_page(page)
    screenshot(page, artifacts, "02_cosine_search", "share the query's label")


def test_03_bucket_explorer(page, lab, artifacts):
    run_notebook(page, lab, "03_random_projection.ipynb")
    assert page.get_by_text("of 8 possible buckets").count() >= 1
    set_slider(page, "hyperplanes", 5)
    wait_for_text(page, "5 bits per code")
    wait_for_text(page, "of 32 possible buckets")
    check_page(page)
    screenshot(page, artifacts, "03_random_projection", "possible buckets")


def test_04_table_browser(page, lab, artifacts):
    run_notebook(page, lab, "04_hash_tables.ipynb")
    summary = page.locator(".widget-html", has_text="label purity").first
    before = summary.inner_text()
    choose(page, "table", "3")
    wait_until_gone(page, before)
    assert summary.inner_text() != before
    check_page(page)
    screenshot(page, artifacts, "04_hash_tables_table_browser", "label purity")


def test_05_tradeoff_explorer(page, lab, artifacts):
    run_notebook(page, lab, "05_lsh_in_practice.ipynb")
    recall = page.locator(".widget-html", has_text="median query").first
    before = recall.inner_text()
    set_slider(page, "n_tables", 16)
    wait_until_gone(page, before)
    assert recall.inner_text() != before
    check_page(page)
    screenshot(page, artifacts, "05_lsh_in_practice_tradeoffs", "median query")


def png_file(tmp_path, name="leaf.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (120, 90), (60, 140, 50)).save(buffer, format="PNG")
    path = tmp_path / name
    path.write_bytes(buffer.getvalue())
    return path


def upload(page, path):
    """Click the upload button and answer the file chooser, as a learner does."""
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").first.click()
    chooser.value.set_files(str(path))


def exercise_app(page, tmp_path):
    choose(page, "method", "LSH (LSHIndex)")
    wait_for_text(page, "the query's bucket in each table")
    assert page.get_by_text("LSH (LSHIndex):").count() >= 1
    fake = tmp_path / "notes.png"
    fake.write_bytes(b"this is a text file with a .png name")
    upload(page, fake)
    wait_for_text(page, "is not an image PIL can read")
    upload(page, png_file(tmp_path))
    wait_for_text(page, "searching with your image leaf.png")
    wait_for_text(page, "for an uploaded image")


def test_11_search_app_in_lab(page, lab, artifacts, tmp_path):
    run_notebook(page, lab, "11_search_app.ipynb")
    exercise_app(page, tmp_path)
    check_page(page)
    screenshot(page, artifacts, "11_search_app", "Bean leaf image search")


def test_11_search_app_in_voila(page, voila, artifacts, tmp_path):
    page.goto(voila["url"], wait_until="domcontentloaded", timeout=240_000)
    page.get_by_text("Bean leaf image search").first.wait_for(timeout=240_000)
    settle_widgets(page)
    check_page(page, outputs_selector=".jp-OutputArea-output")
    exercise_app(page, tmp_path)
    check_page(page)
    page.screenshot(path=str(artifacts / "11_search_app_voila.png"), full_page=True)


def test_nothing_outside_127_0_0_1_gets_an_answer(page, lab):
    open_notebook(page, lab, "00_start_here.ipynb")
    page.wait_for_timeout(2000)
    # The notebook's badges point at colab.research.google.com and mybinder.org: the browser
    # tries, and the block must make every such request fail.
    assert page.outside, "expected the badge images to be requested (and blocked)"
    assert page.answered_outside == []


def test_negative_control_fails_the_checks(page, lab, artifacts):
    """A widget whose JavaScript cannot load must be caught by check_page."""
    open_notebook(page, lab, "negative_control.ipynb")
    run_all(page, lab)
    page.wait_for_timeout(3000)
    screenshot(page, artifacts, "negative_control")
    with pytest.raises(AssertionError):
        check_page(page)


def test_06_partition_explorer(page, lab, artifacts):
    run_notebook(page, lab, "06_ivf.ipynb")
    partitions = page.locator(".widget-html", has_text="probes 1 of 6 cells").first
    assert "LSH: probes 1 of" in partitions.inner_text() and "IVF: probes 1 of 6 cells" in partitions.inner_text()
    set_slider(page, "cells probed", 3)
    wait_for_text(page, "probes 3 of 6 cells")
    check_page(page)
    screenshot(page, artifacts, "06_partition_explorer", "cells probed")


def test_07_graph_walk(page, lab, artifacts):
    run_notebook(page, lab, "07_graphs.ipynb")
    walk = page.locator(".widget-html", has_text="steps from the entry point").first
    before = walk.inner_text()
    set_slider(page, "ef_search", 30)
    wait_until_gone(page, before)
    assert walk.inner_text() != before and "scored" in walk.inner_text()
    check_page(page)
    screenshot(page, artifacts, "07_graph_walk", "steps from the entry point")


def test_10_filter_explorer(page, lab, artifacts):
    run_notebook(page, lab, "10_filtered_search.ipynb")
    summary = page.locator(".widget-html", has_text="against exact filtered search").first
    before = summary.inner_text()
    assert "IVFIndex, filter allows 1 %" in before and "post-filter (over-fetch): recall" in before
    # A SelectionSlider's readout cannot be typed into: move its handle with the keyboard, as a learner can.
    slider(page, "selectivity").locator(".noUi-handle").focus()
    page.keyboard.press("ArrowLeft")  # one stop less selective
    wait_for_text(page, "IVFIndex, filter allows 5 %")
    assert summary.inner_text() != before
    choose(page, "index", "HNSWIndex")
    wait_for_text(page, "HNSWIndex, filter allows 5 %")
    check_page(page)
    screenshot(page, artifacts, "10_filter_explorer", "against exact filtered search")
