// Render the MyST site content (the AST that `myst build --site` writes) to static HTML.
//
//   node site/render.mjs <site-dir> <out-dir>
//
// <site-dir> is MyST's _build/site (config.json, content/<slug>.json, public/);
// <out-dir> receives <slug>.html for every page, index.html, assets/ and pages.json.
// Text, math, code and tables go through MyST's own myst-to-html; notebook outputs
// (figures, HTML tables, Markdown, streams, errors) are rendered here, since
// myst-to-html leaves them empty. Every link is relative, so the site works from any
// sub-path or straight from the file system, with no network.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { mystToHtml } from 'myst-to-html';
import { mystParse } from 'myst-parser';
import { all } from 'mdast-util-to-hast';
import katex from 'katex';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const IMAGE_TYPES = ['image/svg+xml', 'image/png', 'image/jpeg', 'image/gif', 'image/webp'];
const WIDGET_TYPE = 'application/vnd.jupyter.widget-view+json';

function fail(message) {
  console.error(`render.mjs: ${message}`);
  process.exit(2);
}

function escapeHtml(text) {
  return String(text)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function stripAnsi(text) {
  // eslint-disable-next-line no-control-regex
  return String(text).replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`cannot read ${file}: ${err.message}`);
  }
}

// ---------------------------------------------------------------- links and assets

function pageFile(slug, indexSlug) {
  return slug === indexSlug ? 'index.html' : `${slug}.html`;
}

function makeUrlRewriter(slugs, indexSlug) {
  return (url) => {
    if (typeof url !== 'string' || !url.startsWith('/') || url.startsWith('//')) return url;
    const [target, hash] = url.slice(1).split('#', 2);
    const suffix = hash ? `#${hash}` : '';
    if (target === '' || target === indexSlug) return `index.html${suffix}`;
    if (slugs.has(target)) return `${pageFile(target, indexSlug)}${suffix}`;
    if (target.startsWith('build/')) return `assets/${target.slice('build/'.length)}${suffix}`;
    return `assets/${target}${suffix}`;
  };
}

// Cells and outputs tagged remove-* are dropped; hide-* ones fold into a <details>.
function applyVisibility(node) {
  if (!node?.children) return;
  node.children = node.children.filter((child) => child.visibility !== 'remove');
  for (const child of node.children) applyVisibility(child);
}

function rewriteUrls(node, rewrite) {
  if (!node || typeof node !== 'object') return;
  if ((node.type === 'link' || node.type === 'image' || node.type === 'linkBlock') && node.url) {
    node.url = rewrite(node.url);
  }
  if (node.type === 'crossReference' && node.url) node.url = rewrite(node.url);
  for (const child of node.children ?? []) rewriteUrls(child, rewrite);
}

// ---------------------------------------------------------------- math

function mathHtml(node, displayMode) {
  if (node.html) return node.html;
  try {
    return katex.renderToString(node.value ?? '', { displayMode, throwOnError: false });
  } catch {
    return `<code>${escapeHtml(node.value ?? '')}</code>`;
  }
}

// ---------------------------------------------------------------- notebook outputs

function plainText(data) {
  const text = data['text/plain'];
  return text ? stripAnsi(text.content ?? text) : '';
}

function renderMarkdown(content, rewrite) {
  const tree = mystParse(content);
  rewriteUrls(tree, rewrite);
  return mystToHtml(tree, htmlOptions(rewrite));
}

// MyST keeps a large output out of the page's AST: the entry then has a `path` into
// the site's public folder instead of its `content`.
let publicDirectory = null;

function outputText(entry) {
  if (entry.content != null) return entry.content;
  if (entry.path && publicDirectory) {
    const file = path.join(publicDirectory, entry.path.replace(/^\/+/, ''));
    if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
  }
  return '';
}

// A static slider carries one PNG per precomputed value; more than this many frames
// in one figure would make a page heavy, and fails the build.
const MAX_SLIDER_FRAMES = 12;

function checkStaticSlider(html) {
  if (!html.includes('class="static-slider"')) return;
  const frames = (html.match(/<img [^>]*data-value=/g) ?? []).length;
  if (frames === 0 || frames > MAX_SLIDER_FRAMES) {
    fail(`a static slider has ${frames} frames; allowed: 1 to ${MAX_SLIDER_FRAMES}`);
  }
}

