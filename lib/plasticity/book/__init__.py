"""The book: chapters and their context, the papermill runner, the run plan and sweep,
widgets, plots and the manifest, the static site, launch links."""
