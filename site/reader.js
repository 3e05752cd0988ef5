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

  // ------------------------------------------------------------ light / dark
  const theme = document.querySelector('button.theme-toggle');
  const root = document.documentElement;
  const dark = () => root.dataset.theme === 'dark' || (!root.dataset.theme
    && window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches);
  if (theme) {
    theme.textContent = dark() ? 'Light' : 'Dark';
    theme.addEventListener('click', () => {
      root.dataset.theme = dark() ? 'light' : 'dark';
      try { localStorage.setItem('book-theme', root.dataset.theme); } catch (e) { /* file:// */ }
      theme.textContent = dark() ? 'Light' : 'Dark';
    });
  }

  // ------------------------------------------------------------ anchors and outline
  const main = document.querySelector('main article') || document.querySelector('main');
  const slug = (text) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const heads = main ? Array.from(main.querySelectorAll('h2, h3')) : [];
  const used = new Set();
  heads.forEach((h) => {
    if (!h.id) {
      let id = slug(h.textContent) || 'section';
      while (used.has(id) || document.getElementById(id)) id += '-';
      h.id = id;
    }
    used.add(h.id);
    const a = document.createElement('a');
    a.className = 'anchor';
    a.href = `#${h.id}`;
    a.textContent = '#';
    a.setAttribute('aria-label', `Link to ${h.textContent}`);
    h.appendChild(a);
  });
  const sections = heads.filter((h) => h.tagName === 'H2');
  if (main && sections.length >= 2) {
    const nav = document.createElement('nav');
    nav.className = 'outline';
    nav.setAttribute('aria-label', 'On this page');
    nav.innerHTML = '<p class="outline-title">On this page</p>';
    const ol = document.createElement('ol');
    sections.forEach((h) => {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `#${h.id}`;
      a.textContent = h.firstChild ? h.firstChild.textContent : h.textContent;
      li.appendChild(a);
      ol.appendChild(li);
    });
    nav.appendChild(ol);
    const title = main.querySelector('h1');
    if (title) title.after(nav); else main.prepend(nav);
  }

  // ------------------------------------------------------------ table cells
  // a cell of long text gets room to be read as lines, not a column of single words;
  // the table then scrolls sideways in its own box
  document.querySelectorAll('main td').forEach((td) => {
    const n = td.textContent.trim().length;
    if (n > 120) td.style.minWidth = '20rem';
    else if (n > 40) td.style.minWidth = '11rem';
  });

  // ------------------------------------------------------------ numbered figures
  let figure = 0;
  document.querySelectorAll('main img.output-image, main figure.static-slider').forEach((el) => {
    if (el.closest('figure.static-slider') && el.tagName === 'IMG') return;
    figure += 1;
    const label = document.createElement('p');
    label.className = 'figure-number';
    label.id = `figure-${figure}`;
    label.innerHTML = `<a href="#figure-${figure}">Figure ${figure}</a>`;
    el.after(label);
  });

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