function renderOutput(jupyter, rewrite) {
  if (!jupyter) return '';
  const kind = jupyter.output_type;
  if (kind === 'stream') {
    const cls = jupyter.name === 'stderr' ? 'output-stderr' : 'output-stream';
    return `<pre class="${cls}">${escapeHtml(stripAnsi(jupyter.text ?? ''))}</pre>`;
  }
  if (kind === 'error') {
    const trace = (jupyter.traceback ?? []).map(stripAnsi).join('\n');
    return `<pre class="output-error">${escapeHtml(trace || `${jupyter.ename}: ${jupyter.evalue}`)}</pre>`;
  }
  const data = jupyter.data ?? {};
  // A static slider carries its default frame as image/png for viewers without HTML;
  // here the slider itself is shown.
  const html = data['text/html'] ? outputText(data['text/html']) : '';
  if (html.includes('class="static-slider"')) {
    checkStaticSlider(html);
    return `<div class="output-html">${html}</div>`;
  }
  for (const type of IMAGE_TYPES) {
    if (data[type]?.path) {
      const alt = plainText(data).startsWith('<Figure') ? 'figure' : plainText(data) || 'figure';
      return `<img class="output-image" src="${escapeHtml(rewrite(data[type].path))}" alt="${escapeHtml(alt)}">`;
    }
  }
  if (html) {
    return `<div class="output-html">${html}</div>`;
  }
  if (data['text/markdown']) {
    return `<div class="output-markdown">${renderMarkdown(outputText(data['text/markdown']), rewrite)}</div>`;
  }
  if (data['text/latex']) {
    return `<div class="output-latex">${mathHtml({ value: data['text/latex'].content.replace(/^\$+|\$+$/g, '') }, true)}</div>`;
  }
  // A widget without a static fallback has nothing a static page can show; its
  // text/plain is a repr like "VBox(...)", which is noise, so it is dropped.
  if (data[WIDGET_TYPE]) return '';
  const text = plainText(data);
  return text ? `<pre class="output-text">${escapeHtml(text)}</pre>` : '';
}

// ---------------------------------------------------------------- code highlighting

// The book's code is Python: a small tokenizer marks comments, strings, numbers,
// keywords and builtins (classes tok-*), so the page needs no highlighter at run time.
const PY_KEYWORDS = new Set(('False None True and as assert async await break class continue def '
  + 'del elif else except finally for from global if import in is lambda nonlocal not or pass '
  + 'raise return try while with yield').split(' '));
const PY_BUILTINS = new Set(('abs all any bool dict enumerate float int isinstance len list map max '
  + 'min print range round set sorted str sum tuple zip').split(' '));
const PY_TOKEN = new RegExp([
  '(?<com>#[^\\n]*)',
  '(?<str>[rRbBfFuU]{0,2}(?:"""[\\s\\S]*?"""|\'\'\'[\\s\\S]*?\'\'\'|"(?:\\\\.|[^"\\\\\\n])*"|\'(?:\\\\.|[^\'\\\\\\n])*\'))',
  '(?<num>\\b\\d[\\d_]*(?:\\.\\d[\\d_]*)?(?:[eE][+-]?\\d+)?\\b)',
  '(?<name>[A-Za-z_][A-Za-z0-9_]*)',
].join('|'), 'g');

function highlightPython(source) {
  let out = '';
  let last = 0;
  for (const m of source.matchAll(PY_TOKEN)) {
    out += escapeHtml(source.slice(last, m.index));
    last = m.index + m[0].length;
    const text = escapeHtml(m[0]);
    const g = m.groups;
    let cls = null;
    if (g.com !== undefined) cls = 'com';
    else if (g.str !== undefined) cls = 'str';
    else if (g.num !== undefined) cls = 'num';
    else if (PY_KEYWORDS.has(m[0])) cls = 'kw';
    else if (PY_BUILTINS.has(m[0])) cls = 'bi';
    out += cls ? `<span class="tok-${cls}">${text}</span>` : text;
  }
  return out + escapeHtml(source.slice(last));
}

function isPython(node) {
  return ['python', 'python3', 'ipython', 'ipython3', 'py'].includes(String(node.lang ?? '').toLowerCase());
}

// ---------------------------------------------------------------- search index

// Each page's text (tags, scripts and styles dropped), for the offline search box.
const MAX_INDEXED_CHARS = 40000;

function pageText(html) {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_INDEXED_CHARS);
}

