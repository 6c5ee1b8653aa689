# Sphinx settings for the documentation site built without Quarto (`mlx-modernbert docs`, see nbs/45_docs.ipynb).
# The sources are nbdev's processed notebooks, which `build_docs` lays out in a temporary folder with the generated
# command-line reference; MyST-NB reads them without executing anything (the notebooks' saved outputs are shown).
project = "mlx_modernbert"
author = "mlx_modernbert developers"
copyright = "mlx_modernbert developers"
extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
root_doc = "index"

nb_execution_mode = "off"                 # never run the notebooks: their committed outputs are the pages
nb_merge_streams = True
nb_render_markdown_format = "myst"        # markdown outputs (parameter tables) parsed like markdown cells
nb_ipywidgets_js = {"widgets/embed.js": {}}   # @jupyter-widgets/html-manager, vendored into _static/widgets by build_docs
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "myst.xref_missing", "mystnb.unknown_mime_type", "misc.highlighting_failure",
                     "toc.not_included", "myst.strikethrough", "config.cache", "docutils"]

html_theme = "pydata_sphinx_theme"
html_title = "mlx_modernbert"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_sidebars = {page: [] for page in ("index", "howto", "architecture", "commands")}   # single pages: no section list
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_depth": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
    "pygments_light_style": "tango",
    "pygments_dark_style": "monokai",
    "icon_links": [{"name": "GitHub", "url": "https://github.com/mlx-modernbert/mlx_modernbert", "icon": "fa-brands fa-github"}],
}
html_context = {"default_mode": "auto"}   # light or dark as the reader's system prefers; the switch in the header changes it
