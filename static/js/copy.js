// Copy buttons: a <button data-copy="text"> puts its text on the clipboard (the heartbeats' ping URLs).
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      button.textContent = "Copied";
    } catch (e) {
      button.textContent = "Copy failed: select the text";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
}