// ---------------------------------------------------------------- myst-to-html options

function htmlOptions(rewrite) {
  const raw = (value) => ({ type: 'raw', value });
  return {
    hast: {
      allowDangerousHtml: true,
      handlers: {
        math: (h, node) => raw(`<div class="math-display">${mathHtml(node, true)}</div>`),
        inlineMath: (h, node) => raw(mathHtml(node, false)),
        output: (h, node) => raw(`<div class="output">${renderOutput(node.jupyter_data, rewrite)}</div>`),
        outputs: (h, node) => h(node, 'div', { class: 'outputs' }, all(h, node)),
        include: (h, node) => h(node, 'div', { class: 'include' }, all(h, node)),
        block: (h, node) => {
          const cls = node.kind === 'notebook-code' ? 'cell code-cell' : 'cell';
          if (node.kind === 'notebook-code' && node.visibility !== 'hide') {
            for (const child of node.children ?? []) if (child.type === 'code') child.fold = true;
          }
          const inner = all(h, node);
          if (node.visibility !== 'hide') return h(node, 'div', { class: cls }, inner);
          const summary = h(node, 'summary', [{ type: 'text', value: 'Show cell' }]);
          return h(node, 'div', { class: cls }, [h(node, 'details', [summary, ...inner])]);
        },
        code: (h, node) => {
          const lang = node.lang ? ` class="language-${escapeHtml(node.lang)}"` : '';
          const value = `${node.value ?? ''}\n`;
          const inner = isPython(node) ? highlightPython(value) : escapeHtml(value);
          const pre = `<pre><code${lang}>${inner}</code></pre>`;
          if (node.visibility === 'hide') {
            return raw(`<details><summary>Show code</summary>${pre}</details>`);
          }
          // every code cell folds (one at a time, or all from the header's button)
          // folded by default: a page reads as text, outputs and figures first
          if (node.fold) return raw(`<details class="code-fold"><summary>Code</summary>${pre}</details>`);
          return raw(pre);
        },
        crossReference: (h, node) =>
          h(node, 'a', { href: node.url ?? `#${node.identifier}`, class: 'xref' }, all(h, node)),
      },
    },
    formatHtml: false,
    stringifyHtml: { allowDangerousHtml: true },
  };
}

// ---------------------------------------------------------------- layout

function navHtml(pages, current, indexSlug, projectTitle) {
  const items = [
    `<li class="${current === indexSlug ? 'active' : ''}"><a href="index.html">${escapeHtml(projectTitle)}</a></li>`,
  ];
  for (const page of pages) {
    if (!page.slug) {
      items.push(`<li class="section">${escapeHtml(page.title)}</li>`);
      continue;
    }
    const cls = page.slug === current ? 'active' : '';
    items.push(
      `<li class="${cls} level-${page.level ?? 1}"><a href="${pageFile(page.slug, indexSlug)}">${escapeHtml(page.title)}</a></li>`,
    );
  }
  return `<nav class="toc" id="toc" aria-label="Contents"><ul>${items.join('')}</ul></nav>`;
}

function pagerHtml(order, position, titles, indexSlug) {
  const prev = position > 0 ? order[position - 1] : null;
  const next = position < order.length - 1 ? order[position + 1] : null;
  const link = (slug, rel, label) =>
    slug
      ? `<a rel="${rel}" href="${pageFile(slug, indexSlug)}"><span>${label}</span> ${escapeHtml(titles.get(slug))}</a>`
      : '<span></span>';
  return `<nav class="pager">${link(prev, 'prev', '&larr;')}${link(next, 'next', '&rarr;')}</nav>`;
}

function downloadsHtml(frontmatter, rewrite, preview = false, published = false) {
  const what = published
    ? "the published run's notebook, not executed in this build"
    : preview ? 'this preview, not executed' : 'the executed notebook';
  const links = (frontmatter.exports ?? [])
    .filter((e) => e.url && e.format === 'ipynb')
    .map((e) => `<a href="${escapeHtml(rewrite(e.url))}" download="${escapeHtml(e.filename ?? '')}">Download ${what} (${escapeHtml(e.filename ?? 'ipynb')})</a>`);
  return links.length ? `<p class="downloads">${links.join(' ')}</p>` : '';
}

// ---------------------------------------------------------------- provenance

