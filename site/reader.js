// The reader's tools on every page, all offline: the contents menu on narrow screens,
// folding every code cell at once, and full-text search over a prebuilt index
// (assets/search-index.js, written by render.mjs) that works from the file system too.
(function () {
  const body = document.body;

  // ------------------------------------------------------------ contents menu
  const menu = document.querySelector('button.menu-toggle');
  if (menu) {
    menu.addEventListener('click', () => {
      const open = body.classList.toggle('toc-open');
      menu.setAttribute('aria-expanded', String(open));
    });
  }

  // ------------------------------------------------------------ code folding
  const fold = document.querySelector('button.code-toggle');
  const folds = Array.from(document.querySelectorAll('details.code-fold'));
  if (fold) {
    if (folds.length === 0) fold.hidden = true;
    fold.addEventListener('click', () => {
      const hide = folds.some((d) => d.open);
      folds.forEach((d) => { d.open = !hide; });
      fold.textContent = hide ? 'Show code' : 'Hide code';
      fold.setAttribute('aria-pressed', String(hide));
    });
  }

  // ------------------------------------------------------------ search
  const box = document.querySelector('input.search-box');
  const list = document.querySelector('div.search-results');
  const index = window.BOOK_SEARCH || [];
  if (!box || !list) return;

  const escapeHtml = (text) => text.replace(/[&<>"]/g, (c) => (
    { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  const escapeRe = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  function snippet(text, terms) {
    const lower = text.toLowerCase();
    const at = Math.max(0, lower.indexOf(terms[0]) - 60);
    let part = escapeHtml(text.slice(at, at + 200));
    for (const t of terms) part = part.replace(new RegExp(escapeRe(escapeHtml(t)), 'gi'), (m) => `<mark>${m}</mark>`);
    return (at > 0 ? '&hellip;' : '') + part + '&hellip;';
  }

  function search(query) {
    const terms = query.toLowerCase().split(/\s+/).filter((t) => t.length > 1);
    if (terms.length === 0) return [];
    const hits = [];
    for (const page of index) {
      const hay = `${page.title}\n${page.text}`.toLowerCase();
      if (!terms.every((t) => hay.includes(t))) continue;
      let score = 0;
      for (const t of terms) {
        score += hay.split(t).length - 1;
        if (page.title.toLowerCase().includes(t)) score += 50;
      }
      hits.push({ page, score, terms });
    }
    return hits.sort((a, b) => b.score - a.score).slice(0, 12);
  }

  function show() {
    const hits = search(box.value);
    if (box.value.trim().length < 2) { list.hidden = true; list.innerHTML = ''; return; }
    list.innerHTML = hits.length
      ? hits.map((h) => `<a class="search-hit" href="${h.page.file}"><strong>${escapeHtml(h.page.title)}</strong><span>${snippet(h.page.text, h.terms)}</span></a>`).join('')
      : '<p class="search-none">No page contains every word.</p>';
    list.hidden = false;
  }

  box.addEventListener('input', show);
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { box.value = ''; show(); }
    if (e.key === 'Enter') {
      const first = list.querySelector('a.search-hit');
      if (first) window.location.href = first.getAttribute('href');
    }
  });
})();
