// Static sliders: a figure precomputed at each value of a grid (the notebook's
// `explore` writes them); the range input only swaps which frame is visible, so the
// page never shows a value that was not computed. Keyboard: arrow keys, Home, End.
(function () {
  for (const figure of document.querySelectorAll('figure.static-slider')) {
    const input = figure.querySelector('input[type="range"]');
    const output = figure.querySelector('output');
    const frames = Array.from(figure.querySelectorAll('img[data-value]'));
    if (!input || frames.length === 0) continue;
    const show = () => {
      const index = Number(input.value);
      frames.forEach((img, i) => { img.hidden = i !== index; });
      const value = frames[index].dataset.value;
      input.setAttribute('aria-valuetext', value);
      if (output) output.textContent = value;
    };
    input.addEventListener('input', show);
    show();
  }
})();