// The provenance line goes under every figure of a chapter page: after each output
// image and after each static slider.
function withProvenance(body, facts) {
  if (!facts?.caption) return body;
  const line = `<p class="provenance">${escapeHtml(facts.caption)}</p>`;
  return body
    .replace(/<figure class="static-slider"[\s\S]*?<\/figure>/g, (m) => `${m}${line}`)
    .replace(/<img class="output-image"[^>]*>/g, (m) => `${m}${line}`);
}

function launchHtml(facts) {
  const links = facts?.links;
  if (!links) return '';
  return `<p class="launch"><a href="${escapeHtml(links.source)}">Source (jupytext .py)</a>`
    + ` <a href="${escapeHtml(links.binder)}">Open in Binder</a>`
    + ` <a href="${escapeHtml(links.colab)}">Open in Colab</a></p>`;
}

function runtime(seconds) {
  if (seconds === null || seconds === undefined) return 'not recorded';
  return seconds < 120 ? `${seconds.toFixed(0)} s` : `${(seconds / 60).toFixed(1)} min`;
}

function statusBody(provenance, slugOf, indexSlug) {
  const rows = Object.entries(provenance.chapters).map(([source, c]) => {
    const slug = slugOf.get(source);
    const title = slug ? `<a href="${pageFile(slug, indexSlug)}">${escapeHtml(c.title)}</a>` : escapeHtml(c.title);
    const data = c.synthetic ? 'synthetic' : (c.datasets ?? []).map((d) => `${d.name} ${d.fingerprint}`).join(', ');
    const cells = [title, c.profile ?? 'not run', runtime(c.runtime_seconds), c.commit ?? '', data ?? '',
      c.device ? `${c.device}, torch ${c.torch}` : 'not recorded', (c.utc ?? '').slice(0, 16).replace('T', ' ')];
    return `<tr>${cells.map((x, i) => (i === 0 ? `<td>${x}</td>` : `<td>${escapeHtml(x)}</td>`)).join('')}</tr>`;
  });
  const head = ['chapter', 'profile', 'runtime', 'commit', 'data', 'device', 'updated (UTC)']
    .map((h) => `<th>${h}</th>`).join('');
  const packs = (provenance.packs ?? []).map((p) => `<p class="results-pack">Results of every run behind these pages, without weights or data: <a href="${escapeHtml(p.name)}" download>${escapeHtml(p.name)}</a> (${(p.bytes / 1e6).toFixed(2)} MB). In a clone, <code>make replay RESULTS=${escapeHtml(p.name)} ONLY=04</code> re-executes a chapter from it on a CPU, with no data and no training.</p>`);
  return `<p>Every chapter of this build: the profile it ran, how long papermill took to execute it, and the commit and data behind its figures (from <code>figures/MANIFEST.json</code>).</p>
<table class="status"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>${packs.join('')}`;
}

function pageHtml({ title, projectTitle, nav, body, pager, downloads }) {
  const heading = title ? `<h1 class="page-title">${escapeHtml(title)}</h1>` : '';
  const docTitle = title && title !== projectTitle ? `${title} · ${projectTitle}` : projectTitle;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(docTitle)}</title>
