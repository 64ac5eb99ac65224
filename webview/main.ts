// The panel's script (bundled to dist/webview.js). A placeholder until the panel is built: it
// shows one line. Text goes in through textContent, never innerHTML, so nothing is interpreted
// as markup — the rule every model-produced string in the panel will follow.

function render(message: string): void {
  const main = document.createElement('main');
  const heading = document.createElement('p');
  heading.textContent = message;
  main.append(heading);
  document.body.replaceChildren(main);
}

render('Instruction Lens panel');

export {};