<link rel="stylesheet" href="assets/katex/katex.min.css">
<link rel="stylesheet" href="assets/style.css">
<script>(function () { let t = null; try { t = localStorage.getItem('book-theme'); } catch (e) {} if (!t && window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches) t = 'dark'; if (t) document.documentElement.dataset.theme = t; })();</script>
</head>
<body>
<header class="site-header">
<button class="menu-toggle" type="button" aria-controls="toc" aria-expanded="false">Contents</button>
<a class="home" href="index.html">${escapeHtml(projectTitle)}</a>
<span class="tools"><input class="search-box" type="search" placeholder="Search the book" aria-label="Search the book">
<button class="code-toggle" type="button" aria-pressed="true">Show code</button>
<button class="theme-toggle" type="button" aria-label="Switch between light and dark">Dark</button>
<a class="status-link" href="status.html">Status</a></span>
<div class="search-results" hidden></div>
</header>
<div class="layout">
${nav}
<main>
<article>
${heading}
${downloads}
${body}
</article>
${pager}
</main>
</div>
<script src="assets/slider.js"></script>
<script src="assets/search-index.js"></script>
<script src="assets/reader.js"></script>
</body>
</html>
`;
}

// ---------------------------------------------------------------- main

function copyDir(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyDir(src, dst);
    else fs.copyFileSync(src, dst);
  }
}

function main() {
  const [siteDir, outDir, provenanceFile] = process.argv.slice(2);
  if (!siteDir || !outDir) fail('usage: node render.mjs <site-dir> <out-dir> [provenance.json]');
  const provenance = provenanceFile ? readJson(provenanceFile) : { chapters: {} };
  const config = readJson(path.join(siteDir, 'config.json'));
  const project = config.projects?.[0];
  if (!project) fail(`${siteDir}/config.json lists no project`);
  const projectTitle = project.title ?? 'Book';
  const indexSlug = project.index ?? 'index';
  const pages = project.pages ?? [];
  const order = [indexSlug, ...pages.filter((p) => p.slug).map((p) => p.slug)];
  const slugs = new Set(order);
  const rewrite = makeUrlRewriter(slugs, indexSlug);

  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(outDir, 'assets'), { recursive: true });
  const publicDir = path.join(siteDir, 'public');
  publicDirectory = publicDir;
  if (fs.existsSync(publicDir)) copyDir(publicDir, path.join(outDir, 'assets'));
  const katexDist = path.join(
    path.dirname(createRequire(import.meta.url).resolve('katex/package.json')),
    'dist',
  );
  fs.mkdirSync(path.join(outDir, 'assets', 'katex'), { recursive: true });
  fs.copyFileSync(path.join(katexDist, 'katex.min.css'), path.join(outDir, 'assets', 'katex', 'katex.min.css'));
  copyDir(path.join(katexDist, 'fonts'), path.join(outDir, 'assets', 'katex', 'fonts'));
  fs.copyFileSync(path.join(HERE, 'style.css'), path.join(outDir, 'assets', 'style.css'));
  fs.copyFileSync(path.join(HERE, 'slider.js'), path.join(outDir, 'assets', 'slider.js'));
  fs.copyFileSync(path.join(HERE, 'reader.js'), path.join(outDir, 'assets', 'reader.js'));
  const searchIndex = [];

  const titles = new Map();
  const contents = new Map();
  for (const slug of order) {
    const content = readJson(path.join(siteDir, 'content', `${slug}.json`));
    contents.set(slug, content);
    titles.set(slug, content.frontmatter?.title ?? slug);
  }

  const written = [];
  order.forEach((slug, position) => {
    const content = contents.get(slug);
    const tree = content.mdast;
    applyVisibility(tree);
    rewriteUrls(tree, rewrite);
    const facts = provenance.chapters[content.location ?? ''];
    let body = withProvenance(mystToHtml(tree, htmlOptions(rewrite)), facts);
    if (slug === indexSlug && provenance.mismatch) {
      // the headline table is read from figures/; say so when the pages are another run's
      body = `<p class="provenance-warning">${escapeHtml(provenance.mismatch)}</p>\n${body}`;
    }
    const title = titles.get(slug);
    const file = pageFile(slug, indexSlug);
    const html = pageHtml({
      title,
      projectTitle,
      nav: navHtml(pages, slug, indexSlug, projectTitle),
      body,
      pager: pagerHtml(order, position, titles, indexSlug),
      downloads: downloadsHtml(content.frontmatter ?? {}, rewrite, Boolean(facts?.preview), Boolean(facts?.published)) + launchHtml(facts),
    });
    fs.writeFileSync(path.join(outDir, file), html);
    written.push({ slug, title, file, source: content.location ?? null });
    searchIndex.push({ file, title, text: pageText(body) });
  });
  const slugOf = new Map(written.map((p) => [p.source, p.slug]));
  fs.writeFileSync(
    path.join(outDir, 'status.html'),
    pageHtml({
      title: 'Status',
      projectTitle,
      nav: navHtml(pages, 'status', indexSlug, projectTitle),
      body: statusBody(provenance, slugOf, indexSlug),
      pager: '',
      downloads: '',
    }),
  );
  // a script, not JSON to fetch, so that search works from the file system as well
  fs.writeFileSync(
    path.join(outDir, 'assets', 'search-index.js'),
    `window.BOOK_SEARCH = ${JSON.stringify(searchIndex)};\n`,
  );
  fs.writeFileSync(
    path.join(outDir, 'pages.json'),
    JSON.stringify({ project: projectTitle, pages: written }, null, 1),
  );
  console.log(`rendered ${written.length} pages to ${outDir}`);
}

main();
